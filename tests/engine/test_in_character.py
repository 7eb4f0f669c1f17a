"""The forms of a Core Identity that keep a character in character when asked if it is real."""

from persona_studio.engine.brief import build_brief
from persona_studio.engine.in_character import REAL, REAL_PERSON, real_forms
from persona_studio.engine.polish import mentions_ai
from persona_studio.engine.request import PersonaGenerationRequest

CORE = "You are Pete, the resident expert of the Retro Gaming subforum."


def brief_of(generation_type, details, name="Pete"):
    return build_brief(PersonaGenerationRequest.create(generation_type, details), name)


def character():
    return brief_of("from_name_and_description", {"description_hint": "a grumpy dragon"})


def expert():
    return brief_of("subforum_expert", {"subforum_name": "Retro Gaming"})


def sections(core=CORE):
    return [
        ("Core Identity", core),
        ("Key Personality Traits", "- You are cheerful."),
        ("Example Phrases", '- "Blow into the cartridge."'),
    ]


def test_a_character_is_said_to_be_real_not_a_person():
    original = sections()
    (form,) = real_forms(original, character())
    assert dict(form.sections)["Core Identity"] == f"{CORE} {REAL}"
    assert [h for h, _ in form.sections] == [h for h, _ in original]
    assert dict(form.sections)["Key Personality Traits"] == "- You are cheerful."
    assert original == sections()  # the persona handed in is not changed
    assert REAL in form.label


def test_an_expert_may_also_be_said_to_be_a_real_person():
    real, person = real_forms(sections(), expert())
    assert dict(real.sections)["Core Identity"].endswith(REAL)
    assert dict(person.sections)["Core Identity"] == f"{CORE} {REAL_PERSON}"


def test_no_form_says_ai_which_would_make_it_an_ai_persona_to_the_check():
    assert not mentions_ai(REAL) and not mentions_ai(REAL_PERSON)


def test_none_for_an_assistant_an_ai_or_a_persona_without_a_core_identity():
    assistant = brief_of("general_purpose_assistant", {}, name="Pip")
    assert real_forms(sections(), assistant) == []
    robot = brief_of("from_name_and_description", {"description_hint": "a starship AI"})
    assert robot.may_be_ai and real_forms(sections(), robot) == []
    assert real_forms(sections()[1:], character()) == []


def test_a_sentence_the_core_identity_already_ends_on_is_not_added_again():
    forms = real_forms(sections(f"{CORE} {REAL}"), expert())
    assert [dict(f.sections)["Core Identity"] for f in forms] == [f"{CORE} {REAL} {REAL_PERSON}"]
