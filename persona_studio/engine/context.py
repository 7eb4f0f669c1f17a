"""What the pipeline's stages are handed: one generation's inputs, passed whole.

``StageContext`` is one generation: the request, its brief and length profile, the backend,
the settings, the cancel flag, the listener and the per-stage figures. ``RunContext`` is one
run of a stage within it (its ``StageRun`` and deadline); ``RefineContext`` one refinement
attempt (the chat it answers and which attempt it is). All three are frozen: a stage reads
them and reports through ``run`` and ``stats``, it never changes what it was handed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from persona_studio.engine.brief import Brief
from persona_studio.engine.polish import Polisher
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.engine.stages import (
    EventCallback,
    LengthProfile,
    PipelineConfig,
    StageRun,
    StageStats,
)
from persona_studio.llm.base import CancelToken, ChatMessage, LLMBackend


@dataclass(frozen=True)
class StageContext:
    """One generation's inputs, for every stage of it."""

    request: PersonaGenerationRequest
    brief: Brief
    profile: LengthProfile
    backend: LLMBackend
    config: PipelineConfig
    cancel: CancelToken = field(default_factory=CancelToken)
    on_event: EventCallback | None = None
    # The result's per-stage figures (``GenerationResult.stages``), filled as stages run.
    stats: dict[str, StageStats] = field(default_factory=dict)
    # Names already taken (the file's personas): a name chosen later must differ from them.
    avoid_names: tuple[str, ...] = ()
    # The name is the user's (a hint, an override) or the persona's own (a Regenerate into
    # it): it is never replaced by another.
    name_given: bool = False

    @property
    def headings(self) -> tuple[str, ...]:
        return self.request.output_preferences.headings

    @property
    def tone(self) -> str:
        return self.request.output_preferences.tone_preference

    @property
    def detailed(self) -> bool:
        return self.request.output_preferences.length_preference == "detailed"

    @property
    def user_text(self) -> str:
        """Everything the user typed: their own ``{{...}}`` stays."""
        request = self.request
        return " ".join(
            [
                *map(str, request.input_details.values()),
                request.target_persona_name_override,
                request.output_preferences.tone_preference,
            ]
        )

    def polisher(self) -> Polisher:
        return Polisher(
            name=self.brief.name,
            may_be_ai=self.brief.may_be_ai,
            topic_words=self.brief.hint_words,
            user_text=self.user_text,
        )

    def start(self, stage: str) -> StageRun:
        """A run of ``stage``, counted in its figures (the listener hears it start)."""
        return StageRun(stage, self.stats.setdefault(stage, StageStats()), self.on_event)


@dataclass(frozen=True)
class RunContext:
    """One run of a stage: where its text and figures go, and when it must be done."""

    job: StageContext
    run: StageRun
    deadline: float


@dataclass(frozen=True)
class RefineContext(RunContext):
    """One refinement attempt: the chat it answers, and which attempt it is (for seeds)."""

    messages: list[ChatMessage]
    attempt: int
