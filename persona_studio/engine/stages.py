"""What every stage of the pipeline shares: its settings, its events, its figures.

The events are core's typed ones (persona_studio/core/events.py); ``StageRun`` emits them.

Kept apart from the stages themselves so that the refinement strategies
(persona_studio/engine/refine.py) and the pipeline that runs them can both use them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from persona_studio.core.events import PipelineEvent, Retried, StageStarted, TextWritten
from persona_studio.llm.base import SamplingParams

if TYPE_CHECKING:
    from persona_studio.engine.request import PersonaGenerationRequest

CHECK = "check"  # the persona check's stage (no template: fixed probe questions)


@dataclass(frozen=True)
class LengthProfile:
    word_target: str
    expansion_tokens: int
    section_tokens: int
    instruction: str


# A section's budget is in tokens (a list's is half as much again); the personas they give
# keep to the words the user chose: with 56 tokens a default persona ran to 288 words
# (median of ten bench requests, up to 422) against 150-250, with 46 to 250 (up to 316).
LENGTH_PROFILES = {
    "concise": LengthProfile(
        "100-200",
        130,
        34,
        "Be brief yet comprehensive: a few short sentences or list items per heading.",
    ),
    "": LengthProfile("150-250", 170, 46, "Keep each section short, concrete and easy to follow."),
    "detailed": LengthProfile(
        "300-400",
        340,
        100,
        "Provide more depth under each heading, but keep every sentence clear.",
    ),
}


@dataclass(frozen=True)
class PipelineConfig:
    stage_timeout_s: float = 300.0
    max_retries: int = 2
    temperature: float = 0.7
    # Refinement distils rather than invents: cooler sampling keeps small models on task.
    refinement_temperature: float = 0.45
    top_p: float = 0.9
    repeat_penalty: float = 1.15
    seed: int | None = None
    # Tokens at a section's start during which the model may not end the section.
    min_section_tokens: int = 6
    retry_backoff_s: float = 0.5
    # The persona check (persona_studio/engine/persona_check.py) after writing, and how many
    # refinements at most when it finds the persona weak; the best-scoring one is kept.
    check: bool = True
    check_attempts: int = 3
    # Then, while it is still weak: lines a wrong answer was copied from, struck one at a time
    # and checked again (engine/distractors.py); a struck version is kept only if it scores
    # better.
    strike_attempts: int = 3
    # Candidates for a section that must name the user's topic and did not.
    grounding_attempts: int = 3
    # Other fitting names tried, one check each, when the model does not say a name the
    # pipeline chose (a name the user gave is never changed); kept only if it scores better.
    rename_attempts: int = 3
    # Then other forms of its self-introduction, one check each, while the model does not
    # say its name (engine/introductions.py); kept only if it scores better.
    introduction_attempts: int = 3
    # All of those end after this many versions in a row that scored no better than the best
    # (engine/check_loop.py, Patience); None: every attempt above is made.
    check_patience: int | None = 4

    def name_rng(self, request: PersonaGenerationRequest, purpose: str = "") -> random.Random:
        """Where chosen names come from: seeded runs choose the same names for the same
        request (and ``purpose``), others fresh ones."""
        if self.seed is None:
            return random.Random()
        return random.Random(
            f"{self.seed}:{request.to_json()}" + (f":{purpose}" if purpose else "")
        )

    def sampling(
        self,
        max_tokens: int,
        *,
        stop: tuple[str, ...] = (),
        attempt: int = 0,
        temperature: float | None = None,
    ) -> SamplingParams:
        seed = None if self.seed is None else self.seed + attempt
        return SamplingParams(
            max_tokens=max_tokens,
            temperature=self.temperature if temperature is None else temperature,
            top_p=self.top_p,
            repeat_penalty=self.repeat_penalty,
            seed=seed,
            stop=stop,
        )

    def deadline(self) -> float:
        return time.monotonic() + self.stage_timeout_s


EventCallback = Callable[[PipelineEvent], None]


@dataclass
class StageStats:
    tokens: int = 0  # written by the model
    seconds: float = 0.0
    attempts: int = 0
    # Tokens of the document the pipeline wrote itself (headings and section starters).
    own_tokens: int = 0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "seconds": round(self.seconds, 3),
            "tokens_per_s": round(self.tokens_per_s, 2),
            "attempts": self.attempts,
            "own_tokens": self.own_tokens,
        }


class StageRun:
    """Counts one stage's tokens and time and forwards its text to the listener."""

    def __init__(self, stage: str, stats: StageStats, emit: EventCallback | None) -> None:
        self.stage = stage
        self.stats = stats
        self._emit = emit
        self._started = time.perf_counter()
        if emit:
            emit(StageStarted(stage))

    def model_text(self, piece: str) -> None:
        """One piece the model wrote: a token on every backend we have."""
        self.stats.tokens += 1
        self._forward(piece)

    def own_text(self, piece: str) -> None:
        """Text the pipeline writes itself (headings): shown, not counted as model tokens."""
        self._forward(piece)

    def _forward(self, piece: str) -> None:
        if self._emit and piece:
            elapsed = time.perf_counter() - self._started
            self._emit(
                TextWritten(
                    self.stage,
                    piece,
                    stage_tokens=self.stats.tokens,
                    tokens_per_s=self.stats.tokens / elapsed if elapsed > 0 else 0.0,
                    elapsed_s=elapsed,
                )
            )

    def own_tokens(self, tokens: list[int]) -> list[int]:
        """Count tokens the pipeline put into the document itself; returns them."""
        self.stats.own_tokens += len(tokens)
        return tokens

    def retry(self, message: str) -> None:
        if self._emit:
            self._emit(Retried(self.stage, message))

    def finish(self) -> None:
        self.stats.seconds += time.perf_counter() - self._started
