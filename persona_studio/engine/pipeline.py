"""The persona pipeline: brief, expansion (brainstorm), an optional critique, refinement, and
the persona check.

1. **Brief** (no model): the persona's name is chosen (a name hint or override is used
   exactly; otherwise a fitting human name from persona_studio/engine/names.py, unlike the
   names already in the file), and the user's words are turned into the sentences the
   persona will open with (persona_studio/engine/brief.py).
2. **Expansion**: a free brainstorm (persona_studio/engine/expansion.py). On a backend that
   can continue a turn it starts from the brief's identity sentences, so it is about what
   the user asked for; what in it is off-topic, loops, or makes a character an AI is struck
   out before refinement reads it.
3. **Critique** (optional): the model reviews the brainstorm against the hints.
4. **Refinement**: the structured persona (persona_studio/engine/refine.py), its structure
   guaranteed either way: by sections on a backend that ``SupportsContinuation``, validated,
   retried and repaired on one that does not.
5. **Check**: the model that will use the persona answers probe questions with it as the
   system prompt (persona_studio/engine/persona_check.py). A persona that does not hold its
   name, its domain, or its character is written again, within a bound; the best attempt
   is kept, and its check is kept with it (persona_studio/engine/check_loop.py).

Every piece of text reaches ``on_event`` with its stage as it is written. Cancel is a flag
checked between tokens. Each stage has a time limit; transient backend errors are retried
(persona_studio/engine/retries.py). The stages are handed one ``StageContext``
(persona_studio/engine/context.py); what the templates are filled with is
persona_studio/engine/stage_prompts.py.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from persona_studio.engine.brief import Brief, build_brief, hint_texts, kind_of
from persona_studio.engine.check_loop import refine_and_check
from persona_studio.engine.context import StageContext
from persona_studio.engine.expansion import critique, expand
from persona_studio.engine.names import choose_name
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.engine.result import GenerationResult
from persona_studio.engine.sections import tidy_section
from persona_studio.engine.stage_prompts import input_values, refinement_chat
from persona_studio.engine.stages import (
    CHECK,
    LENGTH_PROFILES,
    EventCallback,
    PipelineConfig,
    PipelineEvent,
    StageStats,
)
from persona_studio.engine.templates import (
    CRITIQUE,
    EXPANSION,
    REFINEMENT,
    Template,
    TemplateLibrary,
)
from persona_studio.errors import (
    GenerationCancelled,
    GenerationFailed,
    PersonaStudioError,
)
from persona_studio.llm.base import CancelToken, ChatMessage, LLMBackend

__all__ = [
    "CHECK",
    "GenerationResult",
    "PersonaPipeline",
    "PipelineConfig",
    "PipelineEvent",
    "StageStats",
    "tidy_section",
]


class PersonaPipeline:
    def __init__(
        self,
        templates: TemplateLibrary,
        backend_for: Callable[[str], LLMBackend],
        config: PipelineConfig | None = None,
        *,
        default_model: str = "",
    ) -> None:
        self.templates = templates
        self._backend_for = backend_for
        self.config = config or PipelineConfig()
        self.default_model = default_model

    # -- public -----------------------------------------------------------------------------

    def run(
        self,
        request: PersonaGenerationRequest,
        *,
        on_event: EventCallback | None = None,
        cancel: CancelToken | None = None,
        avoid_names: Collection[str] = (),
        keep_name: str = "",
    ) -> GenerationResult:
        """Generate a persona. Never raises for user-facing failures: the result says.
        ``avoid_names``: names already taken (the file's personas), for a chosen name.
        ``keep_name``: the name of the persona a Regenerate writes into, which stays as it is
        (as a name the user gave does); the request's own name is used otherwise."""
        result = GenerationResult(model=request.llm_model_for_generation or self.default_model)
        try:
            self.templates.refresh()
            self._run(
                request, result, on_event, cancel or CancelToken(), avoid_names, keep_name.strip()
            )
        except GenerationCancelled as exc:
            result.status, result.error_message, result.cancelled = "error", str(exc), True
        except PersonaStudioError as exc:
            result.status, result.error_message = "error", str(exc)
        return result

    def choose_name(
        self, request: PersonaGenerationRequest, avoid_names: Collection[str] = ()
    ) -> str:
        """The override, else the name hint, exactly as typed; else a fitting fresh name."""
        if request.given_name:
            return request.given_name
        return choose_name(
            " ".join(hint_texts(request)),
            kind_of(request),
            taken=avoid_names,
            rng=self.config.name_rng(request),
        )

    def refinement_messages(
        self,
        request: PersonaGenerationRequest,
        brainstorm: str,
        backend: LLMBackend,
        values: dict[str, str] | None = None,
        *,
        critique: str = "",
        template: Template | None = None,
        brief: Brief | None = None,
    ) -> list[ChatMessage]:
        """The refinement stage's chat for ``brainstorm`` (also used by the benchmarks)."""
        profile = LENGTH_PROFILES[request.output_preferences.length_preference]
        brief = brief or build_brief(request, self.choose_name(request))
        ctx = StageContext(request, brief, profile, backend, self.config)
        return refinement_chat(
            ctx,
            template or self.templates.get(REFINEMENT, request.generation_type),
            values or input_values(request, profile, brief),
            brainstorm,
            critique,
        )

    # -- the stages -------------------------------------------------------------------------

    def _run(
        self,
        request: PersonaGenerationRequest,
        result: GenerationResult,
        on_event: EventCallback | None,
        cancel: CancelToken,
        avoid_names: Collection[str],
        keep_name: str,
    ) -> None:
        if request.needs_subforum_lookup:
            raise GenerationFailed(
                "The request names a subforum by number only; it must be resolved to the "
                "subforum's name and description before generating."
            )
        stages = (EXPANSION, CRITIQUE, REFINEMENT) if request.critique else (EXPANSION, REFINEMENT)
        result.templates = {
            stage: self.templates.get(stage, request.generation_type) for stage in stages
        }
        result.template_versions = {stage: t.version for stage, t in result.templates.items()}
        backend = self._backend_for(result.model)
        result.model = getattr(backend, "model_id", result.model)
        profile = LENGTH_PROFILES[request.output_preferences.length_preference]
        brief = build_brief(request, keep_name or self.choose_name(request, avoid_names))
        result.persona_name = brief.name
        ctx = StageContext(
            request,
            brief,
            profile,
            backend,
            self.config,
            cancel,
            on_event,
            result.stages,
            tuple(avoid_names),
            name_given=bool(keep_name or request.given_name),
        )
        values = input_values(request, profile, brief)

        result.brainstorm = expand(ctx, result.templates[EXPANSION].render(values))
        if request.critique:
            result.critique = critique(ctx, result.templates[CRITIQUE], values, result.brainstorm)
        messages = refinement_chat(
            ctx, result.templates[REFINEMENT], values, result.brainstorm, result.critique
        )
        refine_and_check(ctx, messages, result)
        result.status, result.error_message = "success", None
