"""The status bar says so when a job generates far below this machine's usual speed for its
model, with the likely cause; a job that ends well teaches the usual speed."""

from __future__ import annotations

import pytest

from persona_studio.core.events import JobFinished, JobStarted, TextWritten
from persona_studio.llm.catalog import DEFAULT_MODEL_ID
from tests.ui.conftest import GENERATION_TIMEOUT_MS, job_finished, queue_form


def _text(text: str, tokens: int, rate: float) -> TextWritten:
    return TextWritten("expansion", text, tokens, rate, job_tokens=tokens, request_id=9001)


def test_far_below_the_usual_speed_is_said_with_its_cause(qtbot, window) -> None:
    window.prefs.set_usual_speed(DEFAULT_MODEL_ID, 80.0)
    window.worker.jobEvent.emit(JobStarted(9001, "Slowpoke", DEFAULT_MODEL_ID))
    window.worker.jobEvent.emit(_text("Hello", 3, 60.0))
    window.worker.jobEvent.emit(_text(" there", 5, 6.0))  # slow from here
    assert "far below" not in window.statusBar().currentMessage()
    qtbot.wait(4_200)
    window.worker.jobEvent.emit(_text(" again", 9, 5.5))
    message = window.statusBar().currentMessage()
    assert message.startswith("Generating at 5.5 tok/s, far below the 80 tok/s")
    assert "SmolLM2-135M-Instruct.Q4_1" in message
    # The job ends well: the slow run lowers the usual speed only a little.
    window._learn_speed(JobFinished(9001, persona_id=1))
    assert 70 < window.prefs.usual_speed(DEFAULT_MODEL_ID) < 80


@pytest.mark.model
def test_a_real_job_far_below_the_recorded_speed_is_reported(qtbot, window) -> None:
    # What this machine "usually" does is set far above anything it can: the real job, at
    # its real speed, is then far below it.
    window.prefs.set_usual_speed(DEFAULT_MODEL_ID, 5000.0)
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    form = window.form
    form.name_hint.setText("Tortoise")
    form.output.length.setCurrentIndex(form.output.length.findData("concise"))
    (request_id,) = queue_form(qtbot, form)
    with qtbot.waitSignal(
        window.worker.jobEvent,
        timeout=GENERATION_TIMEOUT_MS,
        check_params_cb=job_finished(request_id),
    ):
        pass
    assert any("far below the 5000 tok/s" in m for m in messages), messages
    usual = window.prefs.usual_speed(DEFAULT_MODEL_ID)
    assert usual is not None and usual < 5000.0  # learnt from the job
