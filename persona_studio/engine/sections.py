"""How each section of a persona is opened, ended and cleaned.

On a backend that can continue a turn, the pipeline writes every heading and the first words
of each section itself, and the model writes the rest. What the pipeline writes comes from
the brief (persona_studio/engine/brief.py): the user's own words where they belong, so a
135M model continues on the topic instead of drifting to "a creative AI assistant".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from persona_studio.core.document import (
    CORE_IDENTITY,
    DEFAULT_BY_HEADING,
    EXAMPLE_PHRASES,
    FORBIDDEN,
    GUIDELINES,
    KEY_TRAITS,
    KNOWLEDGE,
    PERSONA_NAME,
    SPEAKING_STYLE,
    default_heading,
    heading_key,
)

# Re-exported: engine/pipeline.py and engine/refine.py import it from here.
from persona_studio.engine.brief import Brief
from persona_studio.engine.headings import parse_persona
from persona_studio.engine.introductions import introduction_rule
from persona_studio.engine.names import CHARACTER


@dataclass(frozen=True)
class SectionPlan:
    """How one section is written on a backend that can continue a turn.

    ``lead``: whole units the pipeline writes first, from the user's own words (the
    identity sentences, the directives as list items); they are kept as they are.
    ``starter``: the first words of the model's part, written by the pipeline. A small model
    follows a started sentence far better than an instruction hundreds of tokens back:
    "You know a great deal about servers, NAS boxes" keeps it on the topic, "- Never" makes
    the forbidden list a list of prohibitions. No starter ends in a space: BPE tokenizers
    attach the space to the next word, so a trailing space makes the model write a second one.
    ``kind``: "prose" sections are one paragraph (more with "detailed"), "list" sections end
    at the first line that is not a list item, "free" for custom headings.
    ``grounded``: the section should mention the user's topic; a candidate that does not is
    written again (bounded) and the best one kept. ``restated``: how many of the first lead
    units restate the Core Identity on purpose (the introduction guideline); they are not
    held against the model's sentences as repeats, or the greeting would be struck.
    ``prefer``: words the model's first word is nudged toward (it picks which).
    """

    lead: tuple[str, ...]
    starter: str
    kind: str
    grounded: bool = False
    restated: int = 0
    prefer: tuple[str, ...] = ()

    @property
    def remembered(self) -> tuple[str, ...]:
        """The lead units the model's later sentences must not repeat."""
        return self.lead[self.restated :]

    @property
    def opening(self) -> str:
        """What the pipeline writes under the heading before the model takes over."""
        lead = ("\n" if self.kind == "list" else " ").join(self.lead)
        if lead and self.starter:
            return lead + ("\n" if self.kind == "list" else " ") + self.starter
        return lead or self.starter


# Tones a Speaking Style without one from the user may open with (each reads well after
# "Speak in a").
_PLAIN_TONES_TEXT = """
    warm calm friendly gentle lively thoughtful playful measured cheerful direct relaxed
    confident patient dry formal clear
"""
PLAIN_TONES = tuple(_PLAIN_TONES_TEXT.split())

_LIST_END = re.compile(r"\n(?=[^-*•\d\s])")  # a line that does not continue the list


def section_plan(heading: str, brief: Brief, tone: str) -> SectionPlan:
    default = default_heading(heading)
    if default is None or default.heading == PERSONA_NAME:
        return SectionPlan((), "", "free")
    which, starter, kind = default.heading, default.starter, default.kind
    if which == CORE_IDENTITY:
        return SectionPlan(brief.identity, starter, kind)
    if which == KEY_TRAITS:
        return SectionPlan((), starter, kind)
    if which == KNOWLEDGE:
        # The lead names the topic itself where the brief has one (experts, a focus
        # directive); otherwise the model names it and the grounding check keeps it honest.
        return SectionPlan((), brief.domain_lead, kind, grounded=bool(brief.hint_words))
    if which == SPEAKING_STYLE:
        manner = (tone,) if tone else brief.manner
        if not manner:
            # Left to itself after "Speak in a", the default model writes "way of your mind"
            # or "tongue-dexter"; nudged toward tone words, it picks one that fits.
            return SectionPlan((), starter, kind, prefer=PLAIN_TONES)
        words = " and ".join(manner)
        article = "an" if words[0] in "aeiou" else "a"
        return SectionPlan((), f"Speak in {article} {words} tone,", kind)
    if which == GUIDELINES:
        # How to answer "Who are you?" first: with it, the default model gives the persona's
        # name to that question and its rewordings far more often (bench/quality.py).
        introduce = introduction_rule(brief.introduction)
        behaviours = tuple(f"- {b}" for b in brief.directives.behaviours)
        return SectionPlan((introduce, *behaviours), starter, kind, restated=1)
    if which == FORBIDDEN:
        return SectionPlan(tuple(f"- {p}" for p in brief.directives.prohibitions), starter, kind)
    return introduction_plan(brief)  # EXAMPLE_PHRASES


