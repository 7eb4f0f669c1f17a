"""The worker: claim a persona job, run the pipeline, save the persona, mark the job.

Qt-free. The window wraps it in a QThread; ``persona-studio worker`` runs it headless. It
keeps the models it loaded (BackendPool) between jobs.

Crash safety comes from the store: a claimed job carries a lease (owner, heartbeat) that a
heartbeat thread renews while the job runs; the persona is saved and the job marked complete
in one transaction, only while the lease is still ours. A worker killed mid-job leaves a
lease that the next worker recovers (the job runs again, once).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from persona_studio.checks import new_check
from persona_studio.core.events import (
    JobEvent,
    JobFinished,
    JobStarted,
    JobTally,
    PipelineEvent,
    WaitingChanged,
)
from persona_studio.engine.pipeline import GenerationResult, PersonaPipeline
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.errors import InvalidRequestError, NotFoundError, StoreError
from persona_studio.llm.availability import ModelAvailability, display_name
from persona_studio.llm.base import CancelToken
from persona_studio.llm.catalog import DEFAULT_MODEL_ID
from persona_studio.store import ClaimedJob, LeaseState, NewPersona, SavedPersona, Store

log = logging.getLogger(__name__)
CANCELLED_MESSAGE = "Cancelled by the user."
INTERRUPTED_MESSAGE = "Cancelled with Ctrl-C (interrupted)."
# How often a job waiting for its model is looked at again (the availability answers are
# cached as long, so a queue of waiting jobs costs one probe per model per period).
WAIT_RECHECK_SECONDS = 5.0


def new_owner() -> str:
    """A lease owner: host and pid let a restarted worker on the same machine see at once
    that the previous owner is dead; the random part tells two workers in one process apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class WaitingJob:
    """A pending job left in the queue because its model cannot be reached now."""

    request_id: int
    model_id: str
    reason: str  # "Ollama is not running"

    @property
    def message(self) -> str:
        return f"waiting for {display_name(self.model_id)}: {self.reason}"


