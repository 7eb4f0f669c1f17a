"""Streaming a reply into a stage, and retrying what a backend says may pass.

A backend raises ``BackendError`` with ``transient`` set where trying again may help (a
server that dropped the connection, a malformed stream); ``with_retries`` does, with a
growing pause, a bounded number of times, and says so to the listener. ``free_stage`` is a
stage whose text is free (the expansion over HTTP, the critique): streamed, retried, timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from persona_studio.engine.context import RunContext, StageContext
from persona_studio.errors import BackendError, GenerationFailed
from persona_studio.llm.base import ChatMessage, SamplingParams

T = TypeVar("T")


def with_retries(rc: RunContext, label: str, attempt_fn: Callable[[int], T]) -> T:
    """Call ``attempt_fn(attempt)``; retry transient backend errors with backoff."""
    config, run = rc.job.config, rc.run
    last: BackendError | None = None
    for attempt in range(config.max_retries + 1):
        run.stats.attempts += 1
        try:
            return attempt_fn(attempt)
        except BackendError as exc:
            if not exc.transient:
                raise BackendError(f"{label} failed: {exc}") from None
            last = exc
            if attempt < config.max_retries:
                run.retry(f"{label}: {exc} Retrying.")
                time.sleep(config.retry_backoff_s * (attempt + 1))
    raise GenerationFailed(f"{label} failed after {config.max_retries + 1} attempts: {last}")


def stream_text(rc: RunContext, messages: Sequence[ChatMessage], params: SamplingParams) -> str:
    """The backend's reply to ``messages``, each piece shown as it comes."""
    pieces: list[str] = []
    job = rc.job
    for piece in job.backend.stream_chat(messages, params, cancel=job.cancel, deadline=rc.deadline):
        pieces.append(piece)
        rc.run.model_text(piece)
    return "".join(pieces)


def free_stage(
    ctx: StageContext, stage: str, label: str, messages: list[ChatMessage], max_tokens: int
) -> str:
    """A free-text stage (expansion, critique): stream the reply, retry transient errors."""
    rc = RunContext(ctx, ctx.start(stage), ctx.config.deadline())

    def attempt(n: int) -> str:
        params = ctx.config.sampling(max_tokens, attempt=n)
        return stream_text(rc, messages, params).strip()

    try:
        return with_retries(rc, label, attempt)
    finally:
        rc.run.finish()
