"""The persona pipeline: brief, expansion (brainstorm), an optional critique, refinement, and
the persona check.

1. **Brief** (no model): the persona's name is chosen (a name hint or override is used
   exactly; otherwise a fitting human name from persona_studio/engine/names.py, unlike the
   names already in the file), and the user's words are turned into the sentences the
   persona will open with (persona_studio/engine/brief.py).
2. **Expansion**: a free brainstorm. On a backend that can continue a turn it starts from the
   brief's identity sentences, so it is about what the user asked for; what in it is
   off-topic, loops, or makes a character an AI is struck out before refinement reads it.
3. **Critique** (optional): the model reviews the brainstorm against the hints.
4. **Refinement**: the structured persona (persona_studio/engine/refine.py), its structure
   guaranteed either way.
5. **Check**: the model that will use the persona answers probe questions with it as the
   system prompt (persona_studio/engine/persona_check.py). A persona that does not hold its
   name, its domain, or its character is written again, within a bound; the best attempt
   is kept, and its check is kept with it.

Every piece of text reaches ``on_event`` with its stage as it is written. Cancel is a flag
checked between tokens. Each stage has a time limit; transient backend errors are retried.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from persona_studio.engine.brief import Brief, build_brief, hint_texts, kind_of
from persona_studio.engine.headings import (
    check_structure,
    heading_key,
    heading_line,
    render_persona,
)
from persona_studio.engine.names import choose_name
from persona_studio.engine.persona_check import CheckResult, ProbeAnswer, run_check
from persona_studio.engine.polish import Polisher
from persona_studio.engine.refine import (
    RefineContext,
    messages_for,
    refine_by_sections,
    refine_validated,
    rewrite_sections,
    stream_text,
    with_retries,
)
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.engine.sections import (
    CORE_IDENTITY,
    EXAMPLE_PHRASES,
    HEADING_GUIDANCE,
    KNOWLEDGE,
    SectionPlan,
    section_plan,
    tidy_section,
)
from persona_studio.engine.stages import (
    CHECK,
    LENGTH_PROFILES,
    EventCallback,
    LengthProfile,
    PipelineConfig,
    PipelineEvent,
    StageRun,
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
from persona_studio.llm.base import CancelToken, ChatMessage, ContinuingBackend, LLMBackend

__all__ = [
    "CHECK",
    "GenerationResult",
    "PersonaPipeline",
    "PipelineConfig",
    "PipelineEvent",
    "StageStats",
    "tidy_section",
]


@dataclass
class GenerationResult:
    persona_name: str = ""
    prompt_instructions: str = ""
    status: str = "error"
    error_message: str | None = None
    brainstorm: str = ""
    critique: str = ""
    stages: dict[str, StageStats] = field(default_factory=dict)
    template_versions: dict[str, str] = field(default_factory=dict)
    # The templates themselves, so the text that made a persona can be kept with it.
    templates: dict[str, Template] = field(default_factory=dict)
    model: str = ""
    structure_method: str = ""  # "sections", "validated" or "repaired"
    cancelled: bool = False
    check: CheckResult | None = None  # the kept attempt's persona check
    refinements: int = 0  # refinements written (more than one when the check asked)

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def to_dict(self) -> dict[str, Any]:
        """The design's four keys, then the extras."""
        return {
            "persona_name": self.persona_name,
            "prompt_instructions": self.prompt_instructions,
            "status": self.status,
            "error_message": self.error_message,
            "brainstorm": self.brainstorm,
            "critique": self.critique,
            "stages": {name: stats.to_dict() for name, stats in self.stages.items()},
            "template_versions": dict(self.template_versions),
            "model": self.model,
            "structure_method": self.structure_method,
            "check": self.check.to_dict() if self.check else None,
            "refinements": self.refinements,
        }


