"""The persona document's fixed knowledge: the default headings, what each one holds and how
the pipeline opens it, how two headings are told apart, and FORLLM's preamble.

The parser, the structure check and rendering live in ``persona_studio/engine/headings.py``;
what a section plan makes of a heading (the user's words, the tone) in
``persona_studio/engine/sections.py``. Everything else that names a heading takes it from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PERSONA_NAME = "Persona Name"
CORE_IDENTITY = "Core Identity"
KEY_TRAITS = "Key Personality Traits"
KNOWLEDGE = "Knowledge Domain & Expertise"
SPEAKING_STYLE = "Speaking Style & Tone"
GUIDELINES = "Interaction Guidelines & Behaviors"
FORBIDDEN = "Forbidden Actions & Topics"
EXAMPLE_PHRASES = "Example Phrases"


@dataclass(frozen=True)
class DefaultHeading:
    """One heading of the default document.

    ``guidance``: what the section must hold, in the words the prompts use (from the design's
    refinement prompt; plain words, no numbers: a small model copies "1-2 sentences" into the
    persona itself). ``kind``: how the section is written and where it ends
    (engine/sections.py): "prose" is one paragraph (more with "detailed"), "list" ends at the
    first line that is not a list item; the name is the rest of its heading line.
    ``starter``: the first words of the model's part, which the pipeline writes: "" where the
    brief opens the section (the Knowledge Domain's "You know a great deal about ..."), the
    Speaking Style's where the request gives no tone, ``{name}`` for the persona's name (why
    starters: ``SectionPlan`` in engine/sections.py).
    """

    heading: str
    guidance: str
    kind: str
    starter: str


DEFAULT_SECTIONS: tuple[DefaultHeading, ...] = (
    DefaultHeading(PERSONA_NAME, "the persona's name", "name", ""),
    DefaultHeading(CORE_IDENTITY, "who the persona is and what it is for", "prose", "You"),
    DefaultHeading(KEY_TRAITS, "its main traits, as a short list", "list", "- You are"),
    DefaultHeading(KNOWLEDGE, "what it knows best", "prose", ""),
    DefaultHeading(
        SPEAKING_STYLE, "how it talks: its words, sentences and tone", "prose", "Speak in a"
    ),
    DefaultHeading(GUIDELINES, "what it should always do", "list", "-"),
    DefaultHeading(FORBIDDEN, "what it must never do or discuss", "list", "- Never"),
    DefaultHeading(
        EXAMPLE_PHRASES, "a few typical things it says, in quotes", "list", "- \"I'm {name},"
    ),
)
DEFAULT_HEADINGS: tuple[str, ...] = tuple(h.heading for h in DEFAULT_SECTIONS)
DEFAULT_BY_HEADING = {h.heading: h for h in DEFAULT_SECTIONS}


def normalize_heading(text: str) -> str:
    """'## Core Identity:' -> 'Core Identity'."""
    return text.strip().lstrip("#").strip().rstrip(":").strip()


def heading_key(text: str) -> str:
    """Comparison key: case, spacing, punctuation and '&' vs 'and' do not make two headings
    different; letters and digits of every script do."""
    text = normalize_heading(text).casefold().replace("&", " and ")
    return re.sub(r"[\W_]+", " ", text).strip()


_BY_KEY = {heading_key(h.heading): h for h in DEFAULT_SECTIONS}
# What each default heading must hold, by heading_key. Custom headings get a generic line.
HEADING_GUIDANCE = {key: h.guidance for key, h in _BY_KEY.items()}


def guidance_for(heading: str) -> str:
    """What the section under ``heading`` must hold, in the prompts' words; a generic line for
    a custom heading."""
    return HEADING_GUIDANCE.get(heading_key(heading), "what fits this heading")


def default_heading(heading: str) -> DefaultHeading | None:
    """The default heading ``heading`` is (as heading_key compares), None for a custom one."""
    return _BY_KEY.get(heading_key(heading))


# FORLLM's generator saves a persona as "Always respond as {name}, using the style, tone and
# personality explained below.\n\n---\n\n" and the structured text; hand-written FORLLM
# personas may have the line alone. ``name``: the name it gives.
FORLLM_PREAMBLE = re.compile(
    r"\A\s*Always respond as (?P<name>[^\n]{0,200}?), using the style, tone and personality "
    r"explained below\.\s*(?:---\s*)?"
)


def without_forllm_preamble(text: str) -> str:
    """``text`` from the end of FORLLM's preamble and its separator (all of it if it has none)."""
    return FORLLM_PREAMBLE.sub("", text, count=1)
