"""The persona editor: Markdown text with its headings highlighted, a live structure check,
the persona check (how the model answers as the persona, and a Check button for the text as
edited), the card extras (the Card tab: greeting, example dialogue, scenario, tags), the
persona's size in tokens against the model's context window, Save as a new version, and
beside the text the "Try it" panel to chat with the persona as it stands. Any section can
be rewritten, continued or added by the model (ui/section_rewrite.py).

Small models have little room: a 900-token persona in a 2,048-token window leaves the
conversation less than half, so the size is shown as a share of the window, not just a count.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import (
    QFont,
    QGuiApplication,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from persona_studio.engine.headings import DEFAULT_HEADINGS, check_structure
from persona_studio.engine.request import OutputPreferences
from persona_studio.errors import (
    InvalidRequestError,
    NameTakenError,
    NotFoundError,
    PersonaStudioError,
)
from persona_studio.ui.card_panel import CardPanel
from persona_studio.ui.check_panel import CheckPanel
from persona_studio.ui.current_model import CurrentModel
from persona_studio.ui.labels import error_color, model_label, source_label
from persona_studio.ui.preferences import DEFAULT_CONTEXT
from persona_studio.ui.section_rewrite import SectionRewriter
from persona_studio.ui.tasks import TaskGroup
from persona_studio.ui.try_panel import TryItPanel

if TYPE_CHECKING:  # for annotations only: importing the store loads SQLAlchemy
    from persona_studio.store import Store

_HEADING = re.compile(r"^([ \t]{0,3}#{1,4}[ \t]+[^\n:#]+:?)(.*)$")
CHARS_PER_TOKEN = 4  # a fair rule of thumb for English text in small-model tokenizers
STRUCTURE_DELAY_MS = 200
# persona_studio.store.ratings's bounds (not imported: the store brings in SQLAlchemy, which
# the GUI thread does not load before the window is up; the store checks them again).
MIN_RATING, MAX_RATING, MAX_NOTE_CHARS = 1, 5, 2000
COUNT_DELAY_MS = 400
LINE_ROLE = Qt.ItemDataRole.UserRole + 1


class HeadingHighlighter(QSyntaxHighlighter):
    """Bold, coloured ``## Heading:`` lines; lines the structure check flags get a red wavy
    underline so the problem is visible where it is, not only in the list."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self._issue_lines: set[int] = set()
        self.heading_format = QTextCharFormat()
        self.heading_format.setFontWeight(QFont.Weight.Bold)
        self.value_format = QTextCharFormat()
        self.value_format.setFontWeight(QFont.Weight.DemiBold)
        self.issue_format = QTextCharFormat()
        self.issue_format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        self.heading_format.setForeground(QGuiApplication.palette().link().color())
        self.issue_format.setUnderlineColor(error_color())

    def set_issue_lines(self, lines: set[int]) -> None:
        if lines != self._issue_lines:
            self._issue_lines = set(lines)
            self.rehighlight()

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt's name
        match = _HEADING.match(text)
        if match:
            self.setFormat(0, len(match.group(1)), self.heading_format)
            if match.group(2).strip():
                self.setFormat(len(match.group(1)), len(match.group(2)), self.value_format)
        if self.currentBlock().blockNumber() in self._issue_lines and text.strip():
            for start in range(len(text)):
                fmt = self.format(start)
                fmt.merge(self.issue_format)
                self.setFormat(start, 1, fmt)


def expected_headings(generation_info: dict | None) -> tuple[str, ...]:
    """The headings this persona was asked to have, else the eight defaults."""
    prefs = (generation_info or {}).get("output_preferences")
    if isinstance(prefs, dict):
        try:
            return OutputPreferences.from_dict(prefs).headings
        except InvalidRequestError:
            return DEFAULT_HEADINGS
    return DEFAULT_HEADINGS


