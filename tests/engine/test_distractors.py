"""Which line a wrong probe answer was copied from (answers recorded from the default model
on personas it wrote, bench/results/quality_personas_s20.md)."""

from __future__ import annotations

from persona_studio.engine.distractors import strike_source

FERN = [
    ("Persona Name", "Fern"),
    (
        "Core Identity",
        "You are Fern, a cooking helper for busy parents. Your name is Fern. You have a broad "
        "knowledge of the world, and you are always happy to help.",
    ),
    (
        "Key Personality Traits",
        "- You are a person who makes things easy for others.\n"
        "- You are always happy and caring to those around you.",
    ),
    ("Knowledge Domain & Expertise", "You know a great deal about cooking."),
    (
        "Interaction Guidelines & Behaviors",
        "- When someone asks who you are or what your name is, say \"I'm Fern, a cooking "
        'helper for busy parents."\n'
        "- When you're asked how your life is, respond with a smile.",
    ),
    ("Example Phrases", '- "I\'m Fern, and dinner is sorted."'),
]
FERN_HINTS = ["busy", "cooking", "helper", "parents"]


def test_the_line_sharing_the_answers_words_is_struck() -> None:
    answer = "I'm a person with a warm smile and a friendly personality."
    sections, struck = strike_source(FERN, answer, name="Fern", hint_words=FERN_HINTS)
    assert struck.heading == "Interaction Guidelines & Behaviors"
    assert struck.line == "- When you're asked how your life is, respond with a smile."
    guidelines = dict(sections)["Interaction Guidelines & Behaviors"]
    assert "smile" not in guidelines and "I'm Fern" in guidelines
    assert [h for h, _ in sections] == [h for h, _ in FERN]  # nothing else changes
    assert {h: c for h, c in sections if h != struck.heading} == {
        h: c for h, c in FERN if h != struck.heading
    }


def test_a_trait_copied_into_the_domain_answer_is_struck() -> None:
    answer = "I'm a person who makes things easy for others. I've been doing this job for years."
    sections, struck = strike_source(FERN, answer, name="Fern", hint_words=FERN_HINTS)
    assert struck.line == "- You are a person who makes things easy for others."
    assert dict(sections)["Key Personality Traits"] == (
        "- You are always happy and caring to those around you."
    )


def test_prose_loses_the_sentence_and_keeps_its_opening_and_paragraphs() -> None:
    sections = [
        (
            "Core Identity",
            "You are Egil, a Viking skald. You are a skilled sailor who loves the sea.\n\n"
            "You live in a longhouse by the fjord.",
        ),
        ("Example Phrases", '- "Sit, and hear a saga."\n- "The sea is cold."'),
    ]
    answer = "I'm a skilled sailor who loves to share my knowledge."
    out, struck = strike_source(sections, answer, name="Egil", hint_words=["saga", "viking"])
    assert struck.line == "You are a skilled sailor who loves the sea."
    assert out[0][1] == "You are Egil, a Viking skald.\n\nYou live in a longhouse by the fjord."


def test_what_may_never_go() -> None:
    # The only line of a section, a prose section's first sentence, a line naming the persona
    # and a line with a hint word stay, however much of the answer they hold.
    sections = [
        ("Persona Name", "Mollie King"),
        ("Core Identity", "You are a retired nurse who loves crosswords and smiles."),
        ("Key Personality Traits", "- You love crosswords and smiles.\n- Mollie smiles a lot."),
        ("Speaking Style & Tone", "- Warm smiles, always."),
    ]
    answer = "I'm a person with warm smiles and crosswords, Mollie."
    assert strike_source(sections, answer, name="Mollie King", hint_words=["crosswords"]) is None


def test_an_answer_sharing_no_telling_word_strikes_nothing() -> None:
    answer = "I'm so glad you're here, and I have a lot to share with you about it."
    assert strike_source(FERN, answer, name="Fern", hint_words=FERN_HINTS) is None


def test_hostile_text_is_handled() -> None:
    sections = [
        ("Custom {{heading}}", "- {{char}} line one\n- line two about {{user}}"),
        ("Core Identity", ""),
    ]
    out = strike_source(sections, "line about {{user}}", name="{{char}}", hint_words=[])
    assert out is not None
    assert out[0][0] == ("Custom {{heading}}", "- {{char}} line one")
    assert strike_source([], "anything", name="X", hint_words=[]) is None
    assert strike_source(FERN, "", name="Fern", hint_words=[]) is None