class Worker:
    def __init__(
        self,
        store: Store,
        pipeline: PersonaPipeline,
        *,
        owner: str | None = None,
        lease_seconds: float = 30.0,
        max_attempts: int = 3,
        listener: Callable[[JobEvent], None] | None = None,
        on_interrupt: Literal["requeue", "cancel"] = "requeue",
        availability: ModelAvailability | None = None,
    ) -> None:
        """``on_interrupt``: what Ctrl-C does to the running job: back to the queue (a
        worker), or cancelled (``generate --db``, which queued the job itself).
        ``availability``: with it, a job whose model cannot be reached (no Ollama running)
        waits in the queue instead of failing (see llm/availability.py); without it, every
        job is claimed in turn, as ``generate --db`` wants for the job it queued itself.
        ``listener``: told of every job's events (persona_studio/core/events.py), on the
        thread that runs the jobs: JobStarted, the pipeline's events stamped with the job's
        request id and running totals, JobFinished; and WaitingChanged."""
        self.store = store
        self.pipeline = pipeline
        self.owner = owner or new_owner()
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.listener = listener
        self.on_interrupt = on_interrupt
        # (request id, "requeued" or "cancelled") once Ctrl-C stopped a job, for the message.
        self.interrupted: tuple[int, str] | None = None
        self._current_cancel: CancelToken | None = None
        self._current_id: int | None = None
        self._lock = threading.Lock()
        self.availability = availability
        # Jobs waiting for their model, and when each is looked at again (monotonic time).
        self._waiting: dict[int, tuple[WaitingJob, float]] = {}
        self._retry_now: set[int] = set()

    # -- control from other threads ---------------------------------------------------------

    def cancel_current(self, request_id: int | None = None) -> bool:
        """Stop the running job (between tokens). With ``request_id``, only if it is that one."""
        with self._lock:
            if self._current_cancel is None:
                return False
            if request_id is not None and request_id != self._current_id:
                return False
            self._current_cancel.cancel()
            return True

    def retry_waiting(self, request_id: int | None = None) -> None:
        """ "Try again": look at that waiting job (all of them without an id) at the next
        poll, asking the servers afresh. Safe from any thread."""
        with self._lock:
            self._retry_now |= {
                rid for rid in self._waiting if request_id is None or rid == request_id
            }
        if self.availability is not None:
            self.availability.forget()

    @property
    def waiting(self) -> tuple[WaitingJob, ...]:
        with self._lock:
            return tuple(job for job, _at in self._waiting.values())

    # -- running ----------------------------------------------------------------------------

    def recover(self) -> list[int]:
        return self.store.queue.recover_stale(
            lease_seconds=self.lease_seconds, max_attempts=self.max_attempts
        )

    def run(
        self,
        stop: threading.Event | None = None,
        *,
        once: bool = False,
        poll_seconds: float = 1.0,
        until_request: int | None = None,
    ) -> int:
        """Process jobs until ``stop`` is set (or, with ``once``, until none is pending;
        with ``until_request``, until that job has ended). Returns how many jobs ran."""
        stop = stop or threading.Event()
        self.recover()
        done = 0
        while not stop.is_set():
            ran = self.run_one(request_id=until_request)
            if ran is not None:
                done += 1
                if until_request is not None and ran == until_request:
                    break
                continue
            if once or until_request is not None:
                break
            stop.wait(poll_seconds)
        return done

    def run_one(
        self, request_id: int | None = None, *, may_claim: Callable[[], bool] | None = None
    ) -> int | None:
        """Claim and process one job; its request id, or None if nothing was pending (or
        every pending job waits for its model). ``may_claim`` is asked right before the
        claim: finding the next runnable job can take a while (model servers are asked), and
        a queue paused meanwhile must not start a job queued meanwhile."""
        if self.availability is not None and request_id is None:
            request_id = self._next_runnable()
            if request_id is None:
                return None
        if may_claim is not None and not may_claim():
            return None
        claimed = self.store.queue.claim(
            self.owner,
            lease_seconds=self.lease_seconds,
            max_attempts=self.max_attempts,
            request_id=request_id,
        )
        if claimed is None:
            return None
        self._process(claimed)
        return claimed.request_id

    def _next_runnable(self) -> int | None:
        """The next pending job whose model can be reached, in claim order; the jobs whose
        model cannot are marked waiting and skipped (looked at again every
        WAIT_RECHECK_SECONDS, or at once after retry_waiting). A job whose model the user
        chose a substitute for runs on the substitute. A job whose request cannot be read
        is returned at once: claiming it fails it with the reason, as before."""
        assert self.availability is not None
        now = time.monotonic()
        with self._lock:
            before = dict(self._waiting)
            retried, self._retry_now = self._retry_now, set()
        due = {rid for rid, (_job, at) in before.items() if at <= now} | retried
        skip = set(before) - due
        after = {rid: entry for rid, entry in before.items() if rid in skip}
        found: int | None = None
        while True:
            job = self.store.queue.next_pending(skip=skip)
            if job is None:
                break
            try:
                model = self._prepare(job).llm_model_for_generation
            except Exception:  # noqa: BLE001 - claiming it fails it with the reason
                found = job.request_id
                break
            reason = self.availability.problem(model)
            if reason is None:
                found = job.request_id
                break
            substitute = self.availability.substitute(model)
            if substitute is not None:
                try:
                    self.store.queue.change_model(job.request_id, substitute)
                except StoreError:
                    skip.add(job.request_id)  # taken or changed meanwhile: look again later
                    continue
                log.info("Job %s: %s; running it on %s", job.request_id, reason, substitute)
                found = job.request_id
                break
            waiting = WaitingJob(job.request_id, model, reason)
            after[job.request_id] = (waiting, now + WAIT_RECHECK_SECONDS)
            skip.add(job.request_id)
        with self._lock:
            self._waiting = after
            # A "Try again" while this pass ran applies to the next one.
            for rid in self._retry_now & set(after):
                self._waiting[rid] = (after[rid][0], 0.0)
        if {r: e[0] for r, e in after.items()} != {r: e[0] for r, e in before.items()}:
            self._emit(WaitingChanged(self.waiting))
        return found

    def _emit(self, event: JobEvent) -> None:
        if self.listener is not None:
            self.listener(event)

    def _process(self, claimed: ClaimedJob) -> None:
        rid = claimed.request_id
        try:
            self._run_claimed(claimed)
        except BaseException as exc:
            self._abandon(rid, exc)
            raise

    def _abandon(self, rid: int, exc: BaseException) -> None:
        """The job did not get to its end: release it at once instead of leaving it
        'processing' until a later worker's lease recovery. Ctrl-C (KeyboardInterrupt) or
        SystemExit: back to the queue, or cancelled (``on_interrupt``). A bug: failed, with
        a message, and the exception goes on to whoever reports bugs."""
        try:
            if not isinstance(exc, Exception):
                if self.on_interrupt == "cancel":
                    if self.store.queue.fail(rid, self.owner, INTERRUPTED_MESSAGE, cancelled=True):
                        self.interrupted = (rid, "cancelled")
                elif self.store.queue.release(rid, self.owner):
                    self.interrupted = (rid, "requeued")
                return
            log.error("Job %s failed with an internal error", rid, exc_info=exc)
            message = (
                f"Internal error while running this job ({type(exc).__name__}); the log has "
                "the details. Retry it; if it fails again, report the problem."
            )
            self.store.queue.fail(rid, self.owner, message)
            self._emit(JobFinished(rid, error=message))
        except BaseException:
            # A second Ctrl-C, or a file locked for too long: lease recovery (at the next
            # start on this machine, at once) releases the job instead.
            log.warning("Job %s could not be released; lease recovery will", rid)

    def _prepare(self, claimed: ClaimedJob) -> PersonaGenerationRequest:
        """The job's request, checked as far as it can be before any model is loaded:
        request_params as anyone may have written them, the subforum FORLLM names by id,
        the persona a Regenerate replaces, the model."""
        request = PersonaGenerationRequest.from_json(claimed.params_json)
        if request.needs_subforum_lookup:
            subforum = self.store.subforums.get(request.input_details["subforum_id"])
            request = request.with_subforum(subforum.name, subforum.description)
        replaces = request.replaces_persona_id
        if replaces is not None:
            try:
                self.store.personas.get(replaces)
            except NotFoundError:
                raise NotFoundError(
                    f"it regenerates persona #{replaces}, which no longer exists (it was "
                    "deleted for good). Remove this job, or generate a new persona instead."
                ) from None
        if not request.llm_model_for_generation:
            request = request.with_model(claimed.llm_model or DEFAULT_MODEL_ID)
        return request

    def _kept_name(self, request: PersonaGenerationRequest) -> str:
        """The name a Regenerate into an existing persona keeps: the persona's own, so the
        new version's text names it as the list does ("" for a new persona, or when the
        file cannot say: the version is then saved under the persona's name all the same)."""
        if request.replaces_persona_id is None:
            return ""
        try:
            return self.store.personas.get(request.replaces_persona_id).name
        except StoreError:
            return ""

    def _pipeline_for(self, request: PersonaGenerationRequest) -> PersonaPipeline:
        """The pipeline, with the job's own sampling seed if it asked for one."""
        if request.seed is None or request.seed == self.pipeline.config.seed:
            return self.pipeline
        pipeline = copy.copy(self.pipeline)
        pipeline.config = replace(self.pipeline.config, seed=request.seed)
        return pipeline

    def _run_claimed(self, claimed: ClaimedJob) -> None:
        rid = claimed.request_id
        try:
            request = self._prepare(claimed)
        except (InvalidRequestError, NotFoundError) as exc:
            message = f"This job cannot run: {exc}"
        except Exception as exc:
            # Anyone may write a job row; reading one must never stop the worker. A bug here
            # fails that job, says so, and the worker goes on.
            log.error("Job %s: its request could not be read", rid, exc_info=exc)
            message = (
                f"This job cannot run: its request could not be read ({type(exc).__name__}; "
                "the log has the details). Remove it, and queue the persona again."
            )
        else:
            self._generate(rid, request)
            return
        self.store.queue.fail(rid, self.owner, message)
        self._emit(JobFinished(rid, error=message))

    def _generate(self, rid: int, request: PersonaGenerationRequest) -> None:
        cancel = CancelToken()
        with self._lock:
            self._current_cancel, self._current_id = cancel, rid
        tally = JobTally(rid)
        lease_lost = threading.Event()
        heartbeat_stop = threading.Event()
        heartbeat = threading.Thread(
            target=self._heartbeat,
            args=(rid, tally, cancel, lease_lost, heartbeat_stop),
            name=f"persona-job-{rid}-heartbeat",
            daemon=True,
        )
        self._emit(
            JobStarted(
                rid,
                request.display_name,
                request.llm_model_for_generation,
                request.generation_type,
            )
        )
        heartbeat.start()

        def on_event(event: PipelineEvent) -> None:
            self._emit(tally.add(event))

        try:
            # The file's names, so that a chosen name differs from them (a batch's jobs run
            # one after the other, each saved before the next starts: they differ too).
            try:
                taken = self.store.personas.names()
            except StoreError:
                taken = []
            result = self._pipeline_for(request).run(
                request,
                on_event=on_event,
                cancel=cancel,
                avoid_names=taken,
                keep_name=self._kept_name(request),
            )
        finally:
            heartbeat_stop.set()
            heartbeat.join()
            with self._lock:
                self._current_cancel, self._current_id = None, None
        if not lease_lost.is_set():
            # The final figures, so the queue shows the whole job, not the last beat's.
            total = sum(stats.tokens for stats in result.stages.values())
            seconds = sum(stats.seconds for stats in result.stages.values())
            with contextlib.suppress(StoreError):
                self.store.queue.heartbeat(
                    rid,
                    self.owner,
                    stage=tally.stage,
                    tokens=total,
                    tokens_per_s=round(total / seconds, 2) if seconds else None,
                )

        saved: SavedPersona | None = None
        error: str | None = None
        if lease_lost.is_set():
            error = "Another worker took this job over; this run's result was discarded."
        elif result.ok:
            try:
                saved = self.store.queue.complete(
                    rid, self.owner, self._new_persona(request, result)
                )
            except StoreError as exc:
                error = f"The persona could not be saved: {exc}"
                self._fail_quietly(rid, error)
        else:
            error = CANCELLED_MESSAGE if result.cancelled else result.error_message
            # Cancelled here (Stop, or the window closing) is recorded as such at once: the
            # stored cancel request may not have been written yet, or ever.
            self._fail_quietly(rid, error or "Generation failed.", cancelled=result.cancelled)
        self._emit(
            JobFinished(
                rid,
                persona_id=saved.persona_id if saved else None,
                persona_name=saved.name if saved else "",
                requested_name=saved.requested_name if saved else "",
                renamed=bool(saved and saved.renamed),
                version=saved.version if saved else 0,
                error=error,
                cancelled=result.cancelled,
                result=result,
            )
        )

    def _fail_quietly(self, rid: int, message: str, *, cancelled: bool = False) -> None:
        # StoreError: the lease is gone (another worker owns the job now), nothing to mark.
        with contextlib.suppress(StoreError):
            self.store.queue.fail(rid, self.owner, message, cancelled=cancelled)

    def _heartbeat(self, rid, tally: JobTally, cancel, lease_lost, stop) -> None:
        interval = max(0.5, self.lease_seconds / 5)
        while not stop.wait(interval):
            try:
                state = self.store.queue.heartbeat(
                    rid,
                    self.owner,
                    stage=tally.stage,
                    tokens=tally.tokens,
                    tokens_per_s=round(tally.tokens_per_s, 2),
                )
            except StoreError:
                continue  # a busy file: the next beat will do; the lease has slack for it
            if state is LeaseState.CANCEL_REQUESTED:
                cancel.cancel()
            elif state is LeaseState.LOST:
                lease_lost.set()
                cancel.cancel()
                return

    @staticmethod
    def _new_persona(request: PersonaGenerationRequest, result: GenerationResult) -> NewPersona:
        subforum_id = request.input_details.get("subforum_id")
        return NewPersona(
            name=result.persona_name,
            prompt_instructions=result.prompt_instructions,
            generation_type=request.generation_type,
            input_details=dict(request.input_details),
            output_preferences=request.output_preferences.to_dict(),
            template_versions=dict(result.template_versions),
            template_texts={
                t.version: (t.stage, t.generation_type, t.source, t.text)
                for t in result.templates.values()
            },
            model=result.model,
            request_params=request.to_params(),
            stats={
                "stages": {k: v.to_dict() for k, v in result.stages.items()},
                "structure_method": result.structure_method,
                "refinements": result.refinements,
                "brainstorm": result.brainstorm,
            },
            subforum_id=int(subforum_id) if isinstance(subforum_id, int) else None,
            replaces_persona_id=request.replaces_persona_id,
            # The kept attempt's persona check, saved with the persona's version.
            check=new_check(result.check) if result.check is not None else None,
        )
