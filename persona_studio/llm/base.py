"""The small interface every model backend implements.

A backend turns chat messages into a stream of text pieces (one per token where the backend
knows its tokens). It honours two things between pieces: a ``CancelToken`` (the user pressed
Stop) and a ``deadline`` (``time.monotonic()`` value after which the stage has run too long).
Backends raise only ``persona_studio.errors`` exceptions; ``BackendError.transient`` tells the
pipeline whether a retry may help.
"""

from __future__ import annotations

import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypedDict, runtime_checkable

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
class ContinuationStream(Protocol):
    """One continuation: iterate it for the text pieces as they are written. After the
    iteration, ``text`` is the kept text (everything before a stop string), ``tokens`` the
    generated tokens whose text is kept, ``leftover`` kept text that belongs to a token cut
    by the stop string, ``finish_reason`` "stop", "eog" or "length", ``n_generated`` how
    many tokens the model produced."""

    text: str
    tokens: list[int]
    leftover: str
    finish_reason: str
    n_generated: int

    def __iter__(self) -> Iterator[str]: ...


@runtime_checkable
class SupportsContinuation(Protocol):
    """The continuation capability: a backend that can continue a turn the caller has
    partly written (the embedded one, persona_studio/llm/embedded.py).

    The pipeline writes the persona's headings and openings into the assistant's turn and
    lets the model continue (the "sections" structure strategy); the persona check
    evaluates a persona once and answers every probe from that state. Backends without it
    (HTTP servers) get the validate-and-repair strategy and plain ``stream_chat`` probes.
    ``isinstance(backend, SupportsContinuation)`` is how the engine tells them apart.
    """

    def chat_tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        """The chat rendered by the model's template, ready for the assistant's turn."""
        ...

    def tokenize_text(self, text: str) -> list[int]:
        """Tokens of plain text appended inside a turn."""
        ...

    def continuation(
        self,
        tokens: Sequence[int],
        params: SamplingParams,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
        min_tokens: int = 0,
        stop_patterns: tuple[re.Pattern[str], ...] = (),
        what: str = "Generation",
        no_repeat_from: int | None = None,
        prefer: WordPreference | None = None,
        keep_cached: int | None = None,
    ) -> ContinuationStream:
        """Continue ``tokens``. ``min_tokens``: tokens during which the model may not end;
        ``stop_patterns``: regular expressions that end it like stop strings; ``what``:
        the stage named in a time-out; ``no_repeat_from``: from this token on, no 4-gram
        may repeat; ``prefer``: words its first tokens are nudged toward;
        ``keep_cached``: the most of the KV cache it may reuse."""
        ...

    def evaluate_fresh(self, tokens: Sequence[int]) -> None:
        """Put exactly ``tokens`` in the KV cache, computed the same way every time."""
        ...
