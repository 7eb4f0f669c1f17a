"""The editor's Card tab: what a character card holds beyond the persona text.

A greeting, alternate greetings, an example dialogue, a scenario line and tags, each shown
and editable here and saved with the persona (the editor's Save). **Write with the model**
has the model chosen for Try it write them in the persona's voice, from the text as it is in
the editor; like a Try it question it runs on the worker thread (the panel sends a
CardExtrasRequest and shows what comes back), waits for a running generation, and **Stop**
withdraws or stops it. What the model writes replaces a field as an edit the field can undo
(Ctrl+Z), and nothing is saved until the writer saves; a field the model wrote nothing
usable for keeps what it held, and the panel says which and why.

Empty fields are left out of a card, except the example dialogue and the scenario, which a
card then takes from the persona's Example Phrases and Scenario heading.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from persona_studio.ui.labels import error_color, model_label

MIN_ALTERNATES = 2
_WRITTEN = {
    "greeting": "the greeting",
    "alternate greeting 1": "the first alternate greeting",
    "alternate greeting 2": "the second alternate greeting",
    "who": "the example dialogue",
    "domain": "the example dialogue",
    "scenario": "the scenario",
    "tags": "the tags",
}


def _replace_text(edit: QPlainTextEdit | QLineEdit, text: str) -> None:
    """``text`` in ``edit`` as one edit the field can undo (setText/setPlainText would
    clear its undo history, and with it what the writer had there)."""
    if isinstance(edit, QLineEdit):
        edit.selectAll()
        edit.insert(text)
        return
    cursor = edit.textCursor()
    cursor.select(cursor.SelectionType.Document)
    cursor.insertText(text)
    edit.setTextCursor(cursor)


def _plain(edit: QPlainTextEdit, name: str, placeholder: str, lines: int = 3) -> QPlainTextEdit:
    edit.setAccessibleName(name)
    edit.setPlaceholderText(placeholder)
    edit.setTabChangesFocus(True)
    edit.setMinimumHeight(edit.fontMetrics().lineSpacing() * lines + 12)
    return edit


class CardPanel(QWidget):
    writeWanted = Signal(object)  # CardExtrasRequest
    stopWanted = Signal(int)  # extras id
    changed = Signal()  # a field was edited, or what the panel shows changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.persona_id: int | None = None
        self.persona_name = ""
        self._text: Callable[[], str] = lambda: ""
        self._model: Callable[[], str] = lambda: ""
        self.pending = None  # the CardExtrasRequest on its way, if any
        self.stored = None  # the CardExtras saved (None: none yet)
        self._written_by: str | None = None  # the model whose extras are shown, unsaved
        self._loading = False

        self.greeting = _plain(
            QPlainTextEdit(), "Greeting (first message)", "The persona's first message"
        )
        self.alternates: list[QPlainTextEdit] = []
        self.alternates_box = QVBoxLayout()
        self.alternates_box.setContentsMargins(0, 0, 0, 0)
        self.example = _plain(
            QPlainTextEdit(),
            "Example dialogue",
            "<START>\n{{user}}: …\n{{char}}: …   (empty: made from the Example Phrases)",
            4,
        )
        self.scenario = QLineEdit()
        self.scenario.setAccessibleName("Scenario")
        self.scenario.setPlaceholderText("Where the conversation takes place (optional)")
        self.tags = QLineEdit()
        self.tags.setAccessibleName("Tags")
        self.tags.setPlaceholderText("Tags, separated by commas; the list filters by them")
        for edit in (self.greeting, self.example):
            edit.textChanged.connect(self._edited)
        for line in (self.scenario, self.tags):
            line.textChanged.connect(self._edited)
        self._ensure_alternates(MIN_ALTERNATES)

        self.write_button = QPushButton("Write with the model")
        self.write_button.setAccessibleName("Write the card extras with the model")
        self.write_button.setToolTip(
            "The model chosen for Try it writes a greeting, two alternate greetings, an "
            "example dialogue, a scenario line and five tags in the persona's voice, from the "
            "text as it is in the editor. Nothing is saved until you save; Ctrl+Z in a field "
            "brings back what it held."
        )
        self.write_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop writing the card extras")
        self.stop_button.clicked.connect(self.stop)
        self.status = QLabel()
        self.status.setObjectName("cardStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Shown while the persona has no saved extras: what its exported cards lack.
        self.empty_hint = QLabel(
            "No card extras saved: a card exported now has no greeting, and only what the "
            "text gives for the example dialogue and scenario. Write with the model (or type "
            "them), then save."
        )
        self.empty_hint.setObjectName("cardEmptyHint")
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setVisible(False)

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Greeting:", self.greeting)
        form.addRow("Alternate greetings:", self.alternates_box)
        form.addRow("Example dialogue:", self.example)
        form.addRow("Scenario:", self.scenario)
        form.addRow("Tags:", self.tags)
        fields = QWidget()
        fields.setLayout(form)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(fields)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.write_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.empty_hint)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)
        self._update_state()

    # -- the persona ------------------------------------------------------------------------

    def set_persona(
        self,
        persona_id: int | None,
        text: Callable[[], str] | None = None,
        model: Callable[[], str] | None = None,
        name: str = "",
    ) -> None:
        """Show ``persona_id`` from now on; another persona withdraws extras being written
        for the previous one (they would belong to nobody on screen)."""
        if persona_id != self.persona_id:
            if self.pending is not None:
                self.stopWanted.emit(self.pending.extras_id)
                self.pending = None
            self.status.clear()
        self.persona_id = persona_id
        self.persona_name = name
        self._text = text or (lambda: "")
        self._model = model or (lambda: "")
        if persona_id is None:
            self.show_extras(None)
        self._update_state()

    def show_extras(self, extras) -> None:
        """Show ``extras`` (a store CardExtras, or None) as the saved ones."""
        self.stored = extras
        self._written_by = None
        self._loading = True
        try:
            self.greeting.setPlainText(extras.first_mes if extras else "")
            greetings = list(extras.alternate_greetings) if extras else []
            self._ensure_alternates(max(MIN_ALTERNATES, len(greetings)), exact=True)
            padded = greetings + [""] * len(self.alternates)
            for edit, text in zip(self.alternates, padded, strict=False):
                edit.setPlainText(text)
            self.example.setPlainText(extras.mes_example if extras else "")
            self.scenario.setText(extras.scenario if extras else "")
            self.tags.setText(", ".join(extras.tags) if extras else "")
        finally:
            self._loading = False
        if extras is not None and extras.model and not self.status.text():
            self.status.setText(f"Last written by {model_label(extras.model)}.")
        self.empty_hint.setVisible(
            self.persona_id is not None and (extras is None or extras.is_empty())
        )
        self.changed.emit()

    def _ensure_alternates(self, count: int, *, exact: bool = False) -> None:
        while len(self.alternates) < count:
            number = len(self.alternates) + 1
            edit = _plain(
                QPlainTextEdit(),
                f"Alternate greeting {number}",
                f"Alternate greeting {number} (optional)",
                2,
            )
            edit.textChanged.connect(self._edited)
            self.alternates.append(edit)
            self.alternates_box.addWidget(edit)
        while exact and len(self.alternates) > count:
            edit = self.alternates.pop()
            self.alternates_box.removeWidget(edit)
            edit.deleteLater()

    # -- what is shown ----------------------------------------------------------------------

    def current(self):
        """The extras as shown, as a store CardExtras (imported here: the store loads
        SQLAlchemy, which the window does not need before it is up)."""
        from persona_studio.store import CardExtras, clean_tags

        return CardExtras(
            first_mes=self.greeting.toPlainText().strip(),
            alternate_greetings=tuple(
                text for text in (e.toPlainText().strip() for e in self.alternates) if text
            ),
            mes_example=self.example.toPlainText().strip(),
            scenario=self.scenario.text().strip(),
            tags=clean_tags(self.tags.text()),
            model=self._written_by or (self.stored.model if self.stored is not None else None),
        )

    def is_dirty(self) -> bool:
        if self.persona_id is None:
            return False
        shown = self.current()
        if self.stored is None:
            return not shown.is_empty()
        return not shown.same_content(self.stored)

    def revert(self) -> None:
        """Show the saved extras again (the writer discarded the changes)."""
        self.show_extras(self.stored)

    def _edited(self) -> None:
        if not self._loading:
            self.changed.emit()

    # -- writing with the model -------------------------------------------------------------

    def start(self) -> bool:
        """Ask for card extras of the text as it is in the editor; False if there is no
        persona, no text, or extras are being written already."""
        from persona_studio.engine.card_extras import CardExtrasRequest
        from persona_studio.errors import InvalidRequestError

        if self.persona_id is None or self.pending is not None:
            return False
        try:
            request = CardExtrasRequest(
                self.persona_id, self._text(), self._model(), self.persona_name
            )
        except InvalidRequestError as exc:
            self._say(str(exc), error=True)
            return False
        self.pending = request
        self._say(f"Asking {model_label(request.model_id) or 'the model'}…")
        self._update_state()
        self.writeWanted.emit(request)
        return True

    def stop(self) -> None:
        if self.pending is not None:
            self.stopWanted.emit(self.pending.extras_id)

    def waiting_for(self, job_name: str) -> None:
        if self.pending is not None:
            self._say(f"Waiting for the generation of “{job_name}” to finish…")

    def model_loading(self, model_id: str) -> None:
        if self.pending is not None:
            self._say(f"Loading {model_label(model_id)}…")

    def started(self, extras_id: int) -> None:
        if self.pending is not None and self.pending.extras_id == extras_id:
            self._say("Writing the card extras…")

    def progress(self, extras_id: int, key: str) -> None:
        if self.pending is not None and self.pending.extras_id == extras_id:
            self._say(f"Writing the card extras… ({_WRITTEN.get(key, key)} is written)")

    def finished(self, outcome) -> None:
        """Show what came back for the request on its way (others are stale: ignored)."""
        if self.pending is None or outcome.extras_id != self.pending.extras_id:
            return
        self.pending = None
        if outcome.cancelled:
            self._say("Stopped; nothing was changed.")
        elif outcome.error is not None or outcome.draft is None:
            self._say(f"The card extras were not written: {outcome.error}", error=True)
        else:
            self._fill(outcome.draft)
        self._update_state()
        self.changed.emit()

    def _fill(self, draft) -> None:
        self._written_by = draft.model or None
        if draft.first_mes:
            _replace_text(self.greeting, draft.first_mes)
        self._ensure_alternates(len(draft.alternate_greetings))
        for edit, text in zip(self.alternates, draft.alternate_greetings, strict=False):
            _replace_text(edit, text)
        if draft.mes_example:
            _replace_text(self.example, draft.mes_example)
        if draft.scenario:
            _replace_text(self.scenario, draft.scenario)
        if draft.tags:
            _replace_text(self.tags, ", ".join(draft.tags))
        done = (
            f"Written by {model_label(draft.model) or 'the model'} in {draft.seconds:.1f} s; "
            "save to keep them (Ctrl+Z in a field brings back what it held)."
        )
        if draft.problems:
            self._say(done + " " + " ".join(f"{p}." for p in draft.problems), error=True)
        else:
            self._say(done)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {error_color().name()};" if error else "")

    def _update_state(self) -> None:
        has = self.persona_id is not None
        for widget in (self.greeting, self.example, self.scenario, self.tags, *self.alternates):
            widget.setEnabled(has)
        self.write_button.setEnabled(has and self.pending is None)
        self.stop_button.setEnabled(self.pending is not None)
