"""Version history: every text a persona has had, with its note (what the model rewrote, and
which model), a readable diff between any two, Restore.

The diff is line by line (a persona is a list of short sections), with the changed words
inside a changed line marked more strongly: a one-word tweak in a long line is then visible
without reading the whole line twice.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from persona_studio.errors import PersonaStudioError
from persona_studio.ui.labels import dark_palette, error_color
from persona_studio.ui.tasks import TaskGroup

if TYPE_CHECKING:  # for annotations only: importing the store loads SQLAlchemy
    from persona_studio.store import Store

CONTEXT_LINES = 3
NOTE_CHARS_IN_LIST = 300
VERSION_ROLE = Qt.ItemDataRole.UserRole + 1
_WORDS = re.compile(r"\s+|\w+|[^\w\s]")


def _colors() -> dict[str, str]:
    if dark_palette():
        return {
            "del": "#4a1c1c",
            "ins": "#1c3f24",
            "del_word": "#8e2b2b",
            "ins_word": "#2e6b35",
            "hunk": "#9fa8da",
        }
    return {
        "del": "#fdecea",
        "ins": "#e6f4ea",
        "del_word": "#f5b7b1",
        "ins_word": "#a8dab5",
        "hunk": "#3949ab",
    }


def _words_html(line: str, other: str, kind: str, colors: dict[str, str]) -> str:
    """``line`` with the words that differ from ``other`` marked."""
    mine, theirs = _WORDS.findall(line), _WORDS.findall(other)
    matcher = difflib.SequenceMatcher(None, theirs, mine, autojunk=False)
    parts: list[str] = []
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        chunk = html.escape("".join(mine[j1:j2]))
        if tag == "equal" or not chunk:
            parts.append(chunk)
        else:
            parts.append(f'<span style="background-color:{colors[kind + "_word"]}">{chunk}</span>')
    return "".join(parts)


def diff_html(old: str, new: str, old_label: str, new_label: str) -> str:
    """An HTML table: removed lines (−) on red, added lines (+) on green, context plain."""
    a, b = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    colors = _colors()
    rows: list[str] = []

    def row(sign: str, body: str, kind: str | None) -> None:
        style = f' style="background-color:{colors[kind]}"' if kind else ""
        rows.append(
            f"<tr{style}><td width=18 align=center>{sign}</td>"
            f'<td style="white-space:pre-wrap">{body or "&nbsp;"}</td></tr>'
        )

    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        first, last = group[0], group[-1]
        rows.append(
            f'<tr><td></td><td style="color:{colors["hunk"]}">'
            f"Lines {first[1] + 1}–{last[2]} of {old_label} · {first[3] + 1}–{last[4]} of "
            f"{new_label}</td></tr>"
        )
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for line in a[i1:i2]:
                    row("", html.escape(line), None)
                continue
            old_lines, new_lines = a[i1:i2], b[j1:j2]
            paired = tag == "replace"
            for k, line in enumerate(old_lines):
                other = new_lines[k] if paired and k < len(new_lines) else None
                body = (
                    _words_html(line, other, "del", colors)
                    if other is not None
                    else html.escape(line)
                )
                row("−", body, "del")
            for k, line in enumerate(new_lines):
                other = old_lines[k] if paired and k < len(old_lines) else None
                body = (
                    _words_html(line, other, "ins", colors)
                    if other is not None
                    else html.escape(line)
                )
                row("+", body, "ins")
    if not rows:
        return f"<p>{html.escape(old_label)} and {html.escape(new_label)} are identical.</p>"
    return (
        f"<p><b>{html.escape(old_label)}</b> → <b>{html.escape(new_label)}</b>: "
        "removed lines marked −, added lines marked +.</p>"
        '<table width="100%" cellspacing=0 cellpadding=2>' + "".join(rows) + "</table>"
    )


def _shortened(note: str, limit: int = NOTE_CHARS_IN_LIST) -> str:
    """``note`` for the list of versions: the whole of it is beside the diff and in the
    item's tooltip."""
    return note if len(note) <= limit else note[: limit - 1].rstrip() + "…"


