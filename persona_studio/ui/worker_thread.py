"""The one thread that owns the model: the Qt-free Worker, wrapped in a QThread.

llama.cpp contexts are not thread-safe, so the model is loaded, used and closed on this thread
only; everything between it and the widgets goes through queued signals. The thread opens its
own Store (its own connections) on the same file.

Why a timer calling ``Worker.run_one`` rather than ``Worker.run`` blocking the thread: between
jobs the thread's event loop stays free, so the editor can have a persona's tokens counted by
the loaded model and new model settings can be applied, on the thread that owns the model.
The polling period is the same half second ``run`` would sleep.

The "Try it" chat, the editor's persona check and its section rewrites run here too, so there is never more than
one model run at a time: a question (or a check) waits while a job runs, and is answered
before the next job is claimed (a person is waiting for it; the queue is not).

While the thread is idle it may also evaluate, ahead of time, what every section rewrite of
the persona in the editor starts with (a prefill), so that a click on Rewrite only
evaluates the writer's short request. A prefill is the lowest priority: it is skipped while
anything else runs or waits, or when the model is not loaded (never loaded for it) or is an
HTTP one, and it gives way between two chunks of 64 tokens to any question, check, rewrite,
job or newer prefill that arrives meanwhile.

Token text is batched (about every 30 ms) before it crosses to the GUI: one signal per token
at 100+ tokens/s would keep the GUI thread busy repainting for nothing.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

from persona_studio.checks import CheckOutcome, CheckRequest
from persona_studio.core.events import JobFinished, JobStarted, TextWritten, WaitingChanged
from persona_studio.engine.card_extras import CardExtrasOutcome, CardExtrasRequest
from persona_studio.engine.chat import ChatReply, ChatRequest
from persona_studio.engine.section_rewrite import SectionRewriteOutcome, SectionRewriteRequest
from persona_studio.errors import GenerationCancelled, PersonaStudioError
from persona_studio.llm.catalog import BackendPool, ModelSettings
from persona_studio.ui.heap import long_lived

if TYPE_CHECKING:  # for annotations only: importing the store loads SQLAlchemy
    from persona_studio.store import Store

log = logging.getLogger(__name__)

POLL_MS = 500
FLUSH_SECONDS = 0.03
STOP_WAIT_MS = 15_000


class TextBatcher:
    """Streamed text on its way to the GUI, handed on about every FLUSH_SECONDS (see the
    module docstring) with the details of its last piece; ``flush`` hands on what is held at
    once. The first piece after creation goes out at once."""

    def __init__(self, send: Callable[..., None]) -> None:
        self._send = send  # send(text, *details)
        self._pieces: list[str] = []
        self._details: tuple = ()
        self._last_sent = 0.0

    def add(self, text: str, *details) -> None:
        self._pieces.append(text)
        self._details = details
        if time.monotonic() - self._last_sent >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self._last_sent = time.monotonic()
        if self._pieces:
            text = "".join(self._pieces)
            self._pieces.clear()
            self._send(text, *self._details)


class WorkerSignals(QObject):
    """What the worker thread tells the GUI, declared once: the runner emits these on the
    worker thread, and the GUI's WorkerThread, which has the same signals, re-emits each one
    on the GUI thread (a queued connection), where the window and its panels connect."""

    ready = Signal()
    # Every event of the jobs (persona_studio/core/events.py), in order: JobStarted, the
    # pipeline's StageStarted, TextWritten (batched, see the module docstring) and Retried,
    # JobFinished (without the engine's result: only plain data crosses), WaitingChanged.
    jobEvent = Signal(object)
    modelLoading = Signal(str)
    modelLoaded = Signal(str, float)
    tokensCounted = Signal(int, int, int, str)  # key, tokens, context window, model id
    problem = Signal(str)
    chatStarted = Signal(int)  # chat id: the model has begun on this question
    chatText = Signal(int, str, int, float)  # chat id, text, tokens so far, tokens/s
    chatFinished = Signal(object)  # ChatReply
    checkStarted = Signal(int)  # check id: the model has begun on this check
    checkAnswered = Signal(int, object)  # check id, ProbeAnswer (scored)
    checkFinished = Signal(object)  # CheckOutcome
    extrasStarted = Signal(int)  # extras id: the model has begun on these card extras
    extrasProgress = Signal(int, str)  # extras id, the extra just written ("greeting"...)
    extrasFinished = Signal(object)  # CardExtrasOutcome
    rewriteStarted = Signal(int)  # rewrite id: the model has begun on this section
    rewriteText = Signal(int, int, str)  # rewrite id, candidate index, text
    rewriteFinished = Signal(object)  # SectionRewriteOutcome
    prefillStarted = Signal()  # a prefill has begun evaluating
    prefillFinished = Signal(object)  # Prefill (None if the model could not take it)


RELAYED = tuple(name for name, value in vars(WorkerSignals).items() if isinstance(value, Signal))


class _Runner(WorkerSignals):
    """Lives on the worker thread. Its slots run there; its signals reach the GUI queued."""

    def __init__(self, db_path: Path, settings: ModelSettings, paused: bool) -> None:
        super().__init__()
        self._db_path = db_path
        self._settings = settings
        self._stopping = threading.Event()
        self._paused = threading.Event()
        if paused:
            self._paused.set()
        self._store: Store | None = None
        self._pool: BackendPool | None = None
        self._worker = None
        self._timer: QTimer | None = None
        # Held text goes out as the last piece's event with the text of all the pieces.
        self._job_text = TextBatcher(
            lambda text, last: self.jobEvent.emit(replace(last, text=text))
        )
        self._job_stage = ""  # the stage of the text held in _job_text
        # Questions from the "Try it" panel and the editor's checks: put here from the GUI
        # thread, taken here, in the order they were asked.
        self._chats: queue.SimpleQueue[
            ChatRequest | CheckRequest | CardExtrasRequest | SectionRewriteRequest
        ] = queue.SimpleQueue()
        # The newest prefill asked for (set from the GUI thread): an older one is dropped,
        # and a running one gives way to it.
        self.latest_prefill = 0

    # -- on the worker thread ---------------------------------------------------------------

    @Slot()
    def start(self) -> None:
        try:
            with long_lived():
                # Imported here, on this thread: the engine and store imports are the slow
                # part of start-up and the window does not need them to appear.
                from persona_studio.llm.availability import ModelAvailability
                from persona_studio.store import Store
                from persona_studio.worker import Worker

                self._store = Store.open(self._db_path)
                pipeline = self._build_pipeline()
            # FORLLM's jobs for a model that is not running here wait instead of failing.
            self._worker = Worker(
                self._store,
                pipeline,
                listener=self._on_update,
                availability=ModelAvailability(),
            )
            self._worker.recover()
        except PersonaStudioError as exc:
            self.problem.emit(f"The generation worker could not start: {exc}")
            return
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._timer.start()
        self.ready.emit()
        self._poll()

    def _build_pipeline(self):
        from persona_studio.engine.factory import build_pipeline

        self._pool = BackendPool(
            self._settings,
            on_loading=self.modelLoading.emit,
            on_loaded=self.modelLoaded.emit,
            load_scope=long_lived,  # llama.cpp's bindings and the model stay for the pool's life
        )
        pipeline, _ = build_pipeline(pool=self._pool)
        return pipeline

    @Slot()
    def _poll(self) -> None:
        self.answer_chats()  # before claiming a job: a person is waiting for these
        if self._stopping.is_set() or self._paused.is_set() or self._worker is None:
            return
        try:
            ran = self._worker.run_one(may_claim=self._may_claim)
        except PersonaStudioError as exc:
            self.problem.emit(f"The worker could not take the next job: {exc}")
            return
        except Exception:
            # A bug: polling again would repeat it twice a second. Stop, say so, and let the
            # exception reach the error reporter (log + dialog).
            if self._timer is not None:
                self._timer.stop()
            self.problem.emit(
                "The generation worker stopped after an internal error; queued jobs will wait "
                "until Persona Studio is restarted. The details are in the log."
            )
            raise
        if ran is not None and not self._stopping.is_set() and not self._paused.is_set():
            QTimer.singleShot(0, self._poll)  # more may be waiting: no need to idle first

    def _may_claim(self) -> bool:
        """Asked by the worker right before it claims a job (the pause may come meanwhile)."""
        return not (self._stopping.is_set() or self._paused.is_set())

    @Slot()
    def poll_now(self) -> None:
        """Poll at once (after "Try again"), not at the next tick."""
        if self._timer is not None:
            self._poll()

    @Slot()
    def answer_chats(self) -> None:
        """Answer every waiting question and run every waiting check, one after the other
        (pausing the queue does not hold them back: a pause is about jobs)."""
        while True:
            try:
                request = self._chats.get_nowait()
            except queue.Empty:
                return
            if isinstance(request, CheckRequest):
                self._run_check(request)
                continue
            if isinstance(request, CardExtrasRequest):
                self._run_extras(request)
                continue
            if isinstance(request, SectionRewriteRequest):
                self._run_rewrite(request)
                continue
            try:
                reply = self._answer(request)
            except Exception:
                # A bug: the panel must not wait for ever; the exception goes on to the
                # error reporter (log + dialog).
                self.chatFinished.emit(
                    ChatReply(request.chat_id, error="An internal error; the log has details.")
                )
                raise
            self.chatFinished.emit(reply)

    def _answer(self, request: ChatRequest) -> ChatReply:
        from persona_studio.engine.chat import answer

        if self._stopping.is_set() or request.cancel.cancelled:
            return ChatReply(request.chat_id, cancelled=True)
        if self._pool is None:
            return ChatReply(request.chat_id, error="The generation worker is not running.")
        self.chatStarted.emit(request.chat_id)
        try:
            backend = self._pool.get(request.model_id)
        except PersonaStudioError as exc:
            return ChatReply(request.chat_id, error=str(exc))
        # A new batcher: its first piece goes out at once, showing the reply has begun.
        reply_text = TextBatcher(
            lambda text, tokens, rate: self.chatText.emit(request.chat_id, text, tokens, rate)
        )
        reply = answer(backend, request, reply_text.add)
        reply_text.flush()
        return reply

    def _run_check(self, request: CheckRequest) -> None:
        try:
            outcome = self._check(request)
        except Exception:
            # A bug: the editor must not wait for ever; the exception goes on to the error
            # reporter (log + dialog).
            self.checkFinished.emit(
                CheckOutcome(
                    request.check_id,
                    request.persona_id,
                    request.text,
                    error="An internal error; the log has details.",
                )
            )
            raise
        self.checkFinished.emit(outcome)

    def _check(self, request: CheckRequest) -> CheckOutcome:
        """The persona check of the text as the editor showed it; kept with the persona's
        current version when that text is the version's (saved, unchanged since)."""
        from persona_studio.checks import check_stored_persona, new_check
        from persona_studio.engine.persona_check import CHECK_SECONDS

        rid, pid, text = request.check_id, request.persona_id, request.text
        if self._stopping.is_set() or request.cancel.cancelled:
            return CheckOutcome(rid, pid, text, cancelled=True)
        if self._pool is None or self._store is None:
            return CheckOutcome(rid, pid, text, error="The generation worker is not running.")
        self.checkStarted.emit(rid)
        try:
            result = check_stored_persona(
                self._store,
                self._pool.get(request.model_id),
                pid,
                request.name,
                text,
                cancel=request.cancel,
                deadline=time.monotonic() + CHECK_SECONDS,
                on_answer=lambda answer: self.checkAnswered.emit(rid, answer),
            )
        except GenerationCancelled:
            return CheckOutcome(rid, pid, text, cancelled=True)
        except PersonaStudioError as exc:
            return CheckOutcome(rid, pid, text, error=str(exc))
        try:
            saved = self._store.personas.save_check_if_current(pid, text, new_check(result))
        except PersonaStudioError as exc:
            return CheckOutcome(
                rid, pid, text, result, error=f"The check ran, but could not be kept: {exc}"
            )
        return CheckOutcome(rid, pid, text, result, saved.version if saved else None)

    def _run_extras(self, request: CardExtrasRequest) -> None:
        """The card extras of the text as the editor showed it; the Card tab shows them and
        the writer saves them (nothing is saved here)."""
        from persona_studio.engine.card_extras import run_request

        rid, pid = request.extras_id, request.persona_id
        if self._stopping.is_set() or request.cancel.cancelled:
            self.extrasFinished.emit(CardExtrasOutcome(rid, pid, cancelled=True))
            return
        if self._pool is None:
            error = "The generation worker is not running."
            self.extrasFinished.emit(CardExtrasOutcome(rid, pid, error=error))
            return
        self.extrasStarted.emit(rid)
        try:
            outcome = run_request(
                self._pool.get, request, lambda key: self.extrasProgress.emit(rid, key)
            )
        except Exception:
            # A bug: the Card tab must not wait for ever; the exception goes on to the error
            # reporter (log + dialog).
            error = "An internal error; the log has details."
            self.extrasFinished.emit(CardExtrasOutcome(rid, pid, error=error))
            raise
        self.extrasFinished.emit(outcome)

    def _run_rewrite(self, request: SectionRewriteRequest) -> None:
        try:
            outcome = self._rewrite(request)
        except Exception:
            # A bug: the editor must not wait for ever; the exception goes on to the error
            # reporter (log + dialog).
            self.rewriteFinished.emit(
                SectionRewriteOutcome(
                    request.rewrite_id,
                    request.heading,
                    request.mode,
                    error="An internal error; the log has details.",
                )
            )
            raise
        self.rewriteFinished.emit(outcome)

    def _rewrite(self, request: SectionRewriteRequest) -> SectionRewriteOutcome:
        """A section written again for the editor: candidates only; the editor applies the
        one the writer accepts."""
        from persona_studio.engine.section_rewrite import run_request
        from persona_studio.ui.labels import model_label

        rid = request.rewrite_id
        if self._stopping.is_set() or request.cancel.cancelled:
            return SectionRewriteOutcome(rid, request.heading, request.mode, cancelled=True)
        if self._pool is None:
            return SectionRewriteOutcome(
                rid, request.heading, request.mode, error="The generation worker is not running."
            )
        self.rewriteStarted.emit(rid)
        try:
            backend = self._pool.get(request.model_id)
        except PersonaStudioError as exc:
            return SectionRewriteOutcome(rid, request.heading, request.mode, error=str(exc))
        # One batcher per candidate: each one's first piece goes out at once.
        batchers: dict[int, TextBatcher] = {}

        def on_text(index: int, piece: str) -> None:
            if index not in batchers:
                for held in batchers.values():
                    held.flush()
                batchers[index] = TextBatcher(
                    lambda text, i=index: self.rewriteText.emit(rid, i, text)
                )
            batchers[index].add(piece)

        outcome = run_request(backend, request, on_text, model_label=model_label(request.model_id))
        for held in batchers.values():
            held.flush()
        return outcome

    @Slot(int, str, str)
    def prefill(self, wish: int, text: str, model_id: str) -> None:
        """Evaluate what every section rewrite of ``text`` starts with, if the thread is
        idle and ``model_id`` is an embedded model loaded already (see the module
        docstring); it gives way between two chunks to anything else."""
        from persona_studio.engine.section_rewrite import prefill

        if wish != self.latest_prefill or self._pool is None or self._other_work_waiting():
            return
        backend = self._pool.loaded_backend(model_id)
        if backend is None:
            return  # not loaded (a prefill never loads a model), or not an embedded one

        def should_stop() -> bool:
            return wish != self.latest_prefill or self._other_work_waiting()

        self.prefillStarted.emit()
        try:
            done = prefill(backend, text, should_stop=should_stop)
        except PersonaStudioError as exc:
            # Nothing lost: the rewrite will evaluate the persona itself (and say why not).
            log.info("No prefill: %s", exc)
            done = None
        self.prefillFinished.emit(done)
        if done is not None and done.stopped:
            self._poll()  # what it gave way to goes now, not at the next tick

    def _other_work_waiting(self) -> bool:
        """A question, check, card extras or rewrite asked, a job the queue would start, or
        the thread stopping: anything that goes before a prefill."""
        if self._stopping.is_set() or not self._chats.empty():
            return True
        if self._paused.is_set() or self._worker is None or self._store is None:
            return False
        skip = [job.request_id for job in self._worker.waiting]  # waiting for their model
        try:
            return self._store.queue.next_pending(skip=skip) is not None
        except PersonaStudioError:
            return True  # the poll will say what is wrong

    @Slot(int, str, str)
    def count(self, key: int, text: str, model_id: str) -> None:
        backend = self._pool.loaded_backend(model_id) if self._pool is not None else None
        if backend is None:
            return  # the GUI keeps its estimate
        self.tokensCounted.emit(key, backend.count_tokens(text), backend.context_length, model_id)

    @Slot(object)
    def apply_settings(self, settings: ModelSettings) -> None:
        self._settings = settings
        if self._worker is None:
            return
        if self._pool is not None:
            self._pool.close()
        try:
            self._worker.pipeline = self._build_pipeline()
        except PersonaStudioError as exc:
            self.problem.emit(f"The new model settings could not be applied: {exc}")

    @Slot()
    def shutdown(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if self._pool is not None:
            self._pool.close()
        if self._store is not None:
            self._store.close()
        # Hand this object back to the GUI thread so it can be deleted there once the
        # thread has ended.
        self.moveToThread(QCoreApplication.instance().thread())
        QThread.currentThread().quit()

    def _on_update(self, event) -> None:
        """The worker's events, handed on; text is held a little (see the module docstring),
        and whatever else comes sends the held text first."""
        if isinstance(event, TextWritten):
            if event.stage != self._job_stage:
                self._job_text.flush()
            self._job_stage = event.stage
            self._job_text.add(event.text, event)
            return
        self._job_text.flush()
        if isinstance(event, JobFinished):
            event = replace(event, result=None)
        self.jobEvent.emit(event)

    # -- from the GUI thread (thread-safe) --------------------------------------------------

    def cancel(self, request_id: int | None) -> bool:
        worker = self._worker
        return worker.cancel_current(request_id) if worker is not None else False

    def request_stop(self) -> None:
        self._stopping.set()
        self.cancel(None)

    def retry_waiting(self, request_id: int | None) -> None:
        worker = self._worker
        if worker is not None:
            worker.retry_waiting(request_id)

    def submit_chat(
        self, request: ChatRequest | CheckRequest | CardExtrasRequest | SectionRewriteRequest
    ) -> None:
        self._chats.put(request)

    def set_paused(self, paused: bool) -> None:
        if paused:
            self._paused.set()
        else:
            self._paused.clear()


class WorkerThread(WorkerSignals):
    """The GUI's handle on the worker thread: start, stop, cancel, count tokens. Its signals
    (WorkerSignals) are the runner's, relayed to the GUI thread."""

    _count = Signal(int, str, str)
    _prefill = Signal(int, str, str)
    _chat = Signal()
    _settings = Signal(object)
    _shutdown = Signal()
    _retry = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._runner: _Runner | None = None
        self.current_request: int | None = None
        self.paused = False
        self._chats: dict[int, ChatRequest] = {}  # asked and not yet answered
        self._checks: dict[int, CheckRequest] = {}  # asked and not yet finished
        self._extras: dict[int, CardExtrasRequest] = {}  # asked and not yet finished
        self.jobEvent.connect(self._follow_jobs)
        self.chatFinished.connect(lambda reply: self._chats.pop(reply.chat_id, None))
        self.checkFinished.connect(lambda outcome: self._checks.pop(outcome.check_id, None))
        self.extrasFinished.connect(lambda outcome: self._extras.pop(outcome.extras_id, None))
        self._rewrites: dict[int, SectionRewriteRequest] = {}  # asked and not yet finished
        self.rewriteFinished.connect(lambda outcome: self._rewrites.pop(outcome.rewrite_id, None))
        self._prefills = 0  # prefills asked for, the last one's number

    def start(self, db_path: Path, settings: ModelSettings) -> None:
        self.stop()
        thread = QThread()
        thread.setObjectName("persona-worker")
        runner = _Runner(db_path, settings, self.paused)
        runner.moveToThread(thread)
        for name in RELAYED:
            getattr(runner, name).connect(getattr(self, name))
        self._count.connect(runner.count)
        self._prefill.connect(runner.prefill)
        self._chat.connect(runner.answer_chats)
        self._settings.connect(runner.apply_settings)
        self._shutdown.connect(runner.shutdown)
        self._retry.connect(runner.poll_now)
        thread.started.connect(runner.start)
        self._thread, self._runner = thread, runner
        thread.start()

    def stop(self) -> bool:
        """Cancel the running job, let the thread close its model and store, and wait for it.
        Returns False if it did not end in time (a model load cannot be interrupted)."""
        thread, runner = self._thread, self._runner
        if thread is None or runner is None:
            return True
        runner.request_stop()
        self._shutdown.emit()
        finished = thread.wait(STOP_WAIT_MS)
        if not finished:
            log.warning("The worker thread did not stop within %d ms", STOP_WAIT_MS)
            return False
        self._count.disconnect(runner.count)
        self._prefill.disconnect(runner.prefill)
        self._chat.disconnect(runner.answer_chats)
        self._settings.disconnect(runner.apply_settings)
        self._shutdown.disconnect(runner.shutdown)
        self._retry.disconnect(runner.poll_now)
        self._thread, self._runner = None, None
        self.jobEvent.emit(WaitingChanged())
        self.current_request = None
        # Questions the thread did not get to: their panel must not wait for ever.
        for chat_id in list(self._chats):
            self.chatFinished.emit(ChatReply(chat_id, cancelled=True))
        for request in list(self._checks.values()):
            self.checkFinished.emit(
                CheckOutcome(request.check_id, request.persona_id, request.text, cancelled=True)
            )
        for extras in list(self._extras.values()):
            self.extrasFinished.emit(
                CardExtrasOutcome(extras.extras_id, extras.persona_id, cancelled=True)
            )
        for request in list(self._rewrites.values()):
            self.rewriteFinished.emit(
                SectionRewriteOutcome(
                    request.rewrite_id, request.heading, request.mode, cancelled=True
                )
            )
        return True

    def cancel(self, request_id: int) -> bool:
        """Stop ``request_id`` between two tokens if it is the job running here."""
        return self._runner.cancel(request_id) if self._runner is not None else False

    def ask(self, request: ChatRequest) -> None:
        """Have the persona answer ``request`` on the worker thread: at once if it is idle,
        else as soon as the running job ends. Answered by chatStarted, chatText and
        chatFinished (always, even when the worker is not running)."""
        self._chats[request.chat_id] = request
        if self._runner is None:
            reply = ChatReply(
                request.chat_id,
                error="The generation worker is not running (is a database open?).",
            )
            QTimer.singleShot(0, lambda: self.chatFinished.emit(reply))
            return
        self._runner.submit_chat(request)
        self._chat.emit()

    def retry_waiting(self, request_id: int | None = None) -> None:
        """ "Try again" for a job waiting for its model (all of them without an id): the
        next poll asks the servers afresh."""
        if self._runner is not None:
            self._runner.retry_waiting(request_id)
            self._retry.emit()

    def stop_chat(self, chat_id: int) -> None:
        """Stop that reply between two tokens, or withdraw the question if it is waiting."""
        request = self._chats.get(chat_id)
        if request is not None:
            request.cancel.cancel()

    def check(self, request: CheckRequest) -> None:
        """Run the persona check ``request`` on the worker thread: at once if it is idle, else
        as soon as the running job (or reply) ends. Answered by checkStarted, checkAnswered
        (each answer as it comes) and checkFinished (always, even when the worker is not
        running)."""
        self._checks[request.check_id] = request
        if self._runner is None:
            outcome = CheckOutcome(
                request.check_id,
                request.persona_id,
                request.text,
                error="The generation worker is not running (is a database open?).",
            )
            QTimer.singleShot(0, lambda: self.checkFinished.emit(outcome))
            return
        self._runner.submit_chat(request)
        self._chat.emit()

    def stop_check(self, check_id: int) -> None:
        """Stop that check between two tokens, or withdraw it if it is waiting."""
        request = self._checks.get(check_id)
        if request is not None:
            request.cancel.cancel()

    def write_card_extras(self, request: CardExtrasRequest) -> None:
        """Have the model write card extras for ``request`` on the worker thread: at once if
        it is idle, else as soon as the running job (or reply, or check) ends. Answered by
        extrasStarted, extrasProgress and extrasFinished (always, even when the worker is not
        running)."""
        self._extras[request.extras_id] = request
        if self._runner is None:
            outcome = CardExtrasOutcome(
                request.extras_id,
                request.persona_id,
                error="The generation worker is not running (is a database open?).",
            )
            QTimer.singleShot(0, lambda: self.extrasFinished.emit(outcome))
            return
        self._runner.submit_chat(request)
        self._chat.emit()

    def rewrite(self, request: SectionRewriteRequest) -> None:
        """Write a section again on the worker thread (at once if it is idle, else after the
        running job or reply). Answered by rewriteStarted, rewriteText (each candidate's
        text as it comes) and rewriteFinished (always, even when the worker is not running)."""
        self._rewrites[request.rewrite_id] = request
        if self._runner is None:
            outcome = SectionRewriteOutcome(
                request.rewrite_id,
                request.heading,
                request.mode,
                error="The generation worker is not running (is a database open?).",
            )
            QTimer.singleShot(0, lambda: self.rewriteFinished.emit(outcome))
            return
        self._runner.submit_chat(request)
        self._chat.emit()

    def stop_card_extras(self, extras_id: int) -> None:
        """Stop those extras between two tokens, or withdraw them if they are waiting."""
        request = self._extras.get(extras_id)
        if request is not None:
            request.cancel.cancel()

    def stop_rewrite(self, rewrite_id: int) -> None:
        """Stop that rewrite between two tokens, or withdraw it if it is waiting."""
        request = self._rewrites.get(rewrite_id)
        if request is not None:
            request.cancel.cancel()

    def set_paused(self, paused: bool) -> None:
        """Paused: no new job is started (the running one finishes); it applies to jobs
        FORLLM queues too. Resumed: the next poll takes the next job."""
        self.paused = paused
        if self._runner is not None:
            self._runner.set_paused(paused)

    def prefill(self, text: str, model_id: str) -> None:
        """Have the worker thread evaluate what every section rewrite of ``text`` starts
        with, ahead of time, so a rewrite asked later starts at once. Only when nothing
        runs or waits here and ``model_id`` is an embedded model already loaded; a newer
        prefill replaces this one. Answered by prefillStarted and prefillFinished only if it
        runs."""
        runner = self._runner
        busy = self.current_request is not None or any(
            (self._chats, self._checks, self._extras, self._rewrites)
        )
        if runner is None or busy:
            return
        self._prefills += 1
        runner.latest_prefill = self._prefills
        self._prefill.emit(self._prefills, text, model_id)

    def count_tokens(self, key: int, text: str, model_id: str) -> None:
        """Ask for an exact count with the loaded model; answered by ``tokensCounted`` only if
        that model is loaded (and once the running job, if any, has ended)."""
        self._count.emit(key, text, model_id)

    def apply_settings(self, settings: ModelSettings) -> None:
        self._settings.emit(settings)

    def _follow_jobs(self, event) -> None:
        """Which job runs on the thread now (connected first: the window's slots see it)."""
        if isinstance(event, JobStarted):
            self.current_request = event.request_id
        elif isinstance(event, JobFinished) and self.current_request == event.request_id:
            self.current_request = None
