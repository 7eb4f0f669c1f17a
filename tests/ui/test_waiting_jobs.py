"""The window on a FORLLM file whose queue holds a job for ``llama3`` with no Ollama running:
the job waits (not red, not failed), says why, and offers "Run on another model…" and
"Try again"; the model picker lists the Ollama endpoint nobody set up quietly."""

from __future__ import annotations

import json
import socket
import sqlite3

import pytest
from PySide6.QtCore import Qt

from persona_studio.llm.availability import Substitutes
from persona_studio.llm.catalog import DEFAULT_MODEL_ID
from persona_studio.ui.labels import error_color
from persona_studio.ui.queue_model import COL_ERROR, COL_STATUS

WAITING = "waiting for llama3: Ollama is not running"


@pytest.fixture(autouse=True)
def _no_ollama() -> None:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        if sock.connect_ex(("127.0.0.1", 11434)) == 0:
            pytest.skip("something listens on Ollama's port here")


def _forllm_job_id(window) -> int:
    (job,) = [j for j in window.store.queue.list() if j.status.value == "pending"]
    return job.request_id


def _wait_for_waiting(qtbot, window, rid: int) -> int:
    model = window.queue.model
    qtbot.waitUntil(
        lambda: (
            model.row_of(rid) is not None
            and model.index(model.row_of(rid), COL_STATUS).data() == "Waiting for llama3"
        ),
        timeout=20_000,
    )
    return model.row_of(rid)


def test_a_job_for_an_absent_ollama_waits_quietly(qtbot, window) -> None:
    rid = _forllm_job_id(window)
    row = _wait_for_waiting(qtbot, window, rid)
    model = window.queue.model
    assert model.index(row, COL_ERROR).data() == WAITING
    assert model.index(row, COL_ERROR).data(Qt.ItemDataRole.ForegroundRole) != error_color()
    assert "Nothing fails" in model.index(row, COL_STATUS).data(Qt.ItemDataRole.ToolTipRole)
    # The default Ollama endpoint, never set up by this user: listed, greyed, no error text.
    picker = window.form.model_picker
    qtbot.waitUntil(lambda: picker.combo.findText("Ollama: not running") >= 0, timeout=20_000)
    assert picker.status.text() == ""
    assert "Cannot reach" not in picker.status.text()

    window.queue.select_request(rid)
    queue = window.queue
    assert queue.other_model_button.isVisible() and queue.try_again_button.isVisible()
    assert WAITING in queue.detail.text()
    assert not queue.retry_button.isEnabled()  # it has not failed: nothing to retry
    # Try again: asked afresh, still waiting, still not failed.
    qtbot.mouseClick(queue.try_again_button, Qt.MouseButton.LeftButton)
    qtbot.wait(1500)
    job = window.store.queue.get(rid)
    assert job.status.value == "pending" and job.error_message is None
    assert model.index(model.row_of(rid), COL_ERROR).data() == WAITING


def test_run_it_on_another_model_changes_the_job_and_remembers_the_choice(qtbot, window) -> None:
    rid = _forllm_job_id(window)
    _wait_for_waiting(qtbot, window, rid)
    # Paused, so that the job is not run here (this test is about the choice, not the model).
    window.queue.pause_button.setChecked(True)
    window.queue.select_request(rid)
    qtbot.mouseClick(window.queue.other_model_button, Qt.MouseButton.LeftButton)
    dialogs = [d for d in window._dialogs if d.objectName() == "runElsewhereDialog"]
    assert len(dialogs) == 1
    dialog = dialogs[0]
    assert dialog.windowTitle() == f"Run job #{rid} on another model"
    assert "for llama3" in dialog.remember.text()
    assert dialog.combo.findData(DEFAULT_MODEL_ID) >= 0
    assert dialog.combo.findData("llama3") < 0  # not the model it waits for
    dialog.combo.setCurrentIndex(dialog.combo.findData(DEFAULT_MODEL_ID))
    dialog.remember.setChecked(True)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    # The status message comes once the whole change is done: the job changed, then the
    # choice written (the job's row changes first, so waiting on it alone races the file).
    qtbot.waitUntil(lambda: "will run on" in window.statusBar().currentMessage(), timeout=10_000)
    assert window.store.queue.get(rid).llm_model == DEFAULT_MODEL_ID
    params = json.loads(window.store.queue.get(rid).params_json)
    assert params["llm_model_for_generation"] == DEFAULT_MODEL_ID
    assert Substitutes().get("llama3") == DEFAULT_MODEL_ID
    with sqlite3.connect(window.store.path) as conn:  # as FORLLM sees it: still just pending
        assert conn.execute(
            "SELECT status FROM llm_requests WHERE request_id = ?", (rid,)
        ).fetchone() == ("pending",)
