"""The typed events of a persona job, and the one place its running totals are counted.

The pipeline (engine/stages.py) says what a stage does as it does it: ``StageStarted``,
``TextWritten``, ``Retried``. The worker (worker.py) says what becomes of the jobs it runs:
``JobStarted``, ``JobFinished``, ``WaitingChanged``; it hands the pipeline's events on through
the job's ``JobTally``, which stamps them with the job's request id and adds the job's running
total of tokens. The window's worker thread relays all of them to the panels as one signal,
and each panel picks out the types it shows.

Plain frozen data: the events cross threads. Where a payload is a type of a higher layer (the
engine's result, the worker's waiting jobs) it is typed ``object`` here, so this package
imports nothing of Persona Studio's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeAlias


@dataclass(frozen=True)
class StageStarted:
    """A stage of the pipeline starts (again, when the persona check sends it back)."""

    stage: str
    request_id: int | None = None  # the job's; None straight from the pipeline


@dataclass(frozen=True)
class TextWritten:
    """Text written in a stage, with the running figures as of its last piece.

    ``stage_tokens``: the model's tokens in this stage so far (every run of it); text the
    pipeline writes itself (headings, the check's questions) is shown but not counted.
    ``tokens_per_s`` and ``elapsed_s``: this run of the stage's. ``job_tokens``: the model's
    tokens over every stage of the job so far, counted by the job's ``JobTally`` (0 straight
    from the pipeline, which runs one stage at a time)."""

    stage: str
    text: str
    stage_tokens: int = 0
    tokens_per_s: float = 0.0
    elapsed_s: float = 0.0
    job_tokens: int = 0
    request_id: int | None = None


@dataclass(frozen=True)
class Retried:
    """An attempt failed and is being made again; ``message`` says why."""

    stage: str
    message: str
    request_id: int | None = None


@dataclass(frozen=True)
class JobStarted:
    """The worker claimed a job and starts it."""

    request_id: int
    name: str  # the job as the queue names it
    model_id: str
    generation_type: str = ""


@dataclass(frozen=True)
class JobFinished:
    """How a job ended: saved (``persona_id``), cancelled, or failed (``error``).

    ``result``: the engine's GenerationResult, for the command line and the tests (None when
    the job could not run at all); the window's worker thread drops it, since only plain data
    should cross to the GUI."""

    request_id: int
    persona_id: int | None = None
    persona_name: str = ""
    requested_name: str = ""  # the name asked for, when it was taken and another was saved
    renamed: bool = False
    version: int = 0
    error: str | None = None
    cancelled: bool = False
    result: object = None


@dataclass(frozen=True)
class WaitingChanged:
    """The jobs waiting for their model changed: ``jobs`` holds every one waiting now (the
    worker's WaitingJob records)."""

    jobs: tuple[object, ...] = ()


PipelineEvent: TypeAlias = StageStarted | TextWritten | Retried
JobEvent: TypeAlias = (
    JobStarted | StageStarted | TextWritten | Retried | JobFinished | WaitingChanged
)


class JobTally:
    """A job's running totals, counted here and nowhere else.

    Fed every event of the job's pipeline run in order, ``add`` returns it as the job's event:
    stamped with the job's request id, and text with the tokens the whole job has written.
    The figures stay readable between events (the worker's heartbeat stores them)."""

    def __init__(self, request_id: int | None = None) -> None:
        self.request_id = request_id
        self.stage: str | None = None
        self.tokens = 0  # the model's tokens over every stage so far
        self.tokens_per_s = 0.0  # the speed of the latest text
        self._stage_tokens: dict[str, int] = {}

    def add(self, event: PipelineEvent) -> PipelineEvent:
        if isinstance(event, Retried):
            return replace(event, request_id=self.request_id)
        self.stage = event.stage
        if isinstance(event, StageStarted):
            return replace(event, request_id=self.request_id)
        # A stage counts its own tokens over all its runs; the job's total spans the stages.
        self._stage_tokens[event.stage] = event.stage_tokens
        self.tokens = sum(self._stage_tokens.values())
        self.tokens_per_s = event.tokens_per_s
        return replace(event, job_tokens=self.tokens, request_id=self.request_id)
