"""The main path through the real window and the real default model: fill the form, click
Generate, watch both stages stream, see the job go pending -> processing -> complete, find
the persona in the list and the editor."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from persona_studio.core.events import TextWritten
from persona_studio.ui.main_window import PERSONAS_TAB
from persona_studio.ui.queue_model import COL_ERROR, COL_STATUS, STATUS_ROLE
from tests.ui.conftest import GENERATION_TIMEOUT_MS, job_finished

pytestmark = pytest.mark.model


def _status_log(window, request_id: int) -> list[str]:
    """Every status the queue model shows for ``request_id``, in order, deduplicated."""
    seen: list[str] = []
    model = window.queue.model

    def record(*_args) -> None:
        row = model.row_of(request_id)
        if row is None:
            return
        status = model.index(row, COL_STATUS).data(STATUS_ROLE)
        if not seen or seen[-1] != status:
            seen.append(status)

    for signal in (model.dataChanged, model.rowsInserted, model.rowsMoved, model.modelReset):
        signal.connect(record)
    record()
    return seen


def test_generate_streams_and_saves(qtbot, window) -> None:
    # Paused, so the job is seen waiting before the worker takes it.
    qtbot.mouseClick(window.queue.pause_button, Qt.MouseButton.LeftButton)
    assert window.worker.paused
    form = window.form
    form.name_hint.setText("Captain Nemo")
    form.description.setPlainText("Brooding submarine captain, brilliant engineer")
    form.output.length.setCurrentIndex(form.output.length.findData("concise"))

    with qtbot.waitSignal(form.queued, timeout=10_000) as queued:
        qtbot.mouseClick(form.generate_button, Qt.MouseButton.LeftButton)
    (request_id,) = queued.args[0]
    statuses = _status_log(window, request_id)
    qtbot.wait(1_500)  # three polls of the worker: it must not start while paused
    assert statuses == ["pending"]

    texts: list[tuple[str, int]] = []  # (stage, characters streamed so far in the view)
    window.worker.jobEvent.connect(
        lambda event: (
            texts.append((event.stage, len(window.stream.text.toPlainText())))
            if isinstance(event, TextWritten) and event.request_id == request_id
            else None
        )
    )
    with qtbot.waitSignal(
        window.worker.jobEvent,
        timeout=GENERATION_TIMEOUT_MS,
        check_params_cb=job_finished(request_id),
    ) as finished:
        qtbot.mouseClick(window.queue.pause_button, Qt.MouseButton.LeftButton)
    outcome = finished.args[0]
    assert outcome.error is None, outcome.error

    # Tokens reached the view while the job ran, in many pieces, under a header per stage.
    assert {stage for stage, _ in texts} == {"expansion", "refinement", "check"}
    assert len(texts) > 10 and texts[-1][1] > texts[0][1]
    streamed = window.stream.text.toPlainText()
    assert "Stage 1 · Expansion" in streamed and "Stage 2 · Refinement" in streamed
    assert "Stage 3 · Persona check: asking the model as the persona" in streamed
    assert "tok/s" in window.stream.rate_label.text()
    assert "Done: saved as" in window.stream.status.text()
    assert not window.stream.stop_button.isEnabled()

    qtbot.waitUntil(lambda: statuses[-1] == "complete", timeout=10_000)
    assert statuses == ["pending", "processing", "complete"]
    row = window.queue.model.row_of(request_id)
    assert window.queue.model.index(row, COL_STATUS).data() == "Done"
    assert window.queue.model.index(row, COL_ERROR).data() == ""

    # The persona opens in the editor and is in the list.
    qtbot.waitUntil(lambda: window.editor.persona_id == outcome.persona_id, timeout=10_000)
    assert window.tabs.currentIndex() == PERSONAS_TAB
    assert window.editor.text.toPlainText().startswith("## Persona Name:")
    assert window.editor.issues_title.text() == "Structure check: OK"
    assert window.personas.model.row_of(outcome.persona_id) is not None
    # The model is loaded now, so the size is the model's own count.
    qtbot.waitUntil(
        lambda: "counted by the loaded model" in window.editor.size_label.text(), timeout=10_000
    )
    assert "4,096-token context window" in window.editor.size_label.text()
