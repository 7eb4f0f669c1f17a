"""Jobs whose model cannot be reached wait in the queue instead of failing.

FORLLM queues persona jobs for its forum's model, ``llama3`` through Ollama. With no Ollama
running, the worker leaves such a job pending and says why; it runs once the model can be
reached (or on the model the user chose for it), and only then fails if it really cannot run.
Real parts: the FORLLM-made file, real sockets (a closed port, a small OpenAI-compatible
server on 127.0.0.1 started mid-test), the real default model for the substitute.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from persona_studio.core.events import JobFinished, WaitingChanged
from persona_studio.engine.factory import build_pipeline
from persona_studio.engine.pipeline import PipelineConfig
from persona_studio.errors import StoreError
from persona_studio.llm.availability import ModelAvailability, Substitutes
from persona_studio.llm.catalog import DEFAULT_MODEL_ID
from persona_studio.store import JobStatus
from persona_studio.worker import Worker

OLLAMA_PORT = 11434


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def no_ollama() -> None:
    if _listening(OLLAMA_PORT):
        pytest.skip("an Ollama (or something) listens on 11434 here")


@pytest.fixture
def lazy_pipeline():
    """The real pipeline and pool; nothing loads unless a job gets as far as the model."""
    pipeline, pool = build_pipeline(config=PipelineConfig(seed=5))
    yield pipeline, pool
    pool.close()


def _forllm_job(store):
    (job,) = [j for j in store.queue.list() if j.status == JobStatus.PENDING]
    return job


def _queue(store, model: str) -> int:
    params = {
        "generation_type": "general_purpose_assistant",
        "input_details": {"name_hint": "Patience"},
        "output_preferences": {"length_preference": "concise"},
        "llm_model_for_generation": model,
        "target_persona_name_override": "",
    }
    return store.queue.enqueue(params, model)


def test_a_forllm_job_for_llama3_without_ollama_waits_and_says_why(
    store, lazy_pipeline, no_ollama, tmp_path
):
    pipeline, pool = lazy_pipeline
    job = _forllm_job(store)
    assert job.llm_model == "llama3"
    updates = []
    worker = Worker(
        store,
        pipeline,
        listener=updates.append,
        availability=ModelAvailability(substitutes=Substitutes(tmp_path / "subs.json")),
    )
    assert worker.run(once=True) == 0
    after = store.queue.get(job.request_id)
    assert after.status == JobStatus.PENDING and after.error_message is None
    assert after.attempts == 0  # never claimed
    (waiting,) = worker.waiting
    assert waiting.message == "waiting for llama3: Ollama is not running"
    assert updates == [WaitingChanged((waiting,))]
    # Asked again within the recheck period: nothing new is said, nothing is claimed.
    assert worker.run(once=True) == 0
    assert updates == [WaitingChanged((waiting,))]
    assert pool.loaded() == []


class _Server(BaseHTTPRequestHandler):
    """Lists one model; refuses every chat request the way a strict server refuses a bad
    one (HTTP 400), so a job that gets there fails with the server's words."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._json(200, {"object": "list", "data": [{"id": "m1", "object": "model"}]})

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._json(400, {"error": {"message": "this server takes no chats today"}})

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args) -> None:
        pass


@contextmanager
def _serving(port: int) -> Iterator[None]:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def test_nothing_fails_until_the_server_answers_then_the_job_really_runs(
    store, lazy_pipeline, tmp_path
):
    pipeline, _pool = lazy_pipeline
    store.queue.cancel(_forllm_job(store).request_id)  # FORLLM's own job is not this test's
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    rid = _queue(store, f"openai:m1@{url}")
    updates = []
    worker = Worker(
        store,
        pipeline,
        listener=updates.append,
        availability=ModelAvailability(substitutes=Substitutes(tmp_path / "subs.json")),
    )
    assert worker.run(once=True) == 0
    assert store.queue.get(rid).status == JobStatus.PENDING
    (waiting,) = worker.waiting
    assert waiting.message == f"waiting for m1: nothing answers at {url} (is the server running?)"

    with _serving(port):
        worker.retry_waiting(rid)  # "Try again"
        assert worker.run(once=True) == 1
    job = store.queue.get(rid)
    assert job.status == JobStatus.ERROR
    assert "this server takes no chats today" in job.error_message
    assert worker.waiting == ()
    assert isinstance(updates[-1], JobFinished)
    assert [u.jobs for u in updates if isinstance(u, WaitingChanged)][-1] == ()


def test_a_server_that_does_not_offer_the_model_makes_the_job_wait(store, lazy_pipeline, tmp_path):
    pipeline, _pool = lazy_pipeline
    store.queue.cancel(_forllm_job(store).request_id)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    rid = _queue(store, f"openai:m2@{url}")
    worker = Worker(
        store,
        pipeline,
        availability=ModelAvailability(substitutes=Substitutes(tmp_path / "subs.json")),
    )
    with _serving(port):
        assert worker.run(once=True) == 0
    assert store.queue.get(rid).status == JobStatus.PENDING
    assert worker.waiting[0].message == f"waiting for m2: the server at {url} does not offer it"


