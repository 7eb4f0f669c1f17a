"""Refinement: the structured persona, written two ways depending on the backend.

- **By sections** (a backend that can continue a turn: the embedded llama.cpp one). The
  pipeline writes ``## Persona Name:`` and every heading, and the opening words of each
  section from the brief (the user's own words); the model writes the rest of each section,
  one at a time, reusing its KV cache for the shared prefix. A section that comes out empty
  once polished, or that must name the user's topic and does not, is written again (bounded;
  the best candidate wins). The model may not repeat a phrase of the document
  (``no_repeat_from``), and what it wrote that a writer would strike is struck
  (persona_studio/engine/polish.py) before the next section is written, so later sections
  never build on it.
- **Validated** (HTTP backends, which cannot continue a turn). The model writes the whole
  document; the pipeline validates it, retries, and as a last resort asks for each missing
  section alone. The same brief and polish are then applied to what it wrote: the name is
  the chosen one, the user's identity, topic and directives are put in where the model left
  them out.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from persona_studio.engine import polish
from persona_studio.engine.brief import Brief, words_in
from persona_studio.engine.headings import (
    PERSONA_NAME,
    check_structure,
    heading_key,
    heading_line,
    parse_persona,
    render_persona,
)
from persona_studio.engine.polish import Polisher, normalize
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.engine.sections import (
    EXAMPLE_PHRASES,
    FORBIDDEN,
    GUIDELINES,
    HEADING_GUIDANCE,
    SectionPlan,
    extract_section,
    has_words,
    ordered,
    section_plan,
    section_stops,
    tidy_section,
)
from persona_studio.engine.stages import LengthProfile, PipelineConfig, StageRun
from persona_studio.errors import BackendError, GenerationFailed
from persona_studio.llm.base import CancelToken, ChatMessage, LLMBackend, WordPreference

# Plain words on purpose: a 135M model copies its system prompt into what it writes, and
# "a helpful, creative writing assistant" turned a sourdough baker into "a creative AI".
SYSTEM_PROMPT = "You write clear, specific character profiles. Follow the instructions exactly."


def messages_for(user_text: str) -> list[ChatMessage]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_text},
    ]


@dataclass
class RefineContext:
    """One refinement's inputs, passed whole instead of ten positional parameters."""

    backend: Any  # LLMBackend; with ``continuation`` for the sections strategy
    messages: list[ChatMessage]
    request: PersonaGenerationRequest
    brief: Brief
    headings: Sequence[str]
    profile: LengthProfile
    config: PipelineConfig
    run: StageRun
    cancel: CancelToken
    deadline: float
    user_text: str  # everything the user typed: their own {{...}} stays

    @property
    def tone(self) -> str:
        return self.request.output_preferences.tone_preference

    @property
    def detailed(self) -> bool:
        return self.request.output_preferences.length_preference == "detailed"

    def polisher(self) -> Polisher:
        return Polisher(
            name=self.brief.name,
            may_be_ai=self.brief.may_be_ai,
            topic_words=self.brief.hint_words,
            user_text=self.user_text,
        )


def with_retries(
    config: PipelineConfig, run: StageRun, label: str, attempt_fn: Callable[[int], Any]
) -> Any:
    """Call ``attempt_fn(attempt)``; retry transient backend errors with backoff."""
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


def stream_text(backend: LLMBackend, messages, params, run: StageRun, cancel, deadline) -> str:
    pieces: list[str] = []
    for piece in backend.stream_chat(messages, params, cancel=cancel, deadline=deadline):
        pieces.append(piece)
        run.model_text(piece)
    return "".join(pieces)


# -- the finished section -------------------------------------------------------------------


def _join(plan: SectionPlan, lead: Sequence[str], rest: str) -> str:
    joiner = "\n" if plan.kind == "list" else " "
    return joiner.join([*lead, rest] if rest else lead).strip()


