"""The expansion (the brainstorm) and the optional critique of it.

On a backend that can continue a turn the brainstorm starts from the brief's identity
sentences, so it is about what the user asked for; elsewhere it is a free stage. Either way
what in it is off-topic, loops, or makes a character an AI is struck out before refinement
reads it (``strike_brainstorm``).
"""

from __future__ import annotations

from persona_studio.engine.context import StageContext
from persona_studio.engine.retries import free_stage
from persona_studio.engine.sections import tidy_section
from persona_studio.engine.stage_prompts import messages_for, refinement_values
from persona_studio.engine.templates import CRITIQUE, EXPANSION, Template
from persona_studio.llm.base import SupportsContinuation

EXPANSION_LABEL = "Expansion (brainstorm)"


def expand(ctx: StageContext, prompt: str) -> str:
    """The brainstorm: started from the brief's identity where the backend can continue
    a turn, then stripped of what a writer would strike."""
    messages = messages_for(prompt)
    backend = ctx.backend
    if not isinstance(backend, SupportsContinuation):
        raw = free_stage(ctx, EXPANSION, EXPANSION_LABEL, messages, ctx.profile.expansion_tokens)
    else:
        run = ctx.start(EXPANSION)
        run.stats.attempts += 1
        try:
            opening = " ".join(ctx.brief.identity)
            run.own_text(opening)
            tokens = backend.chat_tokens(messages) + run.own_tokens(backend.tokenize_text(opening))
            cont = backend.continuation(
                tokens,
                ctx.config.sampling(ctx.profile.expansion_tokens),
                cancel=ctx.cancel,
                deadline=ctx.config.deadline(),
                min_tokens=ctx.config.min_section_tokens,
                what=EXPANSION_LABEL,
            )
            for piece in cont:
                run.model_text(piece)
            raw = (opening + cont.text).strip()
        finally:
            run.finish()
    return strike_brainstorm(ctx, raw)


def critique(ctx: StageContext, template: Template, values: dict[str, str], brainstorm: str) -> str:
    """The model's review of ``brainstorm`` against the hints."""
    review = dict(values)
    review.update(refinement_values(ctx, brainstorm))
    return free_stage(
        ctx,
        CRITIQUE,
        "Critique",
        messages_for(template.render(review)),
        ctx.profile.expansion_tokens // 2,
    )


def strike_brainstorm(ctx: StageContext, raw: str) -> str:
    """The brainstorm is a source, not a master: paragraph by paragraph, what loops, repeats,
    breaks off, or makes a character an AI does not reach refinement."""
    polisher = ctx.polisher()
    paragraphs = [p for p in (tidy_section(p, prose=True) for p in raw.split("\n\n")) if p]
    kept = [polisher.polish(p, kind="prose") for p in paragraphs]
    return "\n\n".join(p for p in kept if p) or raw.strip()
