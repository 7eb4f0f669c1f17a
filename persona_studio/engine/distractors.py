"""The line of a persona that a wrong probe answer was copied from.

A small model answering "Who are you?" with a persona as its system prompt copies the line
that stands out most to it, not the one that answers: Fern's persona says "When you're asked
how your life is, respond with a smile" and the model answers "I'm a person with a warm
smile…"; a trait "You are a person who makes things easy for others" becomes the answer to
"What do you know a lot about?". Such a line says little a writer would miss, and the answer
shows which one it is: the line sharing the most words with the wrong answer. Striking it
and asking again is far cheaper than writing a section again, and the pipeline keeps the
struck version only where the check says it is better (engine/check_loop.py).

What is never struck: the persona's name, any line naming it (the "who are you" rule, the
self-introduction), any line with a word of the user's hints (the persona stays grounded),
the first sentence of a prose section (it carries the section: the identity, "You know a
great deal about …", the tone), and the last line of a section (no section goes empty).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from persona_studio.core.document import PERSONA_NAME
from persona_studio.engine.brief import stem
from persona_studio.engine.headings import heading_key
from persona_studio.engine.persona_check import FILLER_WORDS
from persona_studio.engine.polish import is_list, split_units

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
# Words every answer and every line share; a match on them says nothing about the source.
_PLAIN = frozenset(
    stem(w)
    for w in FILLER_WORDS
    | {"been", "being", "just", "like", "love", "loves", "make", "really", "some", "than"}
    | {"where", "while", "would", "yours", "i'm", "i've", "person", "thing", "help", "helping"}
    | {"world", "lot"}
)


@dataclass(frozen=True)
class Struck:
    """What was struck: the section's heading and the line, as it stood."""

    heading: str
    line: str


def _words(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text) if len(w) >= 4} - _PLAIN


def _units(content: str) -> tuple[list[tuple[int, str]], bool]:
    """The section's units, each with its paragraph, and whether the section is a list: items
    of a list, else sentences of prose paragraphs (as the polish cuts them)."""
    if is_list(content):
        return [(0, item) for item in split_units(content, prose=False)], True
    paragraphs = re.split(r"\n\s*\n", content.strip())
    return [
        (i, unit) for i, p in enumerate(paragraphs) for unit in split_units(p, prose=True)
    ], False


def _joined(units: Sequence[tuple[int, str]], listed: bool) -> str:
    if listed:
        return "\n".join(unit for _, unit in units)
    paragraphs: dict[int, list[str]] = {}
    for p_index, unit in units:
        paragraphs.setdefault(p_index, []).append(unit)
    return "\n\n".join(" ".join(p) for p in paragraphs.values())


def strike_source(
    sections: Sequence[tuple[str, str]],
    answer: str,
    *,
    name: str,
    hint_words: Iterable[str],
) -> tuple[list[tuple[str, str]], Struck] | None:
    """``sections`` without the line ``answer`` was most likely copied from, and that line;
    None when no line that may go shares a telling word with the answer."""
    name_words = _words(name)
    protected = {stem(w) for w in hint_words if w.strip()}
    answer_words = _words(answer) - name_words
    name_l = name.casefold().strip()
    best: tuple[int, int, int] | None = None  # (shared words, section index, unit index)
    parsed: list[tuple[list[tuple[int, str]], bool]] = []
    for s_index, (heading, content) in enumerate(sections):
        units, listed = _units(content)
        parsed.append((units, listed))
        if heading_key(heading) == heading_key(PERSONA_NAME) or len(units) < 2:
            continue
        for u_index, (_, unit) in enumerate(units):
            if u_index == 0 and not listed:
                continue
            words = _words(unit)
            if (name_l and name_l in unit.casefold()) or words & name_words:
                continue
            if any(p in unit.casefold() for p in protected):
                continue
            shared = len(words & answer_words)
            if shared and (best is None or shared > best[0]):
                best = (shared, s_index, u_index)
    if best is None:
        return None
    _, s_index, u_index = best
    units, listed = parsed[s_index]
    heading = sections[s_index][0]
    kept = [u for i, u in enumerate(units) if i != u_index]
    out = list(sections)
    out[s_index] = (heading, _joined(kept, listed))
    return out, Struck(heading, units[u_index][1])
