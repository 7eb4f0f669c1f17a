"""The small interface every model backend implements.

A backend turns chat messages into a stream of text pieces (one per token where the backend
knows its tokens). It honours two things between pieces: a ``CancelToken`` (the user pressed
Stop) and a ``deadline`` (``time.monotonic()`` value after which the stage has run too long).
Backends raise only ``persona_studio.errors`` exceptions; ``BackendError.transient`` tells the
pipeline whether a retry may help.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict, runtime_checkable

from persona_studio.errors import GenerationCancelled, StageTimeoutError


class ChatMessage(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 512
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    seed: int | None = None
    stop: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class WordPreference:
    """Nudge a continuation towards some words: the first token of each (with and without a
    leading capital) gets ``bias`` added to its logit for the first ``within`` tokens, until
    one of them is written. How the pipeline keeps a 135M model's Knowledge Domain on the
    user's topic without writing the topic for it."""

    words: tuple[str, ...]
    bias: float = 6.0
    within: int = 12


class CancelToken:
    """A flag the token loop polls; set from any thread (the Stop button, a queue cancel)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise GenerationCancelled()


def check_deadline(deadline: float | None, what: str) -> None:
    """Raise StageTimeoutError once ``deadline`` (a time.monotonic() value) has passed."""
    if deadline is not None and time.monotonic() > deadline:
        raise StageTimeoutError(f"{what} ran past its time limit.")


def remaining(deadline: float | None, default: float) -> float:
    """Seconds left before ``deadline`` (at least a little), or ``default`` without one."""
    if deadline is None:
        return default
    return max(0.05, deadline - time.monotonic())


class LLMBackend(ABC):
    """A model that can stream a chat completion."""

    #: Identifier as written in requests and in llm_requests.llm_model (see catalog.py).
    model_id: str
    #: Context window in tokens, for budgeting prompts and showing a persona's share of it.
    context_length: int = 4096

    @abstractmethod
    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> Iterator[str]:
        """Yield the assistant's reply piece by piece."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model (an estimate where the backend cannot tell)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model or connection."""


@runtime_checkable
class ContinuingBackend(Protocol):
    """A backend that can continue a turn the caller has partly written (the embedded one).

    The pipeline writes the persona's headings and openings into the assistant's turn and
    lets the model continue; the persona check evaluates a persona once and answers every
    probe from that state. Backends without it (HTTP servers) get the validate-and-repair
    path and plain ``stream_chat`` probes.
    """

    def chat_tokens(self, messages: Sequence[ChatMessage]) -> list[int]: ...

    def tokenize_text(self, text: str) -> list[int]: ...

    def continuation(
        self, tokens: Sequence[int], params: SamplingParams, **options: Any
    ) -> Any: ...

    def evaluate_fresh(self, tokens: Sequence[int]) -> None: ...
