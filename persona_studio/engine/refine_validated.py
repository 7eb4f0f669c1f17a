"""Refinement validated, on a backend that cannot continue a turn (HTTP servers).

The model writes the whole document; it is validated and asked for again, and as a last
resort each missing section is asked for alone. The brief and the polish are then applied
to what it wrote. How and why: persona_studio/engine/refine.py.
"""

from __future__ import annotations

from persona_studio.core.document import guidance_for
from persona_studio.engine.brief import words_in
from persona_studio.engine.context import RefineContext
from persona_studio.engine.headings import (
    PERSONA_NAME,
    check_structure,
    heading_key,
    heading_line,
    parse_persona,
    render_persona,
)
from persona_studio.engine.refine import join_section, section_role, with_topic
from persona_studio.engine.retries import stream_text, with_retries
from persona_studio.engine.sections import (
    extract_section,
    has_words,
    ordered,
    section_plan,
    struck_out_content,
    tidy_section,
    without_turn,
)
from persona_studio.engine.stage_prompts import messages_for
from persona_studio.errors import GenerationFailed

STRUCTURE_LABEL = "Refinement (structure)"


def refine_validated(ctx: RefineContext) -> tuple[list[tuple[str, str]], str]:
    """The whole document from the model, validated; returns the sections and "validated"
    or "repaired"."""
    run, job = ctx.run, ctx.job
    config, headings = job.config, job.headings
    budget = job.profile.section_tokens * len(headings) + 32
    best: dict[str, str] = {}
    for n in range(config.max_retries + 1):

        def whole(k: int, a: int = n) -> str:
            params = config.sampling(budget, attempt=ctx.attempt * 101 + a + k)
            return stream_text(ctx, ctx.messages, params)

        text = with_retries(ctx, STRUCTURE_LABEL, whole)
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
    job = ctx.job
    brief = job.brief
    polisher = job.polisher()
    out: dict[str, str] = {}
    for heading in job.headings:
        key = heading_key(heading)
        if key == heading_key(PERSONA_NAME):
            continue
        plan = section_plan(heading, brief, job.tone)
        lead = list(plan.lead)  # the identity sentences, the directives: always there
        for unit in plan.remembered:
            polisher.remember(unit)
        written = without_turn(heading, found.get(key, ""))
        polished = polisher.polish(written, kind=plan.kind, role=section_role(heading))
        if plan.grounded and not words_in(polished, brief.hint_words):
            polished = with_topic(plan, polished)
        content = join_section(plan, lead, polished)
        if not has_words(content) and has_words(written):
            # Everything the model wrote there was struck out (a section it left out is
            # repaired later, by a prompt of its own).
            content = struck_out_content(heading, brief) or written
        out[key] = content
    return ordered(job.headings, out)


def _repair_section(ctx: RefineContext, heading: str, found: dict[str, str]) -> str:
    """Ask for one missing section with a short, focused prompt: the draft so far and what
    the section must hold. Small models answer that where the full task failed."""
    run, job = ctx.run, ctx.job
    config, name = job.config, job.brief.name
    draft = render_persona(name, [(h, c) for h, c in ordered(job.headings, found) if c])
    guidance = guidance_for(heading)
    prompt = (
        f"Here is a draft persona for {name}:\n\n{draft}\n"
        f"Write the missing section '{heading_line(heading)}': {guidance}. Address "
        f"{name} as 'you', in a few short sentences or list items. Reply with the section "
        "text only."
    )
    for attempt in range(config.max_retries + 1):

        def section(n: int, a: int = attempt) -> str:
            params = config.sampling(job.profile.section_tokens * 2, attempt=a + n)
            return stream_text(ctx, messages_for(prompt), params)

        text = with_retries(ctx, f"Repairing '{heading}'", section)
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
