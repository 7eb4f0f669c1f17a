"""The generation queue on FORLLM's llm_requests, next to FORLLM's own jobs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from persona_studio.errors import LeaseLostError, NotFoundError, StoreError
from persona_studio.store import (
    CANCELLED,
    CANCELLED_BEFORE_START,
    JobStatus,
    LeaseState,
    NewPersona,
    Store,
)
from tests.store.sqlite_helpers import sql as _sql

FORLLM_GENERATE_JOB = 6  # the subforum_expert request the fixture queues the way FORLLM does


def _params(name: str) -> dict[str, Any]:
    return {
        "generation_type": "from_name_and_description",
        "input_details": {"name_hint": name, "description_hint": f"{name} is a test persona"},
        "output_preferences": {"length": "concise"},
    }


def _persona(name: str, **kwargs: Any) -> NewPersona:
    return NewPersona(
        name, f"You are {name}.", "from_name_and_description", {"name_hint": name}, **kwargs
    )


def _forllm_rows(path: Path) -> list[tuple[Any, ...]]:
    return _sql(
        path,
        "SELECT * FROM llm_requests WHERE request_type IS NOT 'generate_persona' ORDER BY 1",
    )


def _drain_forllm_job(store: Store) -> None:
    claimed = store.queue.claim("setup")
    assert claimed is not None and claimed.request_id == FORLLM_GENERATE_JOB
    store.queue.fail(FORLLM_GENERATE_JOB, "setup", "set aside for this test")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_enqueue_writes_forllms_shape(store: Store) -> None:
    request_id = store.queue.enqueue(_params("Ada"), "qwen2.5-1.5b")
    row = _sql(
        store.path,
        "SELECT request_type, request_params, status, llm_model, post_id_to_respond_to, "
        "llm_persona, processed_at, error_message, requested_at FROM llm_requests "
        "WHERE request_id = ?",
        (request_id,),
    )[0]
    assert row[:8] == (
        "generate_persona",
        json.dumps(_params("Ada")),
        "pending",
        "qwen2.5-1.5b",
        None,
        None,
        None,
        None,
    )
    job = store.queue.get(request_id)
    assert job.status is JobStatus.PENDING and job.attempts == 0 and not job.cancelled
    assert job.request.generation_type == "from_name_and_description" and job.request.name == "Ada"
    assert job.requested_at is not None and job.requested_at.tzinfo is not None


def test_enqueue_many_is_one_ordered_transaction(store: Store) -> None:
    ids = store.queue.enqueue_many([(_params(n), "m") for n in ("A", "B", "C")])
    assert ids == sorted(ids) and len(set(ids)) == 3
    with pytest.raises(TypeError):
        store.queue.enqueue_many([(_params("D"), "m"), ({"bad": object()}, "m")])
    pending = [j.request_id for j in store.queue.list(statuses=[JobStatus.PENDING])]
    assert pending == [FORLLM_GENERATE_JOB, *ids]


def test_claim_takes_only_generate_persona_jobs(store: Store) -> None:
    forllm_before = _forllm_rows(store.path)
    claimed = store.queue.claim("w")
    # FORLLM-queued persona job (input_details carries subforum_id) is ours to run.
    assert claimed is not None and claimed.request_id == FORLLM_GENERATE_JOB
    assert json.loads(claimed.params_json or "")["input_details"]["subforum_id"] == 2
    assert (claimed.llm_model, claimed.attempts) == ("llama3", 1)
    # FORLLM's pending respond jobs and the pending_dependency chain are never taken.
    assert store.queue.claim("w") is None
    assert _forllm_rows(store.path) == forllm_before
    with pytest.raises(NotFoundError):
        store.queue.get(1)  # a respond job is not in our queue


def test_claim_order_and_reorder(store: Store) -> None:
    _drain_forllm_job(store)
    a, b, c, d = store.queue.enqueue_many([(_params(n), "m") for n in "ABCD"])
    store.queue.reorder([c, 999_999, a])  # unknown ids are ignored, the rest keep their order
    assert [j.request_id for j in store.queue.list(statuses=["pending"])] == [c, a, b, d]
    e = store.queue.enqueue(_params("E"), "m")  # new jobs line up after the reordered ones
    order = []
    while (claimed := store.queue.claim("w")) is not None:
        order.append(claimed.request_id)
    assert order == [c, a, b, d, e]


def test_malformed_params_are_claimable_and_the_worker_fails_them(store: Store) -> None:
    _drain_forllm_job(store)
    _sql(
        store.path,
        "INSERT INTO llm_requests (request_type, request_params, status, llm_model) "
        "VALUES ('generate_persona', '{not json', 'pending', 'm')",
    )
    job = store.queue.list(statuses=["pending"])[0]
    assert (
        job.params_json == "{not json"
        and job.request.generation_type is None
        and job.request.name is None
    )
    claimed = store.queue.claim("w")
    assert claimed is not None and claimed.params_json == "{not json"
    store.queue.fail(claimed.request_id, "w", "request_params: not valid JSON")
    failed = store.queue.get(claimed.request_id)
    assert failed.status is JobStatus.ERROR and failed.error_message.startswith("request_params")


def test_heartbeat_reports_progress_and_lease_state(store: Store) -> None:
    claimed = store.queue.claim("w")
    assert claimed is not None
    rid = claimed.request_id
    assert store.queue.heartbeat(rid, "w", stage="expansion", tokens=40, tokens_per_s=8.5) is (
        LeaseState.OK
    )
    job = store.queue.get(rid)
    assert (job.stage, job.tokens, job.tokens_per_s, job.owner) == ("expansion", 40, 8.5, "w")
    assert store.queue.heartbeat(rid, "someone-else") is LeaseState.LOST
    assert store.queue.cancel(rid) is JobStatus.PROCESSING
    assert store.queue.get(rid).cancel_requested
    assert store.queue.heartbeat(rid, "w", tokens=41) is LeaseState.CANCEL_REQUESTED
    store.queue.fail(rid, "w", CANCELLED)
    job = store.queue.get(rid)
    assert (job.status, job.error_message, job.cancelled) == (JobStatus.ERROR, CANCELLED, True)
    assert store.queue.heartbeat(rid, "w") is LeaseState.LOST


def test_cancel_pending_job(store: Store) -> None:
    rid = store.queue.enqueue(_params("A"), "m")
    assert store.queue.cancel(rid) is JobStatus.ERROR
    job = store.queue.get(rid)
    assert (job.status, job.error_message, job.cancelled) == (
        JobStatus.ERROR,
        CANCELLED_BEFORE_START,
        True,
    )
    assert store.queue.cancel(rid) is JobStatus.ERROR  # finished: nothing to do
    _drain_forllm_job(store)
    assert store.queue.claim("w") is None


def test_cancel_refuses_a_job_forllms_worker_runs(store: Store) -> None:
    # What FORLLM's worker does: a separate UPDATE, no row of ours.
    _sql(
        store.path,
        "UPDATE llm_requests SET status = 'processing', processed_at = CURRENT_TIMESTAMP "
        "WHERE request_id = ?",
        (FORLLM_GENERATE_JOB,),
    )
    with pytest.raises(StoreError, match="FORLLM's own worker"):
        store.queue.cancel(FORLLM_GENERATE_JOB)


def test_retry_puts_a_failed_job_back(store: Store) -> None:
    claimed = store.queue.claim("w")
    assert claimed is not None
    rid = claimed.request_id
    store.queue.cancel(rid)
    store.queue.fail(rid, "w", CANCELLED)
    store.queue.retry(rid)
    job = store.queue.get(rid)
    assert job.status is JobStatus.PENDING
    assert (job.error_message, job.processed_at, job.attempts, job.cancelled) == (
        None,
        None,
        0,
        False,
    )
    assert not job.cancel_requested and job.owner is None
    store.queue.retry(rid)  # pending already: no-op
    again = store.queue.claim("w2")
    assert again is not None and (again.request_id, again.attempts) == (rid, 1)
    store.queue.complete(rid, "w2", _persona("Retried"))
    with pytest.raises(StoreError, match="Only a failed or cancelled job"):
        store.queue.retry(rid)


def test_remove(store: Store) -> None:
    pending = store.queue.enqueue(_params("A"), "m")
    claimed = store.queue.claim("w")
    assert claimed is not None
    with pytest.raises(StoreError, match="cancel it first"):
        store.queue.remove(claimed.request_id)
    store.queue.reorder([pending])
    store.queue.remove(pending)
    with pytest.raises(NotFoundError):
        store.queue.get(pending)
    assert _sql(store.path, "SELECT COUNT(*) FROM ps_jobs WHERE request_id = ?", (pending,)) == [
        (0,)
    ]
    with pytest.raises(NotFoundError):
        store.queue.remove(1)  # FORLLM's respond job is not ours to remove
    assert _sql(store.path, "SELECT COUNT(*) FROM llm_requests WHERE request_id = 1") == [(1,)]


def test_complete_saves_everything_in_one_go(store: Store) -> None:
    claimed = store.queue.claim("w")
    assert claimed is not None
    params = json.loads(claimed.params_json or "")
    persona = NewPersona(
        "Ziggy ZFS",
        "You are Ziggy.",
        "subforum_expert",
        params["input_details"],
        output_preferences={"length": "detailed"},
        template_versions={"expansion/subforum_expert": "2"},
        model="llama3",
        request_params=params,
        stats={"tokens": 512, "seconds": 30.5},
        subforum_id=2,
    )
    saved = store.queue.complete(claimed.request_id, "w", persona)
    assert (saved.name, saved.version, saved.renamed) == ("Ziggy ZFS", 1, False)
    job = store.queue.get(claimed.request_id)
    assert (job.status, job.persona_id, job.error_message) == (
        JobStatus.COMPLETE,
        saved.persona_id,
        None,
    )
    assert saved.persona_id in {p.persona_id for p in store.personas.for_subforum(2)}
    info = store.personas.generation_info(saved.persona_id)
    assert info is not None
    assert info["request_params"] == params and info["stats"] == {"tokens": 512, "seconds": 30.5}
    assert info["template_versions"] == {"expansion/subforum_expert": "2"}
    assert info["request_id"] == claimed.request_id


def test_complete_happens_exactly_once(store: Store) -> None:
    claimed = store.queue.claim("w")
    assert claimed is not None
    store.queue.complete(claimed.request_id, "w", _persona("Once"))
    count = store.personas.count(include_inactive=True)
    with pytest.raises(LeaseLostError):
        store.queue.complete(claimed.request_id, "w", _persona("Twice"))
    assert store.personas.count(include_inactive=True) == count


def test_complete_after_the_lease_was_lost_saves_nothing(store: Store) -> None:
    claimed = store.queue.claim("w")
    assert claimed is not None
    rid = claimed.request_id
    _sql(store.path, "UPDATE ps_jobs SET owner_pid = ? WHERE request_id = ?", (_dead_pid(), rid))
    assert store.queue.recover_stale() == [rid]
    count = store.personas.count(include_inactive=True)
    with pytest.raises(LeaseLostError, match="not saved"):
        store.queue.complete(rid, "w", _persona("Late"))
    retaken = store.queue.claim("w2")
    assert retaken is not None and retaken.request_id == rid
    with pytest.raises(LeaseLostError):
        store.queue.complete(rid, "w", _persona("Late"))  # the old worker, still late
    store.queue.fail(rid, "w", "old worker giving up")  # ignored: not its lease any more
    assert store.queue.get(rid).status is JobStatus.PROCESSING
    assert store.personas.count(include_inactive=True) == count


def test_complete_with_replaces_saves_a_new_version(store: Store) -> None:
    hank = store.personas.get_by_name("Homelab Hank")
    claimed = store.queue.claim("w")
    assert claimed is not None
    saved = store.queue.complete(
        claimed.request_id,
        "w",
        _persona("Whatever Name", replaces_persona_id=hank.persona_id),
    )
    assert (saved.persona_id, saved.name, saved.version, saved.renamed) == (
        hank.persona_id,
        "Homelab Hank",
        2,
        False,
    )
    again = store.personas.get(hank.persona_id)
    assert again.prompt_instructions == "You are Whatever Name." and again.version == 2
    assert [v.version for v in store.personas.versions(hank.persona_id)] == [1, 2]


def test_recover_stale(store: Store) -> None:
    _drain_forllm_job(store)
    a, b, c = store.queue.enqueue_many([(_params(n), "m") for n in "ABC"])
    for _ in range(3):
        assert store.queue.claim("w") is not None
    dead = _dead_pid()
    # a: its worker process died on this machine -> back to pending at once.
    _sql(store.path, "UPDATE ps_jobs SET owner_pid = ? WHERE request_id = ?", (dead, a))
    # b: a worker elsewhere went silent -> back after the lease.
    _sql(
        store.path,
        "UPDATE ps_jobs SET owner_host = 'other-host', heartbeat_at = '2020-01-01 00:00:00' "
        "WHERE request_id = ?",
        (b,),
    )
    # c: alive, beating: left alone. A FORLLM-claimed row (no owner of ours): left alone.
    _sql(
        store.path,
        "UPDATE llm_requests SET status = 'processing' WHERE request_id = ?",
        (FORLLM_GENERATE_JOB,),
    )
    assert sorted(store.queue.recover_stale(lease_seconds=30)) == [a, b]
    assert [store.queue.get(i).status for i in (a, b, c)] == [
        JobStatus.PENDING,
        JobStatus.PENDING,
        JobStatus.PROCESSING,
    ]
    assert store.queue.get(a).attempts == 1 and store.queue.get(a).owner is None
    assert _sql(
        store.path, "SELECT status FROM llm_requests WHERE request_id = ?", (FORLLM_GENERATE_JOB,)
    ) == [("processing",)]
    again = store.queue.claim("w2")
    assert again is not None and (again.request_id, again.attempts) == (a, 2)


def test_a_job_that_keeps_killing_its_worker_stops_being_retried(store: Store) -> None:
    _drain_forllm_job(store)
    rid = store.queue.enqueue(_params("Crashy"), "m")
    for attempt in (1, 2, 3):
        claimed = store.queue.claim("w", max_attempts=3)
        assert claimed is not None and (claimed.request_id, claimed.attempts) == (rid, attempt)
        _sql(
            store.path, "UPDATE ps_jobs SET owner_pid = ? WHERE request_id = ?", (_dead_pid(), rid)
        )
    assert store.queue.claim("w", max_attempts=3) is None  # claim() recovered it first
    job = store.queue.get(rid)
    assert job.status is JobStatus.ERROR and job.attempts == 3
    assert job.error_message.startswith("This job stopped its worker 3 times")
    assert "press Retry" in job.error_message


def test_a_cancelled_job_whose_worker_died_stays_cancelled(store: Store) -> None:
    claimed = store.queue.claim("w")
    assert claimed is not None
    store.queue.cancel(claimed.request_id)
    _sql(
        store.path,
        "UPDATE ps_jobs SET owner_pid = ? WHERE request_id = ?",
        (_dead_pid(), claimed.request_id),
    )
    store.queue.recover_stale()
    job = store.queue.get(claimed.request_id)
    assert (job.status, job.error_message, job.cancelled) == (JobStatus.ERROR, CANCELLED, True)


def test_list_orders_running_then_waiting_then_newest_finished(store: Store) -> None:
    a, b, c, d = store.queue.enqueue_many([(_params(n), "m") for n in "ABCD"])
    running = store.queue.claim("w")
    assert running is not None and running.request_id == FORLLM_GENERATE_JOB
    done = store.queue.claim("w")
    assert done is not None and done.request_id == a
    store.queue.complete(a, "w", _persona("Done"))
    failed = store.queue.claim("w")
    assert failed is not None and failed.request_id == b
    store.queue.fail(b, "w", "boom")
    store.queue.reorder([d, c])
    listed = [j.request_id for j in store.queue.list()]
    assert listed == [FORLLM_GENERATE_JOB, d, c, b, a]
    assert [j.request_id for j in store.queue.list(limit=2)] == [FORLLM_GENERATE_JOB, d]
    assert [j.request_id for j in store.queue.list(statuses=["complete", "error"])] == [b, a]
    assert [j.request_id for j in store.queue.list(statuses=[JobStatus.PENDING], limit=1)] == [d]


def test_threads_sharing_one_store_claim_each_job_once(store: Store) -> None:
    ids = set(store.queue.enqueue_many([(_params(f"T{i}"), "m") for i in range(40)]))
    ids.add(FORLLM_GENERATE_JOB)
    claimed: list[int] = []
    lock = threading.Lock()

    def work(owner: str) -> None:
        while (job := store.queue.claim(owner)) is not None:
            with lock:
                claimed.append(job.request_id)

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)


def test_data_version_moves_when_another_connection_commits(store: Store) -> None:
    first = store.data_version()
    assert store.data_version() == first
    store.queue.enqueue(_params("A"), "m")  # our own pooled connection is another connection
    second = store.data_version()
    assert second != first
    _sql(store.path, "UPDATE settings SET setting_value = 'x' WHERE setting_key = 'theme'")
    _sql(store.path, "INSERT INTO subforums (name) VALUES ('FORLLM wrote this')")
    assert store.data_version() != second


def test_claim_a_given_request_leaves_the_others_pending(store):
    first = store.queue.enqueue({"generation_type": "general_purpose_assistant"}, "m")
    second = store.queue.enqueue({"generation_type": "general_purpose_assistant"}, "m")
    claimed = store.queue.claim("worker-a", request_id=second)
    assert claimed is not None and claimed.request_id == second
    assert store.queue.get(first).status == "pending"
    assert store.queue.claim("worker-a", request_id=second) is None  # already taken
