"""Job rows anyone may write (FORLLM, another program, a damaged file) reach the worker, which
must fail each one with a message, before loading any model, and go on. No test here runs a
model: the pipeline is the real one over a lazy model pool (asserted to stay empty), or, where
a generation must be running, over a scripted backend.

The fuzz test writes at least 1,000 generated request_params values (random JSON, depth
bombs, huge numbers, wrong types, surrogates, megabyte strings, values of every SQLite type)
with a plain sqlite3 connection, as FORLLM would; every one is generated to be invalid, so a
model load would mean a row slipped through validation. Fixed seed: failures reproduce.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from persona_studio.core.events import TextWritten
from persona_studio.engine.factory import build_pipeline
from persona_studio.engine.pipeline import PersonaPipeline, PipelineConfig
from persona_studio.engine.templates import TemplateLibrary
from persona_studio.errors import BackendError
from persona_studio.store import JobStatus, NewPersona, Store
from persona_studio.worker import CANCELLED_MESSAGE, Worker
from tests.scripted_backend import ScriptedBackend

SEED = 20260112
FUZZ_ROWS = 1200
GPA = "general_purpose_assistant"


def _request(**changes: Any) -> dict[str, Any]:
    """A valid request, to be spoiled by exactly one hostile change."""
    params: dict[str, Any] = {
        "generation_type": GPA,
        "input_details": {"name_hint": "Fuzzy"},
        "output_preferences": {"length_preference": "concise"},
        "llm_model_for_generation": "",
        "target_persona_name_override": "",
    }
    params.update(changes)
    return params


def _insert(conn: sqlite3.Connection, value: Any, *, model: Any = "llama3") -> int:
    """One generate_persona row the way FORLLM queues it; ``value`` bound as it is (numbers
    become text in these TEXT columns; bytes stay a blob), or ("sql", EXPRESSION) for what
    only SQL can write (text that is not UTF-8)."""
    if isinstance(value, tuple) and value[0] == "sql":
        placeholder, args = value[1], ()
    else:
        placeholder, args = "?", (value,)
    cursor = conn.execute(
        "INSERT INTO llm_requests (request_type, request_params, status, llm_model) "
        f"VALUES ('generate_persona', {placeholder}, 'pending', ?)",
        (*args, model),
    )
    return int(cursor.lastrowid)


@pytest.fixture
def fast_db(forllm_db: Path) -> Iterator[Path]:
    """The FORLLM-made file on a memory file system where there is one (every claim and
    failure is a synced commit), migrated, with its own queued job removed."""
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else None))
    path = folder / "forllm_data.db"
    shutil.copyfile(forllm_db, path)
    with Store.open(path) as store:
        for job in store.queue.list(statuses=["pending"]):
            store.queue.remove(job.request_id)
    yield path
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def lazy_pipeline() -> Iterator[tuple[PersonaPipeline, Any]]:
    pipeline, pool = build_pipeline()
    yield pipeline, pool
    pool.close()


def _run_all(path: Path, pipeline: PersonaPipeline) -> tuple[int, float]:
    with Store.open(path) as store:
        started = time.perf_counter()
        count = Worker(store, pipeline).run(once=True)
        return count, time.perf_counter() - started


# -- the cases found ---------------------------------------------------------------------------


def test_the_rows_that_took_the_worker_down_are_failed_and_it_goes_on(fast_db, lazy_pipeline):
    pipeline, pool = lazy_pipeline
    with Store.open(fast_db) as store:
        victim = store.personas.create(
            NewPersona("Soon Gone", "You are Soon Gone.", "from_name_and_description", {})
        )
        store.personas.purge(victim.persona_id)
    with sqlite3.connect(fast_db) as conn:
        deep = _insert(conn, "[" * 100_000 + "]" * 100_000)
        huge = _insert(
            conn,
            json.dumps(
                {"generation_type": "subforum_expert", "input_details": {"subforum_id": 10**30}}
            ),
        )
        gone = _insert(
            conn, json.dumps(_request(persona_studio={"replaces_persona_id": victim.persona_id}))
        )
        bad_model = _insert(conn, json.dumps(_request()), model=b"\xffbinary")
        bad_model_2 = _insert(conn, json.dumps(_request()), model="m" * 5000)
    count, _ = _run_all(fast_db, pipeline)
    assert count == 5
    assert pool.loaded() == []  # every one failed before a model was needed
    with Store.open(fast_db) as store:
        jobs = {job.request_id: job for job in store.queue.list()}
        messages = {rid: jobs[rid].error_message for rid in (deep, huge, gone)}
        assert all(jobs[rid].status == JobStatus.ERROR for rid in messages)
        assert "request_params: is nested more than 64 levels deep" in messages[deep]
        assert "input_details.subforum_id: a 31-digit number is not a subforum" in messages[huge]
        assert (
            f"it regenerates persona #{victim.persona_id}, which no longer exists"
            in (messages[gone])
        )
        assert "llm_model: must be text, not bytes" in jobs[bad_model].error_message
        assert "llm_model: is 5,000 characters long" in jobs[bad_model_2].error_message
        for rid in (deep, huge, gone, bad_model, bad_model_2):
            assert jobs[rid].error_message.startswith("This job cannot run: ")
            store.queue.retry(rid)  # retried, it fails the same way: nothing is stuck
            store.queue.remove(rid)
        assert store.queue.list(statuses=["pending", "processing"]) == []


# -- the fuzz ----------------------------------------------------------------------------------


class _Hostile:
    """Generators of request_params values, each invalid by construction (its comment says
    why), so the worker must fail every one before it loads a model."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def json_value(self, depth: int = 0) -> Any:
        rng = self.rng
        kind = rng.randrange(8 if depth < 4 else 5)
        if kind == 0:
            return rng.choice([None, True, False])
        if kind == 1:
            return rng.choice([0, -1, 2**63, 10**30, rng.randint(-(10**9), 10**9)])
        if kind == 2:
            return rng.choice([0.0, -0.0, 1e308, rng.uniform(-1e6, 1e6)])
        if kind in (3, 4):
            return self.text(rng.randint(0, 12))
        if kind == 5:
            return [self.json_value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {self.text(rng.randint(0, 8)): self.json_value(depth + 1) for _ in range(3)}

    def text(self, length: int) -> str:
        alphabet = "aZ09 _-:#\"'\\{}[]\n\t\x00é語😀\u202e\u200b"
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    # Not a JSON object: refused as a whole.
    def not_an_object(self) -> Any:
        value = self.json_value()
        while isinstance(value, dict):
            value = self.json_value()
        return json.dumps(value)

    # Deeper than MAX_DEPTH (64), at the top or inside a field.
    def depth_bomb(self) -> Any:
        depth = self.rng.choice([65, 100, 1000, 5000, 100_000])
        opener, closer = self.rng.choice([("[", "]"), ('{"a":', "}")])
        bomb = opener * depth + "1" + closer * depth
        if self.rng.random() < 0.5:
            return bomb
        field = self.rng.choice(["input_details", "output_preferences", "persona_studio"])
        return json.dumps(_request(**{field: "BOMB"})).replace('"BOMB"', bomb)

    # A number no id can be, or a number JSON can write but no one can use.
    def huge_number(self) -> Any:
        rng = self.rng
        how = rng.randrange(5)
        if how == 0:
            sid = rng.choice([10**30, 2**63, -1, 0, -(2**70), "9" * 30, "0", "-3", "1e5"])
            return json.dumps(
                {"generation_type": "subforum_expert", "input_details": {"subforum_id": sid}}
            )
        if how == 1:
            pid = rng.choice([10**30, 2**63, 0, -5])
            return json.dumps(_request(persona_studio={"replaces_persona_id": pid}))
        if how == 2:
            constant = rng.choice(["Infinity", "-Infinity", "NaN", "1e400"])
            return (
                '{"generation_type": "subforum_expert", "input_details": {"subforum_id": '
                + constant
                + "}}"
            )
        if how == 3:
            return '{"generation_type": "' + GPA + '", "x": ' + "7" * rng.randint(4301, 9000) + "}"
        return json.dumps(_request(persona_studio={"seed": rng.choice([-1, 2**40, 10**30])}))

    # One field of a valid request holds a (truthy) value of the wrong type.
    def wrong_type(self) -> Any:
        rng = self.rng
        wrong: list[tuple[str, list[Any]]] = [
            ("generation_type", [7, ["x"], {"a": 1}, True, "unknown_type", "GPA"]),
            ("input_details", [["name_hint"], "Fuzzy", 42, True]),
            ("output_preferences", [["concise"], "concise", 3, True]),
            ("llm_model_for_generation", [3, ["m"], {"m": 1}, True]),
            ("target_persona_name_override", [5, ["n"], {"n": 1}]),
            ("persona_studio", [["critique"], "critique", 9]),
        ]
        field, values = rng.choice(wrong)
        params = _request(**{field: rng.choice(values)})
        spoil = rng.randrange(4)
        if spoil == 0:
            params = _request(input_details={"name_hint": rng.choice([1, ["a"], {"b": 2}])})
        elif spoil == 1:
            params = _request(
                output_preferences={"desired_headings": rng.choice(["x", {"a": 1}, 5, [1, 2]])}
            )
        elif spoil == 2:
            params = _request(persona_studio={"critique": rng.choice(["yes", 1, [True]])})
        return json.dumps(params)

    # A lone surrogate somewhere (a key, a name, a heading, the type itself).
    def surrogate(self) -> Any:
        rng = self.rng
        bad = rng.choice(["\ud800", "\udfff", "a\udc80b", "\ud83d"])
        where = rng.randrange(5)
        if where == 0:
            params = _request(input_details={"name_hint": f"Name {bad}"})
        elif where == 1:
            params = _request(input_details={"name_hint": "ok", f"key{bad}": 1})
        elif where == 2:
            params = _request(output_preferences={"desired_headings": [f"Head{bad}ing"]})
        elif where == 3:
            params = _request(generation_type=f"{GPA}{bad}")
        else:
            params = _request(llm_model_for_generation=f"gguf:x{bad}.gguf")
        return json.dumps(params)  # ensure_ascii: written as \\ud800 escapes, as JS tools do

    # Strings of a megabyte or more: over a field's limit or the whole request's.
    def megabyte_string(self) -> Any:
        size = self.rng.choice([500_000, 1_100_000, 3_000_000])
        field = self.rng.choice(["name_hint", "description_hint", "additional_directives"])
        return json.dumps(_request(input_details={"name_hint": "ok", field: "x" * size}))

    # What the document format cannot carry, and other refusals of the request's rules.
    def bad_rules(self) -> Any:
        rng = self.rng
        cases = [
            _request(output_preferences={"desired_headings": ["Tips: Advanced"]}),
            _request(output_preferences={"desired_headings": ["C# Notes"]}),
            _request(output_preferences={"desired_headings": ["Tone & Style", "Tone and Style"]}),
            _request(output_preferences={"desired_headings": ["H"] * 21}),
            _request(output_preferences={"desired_headings": ["h" * 81]}),
            _request(output_preferences={"length_preference": "epic"}),
            {"generation_type": "from_name_and_description", "input_details": {}},
            {"generation_type": "subforum_expert", "input_details": {"description_hint": "x"}},
            {"generation_type": "subforum_expert", "input_details": {"subforum_id": 999_999}},
            _request(persona_studio={"replaces_persona_id": 987_654}),
        ]
        return json.dumps(rng.choice(cases))

    # Whatever the column holds that is not JSON text.
    def not_json_text(self) -> Any:
        rng = self.rng
        return rng.choice(
            [
                rng.randint(-(2**63), 2**63 - 1),
                rng.uniform(-1e300, 1e300),
                rng.randbytes(rng.randint(1, 64)) + b"\xff",
                None,
                "",
                "{not json",
                self.text(rng.randint(1, 40)) + "{",
                ("sql", "CAST(x'7b22ff22' AS TEXT)"),  # text that is not UTF-8
                ("sql", "zeroblob(100)"),
            ]
        )

    def all_kinds(self) -> list:
        return [
            self.not_an_object,
            self.depth_bomb,
            self.huge_number,
            self.wrong_type,
            self.surrogate,
            self.bad_rules,
            self.not_json_text,
        ]


def test_fuzz_1000_hostile_rows_each_become_one_failed_job(fast_db, lazy_pipeline):
    rng = random.Random(SEED)
    hostile = _Hostile(rng)
    kinds = hostile.all_kinds()
    ids: dict[int, str] = {}
    with sqlite3.connect(fast_db) as conn:
        for n in range(FUZZ_ROWS):
            kind = kinds[n % len(kinds)]
            model = rng.choice(["llama3", "", None, 5, "gguf:nope.gguf"])
            ids[_insert(conn, kind(), model=model)] = kind.__name__
        for _ in range(4):  # a few big ones only: the file stays small
            ids[_insert(conn, hostile.megabyte_string())] = "megabyte_string"
    pipeline, pool = lazy_pipeline
    count, elapsed = _run_all(fast_db, pipeline)
    assert count == len(ids)
    assert pool.loaded() == []  # not one row got as far as the model
    with Store.open(fast_db) as store:
        jobs = {job.request_id: job for job in store.queue.list() if job.request_id in ids}
        assert set(jobs) == set(ids)  # the queue lists every one
        for rid, job in jobs.items():
            assert job.status == JobStatus.ERROR, (ids[rid], job)
            assert job.error_message.startswith("This job cannot run: "), (ids[rid], job)
            assert "internal error" not in job.error_message.lower(), job.error_message
            job.error_message.encode("utf-8")  # shown as it is
        started = time.perf_counter()
        for rid in ids:
            store.queue.remove(rid)
        removing = time.perf_counter() - started
        assert not ({job.request_id for job in store.queue.list()} & set(ids))
    print(f"\n{len(ids)} hostile rows failed in {elapsed:.1f} s, removed in {removing:.1f} s")


# -- a running job stopped from this process ---------------------------------------------------


def _scripted_pipeline(backend, **config: Any) -> PersonaPipeline:
    return PersonaPipeline(
        TemplateLibrary(), lambda _model: backend, PipelineConfig(**config), default_model="x"
    )


def test_a_job_stopped_here_is_stored_as_cancelled_before_anyone_writes_the_request(
    fast_db,
):
    """The window's Stop sets the worker's cancel token at once and writes the cancel
    request to the store from another thread; the worker can end the job before that write.
    The stored job must say "cancelled" either way (the queue view showed "Failed")."""
    with Store.open(fast_db) as store:
        rid = store.queue.enqueue(_request(), "scripted")
        started = threading.Event()

        def listen(event) -> None:
            if isinstance(event, TextWritten):
                started.set()

        worker = Worker(store, _scripted_pipeline(ScriptedBackend(["HANG"])), listener=listen)
        thread = threading.Thread(target=worker.run, kwargs={"until_request": rid})
        thread.start()
        assert started.wait(30)
        assert worker.cancel_current(rid)  # only the token: no store.queue.cancel at all
        thread.join(30)
        job = store.queue.get(rid)
        assert job.status == JobStatus.ERROR and job.error_message == CANCELLED_MESSAGE
        assert job.cancelled and not job.cancel_requested


class _Broken(ScriptedBackend):
    def stream_chat(self, *args: Any, **kwargs: Any):
        raise RuntimeError("a bug in a backend")


def test_a_bug_mid_job_fails_the_job_instead_of_leaving_it_running(fast_db):
    with Store.open(fast_db) as store:
        rid = store.queue.enqueue(_request(), "scripted")
        worker = Worker(store, _scripted_pipeline(_Broken([])))
        with pytest.raises(RuntimeError, match="a bug in a backend"):
            worker.run_one()
        job = store.queue.get(rid)
        assert job.status == JobStatus.ERROR and job.owner == worker.owner
        assert job.error_message.startswith("Internal error while running this job")


# -- --seed with --no-wait ---------------------------------------------------------------------


class _Recording(ScriptedBackend):
    """Notes the seed it is asked to sample with, then fails the stage (in words)."""

    def __init__(self) -> None:
        super().__init__([])
        self.seeds: list[int | None] = []

    def stream_chat(self, messages, params, **kwargs: Any):
        self.seeds.append(params.seed)
        raise BackendError("Scripted: the seed is all this test needs.")


def test_a_seed_given_with_no_wait_is_kept_with_the_job_and_used(fast_db):
    queued = subprocess.run(
        [
            sys.executable,
            "-m",
            "persona_studio",
            "generate",
            "--db",
            str(fast_db),
            "--type",
            GPA,
            "--no-wait",
            "--seed",
            "41",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert queued.returncode == 0, queued.stderr
    rid = int(queued.stdout.split()[-1])
    with sqlite3.connect(fast_db) as conn:
        (stored,) = conn.execute(
            "SELECT request_params FROM llm_requests WHERE request_id = ?", (rid,)
        ).fetchone()
    assert json.loads(stored)["persona_studio"] == {"seed": 41}
    backend = _Recording()
    with Store.open(fast_db) as store:
        # A worker started with another seed (or none) runs the job with the job's own.
        Worker(store, _scripted_pipeline(backend, seed=5)).run(until_request=rid)
    assert backend.seeds == [41]
