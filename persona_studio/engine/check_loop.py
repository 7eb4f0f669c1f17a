"""The check loop: refine, check the persona, and write again what the check found weak.

The model that will use the persona answers probe questions with it as the system prompt
(persona_studio/engine/persona_check.py). A persona that does not hold its name, its
domain, or its character is written again, within ``PipelineConfig.check_attempts``: on a
backend that can continue a turn only the weak sections (``weak_sections``), elsewhere the
whole persona. While the best attempt does not hold a name the pipeline chose, it is
checked under other fitting names (within ``PipelineConfig.rename_attempts``). While it is
still weak, the line a wrong answer was copied from is struck and the persona checked again
(persona_studio/engine/distractors.py, within ``PipelineConfig.strike_attempts``); while it
still misses its name in an answer, it is checked with other forms of its self-introduction
(persona_studio/engine/introductions.py, within ``PipelineConfig.introduction_attempts``);
while a character still calls itself an AI, with a Core Identity that says it is real
(persona_studio/engine/in_character.py). The best-scoring version is kept, and its check
with it. After ``PipelineConfig.check_patience`` versions in a row that did not beat the
best, no further version is tried (``Patience``).

The structure strategy is chosen here, per attempt: by sections
(persona_studio/engine/refine_sections.py) where the backend is a
``SupportsContinuation``, validated (persona_studio/engine/refine_validated.py) where not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from persona_studio.engine.brief import Brief
from persona_studio.engine.context import RefineContext, StageContext
from persona_studio.engine.distractors import strike_source
from persona_studio.engine.headings import check_structure, heading_key, render_persona
from persona_studio.engine.in_character import real_forms
from persona_studio.engine.introductions import Introduction, other_introductions
from persona_studio.engine.names import choose_name, rename_in
from persona_studio.engine.persona_check import CheckResult, ProbeAnswer, run_check
from persona_studio.engine.refine_sections import Sections, SectionWriter
from persona_studio.engine.refine_validated import refine_validated
from persona_studio.engine.result import GenerationResult
from persona_studio.engine.sections import (
    CORE_IDENTITY,
    EXAMPLE_PHRASES,
    KNOWLEDGE,
    SectionPlan,
    section_plan,
)
from persona_studio.engine.stages import CHECK
from persona_studio.engine.templates import REFINEMENT
from persona_studio.errors import GenerationFailed
from persona_studio.llm.base import ChatMessage, SupportsContinuation


@dataclass
class Patience:
    """How many versions in a row may be checked without beating the best before the loop
    stops trying others (``limit``; None: no limit).

    Each way of trying again is a draw with its own odds; what ends the draws is a persona
    the model will not follow whatever is changed. Over the benchmark's 34 requests (s36
    code, bench/quality.py), no version checked after four in a row that scored no better
    ever scored better (0 of 11, ten seconds and more for a persona such as Fern), while
    versions checked after three such did, in three personas of 34."""

    limit: int | None
    misses: int = 0

    def record(self, found: CheckResult, best: CheckResult) -> None:
        """A version was checked (``found``) against the best so far."""
        self.misses = 0 if found.beats(best) else self.misses + 1

    @property
    def spent(self) -> bool:
        return self.limit is not None and self.misses >= self.limit


def refine_and_check(
    ctx: StageContext, messages: list[ChatMessage], result: GenerationResult
) -> None:
    """Refine; check; refine again while the check finds the persona weak (bounded);
    keep the best attempt."""
    brief, headings, config, backend = ctx.brief, ctx.headings, ctx.config, ctx.backend
    attempts = config.check_attempts if config.check else 1
    patience = Patience(config.check_patience)
    best: tuple[float, Sections, CheckResult | None] | None = None
    for attempt in range(max(1, attempts)):
        run = ctx.start(REFINEMENT)
        refine = RefineContext(ctx, run, config.deadline(), messages, attempt)
        try:
            weak = weak_sections(best[2], brief, headings) if best else {}
            if isinstance(backend, SupportsContinuation):
                run.stats.attempts += 1  # the validated path counts its own (with_retries)
                writer = SectionWriter(backend, refine)
                if weak:
                    assert best is not None
                    sections = writer.rewrite(best[1], weak)
                else:
                    sections = writer.write()
                    result.structure_method = "sections"
            else:
                sections, result.structure_method = refine_validated(refine)
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
        check = check_persona(ctx, text, beat=best[2] if best else None, patience=patience)
        if best is None or (check is not None and check.beats(best[2])):
            best = (check.score if check else 1.0, sections, check)
        if check is None or check.passed or attempt + 1 >= attempts or patience.spent:
            break
        weak_next = weak_sections(best[2], brief, headings)
        found = (
            f"this version no better than the best so far ({best[2].summary()})"
            if check.stopped and best[2] is not None
            else f"the persona weak ({check.summary()})"
        )
        run.retry(
            f"The persona check found {found}; writing "
            + (", ".join(h for h in headings if heading_key(h) in weak_next) or "it")
            + " again."
        )
    assert best is not None
    ctx, best = try_other_names(ctx, best, patience)
    best = strike_distractors(ctx, best, patience)
    # After the strikes: the forms are tried on the persona without the lines the wrong
    # answers were copied from (a strike is kept only where it scores better).
    best = keep_in_character(ctx, best, patience)
    best = try_other_introductions(ctx, best, patience)
    if ctx.brief.name != brief.name:
        # The brainstorm and critique are kept with the persona: they name it as it is now.
        result.persona_name = ctx.brief.name
        result.brainstorm = rename_in(
            result.brainstorm, brief.name, ctx.brief.name, keep=brief.hint_words
        )
        result.critique = rename_in(
            result.critique, brief.name, ctx.brief.name, keep=brief.hint_words
        )
    result.prompt_instructions = render_persona(ctx.brief.name, best[1])
    result.check = best[2]


def try_other_names(
    ctx: StageContext, best: tuple[float, Sections, CheckResult | None], patience: Patience
) -> tuple[StageContext, tuple[float, Sections, CheckResult | None]]:
    """When the model does not say a name the pipeline chose, check the persona under other
    fitting names (within ``rename_attempts``); the best-scoring one wins, the first on a tie.
    Returns the context under the name kept. A name the user gave, or the name of the
    persona a Regenerate writes into, is never changed.

    Whether a small model says a name is partly the name itself: asked "Who are you?" with
    the same persona, it answered "I'm a professional woodworker" as Jeremy Smith and "I'm
    Jared Page, the resident expert of the Woodworking subforum" as Jared Page. Any name
    that fits the hints is as good to the writer, and one check costs far less than writing
    a section again."""
    _, sections, check = best
    if ctx.name_given or check is None or check.name_hold is None or check.name_hold >= 1:
        return ctx, best
    old = ctx.brief
    named = _name_answers(check)
    said = f"{sum(named)} of {len(named)} answers" if named else "no answer"
    rng = ctx.config.name_rng(ctx.request, "other names")
    tried = [old.name]
    chosen = ctx
    for _ in range(ctx.config.rename_attempts):
        if patience.spent:
            break
        new = choose_name(
            " ".join(old.hint_texts), old.kind, taken=[*ctx.avoid_names, *tried], rng=rng
        )
        tried.append(new)
        renamed = [(h, rename_in(c, old.name, new, keep=old.hint_words)) for h, c in sections]
        candidate = replace(
            ctx,
            brief=replace(
                old,
                name=new,
                identity=tuple(
                    rename_in(s, old.name, new, keep=old.hint_words) for s in old.identity
                ),
            ),
        )
        found = check_version(
            candidate,
            renamed,
            why=f"The model gave the name {old.name} in {said}; "
            f"checking the persona under another fitting name: {new}",
            beat=best[2],
            patience=patience,
        )
        if found is not None and found.beats(best[2]):
            best, chosen = (found.score, renamed, found), candidate
            if found.passed:
                break
    return chosen, best


def try_other_introductions(
    ctx: StageContext, best: tuple[float, Sections, CheckResult | None], patience: Patience
) -> tuple[float, Sections, CheckResult | None]:
    """While the model does not say the persona's name, check the persona with other forms
    of its self-introduction (engine/introductions.py, within ``introduction_attempts``); a
    form is kept only where it scores better, the first on a tie. Any name, the user's too:
    the name stays as it is, only where the persona says it moves."""
    _, sections, check = best
    if check is None or check.name_hold is None or check.name_hold >= 1:
        return best
    return _first_better(
        ctx,
        best,
        other_introductions(sections, ctx.brief)[: ctx.config.introduction_attempts],
        patience,
        why=f"The model did not give the name {ctx.brief.name} in {_not_named(check)}",
        settled=lambda found: found.name_hold is None or found.name_hold >= 1,
    )


def keep_in_character(
    ctx: StageContext, best: tuple[float, Sections, CheckResult | None], patience: Patience
) -> tuple[float, Sections, CheckResult | None]:
    """While a character still calls itself an AI, check it with a Core Identity that says
    it is real (engine/in_character.py); a form is kept only where it scores better, the
    first that stays in character ends the search."""
    _, sections, check = best
    if check is None or not check.breaks:
        return best
    return _first_better(
        ctx,
        best,
        real_forms(sections, ctx.brief),
        patience,
        why=f"As {ctx.brief.name}, the model called itself an AI or an assistant in "
        f"{check.breaks} answer(s)",
        settled=lambda found: not found.breaks,
    )


def _first_better(
    ctx: StageContext,
    best: tuple[float, Sections, CheckResult | None],
    forms: Sequence[Introduction],
    patience: Patience,
    *,
    why: str,
    settled: Callable[[CheckResult], bool],
) -> tuple[float, Sections, CheckResult | None]:
    """Check ``forms`` of the best version in order; one is kept only where it scores
    better, and the first kept one that is ``settled`` ends the search (as does spent
    ``patience``). ``why``: what the check found, said before each form's label."""
    for form in forms:
        if patience.spent:
            break
        found = check_version(
            ctx,
            form.sections,
            why=f"{why}; checking the persona with {form.label}",
            beat=best[2],
            patience=patience,
        )
        if found is not None and found.beats(best[2]):
            best = (found.score, form.sections, found)
            if settled(found):
                break
    return best