class PersonaEditor(QWidget):
    saved = Signal(int)  # persona id: a new version exists
    renamed = Signal(int)
    deleted = Signal(int)
    historyRequested = Signal(int)
    regenerateRequested = Signal(int)
    tokensWanted = Signal(int, str, str)  # key, text, model id: count them with that model
    rated = Signal(int)  # persona id: its rating or rating note changed
    checked = Signal(int)  # persona id: a check was kept with one of its versions

    def __init__(
        self, parent: QWidget | None = None, *, current_model: CurrentModel | None = None
    ) -> None:
        """``current_model``: the window's; the persona's size is measured for it."""
        super().__init__(parent)
        self.store: Store | None = None
        self.persona = None
        self.headings: tuple[str, ...] = DEFAULT_HEADINGS
        self._loaded_text = ""
        self._count_key = 0
        self.current_model = current_model if current_model is not None else CurrentModel(self)
        self.current_model.changed.connect(lambda _model_id: self.update_size())
        self._context_hint = DEFAULT_CONTEXT
        self._busy = False  # a write is in flight: no second one until it is done
        self.writes = TaskGroup()

        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("Persona name")
        self.name_edit.setPlaceholderText("Name")
        self.name_edit.textEdited.connect(self._update_state)
        self.rename_button = QPushButton("Rename")
        self.rename_button.setAccessibleName("Rename the persona without a new version")
        self.rename_button.clicked.connect(self.rename)
        self.name_error = QLabel()
        self.name_error.setObjectName("fieldError")
        self.name_error.setWordWrap(True)
        self.name_error.setVisible(False)
        self.info = QLabel()
        self.info.setObjectName("personaInfo")
        self.info.setWordWrap(True)

        self.text = QPlainTextEdit()
        self.text.setObjectName("personaText")
        self.text.setAccessibleName("Persona instructions (Markdown)")
        self.text.setPlaceholderText("Select a persona in the list, or generate one.")
        self.text.setTabChangesFocus(True)
        self.highlighter = HeadingHighlighter(self.text.document())
        self.text.textChanged.connect(self._text_changed)

        self.issues = QListWidget()
        self.issues.setObjectName("structureIssues")
        self.issues.setAccessibleName("Structure check")
        self.issues.itemActivated.connect(self._jump_to_issue)
        self.issues.itemClicked.connect(self._jump_to_issue)
        self.issues_title = QLabel("Structure check")
        self.size_label = QLabel()
        self.size_label.setObjectName("tokenSize")
        self.size_label.setWordWrap(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setVisible(False)

        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("Save as a new version (Ctrl+S)")
        self.save_button.setAccessibleName("Save the persona as a new version")
        self.save_button.clicked.connect(self.save)
        self.history_button = QPushButton("History…")
        self.history_button.setAccessibleName("Show the version history")
        self.history_button.clicked.connect(self._history)
        self.regenerate_button = QPushButton("Regenerate…")
        self.regenerate_button.setAccessibleName("Regenerate this persona")
        self.regenerate_button.clicked.connect(self._regenerate)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setAccessibleName("Delete this persona")
        self.delete_button.clicked.connect(self.delete)
        self.try_panel = TryItPanel()
        self.try_button = QPushButton("Try it")
        self.try_button.setCheckable(True)
        self.try_button.setChecked(True)
        self.try_button.setAccessibleName("Show the Try it chat panel")
        self.try_button.setToolTip("Show or hide the panel to chat with this persona")
        self.try_button.toggled.connect(self.try_panel.setVisible)
        self.check_panel = CheckPanel()
        self.check_panel.changed.connect(self._check_changed)
        self.check_button = QPushButton("Check")
        self.check_button.setAccessibleName("Check the persona on the model")
        self.check_button.setToolTip(
            "Ask the model chosen for Try it who the persona is, its name, what it knows and "
            "whether it is a real person, with the text as it is here (unsaved edits "
            "included) as the system prompt, and score the answers"
        )
        self.check_button.clicked.connect(self.run_check)
        self.card_panel = CardPanel()
        self.card_panel.changed.connect(self._update_state)

        self.rating = QComboBox()
        self.rating.setAccessibleName("Rating")
        self.rating.setToolTip("How well this persona works, 1 (poor) to 5 (excellent)")
        self.rating.addItem("Not rated", None)
        for stars in range(MIN_RATING, MAX_RATING + 1):
            self.rating.addItem(f"{'★' * stars}{'☆' * (MAX_RATING - stars)}  {stars}", stars)
        self.rating_note = QLineEdit()
        self.rating_note.setAccessibleName("Rating note")
        self.rating_note.setPlaceholderText("What worked, what did not (optional)")
        self.rating_note.setMaxLength(MAX_NOTE_CHARS)
        self.rate_button = QPushButton("Save rating")
        self.rate_button.setAccessibleName("Save the rating and its note")
        self.rate_button.clicked.connect(self.save_rating)
        self.rating.currentIndexChanged.connect(self._update_state)
        self.rating_note.textChanged.connect(self._update_state)
        self.rating_note.returnPressed.connect(self.save_rating)

        name_row = QHBoxLayout()
        name_row.addWidget(QLabel("Name:"))
        name_row.addWidget(self.name_edit, 1)
        name_row.addWidget(self.rename_button)
        rating_row = QHBoxLayout()
        rating_row.addWidget(QLabel("Rating:"))
        rating_row.addWidget(self.rating)
        rating_row.addWidget(self.rating_note, 1)
        rating_row.addWidget(self.rate_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.history_button)
        buttons.addWidget(self.regenerate_button)
        buttons.addWidget(self.try_button)
        buttons.addWidget(self.check_button)
        buttons.addStretch(1)
        buttons.addWidget(self.delete_button)

        structure = QWidget()
        structure_layout = QVBoxLayout(structure)
        structure_layout.setContentsMargins(4, 4, 4, 4)
        structure_layout.addWidget(self.issues_title)
        structure_layout.addWidget(self.issues, 1)
        check_page = QWidget()
        check_layout = QVBoxLayout(check_page)
        check_layout.setContentsMargins(4, 4, 4, 4)
        check_layout.addWidget(self.check_panel)
        # The two checks of the text, each a tab whose title says how it went.
        self.checks_tabs = QTabWidget()
        self.checks_tabs.setObjectName("checksTabs")
        self.checks_tabs.setDocumentMode(True)
        self.checks_tabs.addTab(structure, "Structure")
        self.checks_tabs.addTab(check_page, "Check")
        self.checks_tabs.addTab(self.card_panel, "Card")
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.checks_tabs, 1)
        lower_layout.addWidget(self.size_label)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.text)
        splitter.addWidget(lower)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([480, 220])  # the text first; the checks need a few lines
        self.text_split = splitter
        self.side_split = QSplitter(Qt.Orientation.Horizontal)
        self.side_split.addWidget(splitter)
        self.side_split.addWidget(self.try_panel)
        self.side_split.setStretchFactor(0, 3)
        self.side_split.setStretchFactor(1, 2)
        self.side_split.setChildrenCollapsible(False)
        self._sides_placed = False  # see showEvent

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(name_row)
        layout.addWidget(self.name_error)
        layout.addWidget(self.info)
        layout.addLayout(rating_row)
        layout.addWidget(self.side_split, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

        self._structure_timer = QTimer(self)
        self._structure_timer.setSingleShot(True)
        self._structure_timer.setInterval(STRUCTURE_DELAY_MS)
        self._structure_timer.timeout.connect(self.check_structure)
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self.update_size)
        self.rewriter = SectionRewriter(self)  # the sections' context menu and button

        self._update_state()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        # The split between the text and the Try it panel is set once the editor has its
        # real width (sizes given before that are overridden by the panel's size hint).
        super().showEvent(event)
        if not self._sides_placed and self.side_split.width() > 0:
            self._sides_placed = True
            width = self.side_split.width()
            self.side_split.setSizes([width * 3 // 5, width - width * 3 // 5])

    # -- loading --------------------------------------------------------------------------

    def set_store(self, store: Store) -> None:
        self.store = store
        self.clear()

    def clear(self) -> None:
        self.persona = None
        self._loaded_text = ""
        self.name_edit.clear()
        self.info.clear()
        self.text.clear()
        self.issues.clear()
        self.size_label.clear()
        self._show_rating(None, "")
        self.name_error.setVisible(False)
        self.message.setVisible(False)
        self.try_panel.set_persona(None)
        self.check_panel.set_persona(None)
        self.card_panel.set_persona(None)
        self.rewriter.forget()
        self._update_state()

    def load(self, persona_id: int) -> bool:
        """Show persona ``persona_id`` (unsaved edits must have been dealt with first)."""
        if self.store is None:
            return False
        try:
            persona = self.store.personas.get(persona_id)
            info = self.store.personas.generation_info(persona_id)
            check = self.store.personas.latest_check(persona_id, persona.version)
            extras = self.store.cards.get(persona_id)
        except PersonaStudioError as exc:
            self._show_message(str(exc), error=True)
            return False
        self.persona = persona
        self.headings = expected_headings(info)
        self._loaded_text = persona.prompt_instructions
        self.rewriter.forget()  # the stored text replaces whatever was accepted in the editor
        self.name_edit.setText(persona.name)
        self.text.setPlainText(persona.prompt_instructions)
        self._show_rating(persona.rating, persona.rating_note)
        self.name_error.setVisible(False)
        self.message.setVisible(False)
        model = f" by {model_label(info.get('model'))}" if info and info.get("model") else ""
        updated = (
            persona.updated_at.astimezone().strftime("%Y-%m-%d %H:%M")
            if persona.updated_at
            else "unknown"
        )
        self.info.setText(
            f"Version {persona.version} · {source_label(persona.generation_source)}{model}"
            f" · last changed {updated}"
        )
        # Checked now, once; the timers the text change started would only repeat it.
        self._structure_timer.stop()
        self._count_timer.stop()
        self.check_structure()
        self.update_size()
        self.try_panel.set_persona(persona.persona_id, persona.name, self.text.toPlainText)
        self.check_panel.set_persona(
            persona.persona_id, persona.name, self.text.toPlainText, self.try_panel.model_id
        )
        self.check_panel.show_stored(check, persona.prompt_instructions)
        self.card_panel.set_persona(
            persona.persona_id, self.text.toPlainText, self.try_panel.model_id, persona.name
        )
        self.card_panel.show_extras(extras)
        self._update_state()
        return True

    def reload(self) -> None:
        """Pick up a change made elsewhere (restore, regenerate, FORLLM) unless the user has
        unsaved edits; a cheap read when nothing changed."""
        if self.persona is None or self.store is None or self.is_dirty():
            return
        try:
            stored = self.store.personas.get(self.persona.persona_id)
        except NotFoundError:
            self.clear()  # purged elsewhere
            return
        except PersonaStudioError as exc:
            self._show_message(str(exc), error=True)
            return
        if (stored.version, stored.name, stored.prompt_instructions, stored.is_active) != (
            self.persona.version,
            self.persona.name,
            self._loaded_text,
            self.persona.is_active,
        ):
            self.load(stored.persona_id)
            return
        try:  # card extras written elsewhere (export --card-extras, another window)
            extras = self.store.cards.get(stored.persona_id)
        except PersonaStudioError:
            return
        if extras != self.card_panel.stored:
            self.card_panel.show_extras(extras)

    # -- state ----------------------------------------------------------------------------

    @property
    def persona_id(self) -> int | None:
        return self.persona.persona_id if self.persona is not None else None

    @property
    def saved_text(self) -> str:
        """The persona's text as last loaded or saved (what unsaved edits are measured by)."""
        return self._loaded_text

    def is_dirty(self) -> bool:
        if self.persona is None:
            return False
        return (
            self.text.toPlainText() != self._loaded_text
            or self.name_edit.text().strip() != self.persona.name
            or self.card_panel.is_dirty()
        )

    def confirm_leave(
        self, proceed: Callable[[], None], stay: Callable[[], None] | None = None
    ) -> None:
        """Before the editor shows something else: with unsaved edits, ask (a decision, so a
        dialog) whether to save them, discard them or stay; ``proceed`` runs once it is
        safe to go on (after the save, if saving), ``stay`` if the user stays.

        A rating chosen but not saved is saved on the way out, without asking: it is not a
        new version, and nobody means to throw a rating away."""

        # Taken now: saving the text reloads the persona, and with it its stored rating.
        rating_change = self._rating_change()

        def go_on() -> None:
            self._write_rating(rating_change)
            proceed()

        if not self.is_dirty():
            go_on()
            return
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"“{self.persona.name}” has changes that are not saved. Save them as a new version?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            self.save(then=go_on, otherwise=stay)
        elif answer == QMessageBox.StandardButton.Discard:
            self.text.setPlainText(self._loaded_text)
            self.name_edit.setText(self.persona.name)
            self.card_panel.revert()
            self.rewriter.forget()
            self._update_state()
            go_on()
        elif stay is not None:
            stay()

    def _update_state(self, *_args) -> None:
        has = self.persona is not None
        for widget in (
            self.name_edit,
            self.text,
            self.history_button,
            self.regenerate_button,
            self.issues,
        ):
            widget.setEnabled(has)
        idle = has and not self._busy
        self.check_button.setEnabled(has and self.check_panel.pending is None)
        self.save_button.setEnabled(idle and self.is_dirty())
        self.delete_button.setEnabled(idle)
        name = self.name_edit.text().strip()
        self.rename_button.setEnabled(idle and bool(name) and name != self.persona.name)
        self.rating.setEnabled(has)
        self.rating_note.setEnabled(has)
        self.rate_button.setEnabled(idle and self._rating_change() is not None)

    # -- rating ---------------------------------------------------------------------------

    def _show_rating(self, rating: int | None, note: str) -> None:
        index = self.rating.findData(rating) if rating is not None else 0
        self.rating.setCurrentIndex(max(index, 0))
        self.rating_note.setText(note)

    def _rating_change(self) -> tuple[int, str, int | None, str] | None:
        """(persona id, name, rating, note) as shown, if they differ from the stored ones."""
        if self.persona is None:
            return None
        rating = self.rating.currentData()
        note = self.rating_note.text().strip() if rating is not None else ""
        if (rating, note) == (self.persona.rating, self.persona.rating_note):
            return None
        return self.persona.persona_id, self.persona.name, rating, note

    def save_pending_rating(self) -> None:
        """Save the rating and note shown if they differ from the stored ones."""
        self._write_rating(self._rating_change())

    def save_rating(self) -> None:
        """Store the rating and note shown (off the GUI thread); "Not rated" clears both."""
        if not self._busy:
            self._write_rating(self._rating_change())

    def _write_rating(self, change: tuple[int, str, int | None, str] | None) -> None:
        if change is None or self.store is None:
            return
        store = self.store
        persona_id, name, rating, note = change

        def done(_result: None) -> None:
            self._set_busy(False)
            shown = self.persona is not None and self.persona.persona_id == persona_id
            if shown:
                self.persona = replace(self.persona, rating=rating, rating_note=note)
                self._show_rating(rating, note)
                self._update_state()
            what = "Rating saved." if rating is not None else "Rating cleared."
            self._show_message(what if shown else f"{what[:-1]} for “{name}”.")
            self.rated.emit(persona_id)

        def failed(exc: PersonaStudioError) -> None:
            self._set_busy(False)
            self._show_message(f"The rating of “{name}” was not saved: {exc}", error=True)

        self._set_busy(True)
        self.writes.off_thread(lambda: store.personas.rate(persona_id, rating, note), done, failed)

    def _text_changed(self) -> None:
        self._update_state()
        self._structure_timer.start()
        self._count_timer.start()

    # -- structure and size ---------------------------------------------------------------

    def check_structure(self) -> None:
        self.try_panel.update_probes()
        self.check_panel.refresh()
        self.issues.clear()
        if self.persona is None:
            self.highlighter.set_issue_lines(set())
            self.checks_tabs.setTabText(0, "Structure")
            return
        problems = check_structure(self.text.toPlainText(), self.headings)
        lines = set()
        for problem in problems:
            item = QListWidgetItem(problem.message)
            if problem.line is not None:
                lines.add(problem.line)
                item.setData(LINE_ROLE, problem.line)
                item.setToolTip(f"Click to go to line {problem.line + 1}")
            item.setForeground(error_color())
            self.issues.addItem(item)
        if not problems:
            self.issues.addItem(
                QListWidgetItem(f"All {len(self.headings)} headings present, in order, filled.")
            )
        self.issues_title.setText(
            f"Structure check: {len(problems)} problem{'s' if len(problems) != 1 else ''}"
            if problems
            else "Structure check: OK"
        )
        self.checks_tabs.setTabText(0, self.issues_title.text().replace(" check", ""))
        self.highlighter.set_issue_lines(lines)

    def _jump_to_issue(self, item: QListWidgetItem) -> None:
        line = item.data(LINE_ROLE)
        if line is None:
            return
        block = self.text.document().findBlockByNumber(int(line))
        if not block.isValid():
            return
        cursor = QTextCursor(block)
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
        self.text.setTextCursor(cursor)
        self.text.centerCursor()
        self.text.setFocus()

    def set_context_hint(self, context_hint: int) -> None:
        """The context window the size is shown against while the model is not loaded."""
        if context_hint != self._context_hint:
            self._context_hint = context_hint
            self.update_size()

    def model_loading(self, model_id: str) -> None:
        """A model loads for the panels' side requests (a reply, a check, card extras)."""
        self.try_panel.model_loading(model_id)
        self.check_panel.model_loading(model_id)
        self.card_panel.model_loading(model_id)

    def update_size(self) -> None:
        if self.persona is None:
            self.size_label.clear()
            return
        text = self.text.toPlainText()
        estimate = -(-len(text) // CHARS_PER_TOKEN)
        self._show_size(estimate, self._context_hint, exact=False)
        self._count_key += 1
        self.tokensWanted.emit(self._count_key, text, self.current_model.model_id())

    def set_exact_count(self, key: int, tokens: int, context: int, model_id: str) -> None:
        """The loaded model's count for request ``key`` (older answers are ignored)."""
        if key == self._count_key and model_id == self.current_model.model_id():
            self._show_size(tokens, context, exact=True)

    def _show_size(self, tokens: int, context: int, *, exact: bool) -> None:
        share = 100.0 * tokens / context if context else 0.0
        model = model_label(self.current_model.model_id()) or "the model"
        if exact:
            text = (
                f"{tokens:,} tokens in {model} · {share:.1f}% of its {context:,}-token "
                "context window (counted by the loaded model)"
            )
        else:
            text = (
                f"≈ {tokens:,} tokens · ≈ {share:.1f}% of a {context:,}-token context window "
                f"(estimate: {model} is not loaded yet; it counts exactly once it is)"
            )
        if share >= 50:
            text += ". Little room is left for the conversation."
        self.size_label.setText(text)
        self.size_label.setStyleSheet(f"color: {error_color().name()};" if share >= 50 else "")

    # -- the persona check ------------------------------------------------------------------

    def run_check(self) -> bool:
        """Check the text as it is here (unsaved edits included), on the worker thread."""
        self.checks_tabs.setCurrentIndex(1)
        started = self.check_panel.start()
        self._update_state()
        return started

    def _check_changed(self) -> None:
        self.checks_tabs.setTabText(1, self.check_panel.summary())
        self._update_state()

    def _keep_check_of_saved_text(self, persona_id: int, text: str) -> None:
        """A check run on unsaved text that has now been saved as it was checked: keep it
        with the new version (off the GUI thread)."""
        result = self.check_panel.unsaved_result_for(text)
        if result is None or self.store is None:
            return
        store = self.store

        def keep():
            from persona_studio.checks import new_check

            return store.personas.save_check_if_current(persona_id, text, new_check(result))

        def kept(saved) -> None:
            if saved is not None and self.persona_id == persona_id:
                self.check_panel.kept(saved.version)
            self.checked.emit(persona_id)

        def failed(exc: PersonaStudioError) -> None:
            self._show_message(f"The check of this text was not kept: {exc}", error=True)

        self.writes.off_thread(keep, kept, failed)

    # -- actions --------------------------------------------------------------------------

    def save(
        self,
        then: Callable[[], None] | None = None,
        otherwise: Callable[[], None] | None = None,
    ) -> bool:
        """Save the text (and a changed name) as a new version, off the GUI thread; ``then``
        runs after it is saved, ``otherwise`` if it could not be. False if nothing to save."""
        if self.persona is None or self.store is None or not self.is_dirty() or self._busy:
            return False
        persona_id, store = self.persona.persona_id, self.store
        text, name = self.text.toPlainText(), self.name_edit.text().strip()
        new_name = name if name != self.persona.name else None
        text_changed = text != self._loaded_text or new_name is not None
        card = self.card_panel.current() if self.card_panel.is_dirty() else None
        # Sections the model rewrote (and the writer used): the version says so.
        changes = self.rewriter.pending(persona_id) if text_changed else []
        notes = [c.note for c in changes if c.still_in(text, self._loaded_text)]

        def call():
            from persona_studio.store.version_notes import join_notes

            # The text first: a name already taken refuses the whole save, card included.
            version = (
                store.personas.save_edit(
                    persona_id, text, name=new_name, note=join_notes(notes) or None
                )
                if text_changed
                else None
            )
            kept = store.cards.save(persona_id, card) if card is not None else None
            return version, kept

        def saved(outcome) -> None:
            version, kept = outcome
            self._set_busy(False)
            if version is not None:
                self.rewriter.saved(persona_id, changes)
            if version is None:  # the card alone
                if self.persona_id == persona_id and kept is not None:
                    self.card_panel.show_extras(kept)
                self._show_message("Card saved.")
                self.saved.emit(persona_id)
                if then is not None:
                    then()
                return
            if self.persona_id == persona_id and self.text.toPlainText() == text:
                unsaved_check = self.check_panel.unsaved_result_for(text)
                self.load(persona_id)
                if unsaved_check is not None:
                    self.check_panel.show_result(unsaved_check, text, "keeping it…")
                    self._keep_check_of_saved_text(persona_id, text)
            elif self.persona_id == persona_id:  # typed on while it saved: keep the new text
                self._loaded_text = text
                if kept is not None:
                    self.card_panel.stored = kept
                self.persona = self.store.personas.get(persona_id)
                self._update_state()
            note = f": {version.note}" if version.note else ""
            self._show_message(f"Saved as version {version.version}{note}.")
            self.saved.emit(persona_id)
            if then is not None:
                then()

        def failed(exc: PersonaStudioError) -> None:
            self._set_busy(False)
            if isinstance(exc, NameTakenError):
                self._show_name_error(str(exc))
            else:
                self._show_message(str(exc), error=True)
            if otherwise is not None:
                otherwise()

        self._set_busy(True)
        self._show_message("Saving…")
        self.writes.off_thread(call, saved, failed)
        return True

    def rename(self) -> None:
        """Change the name only (no new version); unsaved text in the editor stays as it is."""
        if self.persona is None or self.store is None or self._busy:
            return
        persona_id, store, name = self.persona.persona_id, self.store, self.name_edit.text()

        def renamed(persona) -> None:
            self._set_busy(False)
            if self.persona_id == persona_id:
                self.persona = persona
                self.name_edit.setText(persona.name)
                self.try_panel.set_persona(persona_id, persona.name, self.text.toPlainText)
                self.check_panel.set_persona(
                    persona_id, persona.name, self.text.toPlainText, self.try_panel.model_id
                )
                self.card_panel.set_persona(
                    persona_id, self.text.toPlainText, self.try_panel.model_id, persona.name
                )
                self.name_error.setVisible(False)
                self._show_message(f"Renamed to “{persona.name}”.")
                self._update_state()
            self.renamed.emit(persona_id)

        def failed(exc: PersonaStudioError) -> None:  # NameTakenError among them
            self._set_busy(False)
            self._show_name_error(str(exc))

        def call():
            store.personas.rename(persona_id, name)
            return store.personas.get(persona_id)

        self._set_busy(True)
        self.writes.off_thread(call, renamed, failed)

    def delete(self) -> None:
        if self.persona is None or self.store is None or self._busy:
            return
        answer = QMessageBox.question(
            self,
            "Delete persona",
            f"Delete “{self.persona.name}”? It disappears from Persona Studio and FORLLM; "
            "its versions stay in the file.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        persona_id, store = self.persona.persona_id, self.store

        def deleted(_result: None) -> None:
            self._set_busy(False)
            if self.persona_id == persona_id:
                self.clear()
            self.deleted.emit(persona_id)

        def failed(exc: PersonaStudioError) -> None:
            self._set_busy(False)
            self._show_message(str(exc), error=True)

        self._set_busy(True)
        self.writes.off_thread(lambda: store.personas.delete(persona_id), deleted, failed)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_state()

    def _history(self) -> None:
        if self.persona is not None:
            self.historyRequested.emit(self.persona.persona_id)

    def _regenerate(self) -> None:
        if self.persona is not None:
            self.regenerateRequested.emit(self.persona.persona_id)

    def _show_name_error(self, text: str) -> None:
        self.name_error.setText(text)
        self.name_error.setVisible(True)
        self.name_edit.setFocus()

    def _show_message(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {error_color().name()};" if error else "")
        self.message.setVisible(True)