def _name_rng(config: PipelineConfig, request: PersonaGenerationRequest) -> random.Random:
    """Seeded runs choose the same name for the same request; others a fresh one."""
    if config.seed is None:
        return random.Random()
    return random.Random(f"{config.seed}:{request.to_json()}")


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
    ) -> GenerationResult:
        """Generate a persona. Never raises for user-facing failures: the result says.
        ``avoid_names``: names already taken (the file's personas), for a chosen name."""
        result = GenerationResult(model=request.llm_model_for_generation or self.default_model)
        try:
            self.templates.refresh()
            self._run(request, result, on_event, cancel or CancelToken(), avoid_names)
        except GenerationCancelled as exc:
            result.status, result.error_message, result.cancelled = "error", str(exc), True
        except PersonaStudioError as exc:
            result.status, result.error_message = "error", str(exc)
        return result

    def choose_name(
        self, request: PersonaGenerationRequest, avoid_names: Collection[str] = ()
    ) -> str:
        """The override, else the name hint, exactly as typed; else a fitting fresh name."""
        given = request.target_persona_name_override or request.detail("name_hint")
        if given:
            return given
        return choose_name(
            " ".join(hint_texts(request)),
            kind_of(request),
            taken=avoid_names,
            rng=_name_rng(self.config, request),
        )

    # -- stages -----------------------------------------------------------------------------

    def _run(
        self,
        request: PersonaGenerationRequest,
        result: GenerationResult,
        on_event: EventCallback | None,
        cancel: CancelToken,
        avoid_names: Collection[str],
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
        brief = build_brief(request, self.choose_name(request, avoid_names))
        result.persona_name = brief.name
        values = self._input_values(request, profile, brief)

        result.brainstorm = self._expand(
            backend,
            request,
            brief,
            result.templates[EXPANSION].render(values),
            profile,
            result,
            on_event,
            cancel,
        )
        if request.critique:
            review = dict(values)
            review.update(
                self._refinement_values(request, brief, result.brainstorm, profile, backend)
            )
            result.critique = self._free_stage(
                CRITIQUE,
                "Critique",
                backend,
                messages_for(result.templates[CRITIQUE].render(review)),
                profile.expansion_tokens // 2,
                result,
                on_event,
                cancel,
            )
        messages = self.refinement_messages(
            request,
            result.brainstorm,
            backend,
            values,
            critique=result.critique,
            template=result.templates[REFINEMENT],
            brief=brief,
        )
        self._refine_and_check(backend, messages, request, brief, profile, result, on_event, cancel)
        result.status, result.error_message = "success", None

    def _refine_and_check(
        self,
        backend: LLMBackend,
        messages: list[ChatMessage],
        request: PersonaGenerationRequest,
        brief: Brief,
        profile: LengthProfile,
        result: GenerationResult,
        on_event: EventCallback | None,
        cancel: CancelToken,
    ) -> None:
        """Refine; check; refine again while the check finds the persona weak (bounded);
        keep the best attempt."""
        headings = request.output_preferences.headings
        stats = result.stages.setdefault(REFINEMENT, StageStats())
        continues = isinstance(backend, ContinuingBackend)
        attempts = self.config.check_attempts if self.config.check else 1
        best: tuple[float, list[tuple[str, str]], CheckResult | None] | None = None
        for attempt in range(max(1, attempts)):
            run = StageRun(REFINEMENT, stats, on_event)
            ctx = RefineContext(
                backend=backend,
                messages=messages,
                request=request,
                brief=brief,
                headings=headings,
                profile=profile,
                config=self.config,
                run=run,
                cancel=cancel,
                deadline=self.config.deadline(),
                user_text=_user_text(request),
            )
            try:
                weak = _weak_sections(best[2], brief, headings) if best else {}
                if continues and weak:
                    assert best is not None
                    stats.attempts += 1
                    sections = rewrite_sections(ctx, best[1], weak, attempt)
                elif continues:
                    stats.attempts += 1  # the validated path counts its own (with_retries)
                    sections = refine_by_sections(ctx, attempt)
                    result.structure_method = "sections"
                else:
                    sections, result.structure_method = refine_validated(ctx, attempt)
            finally:
                run.finish()
            result.refinements += 1
            text = render_persona(brief.name, sections)
            problems = check_structure(text, headings)
            if problems:  # a bug in the pipeline, never the model's doing: say so plainly
                raise GenerationFailed(
                    "Internal error: the finished persona failed its structure check: "
                    + " ".join(p.message for p in problems)
                )
            check = self._check(backend, text, brief, result, on_event, cancel)
            score = check.score if check else 1.0
            if best is None or score > best[0]:
                best = (score, sections, check)
            if check is None or check.passed or attempt + 1 >= attempts:
                break
            weak_next = _weak_sections(best[2], brief, headings)
            run.retry(
                "The persona check found the persona weak ("
                + check.summary()
                + "); writing "
                + (", ".join(h for h in headings if heading_key(h) in weak_next) or "it")
                + " again."
            )
        assert best is not None
        result.prompt_instructions = render_persona(brief.name, best[1])
        result.check = best[2]

    def _check(
        self,
        backend: LLMBackend,
        text: str,
        brief: Brief,
        result: GenerationResult,
        on_event: EventCallback | None,
        cancel: CancelToken,
    ) -> CheckResult | None:
        if not self.config.check:
            return None
        run = StageRun(CHECK, result.stages.setdefault(CHECK, StageStats()), on_event)
        run.stats.attempts += 1

        def shown(answer: ProbeAnswer) -> None:
            run.own_text(f"Q: {answer.question}\nA: {answer.answer}\n\n")

        try:
            return run_check(
                backend,
                text,
                name=brief.name,
                words=brief.hint_words,
                may_be_ai=brief.may_be_ai,
                cancel=cancel,
                deadline=self.config.deadline(),
                on_answer=shown,
            )
        finally:
            run.finish()

    def _expand(
        self,
        backend: LLMBackend,
        request: PersonaGenerationRequest,
        brief: Brief,
        prompt: str,
        profile: LengthProfile,
        result: GenerationResult,
        on_event: EventCallback | None,
        cancel: CancelToken,
    ) -> str:
        """The brainstorm: started from the brief's identity where the backend can continue
        a turn, then stripped of what a writer would strike."""
        messages = messages_for(prompt)
        if not isinstance(backend, ContinuingBackend):
            raw = self._free_stage(
                EXPANSION,
                "Expansion (brainstorm)",
                backend,
                messages,
                profile.expansion_tokens,
                result,
                on_event,
                cancel,
            )
        else:
            run = StageRun(EXPANSION, result.stages.setdefault(EXPANSION, StageStats()), on_event)
            run.stats.attempts += 1
            try:
                opening = " ".join(brief.identity)
                run.own_text(opening)
                tokens = backend.chat_tokens(messages) + run.own_tokens(
                    backend.tokenize_text(opening)
                )
                cont = backend.continuation(
                    tokens,
                    self.config.sampling(profile.expansion_tokens),
                    cancel=cancel,
                    deadline=self.config.deadline(),
                    min_tokens=self.config.min_section_tokens,
                    what="Expansion (brainstorm)",
                )
                for piece in cont:
                    run.model_text(piece)
                raw = (opening + cont.text).strip()
            finally:
                run.finish()
        return _strike_brainstorm(raw, brief, request)

    def _free_stage(
        self,
        stage: str,
        label: str,
        backend: LLMBackend,
        messages: list[ChatMessage],
        max_tokens: int,
        result: GenerationResult,
        on_event: EventCallback | None,
        cancel: CancelToken,
    ) -> str:
        """A free-text stage (expansion, critique): stream the reply, retry transient errors."""
        run = StageRun(stage, result.stages.setdefault(stage, StageStats()), on_event)
        deadline = self.config.deadline()

        def attempt(n: int) -> str:
            params = self.config.sampling(max_tokens, attempt=n)
            return stream_text(backend, messages, params, run, cancel, deadline).strip()

        try:
            return with_retries(self.config, run, label, attempt)
        finally:
            run.finish()

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
        values = dict(values or self._input_values(request, profile, brief))
        values.update(self._refinement_values(request, brief, brainstorm, profile, backend))
        values["critique_notes"] = critique or "(none)"
        template = template or self.templates.get(REFINEMENT, request.generation_type)
        return messages_for(template.render(values))

    # -- template values ---------------------------------------------------------------------

    def _input_values(
        self, request: PersonaGenerationRequest, profile: LengthProfile, brief: Brief
    ) -> dict[str, str]:
        prefs = request.output_preferences
        given = "(not given)"
        values = {
            key: request.detail(key) or given
            for key in (
                "name_hint",
                "description_hint",
                "subforum_name",
                "subforum_description",
                "additional_directives",
            )
        }
        values.update(
            target_persona_name_override=request.target_persona_name_override or given,
            tone_preference=prefs.tone_preference or given,
            length_preference=prefs.length_preference or "balanced",
            persona_label=brief.name,
            tone_line=(
                f"- The persona's tone should be {prefs.tone_preference}.\n"
                if prefs.tone_preference
                else ""
            ),
            word_target=profile.word_target,
        )
        return values

    def _refinement_values(
        self,
        request: PersonaGenerationRequest,
        brief: Brief,
        brainstorm: str,
        profile: LengthProfile,
        backend: LLMBackend,
    ) -> dict[str, str]:
        prefs = request.output_preferences
        headings = prefs.headings
        # Keep the prompt and the persona inside the model's window: trim the brainstorm first.
        room = backend.context_length - 700 - profile.section_tokens * len(headings)
        brainstorm = _fit_tokens(backend, brainstorm, max(room, 200))
        hints = [
            f"- {label}: {request.detail(key)}"
            for key, label in (
                ("name_hint", "Name"),
                ("description_hint", "Description"),
                ("subforum_name", "Subforum"),
                ("subforum_description", "Subforum description"),
                ("additional_directives", "Directives"),
            )
            if request.detail(key)
        ]
        if prefs.tone_preference:
            hints.append(f"- Tone: {prefs.tone_preference}")
        if prefs.length_preference:
            hints.append(f"- Length: {prefs.length_preference}")
        guidance = "\n".join(
            f"  {heading_line(h)} ({HEADING_GUIDANCE.get(heading_key(h), 'what fits this heading')})"
            for h in headings
        )
        return {
            "brainstormed_text": brainstorm or "(no brainstorm available)",
            "original_input_details_summary": "\n".join(hints) or "(none)",
            "persona_name_or_hint": brief.name,
            "desired_headings_list_or_default": ", ".join(headings),
            "heading_guidance": guidance,
            "length_instruction": profile.instruction,
            "tone_instruction": (
                f"Make the persona's tone {prefs.tone_preference}, and describe that tone "
                "under the speaking style heading."
                if prefs.tone_preference
                else "Choose a tone that fits the persona."
            ),
        }


# -- helpers --------------------------------------------------------------------------------


def _weak_sections(
    check: CheckResult | None, brief: Brief, headings: Sequence[str]
) -> dict[str, SectionPlan]:
    """What to write again, by heading key, when the check found a part weak: the name not
    held -> the Core Identity and Example Phrases that open with the persona introducing
    itself; the domain missed -> the Knowledge Domain and the Core Identity; a character
    calling itself an AI -> the Core Identity. Empty when the headings have none of those
    (then all is rewritten)."""
    if check is None:
        return {}
    present = {heading_key(h): h for h in headings}
    wanted: dict[str, SectionPlan] = {}
    if check.name_hold is not None and check.name_hold < 1:
        wanted[heading_key(CORE_IDENTITY)] = section_plan(CORE_IDENTITY, brief, "")
        wanted[heading_key(EXAMPLE_PHRASES)] = section_plan(EXAMPLE_PHRASES, brief, "")
    if check.domain_hit is not None and check.domain_hit < 1:
        # The answer to "What do you know a lot about?" follows the Core Identity at least
        # as much as the Knowledge Domain further down.
        wanted[heading_key(KNOWLEDGE)] = section_plan(KNOWLEDGE, brief, "")
        wanted[heading_key(CORE_IDENTITY)] = section_plan(CORE_IDENTITY, brief, "")
    if check.breaks:
        wanted[heading_key(CORE_IDENTITY)] = section_plan(CORE_IDENTITY, brief, "")
    return {key: plan for key, plan in wanted.items() if key in present}


def _user_text(request: PersonaGenerationRequest) -> str:
    return " ".join(
        [
            *map(str, request.input_details.values()),
            request.target_persona_name_override,
            request.output_preferences.tone_preference,
        ]
    )


def _strike_brainstorm(raw: str, brief: Brief, request: PersonaGenerationRequest) -> str:
    """The brainstorm is a source, not a master: paragraph by paragraph, what loops, repeats,
    breaks off, or makes a character an AI does not reach refinement."""
    polisher = Polisher(
        name=brief.name,
        may_be_ai=brief.may_be_ai,
        topic_words=brief.hint_words,
        user_text=_user_text(request),
    )
    paragraphs = [p for p in (tidy_section(p, prose=True) for p in raw.split("\n\n")) if p]
    kept = [polisher.polish(p, kind="prose") for p in paragraphs]
    return "\n\n".join(p for p in kept if p) or raw.strip()


def _fit_tokens(backend: LLMBackend, text: str, max_tokens: int) -> str:
    if not text or backend.count_tokens(text) <= max_tokens:
        return text
    # Cut by characters in proportion, then at a paragraph or sentence end.
    ratio = max_tokens / backend.count_tokens(text)
    cut = text[: int(len(text) * ratio * 0.95)]
    end = max(cut.rfind("\n\n"), cut.rfind(". "))
    return cut[: end + 1] if end > len(cut) // 2 else cut
