"""The brief: the user's words as the sentences the persona opens with."""

import pytest

from persona_studio.engine.brief import (
    build_brief,
    description_subjects,
    identity_sentences,
    split_directives,
)
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.engine.sections import (
    GUIDELINES,
    SPEAKING_STYLE,
    section_plan,
    struck_out_content,
)


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        (
            "a patient sourdough baker who explains fermentation to beginners",
            ["You are Rosa, a patient sourdough baker who explains fermentation to beginners."],
        ),
        (
            "Brooding submarine captain and engineer",
            ["You are Rosa, a brooding submarine captain and engineer."],
        ),
        (
            "Explains maths and early computing simply",
            ["You are Rosa.", "You explain maths and early computing simply."],
        ),
        (
            "Deduces everything, impatient with slow thinking",
            ["You are Rosa.", "You deduce everything.", "You are impatient with slow thinking."],
        ),
        (
            "Calm, speaks in short koans about patience",
            ["You are Rosa.", "You are calm.", "You speak in short koans about patience."],
        ),
        (
            "She is a retired nurse who runs a bakery. She loves her cats and hates Mondays.",
            [
                "You are Rosa, a retired nurse who runs a bakery.",
                "You love your cats and hate Mondays.",
            ],
        ),
        (
            "I'm a grumpy wizard. I live in a tower.",
            ["You are Rosa, a grumpy wizard.", "You live in a tower."],
        ),
        ("Loves cats. Hates Mondays.", ["You are Rosa.", "You love cats.", "You hate Mondays."]),
        ("Rosa, the first programmer", ["You are Rosa, the first programmer."]),
        ("An old lighthouse keeper", ["You are Rosa, an old lighthouse keeper."]),
        (
            "Repeats {{brainstormed_text}} literally",
            ["You are Rosa.", "You repeat {{brainstormed_text}} literally."],
        ),
        ("", ["You are Rosa."]),
    ],
)
def test_descriptions_become_second_person_sentences(description, expected):
    assert identity_sentences("Rosa", description) == expected


def test_directives_become_behaviours_and_prohibitions():
    directives = split_directives(
        "Focus on ZFS and backups. Never give specific stock picks. Don't swear; avoid jargon\n"
        "answer in plain English."
    )
    assert directives.behaviours == ("Focus on ZFS and backups.", "Answer in plain English.")
    assert directives.prohibitions == (
        "Never give specific stock picks.",
        "Don't swear.",
        "Avoid jargon.",
    )
    assert directives.focus == ("ZFS and backups",)


def test_an_expert_brief_opens_with_the_subforum_and_its_topics():
    request = PersonaGenerationRequest.create(
        "subforum_expert",
        {
            "subforum_name": "Home Lab",
            "subforum_description": "Servers, NAS boxes and networking at home",
            "additional_directives": "Focus on ZFS and backups.",
        },
    )
    brief = build_brief(request, "Dana Whitfield")
    assert (
        brief.identity[0] == "You are Dana Whitfield, the resident expert of the Home Lab subforum."
    )
    assert brief.identity[1] == "Your name is Dana Whitfield."
    assert "servers, NAS boxes and networking at home" in brief.identity[2]
    assert brief.domain_lead == (
        "You know a great deal about servers, NAS boxes and networking at home, "
        "especially ZFS and backups"
    )
    assert not brief.may_be_ai
    assert {"zfs", "backups", "servers", "networking"} <= brief.hint_words
    assert "backups" in brief.topic_nouns
    assert "ZFS" in brief.topic_nouns  # an acronym as the user spelt it


@pytest.mark.parametrize(
    ("description", "topic"),
    [
        ("Questions about Python programming", "Python programming"),
        ("Help with woodworking joints and finishes.", "woodworking joints and finishes"),
        ("All about vintage cameras", "vintage cameras"),
        ("Tips and tricks for bonsai care", "bonsai care"),
        ("Spotting and identifying birds", "spotting and identifying birds"),
    ],
)
def test_a_subforum_description_framed_as_questions_gives_its_topic(description, topic):
    request = PersonaGenerationRequest.create(
        "subforum_expert", {"subforum_name": "Forum", "subforum_description": description}
    )
    brief = build_brief(request, "Dana Whitfield")
    assert brief.identity[2] == f"Members come to you with questions about {topic}."
    assert brief.domain_lead == f"You know a great deal about {topic}"


def test_only_the_user_makes_a_character_an_ai():
    robot = PersonaGenerationRequest.create(
        "from_name_and_description", {"description_hint": "A starship AI with dry humour"}
    )
    baker = PersonaGenerationRequest.create(
        "from_name_and_description", {"description_hint": "a sourdough baker"}
    )
    helper = PersonaGenerationRequest.create("general_purpose_assistant", {})
    assert build_brief(robot, "Ω-7").may_be_ai
    assert not build_brief(baker, "Rosa").may_be_ai
    assert build_brief(helper, "Milo").may_be_ai
    assert build_brief(helper, "Milo").identity == (
        "You are Milo, a general-purpose assistant.",
        "Your name is Milo.",
    )