class HistoryDialog(QDialog):
    restored = Signal(int)  # persona id: it has a new current version

    def __init__(
        self,
        store: Store,
        persona_id: int,
        parent: QWidget | None = None,
        before_restore: Callable[[Callable[[], None]], None] | None = None,
        writes: TaskGroup | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.persona_id = persona_id
        self._before_restore = before_restore  # called with what to do once it is safe
        self.versions: list = []
        self.current_version = 0
        # The caller's group, so a restore still in flight when the dialog closes is waited
        # for before the database is closed.
        self.writes = writes or TaskGroup()
        self.setWindowTitle("Version history")

        self.list = QListWidget()
        self.list.setAccessibleName("Versions")
        self.list.setWordWrap(True)  # a version's note may be long
        self.list.currentItemChanged.connect(self._selected)
        self.from_box = QComboBox()
        self.from_box.setAccessibleName("Compare from version")
        self.to_box = QComboBox()
        self.to_box.setAccessibleName("Compare to version")
        self.from_box.currentIndexChanged.connect(self._compare_boxes)
        self.to_box.currentIndexChanged.connect(self._compare_boxes)
        self.diff_view = QTextBrowser()
        self.diff_view.setObjectName("diffView")
        self.diff_view.setAccessibleName("Differences between the two versions")
        self.restore_button = QPushButton("Restore this version")
        self.restore_button.setAccessibleName("Restore the selected version")
        self.restore_button.setToolTip(
            "Makes the selected version current again, as a new version; the current text "
            "stays in the history."
        )
        self.restore_button.clicked.connect(self.restore_selected)
        self.message = QLabel()
        self.message.setWordWrap(True)
        # What the selected version says of how it was made ("Rewrote ... with ...").
        self.note = QLabel()
        self.note.setObjectName("versionNote")
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note.setVisible(False)
        self.title = QLabel()
        title_font = self.title.font()
        title_font.setBold(True)
        title_font.setPointSizeF(title_font.pointSizeF() * 1.2)
        self.title.setFont(title_font)

        compare = QHBoxLayout()
        compare.addWidget(QLabel("Compare"))
        compare.addWidget(self.from_box, 1)
        compare.addWidget(QLabel("with"))
        compare.addWidget(self.to_box, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(compare)
        right_layout.addWidget(self.note)
        right_layout.addWidget(self.diff_view, 1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("Versions (newest first)"))
        left_layout.addWidget(self.list, 1)
        left_layout.addWidget(self.restore_button)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([260, 640])

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.resize(980, 620)
        self.reload()

    # -- data -----------------------------------------------------------------------------

    def reload(self) -> None:
        try:
            self.versions = self.store.personas.versions(self.persona_id)
            persona = self.store.personas.get(self.persona_id)
        except PersonaStudioError as exc:
            self._say(str(exc), error=True)
            return
        self.setWindowTitle(f"Version history: {persona.name}")
        self.title.setText(f"Version history of “{persona.name}”")
        self.current_version = persona.version
        self.list.blockSignals(True)
        self.from_box.blockSignals(True)
        self.to_box.blockSignals(True)
        self.list.clear()
        self.from_box.clear()
        self.to_box.clear()
        for version in reversed(self.versions):
            when = (
                version.updated_at.astimezone().strftime("%Y-%m-%d %H:%M")
                if version.updated_at
                else "date unknown"
            )
            current = " (current)" if version.version == persona.version else ""
            label = f"Version {version.version}{current}\n{when} · {version.name}"
            if version.note:
                label += f"\n{_shortened(version.note)}"
            item = QListWidgetItem(label)
            item.setData(VERSION_ROLE, version.version)
            if version.note:
                item.setToolTip(version.note)
            self.list.addItem(item)
        for version in self.versions:
            label = f"Version {version.version}"
            self.from_box.addItem(label, version.version)
            self.to_box.addItem(label, version.version)
        self.list.blockSignals(False)
        self.from_box.blockSignals(False)
        self.to_box.blockSignals(False)
        if len(self.versions) >= 2:
            self.list.setCurrentRow(1)  # the one before the current: what changed last
        elif self.versions:
            self.list.setCurrentRow(0)

    def _version_text(self, number: int) -> str:
        # The latest row of that number wins (FORLLM can store a number twice).
        matches = [v for v in self.versions if v.version == number]
        return matches[-1].prompt_instructions if matches else ""

    def note_of(self, number: int) -> str:
        """The note of version ``number`` ("" if it has none)."""
        matches = [v for v in self.versions if v.version == number and v.note]
        return matches[-1].note if matches else ""

    # -- comparing ------------------------------------------------------------------------

    def compare(self, old: int, new: int) -> None:
        """Show what changed from version ``old`` to version ``new``."""
        for box, number in ((self.from_box, old), (self.to_box, new)):
            box.blockSignals(True)
            box.setCurrentIndex(box.findData(number))
            box.blockSignals(False)
        self.diff_view.setHtml(
            diff_html(
                self._version_text(old),
                self._version_text(new),
                f"version {old}",
                f"version {new}",
            )
        )

    def _compare_boxes(self) -> None:
        old, new = self.from_box.currentData(), self.to_box.currentData()
        if old is not None and new is not None:
            self.compare(int(old), int(new))

    def _selected(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is None:
            return
        number = int(item.data(VERSION_ROLE))
        note = self.note_of(number)
        self.note.setText(f"Version {number}: {note}" if note else "")
        self.note.setVisible(bool(note))
        self.restore_button.setEnabled(number != self.current_version)
        self.restore_button.setText(
            "This is the current version"
            if number == self.current_version
            else f"Restore version {number}"
        )
        self.compare(number, self.current_version)

    def selected_version(self) -> int | None:
        item = self.list.currentItem()
        return int(item.data(VERSION_ROLE)) if item is not None else None

    # -- restoring ------------------------------------------------------------------------

    def restore_selected(self) -> None:
        number = self.selected_version()
        if number is None or number == self.current_version:
            return
        if self._before_restore is None:
            self._restore(number)
        else:
            self._before_restore(lambda: self._restore(number))

    def _restore(self, number: int) -> None:
        store, persona_id = self.store, self.persona_id

        def restored(saved) -> None:
            self.reload()
            self._say(
                f"Version {number} restored as version {saved.version}; the text it replaced "
                f"is kept as version {saved.version - 1}."
            )
            self.restored.emit(persona_id)

        def failed(exc: PersonaStudioError) -> None:
            self.restore_button.setEnabled(True)
            self._say(str(exc), error=True)

        self.restore_button.setEnabled(False)
        self._say(f"Restoring version {number}…")
        self.writes.off_thread(lambda: store.personas.restore(persona_id, number), restored, failed)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {error_color().name()};" if error else "")
