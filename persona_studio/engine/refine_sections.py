"""Refinement by sections, on a backend that can continue a turn (``SupportsContinuation``).

The pipeline writes ``## Persona Name:``, each heading and each section's opening; the model
continues every section, one at a time, from the cached state of the document so far. How
and why: persona_studio/engine/refine.py.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from persona_studio.engine.brief import Brief, words_in
from persona_studio.engine.context import RefineContext
from persona_studio.engine.headings import PERSONA_NAME, heading_key, heading_line
from persona_studio.engine.polish import Polisher
from persona_studio.engine.refine import join_section, section_role, with_topic
from persona_studio.engine.sections import (
    SectionPlan,
    has_words,
    section_plan,
    section_stops,
    struck_out_content,
    tidy_section,
    without_turn,
)
from persona_studio.errors import GenerationFailed
from persona_studio.llm.base import SupportsContinuation, WordPreference

Sections = list[tuple[str, str]]


@dataclass
class _Filled:
    """A written section: its content, the polisher that has seen it, and - when the content
    is exactly what the pipeline and the model wrote - the tokens the model generated, so
    the next section continues from the cached state instead of evaluating it again
    (a prompt token costs half a generated one on the default model here)."""

    content: str
    polisher: Polisher
    model_tokens: list[int] | None


class SectionWriter:
    """One refinement attempt's sections, written by continuing the refinement chat."""

    def __init__(self, backend: SupportsContinuation, ctx: RefineContext) -> None:
        self.backend = backend
        self.ctx = ctx
        self.prompt = backend.chat_tokens(ctx.messages)

    def write(self) -> Sections:
        """Every section, in the order of the headings."""
        backend, run, job = self.backend, self.ctx.run, self.ctx.job
        polisher = job.polisher()
        name_line = heading_line(PERSONA_NAME, job.brief.name) + "\n\n"
        run.own_text(name_line)
        tokens = self.prompt + run.own_tokens(backend.tokenize_text(name_line))
        sections: Sections = []
        for heading in job.headings:
            if heading_key(heading) == heading_key(PERSONA_NAME):
                continue
            plan = section_plan(heading, job.brief, job.tone)
            head = ("\n\n" if sections else "") + heading_line(heading) + "\n"
            run.own_text(head + plan.opening)
            opening = run.own_tokens(backend.tokenize_text(head + plan.opening))
            for unit in plan.remembered:
                polisher.remember(unit)
            filled = self._fill(tokens + opening, heading, plan, polisher)
            polisher = filled.polisher
            tokens = self._after(tokens, head, opening, filled)
            sections.append((heading, filled.content))
        return sections

    def rewrite(self, sections: Sections, plans: dict[str, SectionPlan]) -> Sections:
        """``sections`` with those named in ``plans`` (by heading key) written again with the
        plans given, each after the document as it stands; the others are kept as they are.
        What the persona check found weak is rewritten at the cost of a section, not of a
        whole persona."""
        backend, run, job = self.backend, self.ctx.run, self.ctx.job
        polisher = job.polisher()
        for heading, content in sections:
            if heading_key(heading) not in plans:
                polisher.remember(content)
        out = list(sections)
        tokens = self.prompt + backend.tokenize_text(
            heading_line(PERSONA_NAME, job.brief.name) + "\n\n"
        )
        for index, (heading, content) in enumerate(out):
            head = ("\n\n" if index else "") + heading_line(heading) + "\n"
            plan = plans.get(heading_key(heading))
            if plan is None:
                tokens = tokens + backend.tokenize_text(head + content)
                continue
            run.own_text(f"\n\n{heading_line(heading)}\n{plan.opening}")
            for unit in plan.remembered:
                polisher.remember(unit)
            opening = backend.tokenize_text(head + plan.opening)
            filled = self._fill(tokens + opening, heading, plan, polisher)
            polisher = filled.polisher
            out[index] = (heading, filled.content)
            tokens = self._after(tokens, head, opening, filled)
        return out

    def _after(
        self, tokens: list[int], head: str, opening: list[int], filled: _Filled
    ) -> list[int]:
        """The document's tokens after a section: as the model wrote it where it was kept as
        written (the cache is still valid), else its text tokenized on its own. The document
        tokenized as a whole would split differently where the pieces meet, and the cache
        would be evaluated again from there (355 tokens for one persona, not 60)."""
        if filled.model_tokens is not None:
            return tokens + opening + filled.model_tokens
        return tokens + self.backend.tokenize_text(head + filled.content)

    def _fill(
        self, tokens: list[int], heading: str, plan: SectionPlan, polisher: Polisher
    ) -> _Filled:
        """One section: the lead, then the model's part, polished; written again (bounded)
        while it comes out empty or off the topic. The model may not repeat a phrase of the
        document, which starts after the prompt."""
        backend, ctx = self.backend, self.ctx
        run, job, config = ctx.run, ctx.job, ctx.job.config
        stops, patterns = section_stops(plan, job.detailed)
        budget = job.profile.section_tokens * (3 if plan.kind == "list" else 2) // 2
        # A section with a lead (the user's words) is whole without the model's part; a
        # section that must name the topic gets more tries than one that only must not be
        # empty.
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
                    attempt=ctx.attempt * 101 + n,
                    temperature=config.refinement_temperature,
                ),
                cancel=job.cancel,
                deadline=ctx.deadline,
                min_tokens=config.min_section_tokens,
                stop_patterns=patterns,
                what="Refinement (structure)",
                no_repeat_from=len(self.prompt),
                prefer=_preference(plan, job.brief),
            )
            for piece in cont:
                run.model_text(piece)
            model_part = tidy_section(
                plan.starter + cont.text,
                truncated=cont.finish_reason == "length",
                prose=plan.kind == "prose",
            )
            model_part = without_turn(heading, model_part)
            raw_best = raw_best or (model_part if has_words(model_part) else "")
            trial = copy.deepcopy(polisher)
            polished = trial.polish(model_part, kind=plan.kind, role=section_role(heading))
            polished = with_topic(plan, polished)
            score = _score(plan, job.brief, polished)
            exact = None
            if join_section(plan, plan.lead, polished) == plan.opening + cont.text:
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
            return _Filled(join_section(plan, plan.lead, polished), trial, exact)
        fallback = struck_out_content(heading, job.brief)
        if fallback:  # the pipeline's own rule beats putting back what was struck
            return _Filled(fallback, trial, None)
        if raw_best:  # everything was struck out: the model's text beats no section at all
            return _Filled(raw_best, trial, None)
        raise GenerationFailed(
            f"Refinement failed: the model wrote nothing usable under '{heading}' after "
            f"{tries} attempts. Try again, or pick a larger model."
        )


def _score(plan: SectionPlan, brief: Brief, polished: str) -> tuple[int, int, int]:
    grounded = words_in(polished, brief.hint_words) if plan.grounded else 0
    return (int(has_words(polished, 1)), grounded, len(polished))


def _acceptable(plan: SectionPlan, score: tuple[int, int, int]) -> bool:
    return bool(score[0]) and (not plan.grounded or score[1] > 0)


def _preference(plan: SectionPlan, brief: Brief) -> WordPreference | None:
    """A grounded section is nudged toward the topic's nouns; a plan's own words must come
    first or not at all (a tone after "Speak in a")."""
    if plan.grounded:
        return WordPreference(brief.topic_nouns)
    if plan.prefer:
        return WordPreference(plan.prefer, within=1)
    return None