def _with_topic(plan: SectionPlan, text: str) -> str:
    """A section whose opening names the topic (the pipeline wrote it from the hints) keeps
    it, even where the model's end of that sentence was struck out."""
    starter = plan.starter
    if len(starter.split()) < 5 or normalize(text).startswith(normalize(starter)[:30]):
        return text
    return f"{starter.rstrip(',;: ')}. {text}".strip()


def _score(plan: SectionPlan, brief: Brief, polished: str) -> tuple[int, int, int]:
    grounded = words_in(polished, brief.hint_words) if plan.grounded else 0
    return (int(has_words(polished, 1)), grounded, len(polished))


def _acceptable(plan: SectionPlan, score: tuple[int, int, int]) -> bool:
    return bool(score[0]) and (not plan.grounded or score[1] > 0)


def _role(heading: str) -> str:
    """Which of the polisher's section rules apply under ``heading``."""
    key = heading_key(heading)
    if key == heading_key(FORBIDDEN):
        return polish.FORBIDDEN
    if key == heading_key(EXAMPLE_PHRASES):
        return polish.PHRASES
    if key == heading_key(GUIDELINES):
        return polish.GUIDELINES
    return ""


# -- by sections ----------------------------------------------------------------------------


def refine_by_sections(ctx: RefineContext, attempt: int) -> list[tuple[str, str]]:
    backend, run, brief = ctx.backend, ctx.run, ctx.brief
    prompt = backend.chat_tokens(ctx.messages)
    polisher = ctx.polisher()
    document = heading_line(PERSONA_NAME, brief.name) + "\n\n"
    run.own_text(document)
    run.own_tokens(backend.tokenize_text(document))
    tokens = prompt + backend.tokenize_text(document)
    sections: list[tuple[str, str]] = []
    for heading in ctx.headings:
        if heading_key(heading) == heading_key(PERSONA_NAME):
            continue
        plan = section_plan(heading, brief, ctx.tone)
        head = ("\n\n" if sections else "") + heading_line(heading) + "\n"
        run.own_text(head + plan.opening)
        opening = run.own_tokens(backend.tokenize_text(head + plan.opening))
        for unit in plan.remembered:
            polisher.remember(unit)
        filled = _fill_section(ctx, tokens + opening, len(prompt), heading, plan, polisher, attempt)
        polisher = filled.polisher
        document += head + filled.content
        if filled.model_tokens is not None:  # kept as written: the cache is still valid
            tokens = tokens + opening + filled.model_tokens
        else:
            tokens = prompt + backend.tokenize_text(document)
        sections.append((heading, filled.content))
    return sections


def rewrite_sections(
    ctx: RefineContext,
    sections: list[tuple[str, str]],
    plans: dict[str, SectionPlan],
    attempt: int,
) -> list[tuple[str, str]]:
    """``sections`` with those named in ``plans`` (by heading key) written again with the
    plans given, each after the document as it stands; the others are kept as they are.
    What the persona check found weak is rewritten at the cost of a section, not of a
    whole persona."""
    backend, run, brief = ctx.backend, ctx.run, ctx.brief
    prompt = backend.chat_tokens(ctx.messages)
    polisher = ctx.polisher()
    for heading, content in sections:
        if heading_key(heading) not in plans:
            polisher.remember(content)
    out = list(sections)
    for index, (heading, _) in enumerate(out):
        plan = plans.get(heading_key(heading))
        if plan is None:
            continue
        document = heading_line(PERSONA_NAME, brief.name) + "\n\n"
        document += "\n\n".join(f"{heading_line(h)}\n{c}" for h, c in out[:index])
        head = ("\n\n" if index else "") + heading_line(heading) + "\n"
        run.own_text(f"\n\n{heading_line(heading)}\n{plan.opening}")
        for unit in plan.remembered:
            polisher.remember(unit)
        tokens = prompt + backend.tokenize_text(document + head + plan.opening)
        filled = _fill_section(ctx, tokens, len(prompt), heading, plan, polisher, attempt)
        polisher = filled.polisher
        out[index] = (heading, filled.content)
    return out


