"""The generation queue: FORLLM's llm_requests rows of type 'generate_persona'.

Jobs are queued exactly as FORLLM queues them (request_type, JSON request_params, status
'pending', llm_model), so FORLLM shows them and FORLLM-queued ones are ours to run too.
FORLLM's respond jobs and 'pending_dependency' chains are never touched.

What FORLLM's table cannot hold (lease owner, heartbeat, attempts, cancel flag, progress,
queue position, resulting persona) lives in ps_jobs, one row per request_id. A job is ours
while ps_jobs.owner is set; a 'processing' row without an owner was claimed by FORLLM's own
worker and is left alone (FORLLM claims with a separate SELECT and UPDATE and never resets
stalled rows; nothing we do can make that atomic for it).
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from persona_studio.core import safejson
from persona_studio.core.request import StoredRequest
from persona_studio.errors import LeaseLostError, NotFoundError, StoreError
from persona_studio.store.db import AnyRow, Database, inserted_id
from persona_studio.store.models import JobRow, LlmRequestRow
from persona_studio.store.personas import LOCAL_USER_ID, save_new
from persona_studio.store.records import (
    ClaimedJob,
    Job,
    JobStatus,
    LeaseState,
    NewPersona,
    SavedPersona,
    parse_json_object,
)
from persona_studio.store.timestamps import UtcTimestamp, now_utc

GENERATE_PERSONA = "generate_persona"
CANCELLED_BEFORE_START = "Cancelled by the user before it started."
CANCELLED = "Cancelled by the user."  # what the worker passes to fail() after a cancel

R = LlmRequestRow
J = JobRow

_STATUSES = {status.value for status in JobStatus}
_ACTIVE = (JobStatus.PROCESSING, JobStatus.PENDING, JobStatus.PENDING_DEPENDENCY)
_FINISHED = (JobStatus.COMPLETE, JobStatus.ERROR)
# Claim order: an explicit position first (set by reorder), then first come first served.
_CLAIM_ORDER = (col(J.position).is_(None), col(J.position), col(R.requested_at), col(R.request_id))


def _raw(column: Any, type_: Any = None) -> Any:
    """``column`` as stored, text as its bytes: FORLLM's columns may hold text that is not
    UTF-8 (any program can write the file), which sqlite3 refuses to decode, failing the
    whole query; the bytes are decoded here, leniently, instead. Numbers, blobs and NULL
    come as they are, so a message can say what the column held."""
    value = sa.case(
        (sa.func.typeof(column) == "text", sa.cast(column, sa.LargeBinary)), else_=column
    )
    return sa.type_coerce(value, type_ or sa.types.NullType()).label(column.key)


_JOB_COLUMNS = (
    col(R.request_id),
    _raw(R.status),
    _raw(R.llm_model),
    _raw(R.requested_at, UtcTimestamp),
    _raw(R.processed_at, UtcTimestamp),
    _raw(R.error_message),
    _raw(R.request_params),
    col(J.stage),
    col(J.tokens),
    col(J.tokens_per_s),
    col(J.attempts),
    col(J.cancelled),
    col(J.cancel_requested),
    col(J.position),
    col(J.persona_id),
    col(J.heartbeat_at),
    col(J.owner),
    col(J.claimed_at),
)


def _exhausted_message(attempts: int) -> str:
    return (
        f"This job stopped its worker {attempts} times (crash or kill); it will not be retried "
        "automatically. Check the model and the inputs, then press Retry."
    )


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` on this machine still runs (a zombie counts as dead)."""
    if pid <= 0:
        return False
    if os.name == "nt":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (macOS): os.kill's answer is all we have
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _windows_pid_alive(pid: int) -> bool:
    # os.kill(pid, 0) would TerminateProcess on Windows.
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return kernel32.GetLastError() == 5  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _utf8(value: Any) -> Any:
    """Stored bytes as the text they are, if they are UTF-8 text; else as they are."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value


def _text_column(value: Any) -> str | None:
    """A text column another program may have filled with anything, as text one can show."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return safejson.replace_surrogates(value if isinstance(value, str) else str(value))[0]


