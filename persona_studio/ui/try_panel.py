"""The "Try it" panel: chat with the persona in the editor, as FORLLM would use it.

The persona's text (unsaved edits included, so a change can be tried before it is saved) is
the system prompt; the model chosen here answers, token by token. The panel never runs the
model itself: it hands a ChatRequest to the window, which passes it to the worker thread
(the only thread that touches a model), and shows what comes back. While a generation job
runs, the question waits for it; the panel says so.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from persona_studio.engine.chat import (
    DOMAIN_FALLBACK,
    MAX_QUESTION_CHARS,
    PROBE_FORBIDDEN,
    PROBE_WHO,
    ChatReply,
    ChatRequest,
    domain_probe,
)
from persona_studio.errors import InvalidRequestError
from persona_studio.llm.catalog import DEFAULT_MODEL_ID
from persona_studio.ui.labels import error_color, model_label, muted_color

_chat_ids = itertools.count(1)


def _row(*items: QWidget | tuple[QWidget, int] | None) -> QHBoxLayout:
    """A row without margins: widgets, (widget, stretch) pairs, None for a stretch."""
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    for item in items:
        if item is None:
            row.addStretch(1)
        elif isinstance(item, tuple):
            row.addWidget(*item)
        else:
            row.addWidget(item)
    return row


class ProbeButton(QPushButton):
    """A one-click question. Its label is the question, elided to the width it gets, so the
    three fit side by side in a narrow panel; the tooltip has it whole."""

    MIN_WIDTH = 80

    def __init__(self, question: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question = ""
        # Preferred, not QPushButton's Minimum: it may shrink below its full label.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.set_question(question)

    def set_question(self, question: str) -> None:
        self.question = question
        self.setToolTip(f"Ask: {question}")
        self.setAccessibleName(f"Ask: {question}")
        self._elide()
        self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        hint = super().sizeHint()
        text = self.fontMetrics().horizontalAdvance(self.question)
        return QSize(text + 2 * self.fontMetrics().averageCharWidth() + 16, hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(self.MIN_WIDTH, super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = max(self.width() - 2 * self.fontMetrics().averageCharWidth() - 8, 10)
        self.setText(
            self.fontMetrics().elidedText(self.question, Qt.TextElideMode.ElideRight, room)
        )


class TryItPanel(QWidget):
    replyWanted = Signal(object)  # ChatRequest
    stopWanted = Signal(int)  # chat id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.persona_id: int | None = None
        self.persona_name = ""
        self._persona_text: Callable[[], str] = lambda: ""
        self.history: list[dict[str, str]] = []  # answered exchanges, oldest first
        self.pending: ChatRequest | None = None
        self._reply: list[str] = []
        self._model_chosen = False  # the user picked a model here: stop following the form

        title = QLabel("Try it")
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        title.setToolTip(
            "Chat with the persona the way FORLLM uses it: its text, unsaved edits included, "
            "is the system prompt."
        )
        self.model = QComboBox()
        self.model.setAccessibleName("Model that answers")
        self.model.setToolTip("The model that plays the persona in this conversation")
        self.model.setMinimumContentsLength(12)
        self.model.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model.addItem(model_label(DEFAULT_MODEL_ID), DEFAULT_MODEL_ID)
        self.model.activated.connect(self._model_activated)
        self.transcript = QTextBrowser()
        self.transcript.setObjectName("chatTranscript")
        self.transcript.setAccessibleName("Conversation with the persona")
        self.transcript.setOpenLinks(False)
        self._has_turns = False  # the transcript shows a conversation, not the intro

        self.probe_buttons = [ProbeButton(q) for q in (PROBE_WHO, PROBE_FORBIDDEN, DOMAIN_FALLBACK)]
        for button in self.probe_buttons:
            button.clicked.connect(lambda _checked=False, b=button: self.ask(b.question))

        self.question = QLineEdit()
        self.question.setAccessibleName("Question for the persona")
        self.question.setPlaceholderText("Ask the persona something…")
        self.question.setMaxLength(MAX_QUESTION_CHARS)
        self.question.textChanged.connect(self._update_state)
        self.question.returnPressed.connect(self.send)
        self.send_button = QPushButton("Send")
        self.send_button.setAccessibleName("Send the question")
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop the reply")
        self.stop_button.setToolTip("Stop the reply (between two tokens); what was said stays")
        self.stop_button.clicked.connect(self.stop)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setAccessibleName("Clear the conversation")
        self.clear_button.setToolTip("Start the conversation over")
        self.clear_button.clicked.connect(self.clear_conversation)
        self.status = QLabel()
        self.status.setObjectName("chatStatus")
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addLayout(_row(title, None, QLabel("Model:"), self.model))
        layout.addWidget(self.transcript, 1)
        # The two short questions side by side; the domain question, as long as the
        # domain's name, on a row of its own.
        layout.addLayout(_row(self.probe_buttons[0], self.probe_buttons[1], None))
        layout.addLayout(_row(self.probe_buttons[2], None))
        layout.addLayout(_row((self.question, 1), self.send_button, self.stop_button))
        layout.addLayout(_row((self.status, 1), self.clear_button))
        self._show_intro()
        self._update_state()

    # -- the persona and the model --------------------------------------------------------

    def set_persona(
        self, persona_id: int | None, name: str = "", text: Callable[[], str] | None = None
    ) -> None:
        """Talk to ``persona_id`` from now on (``text`` gives its current text). Another
        persona means another conversation: the old one is stopped and cleared."""
        if persona_id != self.persona_id:
            self.clear_conversation()
        self.persona_id = persona_id
        self.persona_name = name
        self._persona_text = text or (lambda: "")
        if not self._has_turns:
            self._show_intro()
        self.update_probes()
        self._update_state()

    def update_probes(self) -> None:
        """The domain question follows the persona's Knowledge Domain section."""
        text = self._persona_text() if self.persona_id is not None else ""
        question = domain_probe(text)
        if question != self.probe_buttons[2].question:
            self.probe_buttons[2].set_question(question)

    def set_models(self, entries: list[tuple[str, str]], selected: str) -> None:
        """The models on offer (label, id), as the generate form lists them; ``selected`` is
        the form's choice, followed until a model is picked here."""
        current = self.model_id()
        self.model.blockSignals(True)
        self.model.clear()
        for label, model_id in entries:
            self.model.addItem(label, model_id)
            self.model.setItemData(self.model.count() - 1, model_id, Qt.ItemDataRole.ToolTipRole)
        self.model.blockSignals(False)
        self.select_model(current if self._model_chosen else selected)

    def follow_form_model(self, model_id: str) -> None:
        if not self._model_chosen:
            self.select_model(model_id)

    def select_model(self, model_id: str) -> None:
        index = self.model.findData(model_id)
        if index < 0:
            self.model.addItem(model_label(model_id), model_id)
            index = self.model.count() - 1
        self.model.setCurrentIndex(index)

    def model_id(self) -> str:
        return str(self.model.currentData() or DEFAULT_MODEL_ID)

    def _model_activated(self, _index: int) -> None:
        self._model_chosen = True

    # -- asking ---------------------------------------------------------------------------

    def send(self) -> None:
        if self.ask(self.question.text()):
            self.question.clear()

    def ask(self, question: str) -> bool:
        """Send ``question`` to the persona; False (and a message) if it cannot be asked."""
        question = question.strip()
        if self.persona_id is None or self.pending is not None or not question:
            return False
        history = (*self.history, {"role": "user", "content": question})
        try:
            request = ChatRequest(
                chat_id=next(_chat_ids),
                model_id=self.model_id(),
                persona_text=self._persona_text(),
                history=history,
            )
        except InvalidRequestError as exc:
            self._show_status(str(exc), error=True)
            return False
        self.pending = request
        self._reply = []
        self._append_turn("You", question)
        self._append_turn(self.persona_name or "Persona", "")
        self._show_status("Sending…")
        self._update_state()
        self.replyWanted.emit(request)
        return True

    def stop(self) -> None:
        if self.pending is not None:
            self.stopWanted.emit(self.pending.chat_id)
            self._show_status("Stopping…")

    def clear_conversation(self) -> None:
        if self.pending is not None:
            self.stopWanted.emit(self.pending.chat_id)
            self.pending = None
        self.history = []
        self._reply = []
        self._show_intro()
        self.status.clear()
        self._update_state()

    # -- what the worker says --------------------------------------------------------------

    def waiting_for(self, job_name: str) -> None:
        """The question waits for a running generation job."""
        if self.pending is not None:
            self._show_status(
                f"Waiting for the generation of “{job_name}” to finish: one model run at a "
                "time. Stop withdraws the question."
            )

    def model_loading(self, model_id: str) -> None:
        if self.pending is not None:
            self._show_status(f"Loading {model_label(model_id)}…")

    def reply_started(self, chat_id: int) -> None:
        if self._is_pending(chat_id):
            self._show_status(f"{self.persona_name or 'The persona'} is answering…")

    def reply_text(self, chat_id: int, text: str, tokens: int, rate: float) -> None:
        if not self._is_pending(chat_id):
            return
        if not any(self._reply):  # the model's leading blank lines are not shown
            text = text.lstrip()
        self._reply.append(text)
        self._insert(text, QTextCharFormat())
        self._show_status(f"Answering… {tokens:,} tokens · {rate:.0f} tokens/s")

    def reply_finished(self, reply: ChatReply) -> None:
        if not self._is_pending(reply.chat_id):
            return
        request, self.pending = self.pending, None
        question = request.history[-1]["content"]
        said = "".join(self._reply).strip() or reply.text
        if said and reply.error is None:
            self.history.extend(
                [{"role": "user", "content": question}, {"role": "assistant", "content": said}]
            )
        if reply.error is not None:
            self._note(f"No answer: {reply.error}", error=True)
            self._show_status("The question was not answered; it is back in the box below.")
            self._give_back(question)
        elif reply.cancelled and not said:
            self._note("Stopped before the model began.")
            self._show_status("Withdrawn; the question is back in the box below.")
            self._give_back(question)
        else:
            if reply.cancelled:
                self._note("Stopped.")
            elif reply.cut:
                self._note(f"Cut at the {reply.tokens:,}-token limit of a reply.")
            figures = f"{reply.tokens:,} tokens in {reply.seconds:.1f} s"
            if reply.seconds > 0:
                figures += f" ({reply.tokens_per_s:.0f} tokens/s)"
            status = ("Stopped: " if reply.cancelled else "Answered: ") + figures + "."
            if reply.dropped:
                status += (
                    f" The model no longer saw the {reply.dropped} oldest messages: the persona"
                    " and the rest fill its context window."
                )
            self._show_status(status)
        self._update_state()

    def _is_pending(self, chat_id: int) -> bool:
        return self.pending is not None and self.pending.chat_id == chat_id

    def _give_back(self, question: str) -> None:
        if not self.question.text().strip():
            self.question.setText(question)

    # -- the transcript --------------------------------------------------------------------

    def _end_cursor(self) -> QTextCursor:
        cursor = self.transcript.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def _show_intro(self) -> None:
        """What the empty panel says (in the transcript: a placeholder would not wrap)."""
        self._has_turns = False
        if self.persona_id is None:
            intro = "Select a persona to try it."
        else:
            intro = (
                f"Ask {html.escape(self.persona_name or 'the persona')} a question, or click "
                "one of the questions below.<br><br>The persona's text, unsaved edits "
                "included, is the system prompt, as in FORLLM: this is how a model follows it."
            )
        muted = muted_color().name(QColor.NameFormat.HexArgb)  # the palette's is translucent
        self.transcript.setHtml(f'<font color="{muted}">{intro}</font>')

    def _append_turn(self, speaker: str, text: str) -> None:
        if not self._has_turns:
            self.transcript.clear()
            self._has_turns = True
        cursor = self._end_cursor()
        if not self.transcript.document().isEmpty():
            cursor.insertBlock()
            cursor.insertBlock()
        cursor.insertHtml(f"<b>{html.escape(speaker)}</b>")
        cursor.insertBlock()
        cursor.setCharFormat(QTextCharFormat())
        self._insert(text, QTextCharFormat())

    def _note(self, text: str, *, error: bool = False) -> None:
        fmt = QTextCharFormat()
        fmt.setFontItalic(True)
        fmt.setForeground(error_color() if error else muted_color())
        if self._reply:
            self._insert("\n", QTextCharFormat())
        self._insert(text, fmt)

    def _insert(self, text: str, fmt: QTextCharFormat) -> None:
        if not text:
            return
        bar = self.transcript.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        self._end_cursor().insertText(text, fmt)
        if at_bottom:
            bar.setValue(bar.maximum())

    # -- state ----------------------------------------------------------------------------

    def _show_status(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {error_color().name()};" if error else "")

    def _update_state(self, *_args) -> None:
        has = self.persona_id is not None
        idle = has and self.pending is None
        self.question.setEnabled(has)
        self.send_button.setEnabled(idle and bool(self.question.text().strip()))
        for button in self.probe_buttons:
            button.setEnabled(idle)
        self.stop_button.setEnabled(self.pending is not None)
        self.clear_button.setEnabled(has and self._has_turns)
        self.model.setEnabled(has)
