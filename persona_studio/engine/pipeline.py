"""The persona pipeline: expansion (brainstorm), an optional critique, then refinement.

Both stages stream: every piece of text reaches ``on_event`` with its stage as it is written.
Cancel is a flag checked between tokens. Each stage has a time limit; transient backend
errors and refinement output that fails validation are retried up to ``max_retries`` times.

Structure is guaranteed, not hoped for:

- On a backend that can continue a turn (the embedded llama.cpp one), the pipeline writes the
  ``## Persona Name:`` line and every heading itself and lets the model fill one section at a
  time (KV prefix reused, so little is re-evaluated). The only constraint on sampling is that
  a section's first few tokens may not end it; past that the model runs free. This keeps the
  structured stage close to unconstrained speed (bench/stream_overhead.py measures it).
- On other backends (HTTP), the model writes the whole document; the pipeline validates it,
  retries, and as a last resort repairs it by asking the model for each missing section.

Either way the result is re-rendered canonically: ``## Persona Name: <name>`` first, then
each requested heading once, in order, each with content.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from persona_studio.engine.headings import (
    PERSONA_NAME,
    check_structure,
    heading_key,
    heading_line,
    parse_persona,
    render_persona,
)
from persona_studio.engine.request import (
    FROM_NAME_AND_DESCRIPTION,
    SUBFORUM_EXPERT,
    PersonaGenerationRequest,
    clean_name,
)
from persona_studio.engine.templates import (
    CRITIQUE,
    EXPANSION,
    REFINEMENT,
    Template,
    TemplateLibrary,
)
from persona_studio.errors import (
    BackendError,
    GenerationCancelled,
    GenerationFailed,
    PersonaStudioError,
)
from persona_studio.llm.base import CancelToken, ChatMessage, LLMBackend, SamplingParams

SYSTEM_PROMPT = "You are a helpful, creative writing assistant. Follow the instructions exactly."

# What each default heading must hold (from the design's refinement prompt). Custom headings
# get a generic line.
HEADING_GUIDANCE = {
    # Plain words, no numbers: a small model copies "1-2 sentences" into the persona itself.
    heading_key(PERSONA_NAME): "the persona's name",
    heading_key("Core Identity"): "who the persona is and what it is for",
    heading_key("Key Personality Traits"): "its main traits, as a short list",
    heading_key("Knowledge Domain & Expertise"): "what it knows best",
    heading_key("Speaking Style & Tone"): "how it talks: its words, sentences and tone",
    heading_key("Interaction Guidelines & Behaviors"): "what it should always do",
    heading_key("Forbidden Actions & Topics"): "what it must never do or discuss",
    heading_key("Example Phrases"): "a few typical things it says, in quotes",
}


@dataclass(frozen=True)
class SectionPlan:
    """How one section is written on a backend that can continue a turn.

    ``starter``: the first words, written by the pipeline. A small model follows a started
    sentence far better than an instruction hundreds of tokens back: "You are Nemo," keeps
    it in the second person, "- Never" makes the forbidden list a list of prohibitions, and
    the requested tone is stated, not hoped for. No starter ends in a space: BPE tokenizers
    attach the space to the next word, so a trailing space makes the model write a second one.
    ``kind``: "prose" sections are one paragraph
    (more with "detailed"), "list" sections end at the first line that is not a list item.
    """

    starter: str
    kind: str  # "prose", "list" or "free" (custom headings)


_LIST_END = re.compile(r"\n(?=[^-*•\d\s])")  # a line that does not continue the list


def section_plan(heading: str, name: str, tone: str) -> SectionPlan:
    key = heading_key(heading)
    if key == heading_key("Core Identity"):
        return SectionPlan(f"You are {name},", "prose")
    if key == heading_key("Key Personality Traits"):
        return SectionPlan("- You are", "list")
    if key == heading_key("Knowledge Domain & Expertise"):
        return SectionPlan("You know a great deal about", "prose")
    if key == heading_key("Speaking Style & Tone"):
        return SectionPlan(f"Speak in a {tone} tone," if tone else "Speak in a", "prose")
    if key == heading_key("Interaction Guidelines & Behaviors"):
        return SectionPlan("-", "list")
    if key == heading_key("Forbidden Actions & Topics"):
        return SectionPlan("- Never", "list")
    if key == heading_key("Example Phrases"):
        return SectionPlan('- "', "list")
    return SectionPlan("", "free")


def section_stops(
    plan: SectionPlan, detailed: bool
) -> tuple[tuple[str, ...], tuple[re.Pattern[str], ...]]:
    """Stop strings and patterns for a section: always the next heading, then by kind."""
    if plan.kind == "prose":
        return (("\n#", "\n\n") if detailed else ("\n",)), ()
    if plan.kind == "list":
        return ("\n#", "\n\n"), (_LIST_END,)
    return ("\n#", "\n\n\n" if detailed else "\n\n"), ()


@dataclass(frozen=True)
class LengthProfile:
    word_target: str
    expansion_tokens: int
    section_tokens: int
    instruction: str


LENGTH_PROFILES = {
    "concise": LengthProfile(
        "150-250",
        220,
        40,
        "Be brief yet comprehensive: a few short sentences or list items per heading.",
    ),
    "": LengthProfile("200-300", 300, 56, "Keep each section short, concrete and easy to follow."),
    "detailed": LengthProfile(
        "400-500",
        560,
        110,
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


@dataclass(frozen=True)
class PipelineEvent:
    """What listeners receive. ``kind``: "stage" (a stage starts), "token" (text written),
    "retry" (an attempt failed and is being retried; ``message`` says why)."""

    kind: str
    stage: str
    text: str = ""
    tokens: int = 0
    tokens_per_s: float = 0.0
    elapsed_s: float = 0.0
    message: str = ""


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
        }


class _StageRun:
    """Counts one stage's tokens and time and forwards its text to the listener."""

    def __init__(self, stage: str, stats: StageStats, emit: EventCallback | None) -> None:
        self.stage = stage
        self.stats = stats
        self._emit = emit
        self._started = time.perf_counter()
        if emit:
            emit(PipelineEvent("stage", stage))

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
                PipelineEvent(
                    "token",
                    self.stage,
                    piece,
                    self.stats.tokens,
                    self.stats.tokens / elapsed if elapsed > 0 else 0.0,
                    elapsed,
                )
            )

    def own_tokens(self, tokens: list[int]) -> list[int]:
        """Count tokens the pipeline put into the document itself; returns them."""
        self.stats.own_tokens += len(tokens)
        return tokens

    def retry(self, message: str) -> None:
        if self._emit:
            self._emit(PipelineEvent("retry", self.stage, message=message))

    def finish(self) -> None:
        self.stats.seconds += time.perf_counter() - self._started


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
    ) -> GenerationResult:
        """Generate a persona. Never raises for user-facing failures: the result says."""
        result = GenerationResult(model=request.llm_model_for_generation or self.default_model)
        try:
            self.templates.refresh()
            self._run(request, result, on_event, cancel or CancelToken())
        except GenerationCancelled as exc:
            result.status, result.error_message, result.cancelled = "error", str(exc), True
        except PersonaStudioError as exc:
            result.status, result.error_message = "error", str(exc)
        return result

    # -- stages -----------------------------------------------------------------------------

    def _run(
        self,
        request: PersonaGenerationRequest,
        result: GenerationResult,
        on_event: EventCallback | None,
        cancel: CancelToken,
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
        expansion_t = result.templates[EXPANSION]
        backend = self._backend_for(result.model)
        result.model = getattr(backend, "model_id", result.model)
        profile = LENGTH_PROFILES[request.output_preferences.length_preference]
        values = self._input_values(request, profile)

        result.brainstorm = self._stream_stage(
            EXPANSION,
            "Expansion (brainstorm)",
            backend,
            _messages(expansion_t.render(values)),
            profile.expansion_tokens,
            result,
            on_event,
            cancel,
        )
        if request.critique:
            review = dict(values)
            review.update(self._refinement_values(request, result.brainstorm, profile, backend))
            result.critique = self._stream_stage(
                CRITIQUE,
                "Critique",
                backend,
                _messages(result.templates[CRITIQUE].render(review)),
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
        )
        stats = result.stages.setdefault(REFINEMENT, StageStats())
        headings = request.output_preferences.headings
        if hasattr(backend, "continuation"):
            name, sections = self._refine_by_sections(
                backend, messages, request, headings, profile, stats, on_event, cancel
            )
            result.structure_method = "sections"
        else:
            name, sections, result.structure_method = self._refine_validated(
                backend, messages, request, headings, profile, stats, on_event, cancel
            )
        result.persona_name = name
        result.prompt_instructions = render_persona(name, sections)
        problems = check_structure(result.prompt_instructions, headings)
        if problems:  # a bug in the pipeline, never the model's doing: say so plainly
            raise GenerationFailed(
                "Internal error: the finished persona failed its structure check: "
                + " ".join(p.message for p in problems)
            )
        result.status, result.error_message = "success", None

    def refinement_messages(
        self,
        request: PersonaGenerationRequest,
        brainstorm: str,
        backend: LLMBackend,
        values: dict[str, str] | None = None,
        *,
        critique: str = "",
        template: Template | None = None,
    ) -> list[ChatMessage]:
        """The refinement stage's chat for ``brainstorm`` (also used by the benchmarks)."""
        profile = LENGTH_PROFILES[request.output_preferences.length_preference]
        values = dict(values or self._input_values(request, profile))
        values.update(self._refinement_values(request, brainstorm, profile, backend))
        values["critique_notes"] = critique or "(none)"
        template = template or self.templates.get(REFINEMENT, request.generation_type)
        return _messages(template.render(values))

    def _sampling(
        self,
        max_tokens: int,
        *,
        stop: tuple[str, ...] = (),
        attempt: int = 0,
        temperature: float | None = None,
    ) -> SamplingParams:
        seed = None if self.config.seed is None else self.config.seed + attempt
        return SamplingParams(
            max_tokens=max_tokens,
            temperature=self.config.temperature if temperature is None else temperature,
            top_p=self.config.top_p,
            repeat_penalty=self.config.repeat_penalty,
            seed=seed,
            stop=stop,
        )

    def _deadline(self) -> float:
        return time.monotonic() + self.config.stage_timeout_s

    def _with_retries(self, run: _StageRun, label: str, attempt_fn: Callable[[int], Any]) -> Any:
        """Call ``attempt_fn(attempt)``; retry transient backend errors with backoff."""
        last: BackendError | None = None
        for attempt in range(self.config.max_retries + 1):
            run.stats.attempts += 1
            try:
                return attempt_fn(attempt)
            except BackendError as exc:
                if not exc.transient:
                    raise BackendError(f"{label} failed: {exc}") from None
                last = exc
                if attempt < self.config.max_retries:
                    run.retry(f"{label}: {exc} Retrying.")
                    time.sleep(self.config.retry_backoff_s * (attempt + 1))
        raise GenerationFailed(
            f"{label} failed after {self.config.max_retries + 1} attempts: {last}"
        )

    def _stream_stage(
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
        run = _StageRun(stage, result.stages.setdefault(stage, StageStats()), on_event)
        deadline = self._deadline()

        def attempt(n: int) -> str:
            params = self._sampling(max_tokens, attempt=n)
            return self._stream_text(backend, messages, params, run, cancel, deadline).strip()

        try:
            return self._with_retries(run, label, attempt)
        finally:
            run.finish()

    def _refine_by_sections(
        self,
        backend: Any,
        messages: list[ChatMessage],
        request: PersonaGenerationRequest,
        headings: Sequence[str],
        profile: LengthProfile,
        stats: StageStats,
        on_event: EventCallback | None,
        cancel: CancelToken,
    ) -> tuple[str, list[tuple[str, str]]]:
        run = _StageRun(REFINEMENT, stats, on_event)
        deadline = self._deadline()
        stats.attempts = 1
        try:
            tokens = backend.chat_tokens(messages)
            name = request.target_persona_name_override or request.detail("name_hint")
            if name:
                opening = heading_line(PERSONA_NAME, name) + "\n\n"
                run.own_text(opening)
                tokens += run.own_tokens(backend.tokenize_text(opening))
            else:
                opening = heading_line(PERSONA_NAME)
                run.own_text(opening)
                tokens += run.own_tokens(backend.tokenize_text(opening))
                cont = backend.continuation(
                    tokens,
                    self._sampling(16, stop=("\n",)),
                    cancel=cancel,
                    deadline=deadline,
                    min_tokens=2,
                    what="Refinement (structure)",
                )
                for piece in cont:
                    run.model_text(piece)
                name = _clean_generated_name(cont.text) or _fallback_name(request)
                run.own_text("\n\n")
                tokens += run.own_tokens(backend.tokenize_text(f" {name}\n\n"))
            tone = request.output_preferences.tone_preference
            detailed = request.output_preferences.length_preference == "detailed"
            sections: list[tuple[str, str]] = []
            for heading in headings:
                if heading_key(heading) == heading_key(PERSONA_NAME):
                    continue
                plan = section_plan(heading, name, tone)
                opening = ("\n\n" if sections else "") + heading_line(heading) + "\n" + plan.starter
                run.own_text(opening)
                tokens += run.own_tokens(backend.tokenize_text(opening))
                text, finish, used = self._fill_section(
                    backend, tokens, heading, plan, detailed, profile, run, cancel, deadline
                )
                content = tidy_section(
                    plan.starter + text,
                    truncated=finish == "length",
                    prose=plan.kind == "prose",
                )
                sections.append((heading, content))
                tokens += used
            return name, sections
        finally:
            run.finish()

    def _fill_section(
        self,
        backend: Any,
        tokens: list[int],
        heading: str,
        plan: SectionPlan,
        detailed: bool,
        profile: LengthProfile,
        run: _StageRun,
        cancel: CancelToken,
        deadline: float,
    ) -> tuple[str, str, list[int]]:
        """One section's model text (after the starter), why it ended, and the tokens that
        now condition the next section."""
        stops, patterns = section_stops(plan, detailed)
        budget = profile.section_tokens * (3 if plan.kind == "list" else 2) // 2
        for attempt in range(self.config.max_retries + 1):
            cont = backend.continuation(
                tokens,
                self._sampling(
                    budget,
                    stop=stops,
                    attempt=attempt,
                    temperature=self.config.refinement_temperature,
                ),
                cancel=cancel,
                deadline=deadline,
                min_tokens=self.config.min_section_tokens,
                stop_patterns=patterns,
                what="Refinement (structure)",
            )
            for piece in cont:
                run.model_text(piece)
            if _has_words(tidy_section(cont.text), minimum=1):
                used = cont.tokens + backend.tokenize_text(cont.leftover)
                return cont.text, cont.finish_reason, used
            if attempt < self.config.max_retries:
                run.stats.attempts += 1
                run.retry(f"The '{heading}' section came out empty; writing it again.")
        raise GenerationFailed(
            f"Refinement failed: the model wrote nothing usable under '{heading}' after "
            f"{self.config.max_retries + 1} attempts. Try again, or pick a larger model."
        )

    def _refine_validated(
        self,
        backend: LLMBackend,
        messages: list[ChatMessage],
        request: PersonaGenerationRequest,
        headings: Sequence[str],
        profile: LengthProfile,
        stats: StageStats,
        on_event: EventCallback | None,
        cancel: CancelToken,
    ) -> tuple[str, list[tuple[str, str]], str]:
        run = _StageRun(REFINEMENT, stats, on_event)
        deadline = self._deadline()
        budget = profile.section_tokens * len(headings) + 32
        best: dict[str, str] = {}
        best_name = ""
        try:
            for attempt in range(self.config.max_retries + 1):
                text = self._with_retries(
                    run,
                    "Refinement (structure)",
                    lambda n, a=attempt: self._stream_text(
                        backend,
                        messages,
                        self._sampling(budget, attempt=a + n),
                        run,
                        cancel,
                        deadline,
                    ),
                )
                parsed = parse_persona(text)
                found = {
                    heading_key(s.heading): tidy_section(s.content)
                    for s in reversed(parsed.sections)  # first occurrence wins
                }
                found = {k: v for k, v in found.items() if _has_words(v)}
                missing = [
                    h
                    for h in headings
                    if heading_key(h) != heading_key(PERSONA_NAME) and heading_key(h) not in found
                ]
                if len(found) > len(best):
                    best, best_name = found, parsed.name
                if not missing and not check_structure(text, tuple(headings)):
                    name = _final_name(request, parsed.name)
                    return name, _ordered(headings, found), "validated"
                if attempt < self.config.max_retries:
                    run.retry(
                        "The model's persona lacked or misordered headings ("
                        + ", ".join(missing or ["order"])
                        + "); asking again."
                    )
            # Last resort: keep the best attempt and ask for each missing section alone.
            name = _final_name(request, best_name)
            for heading in headings:
                key = heading_key(heading)
                if key == heading_key(PERSONA_NAME) or key in best:
                    continue
                run.own_text(f"\n\n{heading_line(heading)}\n")
                best[key] = self._repair_section(
                    backend, headings, heading, name, best, profile, run, cancel, deadline
                )
            return name, _ordered(headings, best), "repaired"
        finally:
            run.finish()

    def _repair_section(
        self,
        backend: LLMBackend,
        headings: Sequence[str],
        heading: str,
        name: str,
        found: dict[str, str],
        profile: LengthProfile,
        run: _StageRun,
        cancel: CancelToken,
        deadline: float,
    ) -> str:
        """Ask for one missing section with a short, focused prompt: the draft so far and
        what the section must hold. Small models answer that where the full task failed."""
        draft = render_persona(name, [(h, c) for h, c in _ordered(headings, found) if c])
        guidance = HEADING_GUIDANCE.get(heading_key(heading), "what fits this heading")
        prompt = (
            f"Here is a draft persona for {name}:\n\n{draft}\n"
            f"Write the missing section '{heading_line(heading)}': {guidance}. Address "
            f"{name} as 'you', in a few short sentences or list items. Reply with the section "
            "text only."
        )
        for attempt in range(self.config.max_retries + 1):
            text = self._with_retries(
                run,
                f"Repairing '{heading}'",
                lambda n, a=attempt: self._stream_text(
                    backend,
                    _messages(prompt),
                    self._sampling(profile.section_tokens * 2, attempt=a + n),
                    run,
                    cancel,
                    deadline,
                ),
            )
            content = _extract_section(text, heading)
            if _has_words(content):
                return content
            if attempt < self.config.max_retries:
                run.retry(f"The repaired '{heading}' section came out empty; asking again.")
        raise GenerationFailed(
            f"Refinement failed after {self.config.max_retries + 1} attempts: the model never "
            f"wrote the '{heading}' section, and repairing it failed. Try again, or pick a "
            "larger model."
        )

    def _stream_text(self, backend, messages, params, run, cancel, deadline) -> str:
        pieces: list[str] = []
        for piece in backend.stream_chat(messages, params, cancel=cancel, deadline=deadline):
            pieces.append(piece)
            run.model_text(piece)
        return "".join(pieces)

    # -- template values ---------------------------------------------------------------------

    def _input_values(
        self, request: PersonaGenerationRequest, profile: LengthProfile
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
            persona_label=(
                request.target_persona_name_override
                or request.detail("name_hint")
                or _generic_label(request)
            ),
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
            "persona_name_or_hint": (
                request.target_persona_name_override
                or request.detail("name_hint")
                or "(choose a fitting name)"
            ),
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


def _messages(user_text: str) -> list[ChatMessage]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_text},
    ]


def _has_words(text: str, minimum: int = 2) -> bool:
    return len(re.findall(r"[^\W\d_]{2,}", text)) >= minimum


_SENTENCE_END = re.compile(r"[.!?…\"”)\]]\s|[.!?…\"”)\]]$|\n")


def tidy_section(text: str, *, truncated: bool = False, prose: bool = False) -> str:
    """Clean one section's model text: no stray heading marks, no runs of blank lines, and
    no half sentence at the end, where the token budget cut it (``truncated``) or, in prose,
    where a small model broke the line mid-sentence. List items need no full stop, so a
    list loses its last item only when the budget cut it."""
    lines = [re.sub(r"(?<=\S) {2,}", " ", line.rstrip()) for line in text.strip().splitlines()]
    lines = [line for line in lines if not line.lstrip().startswith("#")]
    # One list marker: small models switch between "-", "•" and "*" within one list.
    lines = [re.sub(r"^(\s*)[•*]\s+", r"\1- ", line) for line in lines]
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip().lstrip(":").strip()
    if cleaned and (truncated or prose):
        ends = [m.end() for m in _SENTENCE_END.finditer(cleaned)]
        if ends and ends[-1] >= len(cleaned) * 0.2:
            cleaned = cleaned[: ends[-1]].rstrip()
    return cleaned


def _clean_generated_name(text: str) -> str:
    name = clean_name(text.splitlines()[0] if text.strip() else "")
    name = re.split(r"[,.;:!?(\[]| - | – ", name)[0].strip()
    words = name.split()
    if not words or not re.search(r"[^\W\d_]", name):
        return ""
    return " ".join(words[:5])[:60].strip()


def _generic_label(request: PersonaGenerationRequest) -> str:
    if request.generation_type == SUBFORUM_EXPERT:
        return f"an expert for the '{request.detail('subforum_name')}' subforum"
    if request.generation_type == FROM_NAME_AND_DESCRIPTION:
        return "this persona"
    return "this assistant"


def _fallback_name(request: PersonaGenerationRequest) -> str:
    if request.generation_type == SUBFORUM_EXPERT:
        return f"{request.detail('subforum_name')} Expert"
    if request.generation_type == FROM_NAME_AND_DESCRIPTION:
        return "New Persona"
    return "General Assistant"


def _final_name(request: PersonaGenerationRequest, parsed: str) -> str:
    """The override, else the name the model wrote, else the cleaned hint, else a label."""
    return (
        request.target_persona_name_override
        or _clean_generated_name(parsed)
        or clean_name(request.detail("name_hint"))
        or _fallback_name(request)
    )


def _ordered(headings: Sequence[str], found: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (h, found.get(heading_key(h), ""))
        for h in headings
        if heading_key(h) != heading_key(PERSONA_NAME)
    ]


def _extract_section(text: str, heading: str) -> str:
    """The content a reply gives for ``heading``: under that heading if the model wrote it,
    else its text before any heading, else its first section with words."""
    parsed = parse_persona(text)
    wanted = parsed.section(heading)
    candidates = [wanted.content if wanted else "", parsed.preamble]
    candidates += [
        s.content for s in parsed.sections if heading_key(s.heading) != heading_key(PERSONA_NAME)
    ]
    for candidate in candidates:
        cleaned = tidy_section(candidate)
        if _has_words(cleaned):
            return cleaned
    return ""


def _fit_tokens(backend: LLMBackend, text: str, max_tokens: int) -> str:
    if not text or backend.count_tokens(text) <= max_tokens:
        return text
    # Cut by characters in proportion, then at a paragraph or sentence end.
    ratio = max_tokens / backend.count_tokens(text)
    cut = text[: int(len(text) * ratio * 0.95)]
    end = max(cut.rfind("\n\n"), cut.rfind(". "))
    return cut[: end + 1] if end > len(cut) // 2 else cut