def _name_answers(check: CheckResult) -> list[bool]:
    """Whether each answer to a name question gave the name."""
    return [a.holds_name for a in check.answers if a.holds_name is not None]


def _not_named(check: CheckResult) -> str:
    """'1 of 2 answers': the answers to the name questions that did not give the name."""
    named = _name_answers(check)
    return f"{named.count(False)} of {len(named)} answers"


def strike_distractors(
    ctx: StageContext, best: tuple[float, Sections, CheckResult | None], patience: Patience
) -> tuple[float, Sections, CheckResult | None]:
    """While the best attempt is still weak, strike the line a wrong answer was copied from
    and check again (within ``strike_attempts``); the best-scoring version wins,
    the unstruck one on a tie."""
    _, sections, check = best
    for _ in range(ctx.config.strike_attempts):
        if check is None or check.passed or patience.spent:
            break
        # The first wrong answer whose source can be told: one the model made up from
        # nothing ("I'm a little girl named Luna") points at no line, the next one may.
        wrong, struck = None, None
        for answer in check.answers:
            if answer.holds_name is False or answer.in_domain is False or answer.breaks:
                struck = strike_source(
                    sections, answer.answer, name=ctx.brief.name, hint_words=ctx.brief.hint_words
                )
                if struck is not None:
                    wrong = answer
                    break
        if wrong is None or struck is None:
            break
        line = struck[1]
        check = check_version(
            ctx,
            struck[0],
            why=f'The answer to "{wrong.question}" followed a line of {line.heading}; '
            f"checking again without it: {line.line}",
            beat=best[2],
            patience=patience,
        )
        if check is None:
            break
        # The next strike is taken from this version's wrong answers, whether or not it
        # is kept (a check that stopped early has the one that made it stop).
        sections = struck[0]
        if check.beats(best[2]):
            best = (check.score, sections, check)
    return best


