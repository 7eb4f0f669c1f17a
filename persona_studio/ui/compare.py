"""Compare: two personas, or two versions of one, asked the same question side by side.

Each side is a persona and one of its versions; both are asked the question typed (or the
persona check's probe questions, one after the other) by the model chosen for Try it, with
the same seed, so what differs between the answers is the persona text. The questions go to
the worker thread as Try it questions do (``ChatRequest``s; they wait for a running job, and
only one model run happens at a time, so the right side answers after the left). The writer's
verdict is kept as the rating note of the better one ("Better than Homelab Hank v1 on
'Who are you?' (SmolLM2 135M): ..."), with its rating.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from persona_studio.engine.chat import CHAT_PARAMS, ChatReply, ChatRequest
from persona_studio.engine.persona_check import PROBES
from persona_studio.errors import PersonaStudioError
from persona_studio.ui.labels import error_color, model_label
from persona_studio.ui.tasks import TaskGroup

# One counter for every chat id the worker sees: Try it's (a Compare question must never
# share an id with a Try it question in flight).
from persona_studio.ui.try_panel import _chat_ids

if TYPE_CHECKING:  # for annotations only: importing the store loads SQLAlchemy
    from persona_studio.store import Store

SIDES = ("Left", "Right")
MAX_STARS = 5
MAX_NOTE_CHARS = 2000  # store/ratings.py's bound (checked there again)


@dataclass(frozen=True)
class Side:
    """What one side shows: a persona's version and its text."""

    persona_id: int
    name: str
    version: int
    text: str

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


