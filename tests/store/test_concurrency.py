"""Several processes on one file: our workers against each other, and against FORLLM."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from multiprocessing.synchronize import Event
from pathlib import Path
from queue import Queue
from typing import Any

from persona_studio.errors import StoreError
from persona_studio.store import NewPersona, Store
from persona_studio.store.migrations import MIGRATIONS

CTX = multiprocessing.get_context("spawn")  # what Windows and macOS use; no inherited state


def _persona(request_id: int, prefix: str) -> NewPersona:
    return NewPersona(f"{prefix} {request_id}", "You are load.", "from_name_and_description", {})


def _claimer(path: str, owner: str, start: _Start, results: Queue[Any]) -> None:
    try:
        store = Store.open(path)
        claimed = []
        start.wait()
        while (job := store.queue.claim(owner)) is not None:
            claimed.append(job.request_id)
            store.queue.complete(job.request_id, owner, _persona(job.request_id, "Claimed"))
        store.close()
        results.put((owner, claimed, None))
    except Exception as exc:  # reported to the test, which fails with it
        results.put((owner, [], repr(exc)))


def _forllm_writer(path: str, seconds: float, start: _Start, results: Queue[Any]) -> None:
    """What FORLLM does while serving a busy forum: plain sqlite3, default 5 s timeout,
    implicit deferred transactions, a post + a respond request per commit, worker polls."""
    conn = sqlite3.connect(path)
    ok, failures = 0, []
    start.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn.execute(
                "SELECT request_id, post_id_to_respond_to, llm_model, llm_persona, request_type, "
                "request_params FROM llm_requests WHERE status = 'pending' "
                "ORDER BY requested_at ASC LIMIT 1"
            ).fetchone()
            cur = conn.cursor()
            cur.execute(
                "INSERT INTO posts (topic_id, user_id, content, tagged_personas_in_content, "
                "tagged_files_in_content) VALUES (1, 1, ?, '[]', '[]')",
                (f"forllm-load {ok}",),
            )
            cur.execute(
                "INSERT INTO llm_requests (post_id_to_respond_to, status, llm_model, llm_persona) "
                "VALUES (?, 'pending', 'llama3', '3')",
                (cur.lastrowid,),
            )
            conn.commit()
            ok += 1
        except sqlite3.Error as exc:
            conn.rollback()
            failures.append(str(exc))
    conn.close()
    results.put(("forllm", ok, failures))


def _our_worker(
    path: str, seconds: float, think_s: float, start: _Start, results: Queue[Any]
) -> None:
    """The window and the worker: queue, claim, report progress, save, list. ``think_s``
    stands for the generation between claim and complete (seconds in real use)."""
    store = Store.open(path)
    done, failures, slowest = 0, [], 0.0
    start.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(think_s)
        began = time.monotonic()
        try:
            store.queue.enqueue({"generation_type": "from_name_and_description"}, "m")
            job = store.queue.claim("load")
            if job is None:
                raise AssertionError("a job just queued was not claimable")
            store.queue.heartbeat(job.request_id, "load", stage="refinement", tokens=10)
            store.queue.complete(job.request_id, "load", _persona(job.request_id, "Load"))
            store.queue.list(limit=200)
            store.personas.list(limit=200)
            done += 1
        except StoreError as exc:
            failures.append(str(exc))
        slowest = max(slowest, time.monotonic() - began)
    store.close()
    results.put(("ours", done, failures, slowest))


class _Start:
    """Children say they are ready (imported, file open); the race starts when all are."""

    def __init__(self, ready: Queue[Any], go: Event) -> None:
        self._ready, self._go = ready, go

    def wait(self) -> None:
        self._ready.put(True)
        self._go.wait()


def _run(targets: list[tuple[Any, tuple[Any, ...]]]) -> list[Any]:
    ready: Queue[Any] = CTX.Queue()
    go = CTX.Event()
    start = _Start(ready, go)
    results: Queue[Any] = CTX.Queue()
    processes = [CTX.Process(target=fn, args=(*args, start, results)) for fn, args in targets]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=120)
    go.set()
    collected = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    return collected


def _count(path: Path, statement: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(statement).fetchone()[0])
    finally:
        conn.close()


def test_two_processes_claim_every_job_exactly_once(store: Store) -> None:
    ids = set(store.queue.enqueue_many([({"n": i}, "m") for i in range(200)]))
    ids.add(6)  # FORLLM's own queued generate_persona job
    results = _run([(_claimer, (str(store.path), owner)) for owner in ("p1", "p2")])
    assert [error for _, _, error in results] == [None, None]
    claims = [rid for _, claimed, _ in results for rid in claimed]
    assert sorted(claims) == sorted(ids)  # every job once, none twice
    assert all(claimed for _, claimed, _ in results), "both processes should have won some"
    assert _count(store.path, "SELECT COUNT(*) FROM personas WHERE name LIKE 'Claimed %'") == 201
    assert store.integrity_check() == "ok"


def test_forllm_writing_flat_out_loses_nothing_and_locks_no_one(store: Store) -> None:
    posts_before = _count(store.path, "SELECT COUNT(*) FROM posts")
    respond_before = _count(
        store.path, "SELECT COUNT(*) FROM llm_requests WHERE request_type IS NULL"
    )
    by_name = {
        r[0]: r
        for r in _run(
            [
                (_forllm_writer, (str(store.path), 3.0)),
                # 20 ms per generation: a hundred times faster than a real one.
                (_our_worker, (str(store.path), 3.0, 0.02)),
            ]
        )
    }
    _, forllm_ok, forllm_failures = by_name["forllm"]
    _, ours_done, our_failures, slowest = by_name["ours"]
    print(
        f"\nFORLLM-style writer: {forllm_ok} commits, {len(forllm_failures)} failures; "
        f"Persona Studio: {ours_done} enqueue+claim+heartbeat+complete+2 lists cycles, "
        f"{len(our_failures)} failures, slowest cycle {slowest * 1000:.0f} ms"
    )
    assert our_failures == [] and forllm_failures == []
    assert forllm_ok > 20 and ours_done >= 5  # both sides make progress
    assert _count(store.path, "SELECT COUNT(*) FROM posts") == posts_before + forllm_ok
    assert (
        _count(store.path, "SELECT COUNT(*) FROM llm_requests WHERE request_type IS NULL")
        == respond_before + forllm_ok
    )
    assert _count(store.path, "SELECT COUNT(*) FROM personas WHERE name LIKE 'Load %'") == (
        ours_done
    )
    assert (
        _count(
            store.path,
            "SELECT COUNT(*) FROM llm_requests WHERE request_type = 'generate_persona' "
            "AND status = 'complete'",
        )
        == ours_done
    )
    assert store.integrity_check() == "ok"


def _opener(path: str, _unused: str, start: _Start, results: Queue[Any]) -> None:
    start.wait()
    try:
        store = Store.open(path)
        results.put((store.backup_path, None))
        store.close()
    except Exception as exc:
        results.put((None, repr(exc)))


def test_two_processes_opening_a_new_file_migrate_it_once(forllm_db: Path) -> None:
    results = _run([(_opener, (str(forllm_db), "")) for _ in range(2)])
    assert [error for _, error in results] == [None, None]
    assert len([backup for backup, _ in results if backup is not None]) == 1
    assert len(list(forllm_db.parent.glob("*.backup-*.db"))) == 1
    assert _count(forllm_db, "SELECT COUNT(*) FROM ps_schema_migrations") == len(MIGRATIONS)
