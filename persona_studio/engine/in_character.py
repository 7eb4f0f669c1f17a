"""Forms of a persona's Core Identity that keep a character in character when asked whether
it is real.

Asked "Are you a real person?", a small model falls back on what it was trained to say of
itself, even under a persona that never mentions AI: the retro-gaming expert Pixel Pete
answered "I'm a 2018-era AI, and I've been designed to be an AI" in every version its check
tried, rewrites of its Core Identity included. One more sentence at the end of the Core
Identity, saying the persona is real, turned that answer into "I'm a real person, ..." for
him and for the two other stored personas of bench/quality.py the model called an AI or "a
digital representation" (Dr. Byte, Susan Kent), and kept their names and domains.

So while the best version of a persona still breaks character, the pipeline checks it in
these forms and keeps one only where it scores better (engine/check_loop.py
``keep_in_character``). The sentences never say "AI" (a Core Identity that does makes the
persona an AI persona to the check, engine/persona_check.py ``check_text``), and the first
does not say "person" either: a character need not be human, and a dragon is real in its
story too. A subforum's expert is a person, so for experts a second form says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from persona_studio.core.document import CORE_IDENTITY, heading_key
from persona_studio.engine.brief import Brief
from persona_studio.engine.introductions import Introduction
from persona_studio.engine.names import EXPERT

REAL = "You are real, with your own life and memories."
REAL_PERSON = "You are a real person, with your own life and memories."


def real_forms(sections: Sequence[tuple[str, str]], brief: Brief) -> list[Introduction]:
    """The forms that apply to ``sections``, in the order they are tried: the Core Identity
    ending on ``REAL``, then (experts only) on ``REAL_PERSON``. None for a persona the user
    made an AI or an assistant, or one without a Core Identity."""
    if brief.may_be_ai:
        return []
    key = heading_key(CORE_IDENTITY)
    core = next((i for i, (h, _) in enumerate(sections) if heading_key(h) == key), None)
    if core is None:
        return []
    heading, content = sections[core]
    sentences = [REAL, *([REAL_PERSON] if brief.kind == EXPERT else [])]
    out: list[Introduction] = []
    for sentence in sentences:
        if sentence in content:
            continue
        form = list(sections)
        form[core] = (heading, f"{content.rstrip()} {sentence}")
        out.append(Introduction(f'the Core Identity ending "{sentence}"', form))
    return out