class CompareDialog(QDialog):
    """The split Try it view. ``store`` is read on the GUI thread (short reads, as the
    editor does); the verdict is written off it."""

    askWanted = Signal(object)  # ChatRequest, for the worker thread
    stopWanted = Signal(int)  # chat id
    rated = Signal(int)  # persona id whose rating note the verdict wrote

    def __init__(self, store: Store, model_id, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compare")
        self.setWindowTitle("Compare personas")
        self.store = store
        self._model_id = model_id  # callable: the model chosen for Try it
        self.writes = TaskGroup()
        self.questions: list[str] = []  # still to ask, after the one in flight
        self.pending: list[tuple[int, ChatRequest]] = []  # (side, request) to answer
        self.asked: dict[int, int] = {}  # chat id -> side
        self.last_question = ""
        self.what_asked = ""  # for the verdict's note: "'Who are you?'", "the probe questions"
        self.seed = 0

        self.persona_boxes: list[QComboBox] = []
        self.version_boxes: list[QComboBox] = []
        self.answers: list[QPlainTextEdit] = []
        self.better_buttons: list[QPushButton] = []
        grid = QGridLayout()
        for side, title in enumerate(SIDES):
            persona = QComboBox()
            persona.setAccessibleName(f"{title} persona")
            version = QComboBox()
            version.setAccessibleName(f"{title} version")
            answer = QPlainTextEdit()
            answer.setReadOnly(True)
            answer.setObjectName(f"compareAnswers{side}")
            answer.setAccessibleName(f"{title} answers")
            better = QPushButton(f"{title} is better")
            better.setAccessibleName(f"Keep the verdict: the {title.lower()} one is better")
            better.clicked.connect(lambda _=False, s=side: self.keep_verdict(s))
            persona.currentIndexChanged.connect(lambda _=0, s=side: self._fill_versions(s))
            version.currentIndexChanged.connect(self._update_state)
            row = QHBoxLayout()
            row.addWidget(persona, 2)
            row.addWidget(version, 1)
            grid.addLayout(row, 0, side)
            grid.addWidget(answer, 1, side)
            grid.addWidget(better, 2, side)
            self.persona_boxes.append(persona)
            self.version_boxes.append(version)
            self.answers.append(answer)
            self.better_buttons.append(better)

        self.question = QLineEdit()
        self.question.setAccessibleName("Question for both")
        self.question.setPlaceholderText("A question for both (Enter asks)")
        self.question.returnPressed.connect(self.ask)
        self.ask_button = QPushButton("Ask both")
        self.ask_button.clicked.connect(self.ask)
        self.probes_button = QPushButton("Probe questions")
        self.probes_button.setToolTip(
            "Ask both the persona check's questions: " + " · ".join(q for _, q in PROBES)
        )
        self.probes_button.clicked.connect(self.ask_probes)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.rating = QComboBox()
        self.rating.setAccessibleName("Rating of the better one")
        self.rating.addItem("Rating…", None)
        for stars in range(1, MAX_STARS + 1):
            self.rating.addItem(f"{'★' * stars}{'☆' * (MAX_STARS - stars)}  {stars}", stars)
        self.note = QLineEdit()
        self.note.setAccessibleName("Why it is better")
        self.note.setPlaceholderText("Why it is better (optional)")
        self.note.setMaxLength(400)
        self.rating.currentIndexChanged.connect(self._update_state)
        self.status = QLabel()
        self.status.setObjectName("compareStatus")
        self.status.setWordWrap(True)

        ask = QHBoxLayout()
        ask.addWidget(self.question, 1)
        ask.addWidget(self.ask_button)
        ask.addWidget(self.probes_button)
        ask.addWidget(self.stop_button)
        verdict = QHBoxLayout()
        verdict.addWidget(QLabel("Verdict:"))
        verdict.addWidget(self.rating)
        verdict.addWidget(self.note, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(ask)
        layout.addLayout(grid, 1)
        layout.addLayout(verdict)
        layout.addWidget(self.status)
        self.resize(1000, 560)
        self._fill_personas()
        self._update_state()

    # -- choosing --------------------------------------------------------------------------

    def _fill_personas(self) -> None:
        try:
            personas = self.store.personas.list()
        except PersonaStudioError as exc:
            self._show_status(str(exc), error=True)
            return
        for box in self.persona_boxes:
            box.blockSignals(True)
            box.clear()
            for persona in personas:
                box.addItem(persona.name, persona.persona_id)
            box.blockSignals(False)
        for side in range(len(SIDES)):
            self._fill_versions(side)

    def _fill_versions(self, side: int) -> None:
        box = self.version_boxes[side]
        box.blockSignals(True)
        box.clear()
        persona_id = self.persona_boxes[side].currentData()
        if persona_id is not None:
            try:
                versions = self.store.personas.versions(persona_id)
            except PersonaStudioError as exc:
                versions = []
                self._show_status(str(exc), error=True)
            for version in reversed(versions):  # the current one first
                box.addItem(f"version {version.version}", version)
        box.blockSignals(False)
        self._update_state()

    def choose(self, side: int, persona_id: int, version: int | None = None) -> None:
        """Show ``persona_id`` (at ``version``, else its current one) on ``side``."""
        persona_box = self.persona_boxes[side]
        persona_box.setCurrentIndex(max(persona_box.findData(persona_id), 0))
        self._fill_versions(side)
        box = self.version_boxes[side]
        for index in range(box.count()):
            if version is None or box.itemData(index).version == version:
                box.setCurrentIndex(index)
                break

    def side(self, index: int) -> Side | None:
        chosen = self.version_boxes[index].currentData()
        if chosen is None:
            return None
        return Side(chosen.persona_id, chosen.name, chosen.version, chosen.prompt_instructions)

    # -- asking ----------------------------------------------------------------------------

    def ask(self) -> bool:
        question = self.question.text().strip()
        if not question:
            self._show_status("Type a question first.", error=True)
            return False
        return self._start([question], f"'{question}'")

    def ask_probes(self) -> bool:
        return self._start([q for _, q in PROBES], "the probe questions")

    def _start(self, questions: list[str], what: str) -> bool:
        if self.pending or self.questions:
            return False
        sides = [self.side(i) for i in range(len(SIDES))]
        if any(s is None for s in sides):
            self._show_status("Pick a persona and a version on both sides.", error=True)
            return False
        for answer in self.answers:
            answer.clear()
        # One seed for the whole comparison: what differs is the persona, not the dice.
        self.seed = random.randrange(1, 2**31)
        self.questions = list(questions)
        self.what_asked = what
        self._next_question()
        return True

    def _next_question(self) -> None:
        if not self.questions:
            self._update_state()
            return
        question = self.questions.pop(0)
        self.last_question = question
        model_id = self._model_id()
        params = replace(CHAT_PARAMS, seed=self.seed)
        for index in range(len(SIDES)):
            chosen = self.side(index)
            if chosen is None:
                continue
            try:
                request = ChatRequest(
                    next(_chat_ids),
                    model_id,
                    chosen.text,
                    ({"role": "user", "content": question},),
                    params=params,
                )
            except PersonaStudioError as exc:
                self._show_status(str(exc), error=True)
                continue
            self._write(index, f"Q: {question}\nA: ")
            self.pending.append((index, request))
            self.asked[request.chat_id] = index
        self._show_status(
            f"Asking both with {model_label(model_id)} (seed {self.seed}); the right side "
            "answers after the left: one model run at a time."
        )
        self._update_state()
        for _, request in list(self.pending):
            self.askWanted.emit(request)

    def stop(self) -> None:
        self.questions.clear()
        for _, request in list(self.pending):
            self.stopWanted.emit(request.chat_id)

    def reject(self) -> None:  # Esc and closing: nothing keeps running for a closed view
        self.stop()
        super().reject()

    # -- from the worker thread ------------------------------------------------------------

    def waiting_for(self, job_name: str) -> None:
        if self.pending:
            self._show_status(f"Waiting for the generation of “{job_name}” to finish…")

    def reply_text(self, chat_id: int, text: str, _tokens: int = 0, _rate: float = 0.0) -> None:
        if chat_id in self.asked and any(r.chat_id == chat_id for _, r in self.pending):
            self._write(self.asked[chat_id], text)

    def reply_finished(self, reply: ChatReply) -> None:
        index = next(
            (i for i, (_, r) in enumerate(self.pending) if r.chat_id == reply.chat_id), None
        )
        if index is None:
            return
        side, _ = self.pending.pop(index)
        if reply.error:
            self._write(side, f"[{reply.error}]")
        elif reply.cancelled:
            self._write(side, " [stopped]")
        self._write(side, "\n\n")
        if not self.pending:
            if reply.cancelled:
                self.questions.clear()
            self._show_status("Which one is better? Pick a rating and press its button.")
            self._next_question()
        self._update_state()

    def _write(self, side: int, text: str) -> None:
        answer = self.answers[side]
        answer.moveCursor(answer.textCursor().MoveOperation.End)
        answer.insertPlainText(text)

    # -- the verdict -----------------------------------------------------------------------

    def verdict_note(self, better: int) -> str:
        """The note kept with the better one: what it was compared with, on what, how."""
        chosen, other = self.side(better), self.side(1 - better)
        assert chosen is not None and other is not None
        note = (
            f"Compared: v{chosen.version} better than {other.label} on {self.what_asked} "
            f"({model_label(self._model_id())}, seed {self.seed})."
        )
        why = self.note.text().strip()
        return (f"{note} {why}" if why else note)[:MAX_NOTE_CHARS]

    def keep_verdict(self, better: int) -> bool:
        """Keep ``better``'s rating and the comparison as its rating note (off the thread)."""
        chosen = self.side(better)
        rating = self.rating.currentData()
        if chosen is None or rating is None or not self.last_question:
            return False
        note, store, persona_id = self.verdict_note(better), self.store, chosen.persona_id

        def done(_result: None) -> None:
            self._show_status(f"Kept with {chosen.name}'s rating: {note}")
            self.rated.emit(persona_id)

        def failed(exc: PersonaStudioError) -> None:
            self._show_status(f"The verdict was not kept: {exc}", error=True)

        self.writes.off_thread(lambda: store.personas.rate(persona_id, rating, note), done, failed)
        return True

    def _update_state(self, *_args) -> None:
        running = bool(self.pending or self.questions)
        ready = all(self.side(i) is not None for i in range(len(SIDES)))
        self.ask_button.setEnabled(ready and not running)
        self.probes_button.setEnabled(ready and not running)
        self.stop_button.setEnabled(running)
        can_keep = (
            not running and bool(self.last_question) and self.rating.currentData() is not None
        )
        for button in self.better_buttons:
            button.setEnabled(can_keep)

    def _show_status(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {error_color().name()};" if error else "")

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            return  # Enter belongs to the question field, never to a default button
        super().keyPressEvent(event)