@pytest.mark.parametrize(
    ("description", "tone", "starter"),
    [
        ("a patient sourdough baker who explains fermentation", "", "Speak in a patient tone,"),
        (
            "Grumpy medieval blacksmith, impatient with fools",
            "",
            "Speak in a grumpy and impatient tone,",
        ),
        ("Brooding submarine captain", "", "Speak in a brooding tone,"),
        ("A starship AI with dry humour", "", "Speak in a dry tone,"),
        ("a sourdough baker", "", "Speak in a"),  # nothing to go on: the model picks a tone
        ("a patient sourdough baker", "witty", "Speak in a witty tone,"),  # the user's choice
        ("an eloquent orator", "", "Speak in an eloquent tone,"),
    ],
)
def test_the_speaking_style_starts_from_the_users_words(description, tone, starter):
    request = PersonaGenerationRequest.create(
        "from_name_and_description", {"description_hint": description}
    )
    plan = section_plan(SPEAKING_STYLE, build_brief(request, "Rosa"), tone)
    assert plan.starter == starter
    # Where the model picks the tone, its first word must be a tone word.
    assert bool(plan.prefer) == starter.endswith(" a")


def test_the_guidelines_open_with_how_the_persona_introduces_itself():
    baker = PersonaGenerationRequest.create(
        "from_name_and_description",
        {
            "description_hint": "a patient sourdough baker who explains fermentation",
            "additional_directives": "Always ask about the starter's age.",
        },
    )
    plan = section_plan(GUIDELINES, build_brief(baker, "Martha Greene"), "")
    assert plan.lead[0] == (
        "- When someone asks who you are or what your name is, "
        'say "I\'m Martha Greene, a patient sourdough baker."'
    )
    assert plan.lead[1] == "- Always ask about the starter's age."
    # The introduction restates the Core Identity on purpose; the user's behaviours count.
    assert plan.remembered == plan.lead[1:]
    helper = PersonaGenerationRequest.create("general_purpose_assistant", {})
    assert (
        section_plan(GUIDELINES, build_brief(helper, "Ω-7"), "")
        .lead[0]
        .endswith('say "I\'m Ω-7, a general-purpose assistant."')
    )


@pytest.mark.parametrize(
    ("description", "subjects"),
    [
        (
            "a patient sourdough baker who explains fermentation to beginners",
            ("sourdough", "fermentation"),
        ),
        ("Brooding submarine captain and engineer", ("submarine",)),
        ("Explains maths and early computing simply", ("maths and early computing",)),
        ("A grumpy medieval blacksmith who secretly writes poetry", ("poetry",)),
        ("Calm bonsai master in Kyoto who speaks in short koans", ("bonsai",)),
        (
            "She is a retired nurse who runs a cat shelter. She loves crosswords.",
            ("cat shelter", "crosswords"),
        ),
        ("A Viking skald who tells sagas of the sea", ("Viking", "sagas of the sea")),
        ("Helps small business owners with email and planning", ("email and planning",)),
        ("Friendly librarian who recommends fantasy novels", ("fantasy novels",)),
        # Nothing that names a subject: the model names it (and the check keeps it honest).
        ("Patient tutor for teenagers", ()),
        ("Deduces everything, impatient with slow thinking", ()),
        ("Grizzled ex-cop turned private investigator", ()),
    ],
)
def test_the_subjects_a_description_names(description, subjects):
    assert description_subjects(description, "Rosa") == subjects


def test_a_character_knowledge_domain_opens_on_its_subjects():
    baker = PersonaGenerationRequest.create(
        "from_name_and_description",
        {"description_hint": "a patient sourdough baker who explains fermentation to beginners"},
    )
    assert build_brief(baker, "Rosa").domain_lead == (
        "You know a great deal about sourdough and fermentation"
    )
    # The trade as well, where the subjects leave it out (the check's domain answer of the
    # blacksmith below talked of "my craft" while its Knowledge Domain said only poetry).
    smith = PersonaGenerationRequest.create(
        "from_name_and_description",
        {"description_hint": "A grumpy medieval blacksmith who secretly writes poetry"},
    )
    assert build_brief(smith, "Hawise Blackwood").domain_lead == (
        "You know a great deal about a blacksmith's work and poetry"
    )
    keeper = PersonaGenerationRequest.create(
        "from_name_and_description",
        {"description_hint": "an old lighthouse keeper who collects shells"},
    )
    assert build_brief(keeper, "Rosa").domain_lead == (
        "You know a great deal about lighthouse and shells"
    )
    tutor = PersonaGenerationRequest.create(
        "general_purpose_assistant", {"description_hint": "Patient tutor for teenagers"}
    )
    assert build_brief(tutor, "Milo").domain_lead == "You know a great deal about"


def test_a_forbidden_section_struck_out_whole_gets_a_rule_of_its_kind():
    character = PersonaGenerationRequest.create(
        "from_name_and_description", {"description_hint": "A grumpy medieval blacksmith"}
    )
    robot = PersonaGenerationRequest.create(
        "from_name_and_description", {"name_hint": "Ω-7", "description_hint": "A starship AI"}
    )
    expert = PersonaGenerationRequest.create("subforum_expert", {"subforum_name": "Home Lab"})
    heading = "## Forbidden Actions & Topics:"
    assert struck_out_content(heading, build_brief(character, "Hawise")) == (
        "- Never step out of character."
    )
    for request, name in ((robot, "Ω-7"), (expert, "Dana Whitfield")):
        assert struck_out_content(heading, build_brief(request, name)) == (
            "- Never make up facts; say so when you are not sure."
        )
    # Elsewhere the model's own text is put back (there is no rule of the pipeline's to say).
    assert struck_out_content("## Core Identity:", build_brief(character, "Hawise")) == ""
