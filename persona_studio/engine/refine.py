"""Refinement: the structured persona, written two ways depending on the backend;
``isinstance(backend, SupportsContinuation)`` decides, in the check loop
(persona_studio/engine/check_loop.py). This module holds what both share: how a section's
lead and the model's text are joined, and which of the polisher's rules apply under a
heading.

- **By sections** (persona_studio/engine/refine_sections.py: a backend that can continue a
  turn, the embedded llama.cpp one). The pipeline writes ``## Persona Name:`` and every
  heading, and the opening words of each section from the brief (the user's own words); the
  model writes the rest of each section, one at a time, reusing its KV cache for the shared
  prefix. A section that comes out empty once polished, or that must name the user's topic
  and does not, is written again (bounded; the best candidate wins). The model may not
  repeat a phrase of the document (``no_repeat_from``), and what it wrote that a writer
  would strike is struck (persona_studio/engine/polish.py) before the next section is
  written, so later sections never build on it.
- **Validated** (persona_studio/engine/refine_validated.py: HTTP backends, which cannot
  continue a turn). The model writes the whole document; the pipeline validates it,
  retries, and as a last resort asks for each missing section alone. The same brief and
  polish are then applied to what it wrote: the name is the chosen one, the user's
  identity, topic and directives are put in where the model left them out.
"""

from __future__ import annotations

from collections.abc import Sequence

from persona_studio.engine import polish
from persona_studio.engine.headings import heading_key
from persona_studio.engine.polish import normalize
from persona_studio.engine.sections import (
    EXAMPLE_PHRASES,
    FORBIDDEN,
    GUIDELINES,
    SectionPlan,
)


def join_section(plan: SectionPlan, lead: Sequence[str], rest: str) -> str:
    joiner = "\n" if plan.kind == "list" else " "
    return joiner.join([*lead, rest] if rest else lead).strip()


def with_topic(plan: SectionPlan, text: str) -> str:
    """A section whose opening names the topic (the pipeline wrote it from the hints) keeps
    it, even where the model's end of that sentence was struck out."""
    starter = plan.starter
    if len(starter.split()) < 5 or normalize(text).startswith(normalize(starter)[:30]):
        return text
    return f"{starter.rstrip(',;: ')}. {text}".strip()


def section_role(heading: str) -> str:
    """Which of the polisher's section rules apply under ``heading``."""
    key = heading_key(heading)
    if key == heading_key(FORBIDDEN):
        return polish.FORBIDDEN
    if key == heading_key(EXAMPLE_PHRASES):
        return polish.PHRASES
    if key == heading_key(GUIDELINES):
        return polish.GUIDELINES
    return ""
