"""Stopping a running generation, and errors shown where they happen: next to the field,
in the queue row, in the stream view and the status bar."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from persona_studio.core.events import TextWritten
from persona_studio.ui.queue_model import COL_ERROR, COL_STATUS, STATUS_ROLE
from tests.ui.conftest import GENERATION_TIMEOUT_MS, job_finished, queue_form

MISSING_MODEL = "gguf:/nonexistent/x.gguf"


@pytest.mark.model
def test_stop_cancels_the_running_job(qtbot, window) -> None:
    form = window.form
    form.name_hint.setText("Long Winded Lou")
    form.description.setPlainText("Talks at great length about everything")
    form.output.length.setCurrentIndex(form.output.length.findData("detailed"))
    (request_id,) = queue_form(qtbot, form)
    tokens: list[int] = []
    window.worker.jobEvent.connect(
        lambda event: (
            tokens.append(event.stage_tokens)
            if isinstance(event, TextWritten) and event.request_id == request_id
            else None
        )
    )
    qtbot.waitUntil(lambda: bool(tokens) and tokens[-1] >= 20, timeout=GENERATION_TIMEOUT_MS)
    personas_before = window.store.personas.count()

    with qtbot.waitSignal(
        window.worker.jobEvent,
        timeout=30_000,
        check_params_cb=job_finished(request_id),
    ) as finished:
        qtbot.mouseClick(window.stream.stop_button, Qt.MouseButton.LeftButton)
    outcome = finished.args[0]
    assert outcome.cancelled and outcome.persona_id is None
    assert "Stopped" in window.stream.status.text()
    assert not window.stream.stop_button.isEnabled()
    model = window.queue.model
    qtbot.waitUntil(
        lambda: model.index(model.row_of(request_id), COL_STATUS).data() == "Cancelled",
        timeout=10_000,
    )
    assert window.store.personas.count() == personas_before


def test_invalid_input_is_shown_next_to_the_field(qtbot, window) -> None:
    form = window.form
    jobs_before = len(window.store.queue.list())
    assert not form.generate()  # neither a name nor a description
    assert form.description_error.isVisible()
    assert "Give a name, a description, or both" in form.description_error.text()
    assert len(window.store.queue.list()) == jobs_before

    form.name_hint.setText("Captain Nemo")
    form.output.headings.new_heading.setText("H" * 90)
    form.output.headings.add_button.click()
    assert not form.generate()
    assert form.output.headings.error.isVisible()
    assert "longer than 80 characters" in form.output.headings.error.text()
    assert not form.description_error.isVisible()

    form.output.headings.set_headings([])
    for i in range(form.output.headings.list.count()):
        form.output.headings.list.item(i).setCheckState(Qt.CheckState.Unchecked)
    assert not form.generate()
    assert "Tick at least one heading" in form.output.headings.error.text()
    assert len(window.store.queue.list()) == jobs_before


def test_missing_model_file_fails_the_job_with_a_message(qtbot, window) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    form = window.form
    form.name_hint.setText("Nobody")
    form.model_picker.set_model_id(MISSING_MODEL)
    queued: list[list[int]] = []
    form.queued.connect(queued.append)
    # Ctrl+Enter generates.
    qtbot.keyClick(form.name_hint, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(queued), timeout=10_000)
    (request_id,) = queued[0]
    with qtbot.waitSignal(
        window.worker.jobEvent,
        timeout=30_000,
        check_params_cb=job_finished(request_id),
    ):
        pass
    model = window.queue.model
    qtbot.waitUntil(
        lambda: model.index(model.row_of(request_id), COL_STATUS).data(STATUS_ROLE) == "error",
        timeout=10_000,
    )
    row = model.row_of(request_id)
    assert model.index(row, COL_STATUS).data() == "Failed"
    error = model.index(row, COL_ERROR).data(Qt.ItemDataRole.ToolTipRole)
    assert "Model file not found: /nonexistent/x.gguf" in error
    assert "Failed: " in window.stream.status.text()
    assert "Model file not found" in window.stream.status.text()
    assert "failed" in window.statusBar().currentMessage()
    # A failed job can be queued again from the panel.
    window.queue.select_request(request_id)
    assert window.queue.retry_button.isEnabled()
    assert not window.queue.up_button.isEnabled()
