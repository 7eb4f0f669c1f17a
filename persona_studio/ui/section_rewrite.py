"""The preview of a section written again by the model: Rewrite, Alternatives, Continue and
Add a section (persona_studio/engine/section_rewrite.py writes them, on the worker thread).

The model's text streams into read-only previews, one per candidate, side by side. Nothing
in the persona changes until the writer presses a candidate's "Use this"; Stop ends the
writing and keeps nothing, and Esc (or Discard) closes the preview, stopping the model
first. The dialog only asks and shows: the editor applies what is accepted.

While the writer reads or edits, the persona's text (once it has settled) is offered to the
worker thread for a prefill: what every rewrite of that text starts with is evaluated while
the model is idle, so a click evaluates only the short request
(persona_studio/engine/section_rewrite.py, ``prefill``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from persona_studio.engine.headings import PERSONA_NAME, heading_key, parse_persona
from persona_studio.engine.section_rewrite import (
    ADD,
    ALTERNATIVES,
    CONTINUE,
    INSTRUCTIONS,
    REWRITE,
    SectionRewriteOutcome,
    SectionRewriteRequest,
    apply_section,
    version_note,
)
from persona_studio.errors import PersonaStudioError
from persona_studio.ui.labels import error_color, model_label

ALTERNATIVE_COUNT = 3
# How long the text must stay unchanged before it is offered for a prefill (opening a
# persona counts as a change): typing goes on with no model work behind it.
PREFILL_DELAY_MS = 700
_TITLES = {
    REWRITE: "Rewrite “{}”",
    ALTERNATIVES: "Alternatives for “{}”",
    CONTINUE: "Continue “{}”",
    ADD: "Add “{}” with the model",
}


class SectionRewriteDialog(QDialog):
    """One section's rewrite: ask (with an optional instruction), watch, accept or not."""

    rewriteWanted = Signal(object)  # SectionRewriteRequest
    stopWanted = Signal(int)  # rewrite id
    accepted_candidate = Signal(object, str)  # SectionRewriteRequest, the accepted text

    def __init__(
        self,
        heading: str,
        mode: str,
        text: Callable[[], str],
        model_id: Callable[[], str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.heading, self.mode = heading, mode
        self._text, self._model_id = text, model_id
        self.pending: SectionRewriteRequest | None = None  # asked, not finished
        self.request: SectionRewriteRequest | None = None  # whose candidates are shown
        self.outcome: SectionRewriteOutcome | None = None
        self.setObjectName("sectionRewrite")
        self.setWindowTitle(_TITLES[mode].format(heading))
        self.setModal(True)

        self.instruction = QComboBox()
        self.instruction.setEditable(True)
        self.instruction.setAccessibleName("Instruction for the rewrite (optional)")
        self.instruction.addItem("")
        self.instruction.addItems(INSTRUCTIONS)
        self.instruction.lineEdit().setPlaceholderText(
            "How to rewrite it (optional): shorter, more formal, or your own words"
        )
        self.write_button = QPushButton("Write" if mode != CONTINUE else "Continue")
        self.write_button.setAccessibleName("Ask the model to write the section")
        self.write_button.setDefault(True)
        self.write_button.clicked.connect(self.write)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop the model and keep nothing")
        self.stop_button.clicked.connect(self.stop)
        self.discard_button = QPushButton("Discard")
        self.discard_button.setAccessibleName("Close without changing the persona")
        self.discard_button.clicked.connect(self.reject)
        self.status = QLabel()
        self.status.setObjectName("rewriteStatus")
        self.status.setWordWrap(True)
        # What the section says now, to compare the candidates with.
        section = parse_persona(text()).section(heading)
        self.current = QLabel()
        self.current.setObjectName("rewriteCurrent")
        self.current.setWordWrap(True)
        self.current.setTextFormat(Qt.TextFormat.PlainText)
        now = section.content if section is not None else ""
        lines = now.splitlines()
        shown = "\n".join(lines[:4]) + (" …" if len(lines) > 4 else "")
        self.current.setText(f"The section now:\n{shown}" if now else "")
        self.current.setVisible(bool(now))

        count = ALTERNATIVE_COUNT if mode == ALTERNATIVES else 1
        self.previews: list[QPlainTextEdit] = []
        self.use_buttons: list[QPushButton] = []
        grid = QGridLayout()
        for index in range(count):
            preview = QPlainTextEdit()
            preview.setReadOnly(True)
            preview.setObjectName(f"rewritePreview{index}")
            preview.setAccessibleName(f"Candidate {index + 1}")
            preview.setMinimumWidth(220)
            use = QPushButton("Use this" if count == 1 else f"Use {index + 1}")
            use.setAccessibleName(f"Put candidate {index + 1} in the persona")
            use.clicked.connect(lambda _=False, i=index: self.use(i))
            grid.addWidget(preview, 0, index)
            grid.addWidget(use, 1, index)
            self.previews.append(preview)
            self.use_buttons.append(use)

        ask = QHBoxLayout()
        if mode in (REWRITE, ALTERNATIVES):
            ask.addWidget(QLabel("Instruction:"))
            ask.addWidget(self.instruction, 1)
        else:
            self.instruction.setVisible(False)
            ask.addStretch(1)
        ask.addWidget(self.write_button)
        ask.addWidget(self.stop_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.discard_button)
        layout = QVBoxLayout(self)
        layout.addLayout(ask)
        layout.addWidget(self.current)
        layout.addLayout(grid, 1)
        layout.addLayout(bottom)
        self.resize(360 * count + 120, 380)
        self._update_state()

    # -- asking -----------------------------------------------------------------------------

    def write(self) -> bool:
        """Ask the model (again): the previews are cleared; what they showed is discarded."""
        if self.pending is not None:
            return False
        try:
            request = SectionRewriteRequest(
                self._text(),
                self.heading,
                mode=self.mode,
                instruction=self.instruction.currentText().strip(),
                candidates=len(self.previews),
                model_id=self._model_id(),
            )
        except PersonaStudioError as exc:
            self._show_status(str(exc), error=True)
            return False
        for preview in self.previews:
            preview.clear()
        self.pending, self.request, self.outcome = request, request, None
        self._show_status(f"Waiting for {model_label(request.model_id)}…")
        self._update_state()
        self.rewriteWanted.emit(request)
        return True

    def stop(self) -> None:
        """Stop the model between two tokens; what it wrote is not kept."""
        if self.pending is not None:
            self.stopWanted.emit(self.pending.rewrite_id)

    def reject(self) -> None:  # Esc and Discard
        self.stop()
        super().reject()

    def use(self, index: int) -> None:
        """Hand candidate ``index`` to the editor, which puts it in the text (one undo step)."""
        if self.request is None or self.outcome is None or self.pending is not None:
            return
        if index >= len(self.outcome.candidates):
            return
        self.accepted_candidate.emit(self.request, self.outcome.candidates[index])
        self.accept()

    # -- from the worker thread -------------------------------------------------------------

    def waiting_for(self, job_name: str) -> None:
        if self.pending is not None:
            self._show_status(
                f"Waiting for the generation of “{job_name}” to finish: one model run at a "
                "time. Esc withdraws the rewrite."
            )

    def started(self, rewrite_id: int) -> None:
        if self.pending is not None and self.pending.rewrite_id == rewrite_id:
            self._show_status(f"Writing with {model_label(self.pending.model_id)}…")

    def text_arrived(self, rewrite_id: int, index: int, text: str) -> None:
        if self.pending is None or self.pending.rewrite_id != rewrite_id:
            return
        if 0 <= index < len(self.previews):
            preview = self.previews[index]
            preview.moveCursor(preview.textCursor().MoveOperation.End)
            preview.insertPlainText(text)

    def show_outcome(self, outcome: SectionRewriteOutcome) -> None:
        if self.pending is None or self.pending.rewrite_id != outcome.rewrite_id:
            return
        self.pending = None
        for preview in self.previews:
            preview.clear()
        if outcome.cancelled:
            self._show_status("Stopped; nothing was kept.")
        elif outcome.error:
            self._show_status(outcome.error, error=True)
        else:
            self.outcome = outcome
            # The cleaned candidates replace the raw stream: what is shown is what is used.
            for preview, candidate in zip(self.previews, outcome.candidates, strict=False):
                preview.setPlainText(candidate)
            fewer = len(self.previews) - len(outcome.candidates)
            self._show_status(
                "Pick the one to use, or Discard."
                if len(self.previews) > 1
                else "Use this, write again, or Discard."
            )
            if fewer > 0:
                self._show_status(
                    f"{self.status.text()} ({fewer} candidate{'s' if fewer > 1 else ''} came "
                    "out empty or the same as another.)"
                )
        self._update_state()

    def _update_state(self) -> None:
        running = self.pending is not None
        self.write_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.instruction.setEnabled(not running)
        shown = len(self.outcome.candidates) if self.outcome is not None else 0
        for index, button in enumerate(self.use_buttons):
            button.setEnabled(not running and index < shown)

    def _show_status(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {error_color().name()};" if error else "")

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        # Enter in the instruction asks; it must not press "Use this" by accident.
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.pending is None:
            self.write()
            return
        super().keyPressEvent(event)


@dataclass(frozen=True, eq=False)  # each accepted change is itself, however alike
class AcceptedChange:
    """A candidate the writer used, not saved yet: its note ("Rewrote 'Speaking Style &
    Tone' (shorter) with gguf:SmolLM2-135M-Instruct.Q4_1.gguf"), and what the section held
    before (None: Add made it), to tell whether the change is still in the text."""

    note: str
    heading: str
    before: str | None

    def still_in(self, text: str, saved_text: str) -> bool:
        """Whether ``text`` still holds the change: False once it was undone (the section
        holds what it held before the change, or what it holds in ``saved_text``, the
        version last saved; an added section is gone again) or the section was deleted."""
        section = parse_persona(text).section(self.heading)
        if section is None:
            return False
        if self.before is None:
            return True
        saved = parse_persona(saved_text).section(self.heading)
        return section.content != self.before and (
            saved is None or section.content != saved.content
        )


class SectionRewriter(QObject):
    """The editor's way into section rewrites: a context menu on the text and a small
    button beside the heading of the section the cursor is in; both offer Rewrite (plain or
    with an instruction), Alternatives, Continue and Add a section. The accepted text goes
    into the editor as one undo step; the next save keeps the note of each accepted change
    still in the text with the new version (the history shows it; the save message says
    it: "Saved as version 4: Rewrote 'Speaking Style & Tone' (shorter) with gguf:...")."""

    rewriteWanted = Signal(object)  # SectionRewriteRequest, for the worker thread
    stopWanted = Signal(int)  # rewrite id
    prefillWanted = Signal(str, str)  # text, model id: worth evaluating ahead of a rewrite

    def __init__(self, editor) -> None:
        super().__init__(editor)
        self.editor = editor
        self.text: QPlainTextEdit = editor.text
        self.dialog: SectionRewriteDialog | None = None
        self.accepted: dict[int, list[AcceptedChange]] = {}  # persona id -> not saved yet
        self.text.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.text.customContextMenuRequested.connect(self._context_menu)
        self.button = QToolButton(self.text.viewport())
        self.button.setObjectName("sectionRewriteButton")
        self.button.setText("✎")
        self.button.setAutoRaise(True)
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.button.setAccessibleName("Rewrite this section with the model")
        self.button.setToolTip("Rewrite, continue or add a section with the model")
        self.button.setMenu(QMenu(self.button))
        self.button.menu().aboutToShow.connect(self._fill_button_menu)
        self.button.hide()
        self.text.cursorPositionChanged.connect(self.place_button)
        self.text.updateRequest.connect(lambda *_: self.place_button())
        self._prefill_timer = QTimer(self)
        self._prefill_timer.setSingleShot(True)
        self._prefill_timer.setInterval(PREFILL_DELAY_MS)
        self._prefill_timer.timeout.connect(self._offer_prefill)
        self.text.textChanged.connect(self._prefill_timer.start)
        editor.try_panel.model.currentIndexChanged.connect(self._prefill_timer.start)

    def _offer_prefill(self) -> None:
        """The text has settled: offer it for a prefill with the model rewrites use."""
        text = self.text.toPlainText()
        if self.editor.persona is not None and self.dialog is None and text.strip():
            self.prefillWanted.emit(text, self.editor.try_panel.model_id())

    # -- where -----------------------------------------------------------------------------

    def section_at(self, line: int) -> tuple[str, int] | None:
        """(heading, its line) of the section holding ``line``; None above the first one or
        in the name's."""
        found = None
        for section in parse_persona(self.text.toPlainText()).sections:
            if section.line > line:
                break
            found = section
        if found is None or heading_key(found.heading) == heading_key(PERSONA_NAME):
            return None
        return found.heading, found.line

    def _cursor_section(self) -> tuple[str, int] | None:
        return self.section_at(self.text.textCursor().blockNumber())

    def place_button(self) -> None:
        """Beside the heading of the section the cursor is in, at the viewport's right."""
        section = self._cursor_section() if self.editor.persona is not None else None
        block = self.text.document().findBlockByNumber(section[1]) if section else None
        if section is None or block is None or not block.isValid():
            self.button.hide()
            return
        rect = self.text.cursorRect(QTextCursor(block))
        viewport = self.text.viewport()
        if rect.bottom() < 0 or rect.top() > viewport.height():
            self.button.hide()
            return
        self.button.setToolTip(f"Rewrite, continue or add a section with the model ({section[0]})")
        self.button.move(viewport.width() - self.button.sizeHint().width() - 6, rect.top())
        self.button.show()

    # -- menus -----------------------------------------------------------------------------

    def _context_menu(self, pos) -> None:
        menu = self.text.createStandardContextMenu()
        line = self.text.cursorForPosition(pos).blockNumber()
        menu.addSeparator()
        self.add_actions(menu, self.section_at(line))
        menu.exec(self.text.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def _fill_button_menu(self) -> None:
        menu = self.button.menu()
        menu.clear()
        self.add_actions(menu, self._cursor_section())

    def add_actions(self, menu: QMenu, section: tuple[str, int] | None) -> None:
        busy = self.editor.persona is None or self.dialog is not None
        if section is not None:
            heading = section[0]
            for label, mode, instruction, start in (
                (f"Rewrite “{heading}”", REWRITE, "", True),
                *((f"Rewrite “{heading}” {how}", REWRITE, how, True) for how in INSTRUCTIONS),
                ("Rewrite with an instruction…", REWRITE, "", False),
                (f"Alternatives for “{heading}”…", ALTERNATIVES, "", True),
                (f"Continue “{heading}”", CONTINUE, "", True),
            ):
                action = menu.addAction(label)
                action.setEnabled(not busy)
                action.triggered.connect(
                    lambda _=False, m=mode, h=heading, i=instruction, s=start: self.open(
                        m, h, instruction=i, start=s
                    )
                )
        add = menu.addAction("Add a section with the model…")
        add.setEnabled(not busy)
        add.triggered.connect(self.add_section)

    # -- asking ----------------------------------------------------------------------------

    def add_section(self) -> SectionRewriteDialog | None:
        heading, ok = QInputDialog.getText(
            self.editor,
            "Add a section with the model",
            "Heading of the new section (e.g. Favourite Sayings):",
        )
        if not ok or not heading.strip():
            return None
        return self.open(ADD, heading.strip())

    def open(
        self, mode: str, heading: str, *, instruction: str = "", start: bool = True
    ) -> SectionRewriteDialog | None:
        """Show the preview for ``heading`` and (with ``start``) ask the model at once."""
        if self.editor.persona is None or self.dialog is not None:
            return None
        dialog = SectionRewriteDialog(
            heading, mode, self.text.toPlainText, self.editor.try_panel.model_id, self.editor
        )
        dialog.instruction.setCurrentText(instruction)
        dialog.rewriteWanted.connect(self.rewriteWanted)
        dialog.stopWanted.connect(self.stopWanted)
        dialog.accepted_candidate.connect(self.accept_candidate)
        dialog.finished.connect(lambda _result: self._closed(dialog))
        self.dialog = dialog
        dialog.open()
        if start:
            dialog.write()
        return dialog

    def _closed(self, dialog: SectionRewriteDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    # -- from the worker thread (through the main window) -----------------------------------

    def waiting_for(self, job_name: str) -> None:
        if self.dialog is not None:
            self.dialog.waiting_for(job_name)

    def started(self, rewrite_id: int) -> None:
        if self.dialog is not None:
            self.dialog.started(rewrite_id)

    def text_arrived(self, rewrite_id: int, index: int, text: str) -> None:
        if self.dialog is not None:
            self.dialog.text_arrived(rewrite_id, index, text)

    def finished(self, outcome: SectionRewriteOutcome) -> None:
        if self.dialog is not None:
            self.dialog.show_outcome(outcome)

    # -- accepting -------------------------------------------------------------------------

    def accept_candidate(self, request: SectionRewriteRequest, candidate: str) -> bool:
        """Put ``candidate`` in the text as it is now (the writer may have typed on while the
        model wrote), as one undo step. False, with the reason shown, if it cannot go in
        without changing the persona's structure."""
        old = self.text.toPlainText()
        try:
            new = apply_section(old, request.heading, candidate, add=request.mode == ADD)
        except PersonaStudioError as exc:
            self.editor._show_message(str(exc), error=True)
            return False
        section = parse_persona(old).section(request.heading)
        replace_text(self.text, old, new)
        shown = self.dialog.outcome.note if self.dialog and self.dialog.outcome else request.what
        if self.editor.persona is not None:
            # The model's identifier, not its short label: the note is kept with the version,
            # and `persona-studio rewrite --accept` writes the same one.
            change = AcceptedChange(
                version_note(request, request.model_id),
                request.heading,
                None if request.mode == ADD or section is None else section.content,
            )
            persona_id = self.editor.persona.persona_id
            # What was taken back before this change (Ctrl+Z) is not noted.
            kept = self.changes_in(persona_id, old, self.editor.saved_text)
            self.accepted[persona_id] = [*kept, change]
        self.editor._show_message(f"{shown}. Undo (Ctrl+Z) takes it back; Save keeps it.")
        return True

    # -- saving ----------------------------------------------------------------------------

    def pending(self, persona_id: int) -> list[AcceptedChange]:
        """The changes accepted for ``persona_id`` and not saved yet, in order."""
        return list(self.accepted.get(persona_id, []))

    def changes_in(self, persona_id: int, text: str, saved_text: str) -> list[AcceptedChange]:
        """Those of the pending changes that ``text`` still holds, in order."""
        return [c for c in self.pending(persona_id) if c.still_in(text, saved_text)]

    def saved(self, persona_id: int, changes: list[AcceptedChange]) -> None:
        """``changes`` (what ``pending`` gave when the save began) are saved or were undone
        before it; a change accepted while the save ran stays pending."""
        left = [c for c in self.accepted.get(persona_id, []) if c not in changes]
        if left:
            self.accepted[persona_id] = left
        else:
            self.accepted.pop(persona_id, None)

    def forget(self) -> None:
        """The text was replaced (another persona, the stored text loaded again): what was
        accepted and not saved is no longer in it."""
        self.accepted.clear()


def replace_text(edit: QPlainTextEdit, old: str, new: str) -> None:
    """Change ``edit``'s text from ``old`` to ``new`` by replacing only the part that
    differs, in one undo step (the rest of the text, the scroll position and the other
    undo steps stay as they were)."""
    start = 0
    limit = min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end = 0
    while end < limit - start and old[-1 - end] == new[-1 - end]:
        end += 1

    def position(text: str, index: int) -> int:  # Qt counts UTF-16 code units
        return len(text[:index].encode("utf-16-le")) // 2

    cursor = QTextCursor(edit.document())
    cursor.beginEditBlock()
    cursor.setPosition(position(old, start))
    cursor.setPosition(position(old, len(old) - end), QTextCursor.MoveMode.KeepAnchor)
    cursor.insertText(new[start : len(new) - end])
    cursor.endEditBlock()
    edit.setTextCursor(cursor)