def check_version(
    ctx: StageContext,
    sections: Sections,
    why: str,
    beat: CheckResult | None,
    patience: Patience,
) -> CheckResult | None:
    """The check of another version of the persona (renamed, struck, introduced otherwise),
    rendered under the context's name, against the check of the best version (``beat``);
    None where that version would break the structure (never traded for a score, nor
    counted against ``patience``: it cost no model time) or the check is off."""
    text = render_persona(ctx.brief.name, sections)
    if check_structure(text, ctx.headings):
        return None
    return check_persona(ctx, text, why=why, beat=beat, patience=patience)


def check_persona(
    ctx: StageContext,
    text: str,
    why: str = "",
    beat: CheckResult | None = None,
    patience: Patience | None = None,
) -> CheckResult | None:
    """The persona check of ``text``, its answers shown as they come; None when off.
    ``why``: what makes this a check again, said as the run's retry (one stage, one header).
    ``beat``: the check of the best version so far; this one stops as soon as it cannot
    score better (persona_check.run_check), and says so. A check against ``beat`` counts
    in ``patience``; the one that spends it says that no other version will be tried."""
    if not ctx.config.check:
        return None
    run = ctx.start(CHECK)
    run.stats.attempts += 1
    if why:
        run.retry(why)

    def shown(answer: ProbeAnswer) -> None:
        run.own_text(f"Q: {answer.question}\nA: {answer.answer}\n\n")

    try:
        check = run_check(
            ctx.backend,
            text,
            name=ctx.brief.name,
            words=ctx.brief.hint_words,
            may_be_ai=ctx.brief.may_be_ai,
            cancel=ctx.cancel,
            deadline=ctx.config.deadline(),
            on_answer=shown,
            beat=beat,
        )
        if check.stopped and beat is not None:
            run.own_text(
                f"(Stopped: this version cannot score better than the best so far, "
                f"{beat.summary()}.)\n\n"
            )
        if patience is not None and beat is not None:
            patience.record(check, beat)
            if patience.spent:
                run.own_text(
                    f"({patience.misses} versions in a row scored no better than the best, "
                    f"{beat.summary()}; no other version will be tried.)\n\n"
                )
        return check
    finally:
        run.finish()


def weak_sections(
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
