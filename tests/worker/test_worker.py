"""The worker on fresh copies of a FORLLM-made database, with the real default model."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from persona_studio.core.events import JobFinished, JobStarted, TextWritten
from persona_studio.engine.factory import build_pipeline
from persona_studio.engine.headings import check_structure
from persona_studio.engine.pipeline import PipelineConfig
from persona_studio.store import JobStatus, Store
from persona_studio.worker import CANCELLED_MESSAGE, Worker

pytestmark = pytest.mark.model

CONCISE = {"length_preference": "concise"}


@pytest.fixture(scope="module")
def shared_pipeline():
    pipeline, pool = build_pipeline(config=PipelineConfig(seed=21))
    yield pipeline
    pool.close()


def params(gtype="general_purpose_assistant", details=None, **extra):
    return {
        "generation_type": gtype,
        "input_details": details or {},
        "output_preferences": CONCISE,
        "llm_model_for_generation": "",
        "target_persona_name_override": "",
        **extra,
    }


def forllm_rows(path, sql, args=()):
    """Read the way FORLLM reads: plain sqlite3 with PARSE_DECLTYPES (bad timestamps raise)."""
    conn = sqlite3.connect(path, detect_types=sqlite3.PARSE_DECLTYPES)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_runs_the_job_forllm_queued_with_only_a_subforum_id(store, shared_pipeline, forllm_db):
    pending = [j for j in store.queue.list() if j.status == JobStatus.PENDING]
    assert len(pending) == 1  # the fixture's FORLLM-queued subforum expert
    # FORLLM queued it for its default model, "llama3" (an Ollama name); run it on ours.
    store.queue.reorder([pending[0].request_id])
    with sqlite3.connect(forllm_db) as conn:
        conn.execute(
            "UPDATE llm_requests SET request_params = json_set(request_params,"
            " '$.llm_model_for_generation', ?, '$.output_preferences.length_preference',"
            " 'concise') WHERE request_id = ?",
            ("gguf:SmolLM2-135M-Instruct.Q4_1.gguf", pending[0].request_id),
        )
    updates = []
    worker = Worker(store, shared_pipeline, listener=updates.append)
    assert worker.run(once=True) == 1
    job = store.queue.get(pending[0].request_id)
    assert job.status == JobStatus.COMPLETE, job.error_message
    persona = store.personas.get(job.persona_id)
    assert persona.generation_source == "llm_generated_subforum_expert"
    assert check_structure(persona.prompt_instructions) == []
    assert "Home Lab" in json.dumps(store.personas.generation_info(persona.persona_id), default=str)
    experts = {p.persona_id for p in store.personas.for_subforum(2)}
    assert persona.persona_id in experts
    assert isinstance(updates[0], JobStarted) and isinstance(updates[-1], JobFinished)
    assert any(isinstance(u, TextWritten) for u in updates)
    # The queue shows the whole job's figures, every stage counted, not the last beat's.
    stages = updates[-1].result.stages.values()
    assert job.tokens == sum(s.tokens for s in stages) > 0
    assert job.tokens_per_s and job.tokens_per_s > 0
    # FORLLM can still read every row we wrote.
    assert forllm_rows(
        forllm_db, "SELECT * FROM personas WHERE persona_id = ?", (persona.persona_id,)
    )
    assert forllm_rows(
        forllm_db, "SELECT * FROM llm_requests WHERE request_id = ?", (job.request_id,)
    )
    # FORLLM's own respond jobs were not touched.
    assert {
        r[0]
        for r in forllm_rows(
            forllm_db,
            "SELECT status FROM llm_requests WHERE request_type IS NULL"
            " OR request_type = 'respond_to_post_tag'",
        )
    } <= {"pending", "complete", "error", "pending_dependency"}


def test_malformed_rows_become_errors_and_the_worker_goes_on(store, shared_pipeline, forllm_db):
    for row in store.queue.list():
        if row.status == JobStatus.PENDING:
            store.queue.remove(row.request_id)
    with sqlite3.connect(forllm_db) as conn:
        conn.execute(
            "INSERT INTO llm_requests (request_type, request_params, status, llm_model)"
            " VALUES ('generate_persona', '{not json', 'pending', 'llama3')"
        )
        conn.execute(
            "INSERT INTO llm_requests (request_type, request_params, status, llm_model)"
            " VALUES ('generate_persona', ?, 'pending', 'llama3')",
            (json.dumps(params("subforum_expert", {"subforum_id": 999})),),
        )
    good = store.queue.enqueue(params(), "gguf:SmolLM2-135M-Instruct.Q4_1.gguf")
    worker = Worker(store, shared_pipeline)
    assert worker.run(once=True) == 3
    jobs = {j.request_id: j for j in store.queue.list()}
    errors = [j for j in jobs.values() if j.status == JobStatus.ERROR and j.request_id > 5]
    messages = " | ".join(j.error_message for j in errors)
    assert "not valid JSON" in messages
    assert "999" in messages
    assert jobs[good].status == JobStatus.COMPLETE


def test_cancel_from_another_connection_stops_the_running_job(store, shared_pipeline, forllm_db):
    rid = store.queue.enqueue(params(), "gguf:SmolLM2-135M-Instruct.Q4_1.gguf")
    other = Store.open(forllm_db)
    started = threading.Event()

    def listener(event):
        if isinstance(event, TextWritten) and event.stage_tokens > 3:
            started.set()

    worker = Worker(store, shared_pipeline, lease_seconds=2, listener=listener)
    thread = threading.Thread(target=worker.run, kwargs={"until_request": rid})
    thread.start()
    assert started.wait(120)
    assert other.queue.cancel(rid) == JobStatus.PROCESSING
    t0 = time.monotonic()
    thread.join(60)
    assert not thread.is_alive()
    assert time.monotonic() - t0 < 5  # heartbeat every lease/5 = 0.4 s, then between tokens
    job = other.queue.get(rid)
    assert job.status == JobStatus.ERROR and job.error_message == CANCELLED_MESSAGE
    other.close()


def _processing(db, rid):
    rows = forllm_rows(db, "SELECT status FROM llm_requests WHERE request_id = ?", (rid,))
    return rows and rows[0][0] == "processing"


def test_kill_9_mid_generation_then_a_new_worker_completes_the_job_once(forllm_db, tmp_path):
    store = Store.open(forllm_db)
    for row in store.queue.list():
        if row.status == JobStatus.PENDING:
            store.queue.remove(row.request_id)
    rid = store.queue.enqueue(params(), "gguf:SmolLM2-135M-Instruct.Q4_1.gguf")
    personas_before = store.personas.count(include_inactive=True)
    store.close()
    cmd = [sys.executable, "-m", "persona_studio", "worker", "--db", str(forllm_db), "--once"]
    victim = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not _processing(forllm_db, rid):
        assert time.monotonic() < deadline and victim.poll() is None
        time.sleep(0.1)
    time.sleep(3.0)  # well into the generation
    assert victim.poll() is None
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    assert _processing(forllm_db, rid)
    store = Store.open(forllm_db)
    assert store.personas.count(include_inactive=True) == personas_before  # nothing half-saved
    store.close()

    survivor = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert survivor.returncode == 0, survivor.stderr
    assert "Recovered 1 job" in survivor.stderr
    store = Store.open(forllm_db)
    job = store.queue.get(rid)
    assert job.status == JobStatus.COMPLETE, job.error_message
    assert store.personas.count(include_inactive=True) == personas_before + 1
    assert store.integrity_check() == "ok"
    store.close()
    assert forllm_rows(forllm_db, "PRAGMA integrity_check") == [("ok",)]


def test_cli_generate_with_db_saves_and_no_wait_only_queues(forllm_db):
    base = [
        sys.executable,
        "-m",
        "persona_studio",
        "generate",
        "--db",
        str(forllm_db),
        "--type",
        "from_name_and_description",
        "--name",
        "Homelab Hank",
        "--description",
        "Another home lab helper",
        "--length",
        "concise",
        "--seed",
        "4",
    ]
    queued = subprocess.run([*base, "--no-wait"], capture_output=True, text=True, timeout=60)
    assert queued.returncode == 0, queued.stderr
    queued_id = int(queued.stdout.strip().splitlines()[-1])
    done = subprocess.run([*base, "--json"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    # 'Homelab Hank' exists in FORLLM's file: a clear variant, and the user is told.
    assert payload["persona_name"] == "Homelab Hank (2)"
    assert "already exists; saved as 'Homelab Hank (2)'" in done.stderr
    rows = forllm_rows(
        forllm_db,
        "SELECT name, generation_source FROM personas WHERE persona_id = ?",
        (payload["persona_id"],),
    )
    assert rows == [("Homelab Hank (2)", "llm_generated_from_name_and_description")]
    status = forllm_rows(
        forllm_db, "SELECT status FROM llm_requests WHERE request_id = ?", (queued_id,)
    )
    assert status == [("pending",)]  # --db ran only its own job


def test_forllm_writing_flat_out_while_the_worker_generates(store, shared_pipeline):
    """FORLLM's writes (posts + respond jobs, committed as fast as it can) and a real
    generation with heartbeats and the final save: nothing lost, nobody locked out."""
    from tests.store.test_concurrency import CTX, _count, _forllm_writer, _Start

    for row in store.queue.list():
        if row.status == JobStatus.PENDING:
            store.queue.remove(row.request_id)
    posts_before = _count(store.path, "SELECT COUNT(*) FROM posts")
    rid = store.queue.enqueue(params(), "gguf:SmolLM2-135M-Instruct.Q4_1.gguf")
    ready, go, results = CTX.Queue(), CTX.Event(), CTX.Queue()
    writer = CTX.Process(
        target=_forllm_writer, args=(str(store.path), 12.0, _Start(ready, go), results)
    )
    writer.start()
    ready.get(timeout=120)
    go.set()
    Worker(store, shared_pipeline, lease_seconds=3).run(until_request=rid)
    _, forllm_ok, forllm_failures = results.get(timeout=120)
    writer.join(30)
    assert forllm_failures == []
    assert forllm_ok > 20
    job = store.queue.get(rid)
    assert job.status == JobStatus.COMPLETE, job.error_message
    assert _count(store.path, "SELECT COUNT(*) FROM posts") == posts_before + forllm_ok
    assert store.integrity_check() == "ok"


def test_the_templates_that_made_a_persona_are_kept_with_it(store, shared_pipeline):
    for row in store.queue.list():
        if row.status == JobStatus.PENDING:
            store.queue.remove(row.request_id)
    rid = store.queue.enqueue(
        params(persona_studio={"critique": True}), "gguf:SmolLM2-135M-Instruct.Q4_1.gguf"
    )
    Worker(store, shared_pipeline).run(until_request=rid)
    job = store.queue.get(rid)
    assert job.status == JobStatus.COMPLETE, job.error_message
    kept = store.templates.for_persona(job.persona_id)
    assert set(kept) == {"expansion", "critique", "refinement"}
    for stage, record in kept.items():
        shipped = shared_pipeline.templates.get(stage, "general_purpose_assistant")
        assert record.text == shipped.text and record.version == shipped.version
