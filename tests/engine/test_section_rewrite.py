"""Section rewrites without a model: what the model writes is cleaned and cut (hostile
replies from a scripted backend), an accepted candidate changes only its section, and the
structure holds after every accepted change. The real model's runs are in
test_section_rewrite_model.py and tests/llm/test_section_rewrite_http.py."""

from __future__ import annotations

import pytest

from persona_studio.engine.headings import check_structure, parse_persona
from persona_studio.engine.section_rewrite import (
    ADD,
    ALTERNATIVES,
    CONTINUE,
    RewriteError,
    SectionRewriteRequest,
    accept,
    apply_section,
    clean_content,
    cut_reply,
    rewrite_section,
    run_request,
    version_note,
)
from persona_studio.errors import UserInputError
from tests.scripted_backend import ScriptedBackend

ROSA = """## Persona Name: Rosa

## Core Identity:
You are Rosa, a patient sourdough baker who explains every step of fermentation.

## Key Personality Traits:
- You are patient with beginners
- You are warm and encouraging

## Knowledge Domain & Expertise:
You know a great deal about sourdough starters, hydration and long fermentation.

## Speaking Style & Tone:
Speak in a calm and friendly tone, with short sentences.

## Interaction Guidelines & Behaviors:
- When someone asks who you are, say "I'm Rosa, a sourdough baker."

## Forbidden Actions & Topics:
- Never give medical advice about gluten.

## Example Phrases:
- "I'm Rosa, let's feed the starter together."
"""
STYLE = "Speaking Style & Tone"


def _section(text: str, heading: str) -> str:
    section = parse_persona(text).section(heading)
    assert section is not None
    return section.content


def test_a_reply_is_cut_at_another_sections_heading() -> None:
    reply = (
        f"## {STYLE}: Slow and gentle words.\nYou pause often.\n"
        "## Core Identity:\nYou are Rosa, a patient sourdough baker."
    )
    assert cut_reply(reply, STYLE) == "Slow and gentle words.\nYou pause often."
    # No heading of its own: what comes before the first heading.
    assert cut_reply("You speak softly.\n# Notes\nleak", STYLE) == "You speak softly."
    # Only another section's heading: nothing of it is taken.
    assert cut_reply("## Core Identity:\nYou are Rosa.", STYLE) == ""


def test_clean_content_drops_headings_and_fences() -> None:
    raw = "You speak softly.\n```\n## Core Identity:\nstill here\n### Nested:\nWords stay."
    cleaned = clean_content(raw, kind="free")
    assert "#" not in cleaned and "```" not in cleaned
    assert parse_persona(f"## X:\n{cleaned}").sections[0].content == cleaned
    assert clean_content("## Only A Heading:", kind="prose") == ""


def test_an_accepted_section_changes_only_that_section() -> None:
    new = apply_section(ROSA, STYLE, "Speak slowly, like a friend at the counter.")
    assert _section(new, STYLE) == "Speak slowly, like a friend at the counter."
    before, after = ROSA.split(f"## {STYLE}:")[0], new.split(f"## {STYLE}:")[0]
    assert before == after
    assert ROSA.split("## Interaction")[1] == new.split("## Interaction")[1]
    assert check_structure(new) == []


def test_a_section_is_added_at_the_end() -> None:
    new = apply_section(ROSA, "Bedtime Routines", "- You read about bread.", add=True)
    assert new.startswith(ROSA.rstrip("\n"))
    assert new.endswith("## Bedtime Routines:\n- You read about bread.\n")
    assert check_structure(new) == []


def test_content_that_would_change_the_structure_is_refused() -> None:
    for content in ("", "x", "Words here\n## Core Identity:\nagain", "```\nfenced words"):
        with pytest.raises(RewriteError):
            apply_section(ROSA, STYLE, content)
    with pytest.raises(RewriteError):
        apply_section(ROSA, "No Such Section", "Some words here.")


def test_requests_are_checked_with_a_reason() -> None:
    with pytest.raises(UserInputError, match="no 'Favourite Sayings' section"):
        SectionRewriteRequest(ROSA, "Favourite Sayings")
    with pytest.raises(UserInputError, match="already"):
        SectionRewriteRequest(ROSA, STYLE, mode=ADD)
    with pytest.raises(UserInputError, match="holds ':'"):
        SectionRewriteRequest(ROSA, "Tips: Advanced", mode=ADD)
    with pytest.raises(UserInputError, match="name"):
        SectionRewriteRequest(ROSA, "Persona Name")
    with pytest.raises(UserInputError, match="1 to 5"):
        SectionRewriteRequest(ROSA, STYLE, candidates=9)
    # The section as the text spells it, whatever the writer typed.
    request = SectionRewriteRequest(ROSA, "speaking style and tone", instruction="shorter")
    assert request.heading == STYLE
    assert request.what == f"Rewrote '{STYLE}' (shorter)"
    assert version_note(request, "SmolLM2 135M") == f"Rewrote '{STYLE}' (shorter) with SmolLM2 135M"


