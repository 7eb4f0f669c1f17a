"""The other forms of a persona's self-introduction that the check chooses between."""

from persona_studio.engine.brief import build_brief
from persona_studio.engine.introductions import introduction_rule, other_introductions
from persona_studio.engine.request import PersonaGenerationRequest


def brief_for(name="Fern", description="a cooking helper for busy parents"):
    request = PersonaGenerationRequest.create(
        "from_name_and_description", {"name_hint": name, "description_hint": description}
    )
    return build_brief(request, name)


RULE = introduction_rule("I'm Fern, a cooking helper for busy parents.")


def sections(guidelines=f"{RULE}\n- Keep recipes short.", phrases='- "Dinner in twenty minutes."'):
    return [
        ("Core Identity", "You are Fern, a cooking helper for busy parents. Your name is Fern."),
        ("Key Personality Traits", "- You are cheerful."),
        ("Interaction Guidelines & Behaviors", guidelines),
        ("Example Phrases", phrases),
    ]


def by_heading(form):
    return dict(form.sections)


def test_the_brief_gives_the_rule_the_forms_look_for():
    assert brief_for().introduction == "I'm Fern, a cooking helper for busy parents."


def test_three_forms_each_changing_only_where_the_persona_introduces_itself():
    original = sections()
    moved, short, greeted = other_introductions(original, brief_for())

    core = by_heading(moved)["Core Identity"]
    assert core.endswith(
        "Your name is Fern. When someone asks who you are, you say \"I'm Fern, a cooking "
        'helper for busy parents."'
    )
    assert by_heading(moved)["Interaction Guidelines & Behaviors"] == "- Keep recipes short."
    assert "Core Identity" in moved.label

    rules = by_heading(short)["Interaction Guidelines & Behaviors"]
    assert rules == introduction_rule("I'm Fern.") + "\n- Keep recipes short."
    assert by_heading(short)["Core Identity"] == dict(original)["Core Identity"]

    assert by_heading(greeted)["Example Phrases"] == (
        '- "I\'m Fern, a cooking helper for busy parents."\n- "Dinner in twenty minutes."'
    )
    for form in (moved, short, greeted):  # the rest as it was, in the same order
        assert [h for h, _ in form.sections] == [h for h, _ in original]
        assert by_heading(form)["Key Personality Traits"] == "- You are cheerful."
    assert original == sections()  # the persona handed in is not changed


def test_the_rule_stays_where_it_is_the_only_guideline():
    forms = other_introductions(sections(guidelines=RULE), brief_for())
    assert [f.label for f in forms][0].startswith("the name alone")
    assert len(forms) == 2


def test_no_short_form_where_the_introduction_is_the_name_alone():
    brief = brief_for(description="")
    assert brief.introduction == "I'm Fern."
    guidelines = f"{introduction_rule(brief.introduction)}\n- Keep recipes short."
    forms = other_introductions(sections(guidelines=guidelines), brief)
    assert not any("name alone" in f.label for f in forms)
    assert len(forms) == 2


def test_no_greeting_where_the_phrases_already_open_with_it_or_are_not_a_list():
    brief = brief_for()
    opened = f'- "{brief.introduction}"\n- "Dinner in twenty minutes."'
    assert not any(
        "Example Phrases" in f.label for f in other_introductions(sections(phrases=opened), brief)
    )
    prose = "Dinner in twenty minutes, she says."
    assert not any(
        "Example Phrases" in f.label for f in other_introductions(sections(phrases=prose), brief)
    )


def test_a_persona_without_the_rule_or_those_headings_has_only_what_applies():
    brief = brief_for()
    edited = sections(guidelines="- Keep recipes short.")  # the writer reworded the rule
    assert [f.label for f in other_introductions(edited, brief)] == [
        "the Example Phrases opening with the introduction"
    ]
    custom = [("Who I Am", "You are Fern."), ("Favourite Dishes", "- Soup.")]
    assert other_introductions(custom, brief) == []
