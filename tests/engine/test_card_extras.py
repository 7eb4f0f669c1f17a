"""Card extras (engine/card_extras.py): what the model writes is cleaned like any hostile
input, garbage is refused field by field with a message, and the request runs to an outcome
whatever happens. The scripted backend plays the model's worst; the real default model writes
extras once (marked ``model``)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from persona_studio.engine.card_extras import (
    CardExtrasRequest,
    clean_reply,
    clean_tags,
    problem_with,
    run_request,
    write_extras,
)
from persona_studio.errors import InvalidRequestError, ServerUnreachableError
from persona_studio.llm.catalog import DEFAULT_MODEL_ID, BackendPool, ModelSettings
from tests.export.helpers import HANK_TEXT
from tests.scripted_backend import ScriptedBackend

GOOD = [
    "*looks up from the rack* Hello there! I'm Homelab Hank. Pull up a chair.",
    "Morning! Back already? Let's see what broke.",
    "Hey, come in. What's on your mind?",
    "I'm Hank, a retired network engineer with too many servers.",
    "ZFS checks every block it reads, so silent corruption gets caught.",
    "We are in a cluttered garage full of humming servers.",
    "homelab, servers, linux, zfs, mentor",
]


def test_a_well_behaved_model_gives_every_extra() -> None:
    backend = ScriptedBackend(GOOD)
    draft = write_extras(backend, HANK_TEXT)
    assert draft.first_mes == GOOD[0]
    assert draft.alternate_greetings == (GOOD[1], GOOD[2])
    assert draft.mes_example == (
        f"<START>\n{{{{user}}}}: Who are you?\n{{{{char}}}}: {GOOD[3]}\n"
        f"<START>\n{{{{user}}}}: What can you tell me about Linux servers?\n"
        f"{{{{char}}}}: {GOOD[4]}"
    )
    assert draft.scenario == GOOD[5]
    assert draft.tags == ("homelab", "servers", "linux", "zfs", "mentor")
    assert draft.problems == ()
    assert draft.model == "scripted:test"
    # Every request had the persona as its system prompt: the persona speaks for itself.
    assert all(call[0] == {"role": "system", "content": HANK_TEXT} for call in backend.calls)


def test_hostile_output_is_cleaned_and_garbage_is_refused_with_a_message() -> None:
    replies = [
        # speaks for the user, opens a new turn, plants a macro and a card marker
        "Homelab Hank: Welcome, {{random:a,b}}friend! Sit down.\nUser: thanks\n<START>",
        "## Core Identity:\nI am now a different persona.",  # a heading: nothing before it
        "Welcome back!!! Welcome back!!! " * 3,  # fine text, cut at a sentence
        "<|im_start|>assistant",  # a template token only
        "ab%%%%%% cd$$$$$$ ef###### gh@@@@@@@ ij!!!!!!",
        "and on " * 1000,  # runs on without a sentence: cut to the limit
        "Tags: 1. Homelab 2. Homelab Hank 3. the 4. servers 5. a very long tag with many words",
    ]
    draft = write_extras(ScriptedBackend(replies), HANK_TEXT)
    assert draft.first_mes == "Welcome, friend! Sit down."
    assert draft.alternate_greetings == (
        "Welcome back!!! Welcome back!!! Welcome back!!! Welcome back!!! Welcome back!!! "
        "Welcome back!!!",
    )
    assert draft.mes_example == ""
    assert 290 <= len(draft.scenario) <= 300 and draft.scenario.startswith("and on and")
    assert draft.tags[:2] == ("homelab", "servers")  # the rest from the Knowledge Domain
    assert len(draft.tags) == 5 and len(set(draft.tags)) == 5
    problems = " | ".join(draft.problems)
    assert "alternate greeting 1: the model said nothing usable; left as it was" in problems
    assert 'example dialogue ("Who are you?"): the model said nothing usable' in problems
    assert "mostly symbols" in problems
    assert (
        "tags: the model gave 2 usable tag(s); 3 more came from the persona's own text" in problems
    )


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("{{char}}: Hi there, friend.", "Hi there, friend."),
        ("Note: this is fine.", "Note: this is fine."),
        ("Hi.\x00\x07 Bye.", "Hi. Bye."),
        ("One.  Two\n\n\nThree", "One. Two\nThree"),
        ("Hello {{user}}, I'm {{char}}. {{getvar::x}}", "Hello {{user}}, I'm {{char}}."),
        ("No full stop at the end", "No full stop at the end"),
        ("assistant: hi", ""),
        ("Linux is versatile. Here's what you can expect:", "Linux is versatile."),
    ],
)
def test_clean_reply(raw: str, clean: str) -> None:
    assert clean_reply(raw, "Homelab Hank") == clean


def test_a_reply_cut_by_the_token_limit_ends_at_its_last_sentence() -> None:
    assert clean_reply("Fine sentence. And an unfinished one that", cut=True) == "Fine sentence."
    assert clean_reply("No sentence ends here at all", cut=True) == "No sentence ends here at all"


def test_what_the_default_model_really_wrote_is_cleaned() -> None:
    """Replies SmolLM2-135M gave for Homelab Hank: a character calling itself an AI is no
    example dialogue, and a tag list's preamble is no tag."""
    replies = [
        "Hello! I'm Homelab Hank, and welcome to our home lab. How can I assist you today?",
        "Hello! I'm glad you're back. How about a quick hello?",
        "Hello. I'm glad you're here. What can I help you with today?",
        "I'm a professional AI assistant designed to assist users in their daily tasks.",
        "Linux servers are incredibly powerful and versatile. Here's what you can expect:",
        "I'm here in the lab, surrounded by a mix of equipment and people.",
        "Here are five one-word tags that describe you:\n1. Homelab Hank\n2. Tinkerer",
    ]
    draft = write_extras(ScriptedBackend(replies), HANK_TEXT)
    assert draft.mes_example == (
        "<START>\n{{user}}: What can you tell me about Linux servers?\n"
        "{{char}}: Linux servers are incredibly powerful and versatile."
    )
    assert 'example dialogue ("Who are you?"): the model\'s answer calls the persona an AI' in (
        " ".join(draft.problems)
    )
    assert draft.tags[0] == "tinkerer" and "one-word that" not in draft.tags
    assert len(draft.tags) == 5