def _to_job(row: AnyRow) -> Job:
    status = _text_column(row.status)
    assert status is not None  # every caller selects rows with a known status
    return Job(
        request_id=row.request_id,
        status=JobStatus(status),
        llm_model=_text_column(row.llm_model),
        requested_at=row.requested_at,
        processed_at=row.processed_at,
        error_message=_text_column(row.error_message),
        params_json=_text_column(row.request_params),
        stage=row.stage,
        tokens=row.tokens,
        tokens_per_s=row.tokens_per_s,
        attempts=row.attempts or 0,
        cancelled=bool(row.cancelled),
        cancel_requested=bool(row.cancel_requested),
        position=row.position,
        persona_id=row.persona_id,
        heartbeat_at=row.heartbeat_at,
        owner=row.owner,
        request=StoredRequest.from_json(row.request_params),
        claimed_at=row.claimed_at,
    )


def _pending_ids() -> sa.Select[int | None]:
    """The ids of the pending generation jobs, their job rows joined (for _CLAIM_ORDER)."""
    return (
        sa.select(col(R.request_id))
        .select_from(LlmRequestRow)
        .outerjoin(JobRow, col(J.request_id) == R.request_id)
        .where(col(R.request_type) == GENERATE_PERSONA, col(R.status) == JobStatus.PENDING.value)
    )


def _jobs_query() -> sa.Select[Any]:
    return (
        sa.select(*_JOB_COLUMNS)
        .select_from(LlmRequestRow)
        .outerjoin(JobRow, col(J.request_id) == R.request_id)
        .where(col(R.request_type) == GENERATE_PERSONA)
    )


def _job(conn: sa.Connection, request_id: int) -> Job:
    row = conn.execute(_jobs_query().where(col(R.request_id) == request_id)).first()
    if row is None:
        raise NotFoundError(f"There is no persona generation job {request_id} (was it removed?).")
    if _text_column(row.status) not in _STATUSES:
        raise StoreError(
            f"Job {request_id} has the status {_text_column(row.status)!r}, which neither "
            "FORLLM nor Persona Studio writes; it is left alone. Fix or delete it in FORLLM."
        )
    return _to_job(row)


def _upsert_job(conn: sa.Connection, request_id: int, **values: Any) -> None:
    conn.execute(
        sqlite_insert(JobRow)
        .values(request_id=request_id, **values)
        .on_conflict_do_update(index_elements=[col(J.request_id)], set_=values)
    )


def _finish(conn: sa.Connection, request_id: int, status: JobStatus, message: str | None) -> None:
    conn.execute(
        sa.update(LlmRequestRow)
        .where(col(R.request_id) == request_id)
        .values(status=status.value, error_message=message, processed_at=now_utc())
    )


def _recover_stale(conn: sa.Connection, lease_seconds: float, max_attempts: int) -> list[int]:
    held = conn.execute(
        sa.select(
            col(R.request_id),
            col(J.owner_host),
            col(J.owner_pid),
            col(J.heartbeat_at),
            col(J.attempts),
            col(J.cancel_requested),
        )
        .join(JobRow, col(J.request_id) == R.request_id)
        .where(
            col(R.request_type) == GENERATE_PERSONA,
            col(R.status) == JobStatus.PROCESSING.value,
            col(J.owner).is_not(None),
        )
    ).all()
    now = now_utc()
    host = socket.gethostname()
    recovered = []
    for row in held:
        dead = row.owner_host == host and row.owner_pid is not None and not pid_alive(row.owner_pid)
        silent = row.heartbeat_at is None or (
            (now - row.heartbeat_at).total_seconds() > lease_seconds
        )
        if not (dead or silent):
            continue
        recovered.append(row.request_id)
        release: dict[str, Any] = {
            "owner": None,
            "owner_pid": None,
            "owner_host": None,
            "stage": None,
        }
        if row.cancel_requested:
            _finish(conn, row.request_id, JobStatus.ERROR, CANCELLED)
            release["cancelled"] = True
        elif row.attempts >= max_attempts:
            _finish(conn, row.request_id, JobStatus.ERROR, _exhausted_message(row.attempts))
        else:
            conn.execute(
                sa.update(LlmRequestRow)
                .where(R.request_id == row.request_id)
                .values(status=JobStatus.PENDING.value, processed_at=None)
            )
        conn.execute(sa.update(JobRow).where(J.request_id == row.request_id).values(**release))
    return recovered


