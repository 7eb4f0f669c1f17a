"""Job rows anyone may write, in the window: the worker thread fails each with a message and
goes on, the queue shows them and removes them, and the application still closes at once on
SIGTERM. No model is loaded: no row gets that far."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from persona_studio.ui.queue_model import COL_ERROR, COL_NAME, COL_STATUS

HOSTILE = [
    "[" * 100_000 + "]" * 100_000,
    json.dumps({"generation_type": "subforum_expert", "input_details": {"subforum_id": 10**30}}),
    '{"generation_type": "subforum_expert", "input_details": {"subforum_id": Infinity}}',
    '{"generation_type": "general_purpose_assistant", "input_details": {"name_hint": "\\ud800"}}',
    json.dumps(
        {
            "generation_type": "general_purpose_assistant",
            "output_preferences": {"desired_headings": ["Tips: Advanced"]},
        }
    ),
]


def _plant(db: Path) -> list[int]:
    """The rows, written as FORLLM would, plus one whose text is not even UTF-8; FORLLM's
    own pending job is set aside so that no model is needed."""
    conn = sqlite3.connect(db)
    try:
        conn.execute(
            "UPDATE llm_requests SET status = 'complete' WHERE request_type = 'generate_persona'"
        )
        ids = [
            conn.execute(
                "INSERT INTO llm_requests (request_type, request_params, status, llm_model) "
                "VALUES ('generate_persona', ?, 'pending', 'llama3')",
                (params,),
            ).lastrowid
            for params in HOSTILE
        ]
        ids.append(
            conn.execute(
                "INSERT INTO llm_requests (request_type, request_params, status, llm_model) "
                "VALUES ('generate_persona', CAST(x'7bff7d' AS TEXT), 'pending', "
                "CAST(x'ff' AS TEXT))"
            ).lastrowid
        )
        conn.commit()
        return ids
    finally:
        conn.close()


@pytest.fixture
def planted(forllm_db: Path) -> list[int]:
    return _plant(forllm_db)


def test_the_window_fails_lists_and_removes_hostile_jobs(qtbot, window, planted) -> None:
    model = window.queue.model

    def all_failed() -> bool:
        rows = [model.row_of(rid) for rid in planted]
        return None not in rows and all(
            model.index(row, COL_STATUS).data() == "Failed" for row in rows
        )

    qtbot.waitUntil(all_failed, timeout=30_000)
    assert window.worker.current_request is None  # the worker thread is still there, idle
    for rid in planted:
        row = model.row_of(rid)
        assert model.index(row, COL_NAME).data()  # a label, whatever the row held
        error = model.index(row, COL_ERROR).data(Qt.ItemDataRole.ToolTipRole)
        assert error.startswith("This job cannot run: "), error
        window.queue.select_request(rid)
        assert window.queue.remove_button.isEnabled()
        assert window.queue.detail.text().startswith(f"Job #{rid}: This job cannot run")
        qtbot.mouseClick(window.queue.remove_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda rid=rid: model.row_of(rid) is None, timeout=10_000)
    assert not window.queue.message.isVisible()
    assert "Worker problem" not in window.model_state.text()


def test_the_application_closes_on_sigterm_after_hostile_rows(
    forllm_db: Path, tmp_path: Path
) -> None:
    ids = _plant(forllm_db)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    env["PERSONA_STUDIO_DATA_DIR"] = str(tmp_path / "data")
    process = subprocess.Popen(
        [sys.executable, "-m", "persona_studio", "--db", str(forllm_db)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    marks = ",".join("?" * len(ids))
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "the window's worker did not fail the rows"
            with sqlite3.connect(forllm_db) as conn:
                statuses = conn.execute(
                    f"SELECT status FROM llm_requests WHERE request_id IN ({marks})", ids
                ).fetchall()
            if statuses and all(s == ("error",) for s in statuses):
                break
            time.sleep(0.2)
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert took < 2.0, f"closing took {took:.1f} s"
    assert "Traceback" not in output


@pytest.mark.parametrize("subforum_id", ["Infinity", "1e999", str(10**30), '"x"'])
def test_regenerate_opens_on_a_record_naming_no_usable_subforum(
    qtbot, window, forllm_db: Path, subforum_id: str
) -> None:
    """FORLLM's generation_input_details is anyone's to write: the dialog opens anyway and
    Queue says, next to the form, what is wrong."""
    with sqlite3.connect(forllm_db) as conn:
        persona_id = conn.execute(
            "INSERT INTO personas (name, prompt_instructions, generation_source, "
            "generation_input_details) VALUES ('Odd Expert', 'You are odd.', "
            "'llm_generated_subforum_expert', ?)",
            ('{"subforum_id": ' + subforum_id + "}",),
        ).lastrowid
    dialog = window.open_regenerate(persona_id)
    assert dialog is not None and dialog.isVisible()
    qtbot.mouseClick(dialog.queue_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.request_id is None
    assert "subforum" in dialog.general_error.text().lower(), dialog.general_error.text()
    dialog.reject()
