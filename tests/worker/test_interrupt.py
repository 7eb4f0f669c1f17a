"""Ctrl-C (SIGINT) in the middle of a generation, as a user presses it in a terminal: the job
is released at once (no later worker's lease recovery needed) and the command says so.
``worker`` puts the job back in the queue; ``generate --db``, which queued the job itself,
cancels it. Real processes, the real default model."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from persona_studio.store import Store
from persona_studio.worker import INTERRUPTED_MESSAGE

pytestmark = pytest.mark.model

GPA_DETAILED = {
    "generation_type": "general_purpose_assistant",
    "input_details": {},
    "output_preferences": {"length_preference": "detailed"},
    "llm_model_for_generation": "gguf:SmolLM2-135M-Instruct.Q4_1.gguf",
    "target_persona_name_override": "",
}


def _row(db: Path, rid: int) -> tuple:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT r.status, r.error_message, j.owner, j.attempts, j.cancelled, j.tokens "
            "FROM llm_requests r LEFT JOIN ps_jobs j ON j.request_id = r.request_id "
            "WHERE r.request_id = ?",
            (rid,),
        ).fetchone()
    finally:
        conn.close()


def _generating(db: Path, rid: int, proc: subprocess.Popen) -> None:
    """Until the job has been running for a while (model loaded, tokens coming)."""
    deadline = time.monotonic() + 180
    while _row(db, rid)[0] != "processing":
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(4.0)
    assert proc.poll() is None and _row(db, rid)[0] == "processing"


def _interrupt(proc: subprocess.Popen) -> tuple[str, float]:
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return err, time.monotonic() - sent


@pytest.fixture
def queued(forllm_db: Path) -> tuple[Path, int]:
    with Store.open(forllm_db) as store:
        for job in store.queue.list(statuses=["pending"]):
            store.queue.remove(job.request_id)
        rid = store.queue.enqueue(GPA_DETAILED, "gguf:SmolLM2-135M-Instruct.Q4_1.gguf")
    return forllm_db, rid


def test_ctrl_c_in_worker_puts_the_job_back_at_once(queued: tuple[Path, int]) -> None:
    db, rid = queued
    proc = subprocess.Popen(
        [sys.executable, "-m", "persona_studio", "worker", "--db", str(db), "--once"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _generating(db, rid, proc)
    err, seconds = _interrupt(proc)
    assert proc.returncode == 0, err
    assert f"job {rid} went back to the queue" in err
    assert "Traceback" not in err
    assert seconds < 15
    status, message, owner, attempts, cancelled, _ = _row(db, rid)
    # Pending again with no lease, right away; the interrupted claim is not held against it.
    assert (status, owner, attempts, cancelled) == ("pending", None, 0, 0), message


def test_ctrl_c_in_generate_cancels_the_job_it_queued(queued: tuple[Path, int]) -> None:
    db, other = queued
    proc = subprocess.Popen(
        [sys.executable, "-m", "persona_studio", "generate", "--db", str(db)]
        + ["--type", "general_purpose_assistant", "--length", "detailed"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    rid = other + 1  # the job generate queues comes next
    deadline = time.monotonic() + 60
    while _row(db, rid) is None:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    _generating(db, rid, proc)
    err, seconds = _interrupt(proc)
    assert proc.returncode == 130, err
    assert f"Job {rid} was cancelled (Ctrl-C)" in err
    assert "Traceback" not in err
    assert seconds < 15
    status, message, owner, _, cancelled, _ = _row(db, rid)
    assert (status, message, cancelled) == ("error", INTERRUPTED_MESSAGE, 1)
    assert _row(db, other)[0] == "pending"  # generate --db runs only its own job