@dataclass
class _Filled:
    """A written section: its content, the polisher that has seen it, and - when the content
    is exactly what the pipeline and the model wrote - the tokens the model generated, so
    the next section continues from the cached state instead of evaluating it again
    (a prompt token costs half a generated one on the default model here)."""

    content: str
    polisher: Polisher
    model_tokens: list[int] | None


def _fill_section(
    ctx: RefineContext,
    tokens: list[int],
    document_start: int,
    heading: str,
    plan: SectionPlan,
    polisher: Polisher,
    attempt: int,
) -> _Filled:
    """One section: the lead, then the model's part, polished; written again (bounded)
    while it comes out empty or off the topic."""
    backend, run, config = ctx.backend, ctx.run, ctx.config
    stops, patterns = section_stops(plan, ctx.detailed)
    budget = ctx.profile.section_tokens * (3 if plan.kind == "list" else 2) // 2
    # A section with a lead (the user's words) is whole without the model's part; a section
    # that must name the topic gets more tries than one that only must not be empty.
    tries = 2 if plan.lead else config.max_retries + 1
    if plan.grounded:
        tries = max(tries, config.grounding_attempts)
    best: tuple[tuple[int, int, int], str, Polisher, list[int] | None] | None = None
    raw_best = ""
    for n in range(tries):
        cont = backend.continuation(
            tokens,
            config.sampling(
                budget,
                stop=stops,
                attempt=attempt * 101 + n,
                temperature=config.refinement_temperature,
            ),
            cancel=ctx.cancel,
            deadline=ctx.deadline,
            min_tokens=config.min_section_tokens,
            stop_patterns=patterns,
            what="Refinement (structure)",
            no_repeat_from=document_start,
            prefer=_preference(plan, ctx.brief),
        )
        for piece in cont:
            run.model_text(piece)
        model_part = tidy_section(
            plan.starter + cont.text,
            truncated=cont.finish_reason == "length",
            prose=plan.kind == "prose",
        )
        raw_best = raw_best or (model_part if has_words(model_part) else "")
        trial = copy.deepcopy(polisher)
        polished = trial.polish(model_part, kind=plan.kind, role=_role(heading))
        polished = _with_topic(plan, polished)
        score = _score(plan, ctx.brief, polished)
        exact = None
        if _join(plan, plan.lead, polished) == plan.opening + cont.text:
            exact = cont.tokens + backend.tokenize_text(cont.leftover)
        if best is None or score > best[0]:
            best = (score, polished, trial, exact)
        if _acceptable(plan, score):
            break
        if n < tries - 1:
            run.stats.attempts += 1
            why = "came out empty" if not score[0] else "did not name the topic"
            run.retry(f"The '{heading}' section {why}; writing it again.")
    assert best is not None
    _, polished, trial, exact = best
    if polished or plan.lead:
        return _Filled(_join(plan, plan.lead, polished), trial, exact)
    if raw_best:  # everything was struck out: the model's text beats no section at all
        return _Filled(raw_best, trial, None)
    raise GenerationFailed(
        f"Refinement failed: the model wrote nothing usable under '{heading}' after "
        f"{tries} attempts. Try again, or pick a larger model."
    )


def _preference(plan: SectionPlan, brief: Brief) -> WordPreference | None:
    """A grounded section is nudged toward the topic's nouns; a plan's own words must come
    first or not at all (a tone after "Speak in a")."""
    if plan.grounded:
        return WordPreference(brief.topic_nouns)
    if plan.prefer:
        return WordPreference(plan.prefer, within=1)
    return None


# -- validated (HTTP) -----------------------------------------------------------------------