def test_an_unreadable_job_still_fails_at_once(store, lazy_pipeline, forllm_db, tmp_path):
    pipeline, pool = lazy_pipeline
    with sqlite3.connect(forllm_db) as conn:
        rid = conn.execute(
            "INSERT INTO llm_requests (request_type, request_params, status, llm_model)"
            " VALUES ('generate_persona', '{not json', 'pending', 'llama3')"
        ).lastrowid
    worker = Worker(
        store,
        pipeline,
        availability=ModelAvailability(substitutes=Substitutes(tmp_path / "subs.json")),
    )
    store.queue.reorder([rid])
    worker.run(once=True)
    job = store.queue.get(rid)
    assert job.status == JobStatus.ERROR
    assert job.error_message.startswith("This job cannot run: ")
    assert pool.loaded() == []


def test_change_model_rewrites_both_of_forllms_columns_of_a_pending_job(store, forllm_db):
    job = _forllm_job(store)
    store.queue.change_model(job.request_id, DEFAULT_MODEL_ID)
    with sqlite3.connect(forllm_db) as conn:
        model, params = conn.execute(
            "SELECT llm_model, request_params FROM llm_requests WHERE request_id = ?",
            (job.request_id,),
        ).fetchone()
    assert model == DEFAULT_MODEL_ID
    assert json.loads(params)["llm_model_for_generation"] == DEFAULT_MODEL_ID
    assert json.loads(params)["input_details"] == json.loads(job.params_json)["input_details"]
    store.queue.cancel(job.request_id)
    with pytest.raises(StoreError, match="no longer waiting"):
        store.queue.change_model(job.request_id, "llama3")
    with pytest.raises(StoreError, match="Choose a model"):
        store.queue.change_model(job.request_id, "  ")


def test_substitutes_survive_a_damaged_file_and_are_written_whole(tmp_path):
    path = tmp_path / "subs.json"
    path.write_text("{ not json")
    subs = Substitutes(path)
    assert subs.all() == {}
    subs.remember("ollama:llama3", DEFAULT_MODEL_ID)
    assert json.loads(path.read_text()) == {"llama3": DEFAULT_MODEL_ID}
    # FORLLM's bare name and the explicit Ollama id are the same model.
    assert subs.get("llama3") == subs.get("ollama:llama3") == DEFAULT_MODEL_ID
    subs.forget("llama3")
    assert subs.all() == {}
    assert [p.name for p in tmp_path.iterdir()] == ["subs.json"]  # no temporary file left


@pytest.mark.model
def test_a_remembered_substitute_runs_the_job_on_the_chosen_model(
    store, lazy_pipeline, no_ollama, tmp_path
):
    pipeline, _pool = lazy_pipeline
    job = _forllm_job(store)
    with sqlite3.connect(store.path) as conn:  # a short persona: the test is about the model
        conn.execute(
            "UPDATE llm_requests SET request_params = json_set(request_params,"
            " '$.output_preferences.length_preference', 'concise') WHERE request_id = ?",
            (job.request_id,),
        )
    subs = Substitutes(tmp_path / "subs.json")
    subs.remember("llama3", DEFAULT_MODEL_ID)
    worker = Worker(store, pipeline, availability=ModelAvailability(substitutes=subs))
    assert worker.run(once=True) == 1
    done = store.queue.get(job.request_id)
    assert done.status == JobStatus.COMPLETE, done.error_message
    assert done.llm_model == DEFAULT_MODEL_ID
    info = store.personas.generation_info(done.persona_id)
    assert DEFAULT_MODEL_ID in json.dumps(info, default=str)
    assert worker.waiting == ()


def test_a_pause_while_the_next_job_is_looked_for_claims_nothing(store, lazy_pipeline, tmp_path):
    # Finding the next runnable job asks the model servers, which takes a while; the window's
    # queue may be paused meanwhile (seen in the window: a job queued after Pause started).
    pipeline, _pool = lazy_pipeline
    store.queue.cancel(_forllm_job(store).request_id)
    paused = threading.Event()

    class PausedWhileAsked(ModelAvailability):
        def problem(self, model_id):
            paused.set()  # the user pauses while the worker is asking
            return super().problem(model_id)

    rid = _queue(store, DEFAULT_MODEL_ID)
    worker = Worker(
        store, pipeline, availability=PausedWhileAsked(substitutes=Substitutes(tmp_path / "s"))
    )
    assert worker.run_one(may_claim=lambda: not paused.is_set()) is None
    assert store.queue.get(rid).status == JobStatus.PENDING
    assert worker.waiting == ()  # not waiting for its model: held by the pause