class JobQueue:
    """``store.queue``: each method is one short transaction (writes: BEGIN IMMEDIATE)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def enqueue(self, params: dict[str, Any], llm_model: str) -> int:
        return self.enqueue_many([(params, llm_model)])[0]

    def enqueue_many(self, items: Iterable[tuple[dict[str, Any], str]]) -> list[int]:
        """Queue several jobs in one transaction (all or none), in the given order."""
        rows = [(json.dumps(params), model) for params, model in items]

        def write(conn: sa.Connection) -> list[int]:
            now = now_utc()
            return [
                inserted_id(
                    conn.execute(
                        sa.insert(LlmRequestRow).values(
                            request_type=GENERATE_PERSONA,
                            request_params=params_json,
                            status=JobStatus.PENDING.value,
                            llm_model=model,
                            requested_at=now,
                            requested_by_user_id=LOCAL_USER_ID,
                        )
                    )
                )
                for params_json, model in rows
            ]

        return self._db.write(write)

    def claim(
        self,
        owner: str,
        *,
        lease_seconds: float = 30,
        max_attempts: int = 3,
        request_id: int | None = None,
    ) -> ClaimedJob | None:
        """Take the next pending job (or, with ``request_id``, that job if it is pending):
        stale leases are recovered first, then one atomic UPDATE ... WHERE status = 'pending'
        RETURNING moves the row to processing, so two workers (threads or processes) can never
        take the same job."""

        def write(conn: sa.Connection) -> ClaimedJob | None:
            _recover_stale(conn, lease_seconds, max_attempts)
            candidates = _pending_ids()
            if request_id is not None:
                candidates = candidates.where(col(R.request_id) == request_id)
            next_id = candidates.order_by(*_CLAIM_ORDER).limit(1).scalar_subquery()
            now = now_utc()
            row = conn.execute(
                sa.update(LlmRequestRow)
                .where(col(R.request_id) == next_id, col(R.status) == JobStatus.PENDING.value)
                .values(status=JobStatus.PROCESSING.value, processed_at=now)
                .returning(col(R.request_id), _raw(R.request_params), _raw(R.llm_model))
            ).first()
            if row is None:
                return None
            lease = {
                "owner": owner,
                "owner_host": socket.gethostname(),
                "owner_pid": os.getpid(),
                "claimed_at": now,
                "heartbeat_at": now,
                "cancel_requested": False,
                "cancelled": False,
                "stage": None,
                "tokens": None,
                "tokens_per_s": None,
                "persona_id": None,
            }
            attempts = conn.execute(
                sqlite_insert(JobRow)
                .values(request_id=row.request_id, attempts=1, **lease)
                .on_conflict_do_update(
                    index_elements=[col(J.request_id)],
                    set_={**lease, "attempts": col(J.attempts) + 1},
                )
                .returning(col(J.attempts))
            ).scalar_one()
            return ClaimedJob(
                row.request_id, _utf8(row.request_params), _utf8(row.llm_model), attempts
            )

        return self._db.write(write)

    def next_pending(self, *, skip: Iterable[int] = ()) -> ClaimedJob | None:
        """The job ``claim`` would take next, without taking it, leaving out ``skip`` (jobs
        the worker knows must wait): the worker looks at a job's model before it claims it.
        ``attempts`` is that of the last run (0 for a job never claimed)."""
        skipped = list(dict.fromkeys(skip))

        def read(conn: sa.Connection) -> ClaimedJob | None:
            query = (
                sa.select(
                    col(R.request_id),
                    _raw(col(R.request_params)),
                    _raw(col(R.llm_model)),
                    col(J.attempts),
                )
                .select_from(LlmRequestRow)
                .outerjoin(JobRow, col(J.request_id) == R.request_id)
                .where(
                    col(R.request_type) == GENERATE_PERSONA,
                    col(R.status) == JobStatus.PENDING.value,
                )
            )
            if skipped:
                query = query.where(col(R.request_id).not_in(skipped))
            row = conn.execute(query.order_by(*_CLAIM_ORDER).limit(1)).first()
            if row is None:
                return None
            return ClaimedJob(
                row.request_id, _utf8(row.request_params), _utf8(row.llm_model), row.attempts or 0
            )

        return self._db.read(read)

    def change_model(self, request_id: int, model_id: str) -> None:
        """Run a waiting job on another model: the model FORLLM's columns name
        (``llm_model`` and the request's ``llm_model_for_generation``) becomes ``model_id``,
        so the persona records the model that really wrote it. Only a pending job can change;
        anything else raises StoreError saying what the job is doing."""
        model = model_id.strip()
        if not model:
            raise StoreError("Choose a model to run the job on.")

        def write(conn: sa.Connection) -> None:
            job = _job(conn, request_id)
            if job.status != JobStatus.PENDING:
                raise StoreError(
                    f"Job {request_id} is no longer waiting (it is {job.status.value}); its "
                    "model was not changed."
                )
            params = parse_json_object(job.params_json)
            if params is None:
                raise StoreError(
                    f"Job {request_id}'s request cannot be read, so its model cannot be "
                    "changed. Remove it, and queue the persona again."
                )
            params["llm_model_for_generation"] = model
            conn.execute(
                sa.update(LlmRequestRow)
                .where(col(R.request_id) == request_id, col(R.status) == JobStatus.PENDING.value)
                .values(llm_model=model, request_params=json.dumps(params))
            )

        self._db.write(write)

    def heartbeat(
        self,
        request_id: int,
        owner: str,
        *,
        stage: str | None = None,
        tokens: int | None = None,
        tokens_per_s: float | None = None,
    ) -> LeaseState:
        """Renew the lease and publish progress; tells the worker whether to go on."""
        values: dict[str, Any] = {"heartbeat_at": now_utc()}
        if stage is not None:
            values["stage"] = stage
        if tokens is not None:
            values["tokens"] = tokens
        if tokens_per_s is not None:
            values["tokens_per_s"] = tokens_per_s

        def write(conn: sa.Connection) -> LeaseState:
            row = conn.execute(
                sa.update(JobRow)
                .where(
                    col(J.request_id) == request_id,
                    col(J.owner) == owner,
                    sa.exists().where(
                        col(R.request_id) == request_id, col(R.status) == JobStatus.PROCESSING.value
                    ),
                )
                .values(**values)
                .returning(col(J.cancel_requested))
            ).first()
            if row is None:
                return LeaseState.LOST
            return LeaseState.CANCEL_REQUESTED if row.cancel_requested else LeaseState.OK

        return self._db.write(write)

    def complete(self, request_id: int, owner: str, persona: NewPersona) -> SavedPersona:
        """Save the persona (with the template texts it carries) and mark the job complete
        in ONE transaction, only while the lease is still ours: a job is completed, and its
        persona saved, exactly once; a lost lease saves nothing at all."""

        def write(conn: sa.Connection) -> SavedPersona:
            self._check_lease(conn, request_id, owner)
            saved = save_new(conn, persona, request_id=request_id)
            _finish(conn, request_id, JobStatus.COMPLETE, None)
            conn.execute(
                sa.update(JobRow)
                .where(col(J.request_id) == request_id)
                .values(persona_id=saved.persona_id, stage=None, heartbeat_at=now_utc())
            )
            return saved

        return self._db.write(write)

    @staticmethod
    def _check_lease(conn: sa.Connection, request_id: int, owner: str) -> None:
        job = _job(conn, request_id)
        if job.status != JobStatus.PROCESSING or job.owner != owner:
            raise LeaseLostError(
                f"Job {request_id} is no longer held by this worker (it is {job.status.value}"
                f"{', held by another worker' if job.owner and job.owner != owner else ''}): it "
                "was cancelled, recovered after a stall or taken over. Its result was not saved."
            )

    def fail(
        self, request_id: int, owner: str | None, message: str, *, cancelled: bool = False
    ) -> bool:
        """Mark the job failed (``cancelled``: stopped by the user, which the view shows as
        "Cancelled"; a cancel requested through the store counts too). With an ``owner``,
        only while that worker holds the lease (a worker that lost it must not overwrite
        what happened since); ``None`` fails any job that has not finished. Returns whether
        the job was marked."""
        # Messages may quote what a job row held: only text that can be stored goes in.
        text = safejson.printable(message.strip(), 20_000) or "The job failed without a message."

        def write(conn: sa.Connection) -> bool:
            job = _job(conn, request_id)
            if job.status in _FINISHED:
                return False
            if owner is not None and (job.status != JobStatus.PROCESSING or job.owner != owner):
                return False
            _finish(conn, request_id, JobStatus.ERROR, text)
            _upsert_job(conn, request_id, cancelled=cancelled or job.cancel_requested, stage=None)
            return True

        return self._db.write(write)

    def release(self, request_id: int, owner: str) -> bool:
        """Put a job this worker holds back in the queue at once (the worker was stopped
        with Ctrl-C): pending again, the lease dropped, and the claim not counted as an
        attempt (the job did nothing wrong). Returns whether it was released."""

        def write(conn: sa.Connection) -> bool:
            job = _job(conn, request_id)
            if job.status != JobStatus.PROCESSING or job.owner != owner:
                return False
            conn.execute(
                sa.update(LlmRequestRow)
                .where(col(R.request_id) == request_id)
                .values(status=JobStatus.PENDING.value, processed_at=None)
            )
            _upsert_job(
                conn,
                request_id,
                owner=None,
                owner_pid=None,
                owner_host=None,
                stage=None,
                attempts=max(0, job.attempts - 1),
            )
            return True

        return self._db.write(write)

    def cancel(self, request_id: int) -> JobStatus:
        """Pending: cancelled at once (status 'error'). Processing: the worker is asked to stop
        (it does so between tokens, then calls fail). Finished: nothing to do. Returns the
        job's status after the call."""

        def write(conn: sa.Connection) -> JobStatus:
            job = _job(conn, request_id)
            if job.status in (JobStatus.PENDING, JobStatus.PENDING_DEPENDENCY):
                _finish(conn, request_id, JobStatus.ERROR, CANCELLED_BEFORE_START)
                _upsert_job(conn, request_id, cancelled=True)
                return JobStatus.ERROR
            if job.status == JobStatus.PROCESSING:
                if job.owner is None:
                    raise StoreError(
                        f"Job {request_id} is being run by FORLLM's own worker, which Persona "
                        "Studio cannot stop; let it finish or stop it in FORLLM."
                    )
                _upsert_job(conn, request_id, cancel_requested=True)
            return job.status

        return self._db.write(write)

    def retry(self, request_id: int) -> None:
        """Put a failed (or cancelled) job back in the queue with a fresh attempt count."""

        def write(conn: sa.Connection) -> None:
            job = _job(conn, request_id)
            if job.status == JobStatus.PENDING:
                return
            if job.status != JobStatus.ERROR:
                raise StoreError(
                    f"Only a failed or cancelled job can be retried; job {request_id} is "
                    f"{job.status.value}."
                )
            conn.execute(
                sa.update(LlmRequestRow)
                .where(col(R.request_id) == request_id)
                .values(status=JobStatus.PENDING.value, error_message=None, processed_at=None)
            )
            _upsert_job(
                conn,
                request_id,
                attempts=0,
                cancel_requested=False,
                cancelled=False,
                owner=None,
                owner_host=None,
                owner_pid=None,
                stage=None,
                tokens=None,
                tokens_per_s=None,
                persona_id=None,
            )

        self._db.write(write)

    def remove(self, request_id: int) -> None:
        """Delete a job that is not running (a saved persona stays)."""

        def write(conn: sa.Connection) -> None:
            job = _job(conn, request_id)
            if job.status == JobStatus.PROCESSING:
                raise StoreError(f"Job {request_id} is running; cancel it first, then remove it.")
            conn.execute(sa.delete(JobRow).where(col(J.request_id) == request_id))
            conn.execute(sa.delete(LlmRequestRow).where(col(R.request_id) == request_id))

        self._db.write(write)

    def reorder(self, request_ids: list[int]) -> None:
        """Pending jobs run in the given order; ids that are no longer pending are ignored
        (the worker may have taken one meanwhile) and pending jobs not named keep their
        relative order after the named ones."""

        def write(conn: sa.Connection) -> None:
            # Primary keys, never NULL (the model says int | None for a row not yet inserted).
            current = cast(list[int], list(conn.scalars(_pending_ids().order_by(*_CLAIM_ORDER))))
            pending = set(current)
            named = [i for i in dict.fromkeys(request_ids) if i in pending]
            order = named + [i for i in current if i not in set(named)]
            for position, request_id in enumerate(order, start=1):
                _upsert_job(conn, request_id, position=position)

        self._db.write(write)

    def recover_stale(self, *, lease_seconds: float = 30, max_attempts: int = 3) -> list[int]:
        """Requeue (or, after ``max_attempts`` claims, fail) jobs whose worker is gone: on this
        machine a dead pid counts at once, otherwise a heartbeat older than ``lease_seconds``.
        Jobs FORLLM's worker is running have no owner of ours and are left alone."""
        return self._db.write(lambda conn: _recover_stale(conn, lease_seconds, max_attempts))

    def get(self, request_id: int) -> Job:
        return self._db.read(lambda conn: _job(conn, request_id))

    def list(
        self, *, statuses: Iterable[JobStatus | str] | None = None, limit: int | None = None
    ) -> list[Job]:
        """Rows for the queue view: running, then waiting in claim order, then finished ones
        newest first. Finished jobs are read one status at a time, newest first straight off
        the (request_type, status) index, so a page costs the same with 100 or 100,000 of
        them (one IN query would sort them all first)."""
        wanted = {JobStatus(s) for s in statuses} if statuses is not None else set(JobStatus)
        active = [s.value for s in _ACTIVE if s in wanted]
        finished = [s.value for s in _FINISHED if s in wanted]
        rank = sa.case(
            (col(R.status) == JobStatus.PROCESSING.value, 0),
            (col(R.status) == JobStatus.PENDING.value, 1),
            else_=2,
        )

        def read(conn: sa.Connection) -> list[Job]:
            rows: list[Any] = []
            if active:
                rows += conn.execute(
                    _jobs_query()
                    .where(col(R.status).in_(active))
                    .order_by(rank, *_CLAIM_ORDER)
                    .limit(limit)
                ).all()
            remaining = None if limit is None else limit - len(rows)
            if remaining is None or remaining > 0:
                newest_first = [
                    conn.execute(
                        _jobs_query()
                        .where(col(R.status) == status)
                        .order_by(col(R.request_id).desc())
                        .limit(remaining)
                    ).all()
                    for status in finished
                ]
                merged = heapq.merge(*newest_first, key=lambda row: -row.request_id)
                rows += itertools.islice(merged, remaining)
            return [_to_job(row) for row in rows]

        return self._db.read(read)