def refine_validated(ctx: RefineContext, attempt: int) -> tuple[list[tuple[str, str]], str]:
    """The whole document from the model, validated; returns the sections and "validated"
    or "repaired"."""
    config, run, headings = ctx.config, ctx.run, ctx.headings
    budget = ctx.profile.section_tokens * len(headings) + 32
    best: dict[str, str] = {}
    for n in range(config.max_retries + 1):
        text = with_retries(
            config,
            run,
            "Refinement (structure)",
            lambda k, a=n: stream_text(
                ctx.backend,
                ctx.messages,
                config.sampling(budget, attempt=attempt * 101 + a + k),
                run,
                ctx.cancel,
                ctx.deadline,
            ),
        )
        parsed = parse_persona(text)
        found = {
            heading_key(s.heading): tidy_section(s.content)
            for s in reversed(parsed.sections)  # first occurrence wins
        }
        found = {k: v for k, v in found.items() if has_words(v)}
        missing = [
            h
            for h in headings
            if heading_key(h) != heading_key(PERSONA_NAME) and heading_key(h) not in found
        ]
        if len(found) > len(best):
            best = found
        if not missing and not check_structure(text, tuple(headings)):
            return _ground(ctx, found), "validated"
        if n < config.max_retries:
            run.retry(
                "The model's persona lacked or misordered headings ("
                + ", ".join(missing or ["order"])
                + "); asking again."
            )
    # Last resort: keep the best attempt and ask for each missing section alone.
    for heading in headings:
        key = heading_key(heading)
        if key == heading_key(PERSONA_NAME) or key in best:
            continue
        run.own_text(f"\n\n{heading_line(heading)}\n")
        best[key] = _repair_section(ctx, heading, best)
    return _ground(ctx, best), "repaired"


def _ground(ctx: RefineContext, found: dict[str, str]) -> list[tuple[str, str]]:
    """The model's sections with the brief applied: polished, the user's identity, topic
    and directives put in where the model left them out."""
    brief = ctx.brief
    polisher = ctx.polisher()
    out: dict[str, str] = {}
    for heading in ctx.headings:
        key = heading_key(heading)
        if key == heading_key(PERSONA_NAME):
            continue
        plan = section_plan(heading, brief, ctx.tone)
        lead = list(plan.lead)  # the identity sentences, the directives: always there
        for unit in plan.remembered:
            polisher.remember(unit)
        polished = polisher.polish(found.get(key, ""), kind=plan.kind, role=_role(heading))
        if plan.grounded and not words_in(polished, brief.hint_words):
            polished = _with_topic(plan, polished)
        content = _join(plan, lead, polished)
        if not has_words(content):
            content = found.get(key, "") if has_words(found.get(key, "")) else content
        out[key] = content
    return ordered(ctx.headings, out)


def _repair_section(ctx: RefineContext, heading: str, found: dict[str, str]) -> str:
    """Ask for one missing section with a short, focused prompt: the draft so far and what
    the section must hold. Small models answer that where the full task failed."""
    config, run, name = ctx.config, ctx.run, ctx.brief.name
    draft = render_persona(name, [(h, c) for h, c in ordered(ctx.headings, found) if c])
    guidance = HEADING_GUIDANCE.get(heading_key(heading), "what fits this heading")
    prompt = (
        f"Here is a draft persona for {name}:\n\n{draft}\n"
        f"Write the missing section '{heading_line(heading)}': {guidance}. Address "
        f"{name} as 'you', in a few short sentences or list items. Reply with the section "
        "text only."
    )
    for attempt in range(config.max_retries + 1):
        text = with_retries(
            config,
            run,
            f"Repairing '{heading}'",
            lambda n, a=attempt: stream_text(
                ctx.backend,
                messages_for(prompt),
                config.sampling(ctx.profile.section_tokens * 2, attempt=a + n),
                run,
                ctx.cancel,
                ctx.deadline,
            ),
        )
        content = extract_section(text, heading)
        if has_words(content):
            return content
        if attempt < config.max_retries:
            run.retry(f"The repaired '{heading}' section came out empty; asking again.")
    raise GenerationFailed(
        f"Refinement failed after {config.max_retries + 1} attempts: the model never "
        f"wrote the '{heading}' section, and repairing it failed. Try again, or pick a "
        "larger model."
    )