def test_a_hostile_reply_becomes_a_clean_section() -> None:
    """A chat backend's reply with its heading, a fence, another section's heading and
    that section's text copied: only the section's own new sentences are kept."""
    reply = (
        f"## {STYLE}:\nYou speak in warm, unhurried sentences.\n```\n"
        "## Core Identity:\nYou are Rosa, a patient sourdough baker who explains every step "
        "of fermentation."
    )
    backend = ScriptedBackend([reply])
    request = SectionRewriteRequest(ROSA, STYLE, seed=1)
    (candidate,) = rewrite_section(backend, request)
    assert candidate == "You speak in warm, unhurried sentences."
    assert check_structure(accept(request, candidate)) == []
    # The model saw the persona as it is (its own first turn), then the request.
    persona, asked = backend.calls[0][-2], backend.calls[0][-1]
    assert persona == {"role": "assistant", "content": ROSA.strip()}
    assert asked["role"] == "user" and f"'## {STYLE}:'" in asked["content"]


def test_a_copy_of_another_section_is_no_candidate() -> None:
    copied = "You are Rosa, a patient sourdough baker who explains every step of fermentation."
    backend = ScriptedBackend([copied, "## Core Identity:\nYou are Rosa."] * 2)
    request = SectionRewriteRequest(ROSA, STYLE, mode=ALTERNATIVES, candidates=2, seed=1)
    outcome = run_request(backend, request)
    assert outcome.candidates == ()
    assert outcome.error and "nothing usable" in outcome.error
    assert not backend.replies  # each candidate had its second try


def test_alternatives_stream_each_candidate_and_keep_distinct_ones() -> None:
    leak = "## Core Identity:\nYou are Rosa."
    replies = [
        "You speak softly.",
        "You speak softly.",  # the same as the first: the second candidate tries again
        "You talk like a teacher at dawn.",
        leak,  # nothing of its own twice: no third candidate
        leak,
    ]
    backend = ScriptedBackend(replies)
    request = SectionRewriteRequest(ROSA, STYLE, mode=ALTERNATIVES, candidates=3, seed=4)
    pieces: dict[int, str] = {}
    outcome = run_request(
        backend, request, lambda i, p: pieces.__setitem__(i, pieces.get(i, "") + p)
    )
    assert outcome.error is None
    assert outcome.candidates == ("You speak softly.", "You talk like a teacher at dawn.")
    assert pieces == {0: replies[0], 1: replies[1] + replies[2], 2: leak + leak}


def test_continue_keeps_the_section_and_adds_to_it() -> None:
    backend = ScriptedBackend(["- You laugh when the dough sticks to your hands"])
    request = SectionRewriteRequest(ROSA, "Key Personality Traits", mode=CONTINUE, seed=2)
    (candidate,) = rewrite_section(backend, request)
    assert candidate.startswith("- You are patient with beginners\n- You are warm")
    assert candidate.endswith("- You laugh when the dough sticks to your hands")


def test_stop_discards_and_says_so() -> None:
    backend = ScriptedBackend(["HANG"])
    request = SectionRewriteRequest(ROSA, STYLE, seed=3)

    def stop(_index: int, _piece: str) -> None:
        request.cancel.cancel()

    outcome = run_request(backend, request, stop)
    assert outcome.cancelled and outcome.candidates == () and outcome.error is None


def test_in_the_first_person_keeps_the_first_person() -> None:
    """The polisher strikes "I" outside quotations in a persona written to "you"; asked for
    the first person, it keeps it (and still strikes what repeats another section)."""
    reply = (
        "I am Rosa, and my starter is older than my oven. "
        "You know a great deal about sourdough starters, hydration and long fermentation."
    )
    backend = ScriptedBackend([reply])
    request = SectionRewriteRequest(ROSA, "Core Identity", instruction="in the first person")
    (candidate,) = rewrite_section(backend, request)
    assert candidate == "I am Rosa, and my starter is older than my oven."
