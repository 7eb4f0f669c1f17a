"""The editor's persona check: how the model that uses the persona answers as it, and why
the persona scored as it did.

It shows the current version's latest check (the one the generation made, or a later one)
with each probe question, the model's answer and a pass/fail mark with the reason. The
editor's **Check** button checks the text as it stands in the editor, unsaved edits
included; like a Try it question, the check runs on the worker thread (the panel only sends
a CheckRequest and shows what comes back): during a generation it waits for it, **Stop**
withdraws or stops it, and errors are shown in words. When the text checked is the saved
current version, the worker keeps the result with that version.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from persona_studio.checks import (
    CheckOutcome,
    CheckRequest,
    baseline_figures,
    stored_result,
    verdict,
)
from persona_studio.engine.headings import parse_persona
from persona_studio.engine.persona_check import PROBES, CheckResult, ProbeAnswer
from persona_studio.ui.labels import error_color, model_label, muted_color, ok_color

NOT_CHECKED = (
    "Not checked yet. <b>Check</b> asks the model the persona is for who it is, its name, "
    "what it knows and whether it is a real person, with the text as its system prompt, and "
    "scores the answers."
)


def _hex(color: QColor) -> str:
    return color.name(QColor.NameFormat.HexRgb)


class CheckPanel(QWidget):
    checkWanted = Signal(object)  # CheckRequest
    stopWanted = Signal(int)  # check id
    changed = Signal()  # what the panel shows changed (the editor retitles its tab)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.persona_id: int | None = None
        self.persona_name = ""
        self._text: Callable[[], str] = lambda: ""
        self._model: Callable[[], str] = lambda: ""
        self.pending: CheckRequest | None = None
        self.result: CheckResult | None = None  # the check shown
        self.result_text = ""  # the text it checked
        self.kept_version: int | None = None  # the version it is kept with, if it is
        self._details = ""  # model, time, version of the check shown
        self._answers: list[ProbeAnswer] = []  # of the running check, as they come

        self.title = QLabel()
        self.title.setObjectName("checkTitle")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop the persona check")
        self.stop_button.setToolTip("Stop the check (between two tokens); nothing is kept")
        self.stop_button.clicked.connect(self.stop)
        self.answers = QTextBrowser()
        self.answers.setObjectName("checkAnswers")
        self.answers.setAccessibleName("Persona check: questions, answers and verdicts")
        self.answers.setOpenLinks(False)
        self.status = QLabel()
        self.status.setObjectName("checkStatus")
        self.status.setWordWrap(True)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title, 1)
        top.addWidget(self.stop_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.answers, 1)
        layout.addWidget(self.status)
        self._render()

    # -- the persona ------------------------------------------------------------------------

    def set_persona(
        self,
        persona_id: int | None,
        name: str = "",
        text: Callable[[], str] | None = None,
        model: Callable[[], str] | None = None,
    ) -> None:
        """Show ``persona_id`` from now on; another persona stops a check of the previous
        one (its result would belong to nobody on screen)."""
        if persona_id != self.persona_id and self.pending is not None:
            self.stopWanted.emit(self.pending.check_id)
            self.pending = None
        if persona_id != self.persona_id:
            self.status.clear()
        self.persona_id = persona_id
        self.persona_name = name
        self._text = text or (lambda: "")
        self._model = model or (lambda: "")
        self._render()

    def show_stored(self, stored, text: str) -> None:
        """Show ``stored`` (a store PersonaCheck, or None) as the check of ``text``."""
        if self.pending is not None:
            return  # the running check's answers are on show; its result comes next
        self.result = stored_result(stored)
        self.result_text = text
        self.kept_version = stored.version if stored is not None and self.result else None
        self._details = ""
        if self.result is not None and stored is not None:
            when = (
                stored.checked_at.astimezone().strftime("%Y-%m-%d %H:%M")
                if stored.checked_at is not None
                else "at an unknown time"
            )
            self._details = (
                f"{model_label(self.result.model) or 'unknown model'} · {when} · "
                f"kept with version {stored.version}"
            )
        self._render()

    def show_result(self, result: CheckResult, text: str, details: str) -> None:
        """Show ``result`` as the (not yet kept) check of ``text``."""
        if self.pending is not None:
            return
        self.result, self.result_text, self.kept_version = result, text, None
        self._details = f"{model_label(result.model)} · {details}"
        self._render()

    def kept(self, version: int) -> None:
        """The check shown was kept with ``version`` (saved after it ran)."""
        self.kept_version = version
        model = model_label(self.result.model) if self.result is not None else ""
        self._details = f"{model} · kept with version {version}"
        self._show_status(f"The check of this text was kept with version {version}.")
        self._render()

    def unsaved_result_for(self, text: str) -> CheckResult | None:
        """The check shown, if it checked exactly ``text`` and is not kept yet."""
        if self.result is not None and self.kept_version is None and self.result_text == text:
            return self.result
        return None

    def refresh(self) -> None:
        """The editor's text changed: say whether the check shown is still about it."""
        self._render()

    # -- checking ---------------------------------------------------------------------------

    def start(self) -> bool:
        """Check the text as the editor shows it; False (and a message) if it cannot be."""
        if self.persona_id is None or self.pending is not None:
            return False
        text = self._text()
        if not text.strip():
            self._show_status("The persona has no text yet: there is nothing to check.", True)
            return False
        self.pending = CheckRequest(
            persona_id=self.persona_id,
            name=parse_persona(text).name or self.persona_name,
            text=text,
            model_id=self._model(),
        )
        self._answers = []
        self._show_status(f"Sending the check to {model_label(self.pending.model_id)}…")
        self._render()
        self.checkWanted.emit(self.pending)
        return True

    def stop(self) -> None:
        if self.pending is not None:
            self.stopWanted.emit(self.pending.check_id)
            self._show_status("Stopping…")

    def waiting_for(self, job_name: str) -> None:
        if self.pending is not None:
            self._show_status(
                f"Waiting for the generation of “{job_name}” to finish: one model run at a "
                "time. Stop withdraws the check."
            )

    def model_loading(self, model_id: str) -> None:
        if self.pending is not None:
            self._show_status(f"Loading {model_label(model_id)}…")

    def started(self, check_id: int) -> None:
        if self._is_pending(check_id):
            self._show_status(
                f"Asking {model_label(self.pending.model_id)} as "
                f"{self.pending.name or 'the persona'}… 0 of {len(PROBES)} answers"
            )

    def answered(self, check_id: int, answer: ProbeAnswer) -> None:
        if not self._is_pending(check_id):
            return
        self._answers.append(answer)
        self._show_status(
            f"Asking {model_label(self.pending.model_id)} as "
            f"{self.pending.name or 'the persona'}… {len(self._answers)} of {len(PROBES)} answers"
        )
        self._render()

    def finished(self, outcome: CheckOutcome) -> None:
        if not self._is_pending(outcome.check_id):
            return
        request, self.pending = self.pending, None
        if outcome.result is not None:
            self.result = outcome.result
            self.result_text = request.text
            self.kept_version = outcome.saved_version
            model = model_label(outcome.result.model or request.model_id)
            if outcome.saved_version is not None:
                self._details = f"{model} · just now · kept with version {outcome.saved_version}"
            else:
                self._details = f"{model} · just now · not kept: the text was not saved"
        if outcome.error is not None:
            self._show_status(f"The check failed: {outcome.error}", error=True)
        elif outcome.cancelled:
            self._show_status(
                "Stopped; nothing was kept."
                if self._answers
                else "Withdrawn before the model began; nothing was kept."
            )
        elif outcome.saved_version is not None:
            self._show_status(f"Checked; kept with version {outcome.saved_version}.")
        else:
            self._show_status(
                "Checked the text as it is in the editor. It is not saved, so the result is "
                "not kept; saving this text keeps it."
            )
        self._answers = []
        self._render()

    def _is_pending(self, check_id: int) -> bool:
        return self.pending is not None and self.pending.check_id == check_id

    # -- drawing ----------------------------------------------------------------------------

    def summary(self) -> str:
        """For the editor's tab: 'Check: 0.67', 'Check: running…', 'Check: none'."""
        if self.pending is not None:
            return "Check: running…"
        if self.result is None:
            return "Check: none"
        return f"Check: {self.result.score:.2f}"

    def _render(self) -> None:
        self.stop_button.setEnabled(self.pending is not None)
        muted = _hex(muted_color())
        if self.persona_id is None:
            self.title.setText("Persona check")
            self.answers.setHtml(f'<font color="{muted}">Select a persona to see its check.</font>')
            self.changed.emit()
            return
        if self.pending is not None:
            self.title.setText(
                f"<b>Checking…</b> <font color='{muted}'>{len(self._answers)} of "
                f"{len(PROBES)} answers</font>"
            )
            self.answers.setHtml(self._answers_html(self._answers, self.pending.name))
            self.changed.emit()
            return
        if self.result is None:
            self.title.setText("<b>Persona check</b>")
            self.answers.setHtml(f'<font color="{muted}">{NOT_CHECKED}</font>')
            self.changed.emit()
            return
        result = self.result
        color = _hex(ok_color() if result.passed else error_color())
        summary = html.escape(result.summary())
        stale = self.result_text != self._text()
        details = html.escape(self._details)
        if stale:
            details += (" · " if details else "") + "the text has changed since"
        if result.baseline:  # checked with --baseline: what the persona changes
            details += f"<br>Without the persona: {html.escape(baseline_figures(result))}"
        self.title.setText(
            f"<b>Persona check: <font color='{color}'>{result.score:.2f}</font></b>"
            f"{' · ' + summary if summary else ''}<br><font color='{muted}'>{details}</font>"
        )
        self.title.setToolTip(
            "Score 0 to 1: name hold, domain hit and staying in character, equally weighted."
        )
        self.answers.setHtml(self._answers_html(result.answers, result.name))
        self.changed.emit()

    @staticmethod
    def _answers_html(answers, name: str) -> str:
        ok, bad, muted = _hex(ok_color()), _hex(error_color()), _hex(muted_color())
        parts = []
        for answer in answers:
            passed, why = verdict(answer, name=name)
            mark = f"<font color='{ok}'>✓</font>" if passed else f"<font color='{bad}'>✗</font>"
            reply = html.escape(" ".join(answer.answer.split())) or "<i>(no answer)</i>"
            parts.append(
                f"<p>{mark} <b>{html.escape(answer.question)}</b> "
                f"<font color='{muted}'>— {html.escape(why)}</font><br>“{reply}”</p>"
            )
        return "".join(parts)

    def _show_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {error_color().name()};" if error else "")