# The model turning a section's opening sentence against itself: "Speak in a dry tone, but
# it is not dry.", "You know a great deal about balcony vegetables, but you're not really
# interested in ...". ("..., but not too formal" qualifies the tone, and stays.)
_NEGATED_TURN = re.compile(
    r",?\s+but\s+(?:you|you['’]re|it|it['’]s|that|that['’]s|this|they|they['’]re)\s"
    r"[^.!?\n]*?\b(?:not|never|no|nothing|\w+n['’]t)\b[^.!?\n]*(?:[.!?]+|$)",
    re.IGNORECASE,
)
_FIRST_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")


def without_turn(heading: str, text: str) -> str:
    """``text`` without a "but"-turn in its first sentence that says the opposite of the
    opening, under the headings whose first sentence the pipeline opens with the user's
    words (the Knowledge Domain's topic, the Speaking Style's tone)."""
    if heading_key(heading) not in (heading_key(KNOWLEDGE), heading_key(SPEAKING_STYLE)):
        return text
    end = _FIRST_SENTENCE_END.search(text)
    first = text[: end.end()] if end else text
    turn = _NEGATED_TURN.search(first)
    if turn is None:
        return text
    return text[: turn.start()].rstrip(" ,;:") + "." + text[turn.end() :]


def struck_out_content(heading: str, brief: Brief) -> str:
    """What the pipeline writes under ``heading`` when the polish struck every unit the
    model wrote there, or "" to keep the model's raw text. Only the Forbidden section has
    one: there the struck units are what a writer would never keep ("Never discuss your
    craft" for a blacksmith, "Never, never.", a line that forbids nothing), so the raw text
    would undo the polish; a rule every persona of its kind needs says more."""
    if heading_key(heading) != heading_key(FORBIDDEN):
        return ""
    if brief.kind == CHARACTER and not brief.may_be_ai:
        return "- Never step out of character."
    return "- Never make up facts; say so when you are not sure."


def introduction_plan(brief: Brief) -> SectionPlan:
    """Example Phrases in the persona's own voice, the first one introducing it by name:
    a greeting is the line a writer expects first, and it is what a small model copies
    when asked who it is (without it, SmolLM2 answers "My name is Elena")."""
    phrases = DEFAULT_BY_HEADING[EXAMPLE_PHRASES]
    return SectionPlan((), phrases.starter.format(name=brief.name), phrases.kind)


def section_stops(
    plan: SectionPlan, detailed: bool
) -> tuple[tuple[str, ...], tuple[re.Pattern[str], ...]]:
    """Stop strings and patterns for a section: always the next heading, then by kind."""
    if plan.kind == "prose":
        return (("\n#", "\n\n") if detailed else ("\n",)), ()
    if plan.kind == "list":
        return ("\n#", "\n\n"), (_LIST_END,)
    return ("\n#", "\n\n\n" if detailed else "\n\n"), ()


def has_words(text: str, minimum: int = 2) -> bool:
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


def ordered(headings: Sequence[str], found: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (h, found.get(heading_key(h), ""))
        for h in headings
        if heading_key(h) != heading_key(PERSONA_NAME)
    ]


def extract_section(text: str, heading: str) -> str:
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
        if has_words(cleaned):
            return cleaned
    return ""
