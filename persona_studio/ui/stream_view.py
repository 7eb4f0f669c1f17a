"""The streaming view: the running job's text as the model writes it, stage by stage.

Expansion (the free brainstorm) and refinement (the persona itself) get a header each and
distinct styling, so a writer can tell scratch notes from the result at a glance. The
persona check follows, with each probe question and the model's answer as the persona; when
it finds the persona weak, a second refinement and check follow under headers of their own.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QFont, QTextBlockFormat, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.events import JobFinished, JobStarted, Retried, StageStarted, TextWritten
from persona_studio.ui.editor import HeadingHighlighter
from persona_studio.ui.labels import error_color, model_label, muted_color, stage_label

# Numbered as they arrive: with the optional critique stage, refinement is stage 3.
STAGE_TITLES = {
    "expansion": "Expansion: brainstorming ideas",
    "critique": "Critique: reviewing the brainstorm",
    "refinement": "Refinement: writing the persona",
    "check": "Persona check: asking the model as the persona",
}
AGAIN_TITLES = {
    "refinement": "Refinement again: rewriting what the check found weak",
    "check": "Persona check again: asking the model as the new persona",
}


class StreamView(QWidget):
    stopRequested = Signal(int)
    openPersona = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.request_id: int | None = None
        self.persona_id: int | None = None
        self._stage = ""
        self._stage_number = 0
        self._stages_seen: set[str] = set()
        self._answers = 0  # probe answers shown in the current check stage

        self.title = QLabel("No generation running")
        title_font = self.title.font()
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.stage_label = QLabel()
        self.rate_label = QLabel()
        self.rate_label.setAccessibleName("Tokens per second")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop this generation (between two tokens)")
        self.stop_button.setAccessibleName("Stop the running generation")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self._stop)
        self.open_button = QPushButton("Open in editor")
        self.open_button.setAccessibleName("Open the generated persona in the editor")
        self.open_button.setVisible(False)
        self.open_button.clicked.connect(self._open)

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.stage_label)
        top.addWidget(self.rate_label)
        top.addWidget(self.open_button)
        top.addWidget(self.stop_button)

        self.text = QPlainTextEdit()
        self.text.setObjectName("streamText")
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Generated text, as it is written")
        self.text.setPlaceholderText(
            "Tokens appear here as the model writes them: first the brainstorm (expansion), "
            "then the persona (refinement)."
        )
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.highlighter = HeadingHighlighter(self.text.document())

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("streamStatus")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.status)

    # -- fed by the worker thread's signals ---------------------------------------------------

    def show_job_event(self, event) -> None:
        """A job's event (the worker thread's jobEvent): the parts this view shows."""
        match event:
            case JobStarted():
                self.start_job(event.request_id, event.name, event.model_id)
            case StageStarted():
                self.stage(event.request_id, event.stage)
            case TextWritten():
                self.append(
                    event.request_id,
                    event.stage,
                    event.text,
                    event.stage_tokens,
                    event.tokens_per_s,
                )
            case Retried():
                self.retry(event.request_id, event.stage, event.message)
            case JobFinished():
                self.finish(event)

    def start_job(self, request_id: int, name: str, model_id: str) -> None:
        self.request_id = request_id
        self.persona_id = None
        self._stage = ""
        self._stage_number = 0
        self._stages_seen = set()
        self._answers = 0
        self.text.clear()
        self.title.setText(
            f"Generating “{name}” with {model_label(model_id) or 'the default model'}"
        )
        self.stage_label.clear()
        self.rate_label.clear()
        self.open_button.setVisible(False)
        self.stop_button.setEnabled(True)
        self._set_status("Starting…")

    def model_loading(self, model_id: str) -> None:
        self._set_status(f"Loading model {model_label(model_id)}…")

    def model_loaded(self, model_id: str, seconds: float) -> None:
        self._set_status(f"Model {model_label(model_id)} loaded in {seconds:.1f} s.")

    def stage(self, request_id: int, stage: str) -> None:
        if request_id != self.request_id:
            return
        self._stage = stage
        self._stage_number += 1
        again = stage in self._stages_seen
        self._stages_seen.add(stage)
        self._answers = 0
        self.stage_label.setText(stage_label(stage))
        if again:
            title = AGAIN_TITLES.get(stage, f"{stage.capitalize()} again")
        else:
            title = STAGE_TITLES.get(stage, stage.capitalize())
        self._append_header(f"Stage {self._stage_number} · {title}")

    def append(self, request_id: int, stage: str, text: str, tokens: int, rate: float) -> None:
        if request_id != self.request_id:
            return
        if stage != self._stage:
            self.stage(request_id, stage)
        self._append_text(text, stage)
        if stage == "check":  # the pipeline's own text, not tokens: the rate stays the last
            self._answers += text.count("Q: ")
            plural = "s" if self._answers != 1 else ""
            self.stage_label.setText(f"{stage_label(stage)} · {self._answers} answer{plural}")
        else:
            self.rate_label.setText(f"{tokens:,} tokens · {rate:.1f} tok/s")

    def retry(self, request_id: int, stage: str, message: str) -> None:
        if request_id == self.request_id:
            self._set_status(f"Retrying {stage}: {message}")

    def finish(self, outcome) -> None:
        if outcome.request_id != self.request_id:
            return
        self.stop_button.setEnabled(False)
        if outcome.persona_id is not None:
            self.persona_id = outcome.persona_id
            self.open_button.setVisible(True)
            note = f" (“{outcome.requested_name}” was taken)" if outcome.renamed else ""
            version = f", version {outcome.version}" if outcome.version > 1 else ""
            self._set_status(f"Done: saved as “{outcome.persona_name}”{note}{version}.")
        elif outcome.cancelled:
            self._set_status("Stopped. Nothing was saved.")
        else:
            self._set_status(f"Failed: {outcome.error}", error=True)

    # -- drawing --------------------------------------------------------------------------

    def _append_header(self, title: str) -> None:
        cursor = self._end_cursor()
        if not self.text.document().isEmpty():
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        block = QTextBlockFormat()
        block.setTopMargin(6)
        block.setBottomMargin(4)
        block.setBackground(QBrush(self.palette().alternateBase().color()))
        char = QTextCharFormat()
        char.setFontWeight(QFont.Weight.Bold)
        char.setForeground(self.palette().highlight().color())
        cursor.insertBlock(block, char)
        cursor.insertText(title, char)
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        self._scroll_to_end()

    def _append_text(self, text: str, stage: str) -> None:
        at_bottom = self._at_bottom()
        char = QTextCharFormat()
        if stage == "expansion":
            char.setFontItalic(True)
            char.setForeground(muted_color())
        if stage == "check":
            # The questions in bold, the answers as written (each answer arrives whole).
            cursor = self._end_cursor()
            bold = QTextCharFormat()
            bold.setFontWeight(QFont.Weight.Bold)
            for line in text.splitlines(keepends=True):
                cursor.insertText(line, bold if line.startswith("Q: ") else char)
        else:
            self._end_cursor().insertText(text, char)
        if at_bottom:
            self._scroll_to_end()

    def _end_cursor(self) -> QTextCursor:
        cursor = QTextCursor(self.text.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def _at_bottom(self) -> bool:
        bar = self.text.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def _scroll_to_end(self) -> None:
        bar = self.text.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        color = error_color().name() if error else ""
        self.status.setStyleSheet(f"color: {color};" if color else "")

    def _stop(self) -> None:
        if self.request_id is not None:
            self.stop_button.setEnabled(False)
            self._set_status("Stopping…")
            self.stopRequested.emit(self.request_id)

    def _open(self) -> None:
        if self.persona_id is not None:
            self.openPersona.emit(self.persona_id)
