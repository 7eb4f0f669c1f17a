"""Job rows and records anyone may write into FORLLM's file, read by the store: whatever they
hold, the queue lists them, and each can be retried, cancelled and removed; the ratings
report still builds. Rows are written with plain sqlite3, as FORLLM or any program would."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from persona_studio.errors import NotFoundError, StoreError
from persona_studio.store import JobStatus, NewPersona, Store

DEEP = "[" * 100_000 + "]" * 100_000

# request_params as FORLLM's column may hold them; each is a value bound as it is (a str, an
# int, bytes: SQLite keeps the type) or an SQL expression (invalid UTF-8 as TEXT).
HOSTILE_PARAMS: dict[str, Any] = {
    "nested 100,000 deep": DEEP,
    "deep inside a field": json.dumps(
        {"generation_type": "general_purpose_assistant", "input_details": {"x": 1}}
    ).replace("1}", DEEP + "}"),
    "subforum_id 10**30": json.dumps(
        {"generation_type": "subforum_expert", "input_details": {"subforum_id": 10**30}}
    ),
    "subforum_id Infinity": '{"generation_type": "subforum_expert", '
    '"input_details": {"subforum_id": Infinity}}',
    "a 4,301-digit number": '{"n": ' + "9" * 4301 + "}",
    "lone surrogate": '{"generation_type": "general_purpose_assistant", '
    '"input_details": {"name_hint": "Bad \\ud800 name"}}',
    "an integer": 42,
    "a real": 1.5,
    "a blob": b"\x00\xff\x10binary",
    "not JSON": "{not json",
    "a list": "[1, 2, 3]",
    "NULL": None,
}


def _insert(path: Path, params: Any, *, model: Any = "llama3", expr: str | None = None) -> int:
    conn = sqlite3.connect(path)
    try:
        value = expr if expr is not None else "?"
        args = () if expr is not None else (params,)
        cursor = conn.execute(
            "INSERT INTO llm_requests (request_type, request_params, status, llm_model) "
            f"VALUES ('generate_persona', {value}, 'pending', ?)",
            (*args, model),
        )
        conn.commit()
        return int(cursor.lastrowid)
    finally:
        conn.close()


@pytest.fixture
def hostile(store: Store) -> dict[str, int]:
    ids = {label: _insert(store.path, params) for label, params in HOSTILE_PARAMS.items()}
    ids["invalid UTF-8 text"] = _insert(store.path, None, expr="CAST(x'7b22ff22' AS TEXT)")
    ids["invalid UTF-8 model"] = _insert(store.path, "{}")
    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "UPDATE llm_requests SET llm_model = CAST(x'ff6c6c' AS TEXT) WHERE request_id = ?",
            (ids["invalid UTF-8 model"],),
        )
    return ids


def test_the_queue_lists_every_hostile_row(store: Store, hostile: dict[str, int]) -> None:
    jobs = {job.request_id: job for job in store.queue.list()}
    for label, rid in hostile.items():
        job = jobs[rid]
        assert job.status == JobStatus.PENDING, label
        # What the view shows is plain text, never a value that cannot be encoded.
        request = job.request
        for text in (request.name, request.generation_type, job.llm_model, request.subforum_name):
            assert text is None or isinstance(text, str) and text.encode("utf-8")
        assert request.subforum_id is None, label  # 10**30 / Infinity: no subforum to look up
    assert jobs[hostile["invalid UTF-8 model"]].llm_model == "\ufffdll"


def test_each_hostile_row_can_be_cancelled_retried_and_removed(
    store: Store, hostile: dict[str, int]
) -> None:
    for label, rid in hostile.items():
        assert store.queue.cancel(rid) == JobStatus.ERROR, label
        assert store.queue.get(rid).cancelled
        store.queue.retry(rid)
        assert store.queue.get(rid).status == JobStatus.PENDING
        store.queue.remove(rid)
    remaining = {job.request_id for job in store.queue.list()}
    assert remaining.isdisjoint(hostile.values())


def test_a_worker_claims_and_fails_them_through_the_store(
    store: Store, hostile: dict[str, int]
) -> None:
    """The store hands the worker each row as stored; failing it (which reads the row back)
    works whatever it holds."""
    seen = set()
    while (claimed := store.queue.claim("w")) is not None:
        seen.add(claimed.request_id)
        assert store.queue.fail(claimed.request_id, "w", "This job cannot run: test.")
    assert set(hostile.values()) <= seen
    failed = {j.request_id: j for j in store.queue.list(statuses=["error"])}
    assert all(failed[rid].error_message == "This job cannot run: test." for rid in seen)


def test_a_status_nobody_writes_is_refused_in_words(store: Store) -> None:
    rid = _insert(store.path, "{}")
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE llm_requests SET status = 'weird' WHERE request_id = ?", (rid,))
    assert rid not in {job.request_id for job in store.queue.list()}
    with pytest.raises(StoreError, match="status 'weird', which neither FORLLM nor"):
        store.queue.remove(rid)


def test_the_ratings_report_survives_hostile_generation_records(store: Store) -> None:
    saved = store.personas.create(
        NewPersona("Rated", "You are Rated.", "from_name_and_description", {"name_hint": "R"})
    )
    store.personas.rate(saved.persona_id, 4)
    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "UPDATE ps_persona_generation SET request_params = ?, template_versions = ?, "
            "output_preferences = ?, model = ? WHERE persona_id = ?",
            (
                DEEP,
                json.dumps({"expansion": [[[["x"]]]] * 3, "refinement": 10**300}),
                '{"tone_preference": "\\udcff"}',
                "\ud800".encode("utf-8", "surrogatepass"),
                saved.persona_id,
            ),
        )
    groups = store.personas.rating_report()
    [group] = [g for g in groups if saved.persona_id in {pid for pid, _, _ in g.best}]
    assert group.label.encode("utf-8")  # printable, whatever the columns held
    assert store.personas.generation_info(saved.persona_id)["request_params"] is None


def test_ids_beyond_sqlites_range_are_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.subforums.get(10**30)
    with pytest.raises(NotFoundError):
        store.personas.get(10**30)
    with pytest.raises(NotFoundError):
        store.personas.rate(-(10**30), 3)