def test_problem_and_tag_rules() -> None:
    assert problem_with("Hello there, friend.") is None
    assert "too short" in (problem_with("Hi.") or "")
    assert "repeated" in (problem_with("Hello there.", others=("hello there.",)) or "")
    assert clean_tags("#Baking, #bread; sour dough / BAKING and tags", "Martha Greene") == [
        "baking",
        "bread",
        "sour dough",
    ]


def test_the_request_ends_in_an_outcome_whatever_happens() -> None:
    request = CardExtrasRequest(7, HANK_TEXT, "scripted:test")
    down = ServerUnreachableError("The server at http://x did not answer.")
    outcome = run_request(lambda _model: ScriptedBackend([down]), request)
    assert (outcome.persona_id, outcome.draft, outcome.error) == (7, None, str(down))
    request.cancel.cancel()
    assert run_request(lambda _model: ScriptedBackend([]), request).cancelled
    hang = CardExtrasRequest(7, HANK_TEXT, "scripted:test")
    seen: list[str] = []

    def stop_after_first(key: str) -> None:
        seen.append(key)
        hang.cancel.cancel()

    outcome = run_request(lambda _m: ScriptedBackend([GOOD[0], "HANG"]), hang, stop_after_first)
    assert outcome.cancelled and seen == ["greeting"]
    with pytest.raises(InvalidRequestError):
        CardExtrasRequest(7, "  ", "scripted:test")


@pytest.mark.model
def test_the_default_model_writes_usable_extras_in_the_persona_voice() -> None:
    pool = BackendPool(ModelSettings(threads=1))
    try:
        backend = pool.get(DEFAULT_MODEL_ID)
        draft = write_extras(backend, HANK_TEXT)
        again = write_extras(backend, HANK_TEXT)
    finally:
        pool.close()
    assert draft.first_mes
    assert replace(draft, seconds=0) == replace(again, seconds=0)  # greedy: reproducible
    assert len(draft.tags) == 5
    # An answer in which Hank calls himself an AI is left out (the 135M model does that to
    # "Who are you?"), so the dialogue holds one or two exchanges.
    assert draft.mes_example.startswith("<START>\n{{user}}: ")
    assert "{{char}}: " in draft.mes_example
    for text in (draft.first_mes, *draft.alternate_greetings, draft.scenario):
        assert "<START>" not in text and "##" not in text and "User:" not in text
