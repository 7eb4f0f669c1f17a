"""Other ways for a finished persona to say how it introduces itself, for the check to choose.

Whether a small model gives its name to "Who are you?" turns on small things in its system
prompt: the same Guide Nova persona answered "I'm a space tour guide on a Mars cruise ship"
with the "who are you" rule among the guidelines, and "I'm Guide Nova, a space tour guide
on a Mars cruise ship" with that rule moved into the Core Identity. No one form is best for
every persona: tried on the weak personas of three stored runs of bench/quality.py, each
form gave the name on some and lost it on others (the move lost more than it won). So when
the check finds a persona that misses its name, the pipeline checks it in each of these
forms and keeps one only where it scores better (engine/check_loop.py
``try_other_introductions``). Each form reads as well to a writer as the one it replaces,
and none adds or drops anything else the persona says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from persona_studio.core.document import CORE_IDENTITY, EXAMPLE_PHRASES, GUIDELINES, heading_key
from persona_studio.engine.brief import Brief

Sections = list[tuple[str, str]]


def introduction_rule(introduction: str) -> str:
    """The guideline that tells the persona how to answer "Who are you?" (a list item)."""
    return f'- When someone asks who you are or what your name is, say "{introduction}"'


@dataclass(frozen=True)
class Introduction:
    """One other form: what it is, in words for the stream view, and the sections in it."""

    label: str
    sections: Sections


def _index(sections: Sequence[tuple[str, str]], heading: str) -> int | None:
    key = heading_key(heading)
    return next((i for i, (h, _) in enumerate(sections) if heading_key(h) == key), None)


def _lines(content: str) -> list[str]:
    return [line for line in content.strip().splitlines() if line.strip()]


def other_introductions(sections: Sequence[tuple[str, str]], brief: Brief) -> list[Introduction]:
    """The forms that apply to ``sections``, in the order they are tried:

    1. the "who are you" rule moved from the guidelines into the Core Identity, as its last
       sentence (where the guidelines keep another line);
    2. the rule giving the name alone ("I'm Fern.") instead of name and role;
    3. the Example Phrases opening with the introduction itself.
    """
    out: list[Introduction] = []
    rule = introduction_rule(brief.introduction)
    core, guidelines = _index(sections, CORE_IDENTITY), _index(sections, GUIDELINES)
    phrases = _index(sections, EXAMPLE_PHRASES)
    rule_lines = _lines(sections[guidelines][1]) if guidelines is not None else []
    has_rule = rule in (line.strip() for line in rule_lines)

    if has_rule and core is not None and guidelines is not None and len(rule_lines) > 1:
        moved = list(sections)
        heading, content = moved[core]
        said = f'When someone asks who you are, you say "{brief.introduction}"'
        moved[core] = (heading, f"{content.rstrip()} {said}")
        kept = [line for line in rule_lines if line.strip() != rule]
        moved[guidelines] = (moved[guidelines][0], "\n".join(kept))
        out.append(Introduction('the "who are you" rule in the Core Identity', moved))

    short = f"I'm {brief.name}."
    if has_rule and guidelines is not None and brief.introduction != short:
        shorter = list(sections)
        lines = [introduction_rule(short) if line.strip() == rule else line for line in rule_lines]
        shorter[guidelines] = (shorter[guidelines][0], "\n".join(lines))
        out.append(Introduction(f'the name alone in the "who are you" rule ("{short}")', shorter))

    greeting = f'- "{brief.introduction}"'
    if phrases is not None:
        phrase_lines = _lines(sections[phrases][1])
        listed = bool(phrase_lines) and all(line.lstrip().startswith("-") for line in phrase_lines)
        if listed and phrase_lines[0].strip() != greeting:
            greeted = list(sections)
            greeted[phrases] = (greeted[phrases][0], "\n".join([greeting, *phrase_lines]))
            out.append(Introduction("the Example Phrases opening with the introduction", greeted))
    return out
