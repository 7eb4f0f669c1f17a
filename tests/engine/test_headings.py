from persona_studio.engine.headings import (
    DEFAULT_HEADINGS,
    IssueKind,
    check_structure,
    parse_persona,
    render_persona,
)

HANK = (
    "Always respond as Homelab Hank, using the style, tone and personality explained below.\n\n---\n\n"
    "## Persona Name: Homelab Hank\n"
    "## Core Identity:\nA retired network engineer.\n"
    "## Key Personality Traits:\n- Patient\n"
    "## Knowledge Domain & Expertise:\nLinux servers.\n"
    "## Speaking Style & Tone:\nSpeak casually.\n"
    "## Interaction Guidelines & Behaviors:\nAsk for logs before guessing.\n"
    "## Forbidden Actions & Topics:\nNever reveal you are an AI.\n"
    '## Example Phrases:\n- "Let\'s look at the logs first."'
)


def test_parses_forllm_generated_persona_with_preamble():
    parsed = parse_persona(HANK)
    assert parsed.name == "Homelab Hank"
    assert parsed.preamble.startswith("Always respond as Homelab Hank")
    assert [s.heading for s in parsed.sections] == list(DEFAULT_HEADINGS)
    # FORLLM's own preamble is its convention, not a structure problem.
    assert check_structure(HANK) == []
    kinds = {i.kind for i in check_structure("## Core Identity:\nA ghost.\n" + HANK)}
    assert IssueKind.NOT_FIRST in kinds


def test_render_then_check_is_clean():
    text = render_persona("Ada", [(h, f"Content for {h}.") for h in DEFAULT_HEADINGS[1:]])
    assert text.startswith("## Persona Name: Ada\n")
    assert check_structure(text) == []
    assert parse_persona(text).section("knowledge domain and expertise").content == (
        "Content for Knowledge Domain & Expertise."
    )


def test_structure_issues_are_reported_with_lines():
    text = (
        "## Persona Name: Ada\n## Key Personality Traits:\nCurious.\n## Core Identity:\n"
        "Mathematician.\n## Core Identity:\nAgain.\n## Speaking Style & Tone:\n\n"
    )
    issues = check_structure(text)
    by_kind = {(i.kind, i.heading) for i in issues}
    assert (IssueKind.OUT_OF_ORDER, "Key Personality Traits") in by_kind or (
        IssueKind.OUT_OF_ORDER,
        "Core Identity",
    ) in by_kind
    assert (IssueKind.DUPLICATED, "Core Identity") in by_kind
    assert (IssueKind.EMPTY, "Speaking Style & Tone") in by_kind
    assert (IssueKind.MISSING, "Example Phrases") in by_kind
    duplicated = next(i for i in issues if i.kind is IssueKind.DUPLICATED)
    assert duplicated.line == 5 and "line 6" in duplicated.message


def test_headings_inside_code_fences_are_not_sections():
    text = "## Persona Name: Bash Bot\n## Example Phrases:\n```\n## not a heading\n```\n"
    assert [s.heading for s in parse_persona(text).sections] == ["Persona Name", "Example Phrases"]


def test_tidy_section_drops_half_sentences_but_keeps_short_list_items():
    from persona_studio.engine.sections import tidy_section

    prose = "You are Nemo, a brilliant engineer. Your mind is sharp and your power has far"
    assert tidy_section(prose, prose=True) == "You are Nemo, a brilliant engineer."
    assert tidy_section("You are Nemo, a brilliant engineer.", prose=True).endswith("engineer.")
    items = "- Patient\n- Curious\n- Stubborn"
    assert tidy_section(items) == items  # complete list items need no full stop
    cut = "- Patient\n- Curious\n- Always asks for the logs before"
    assert tidy_section(cut, truncated=True) == "- Patient\n- Curious"
    assert tidy_section("#\n## Core Identity:\n:  You  are   here.", prose=True) == "You are here."
    assert (
        tidy_section("- Calm\n• Kind\n* Wry\n**Bold** claim")
        == "- Calm\n- Kind\n- Wry\n**Bold** claim"
    )


def test_a_turn_against_the_opening_sentence_goes_and_a_qualifier_stays():
    from persona_studio.engine.sections import without_turn

    style, domain = "## Speaking Style & Tone:", "## Knowledge Domain & Expertise:"
    # Recorded (bench s30-s34): the model continuing the pipeline's opening with its opposite.
    assert without_turn(style, "Speak in a dry tone, but it is not dry.") == "Speak in a dry tone."
    assert without_turn(
        style, "Speak in a dry tone, but it's not a bad thing, you're just yourself. You sigh."
    ) == ("Speak in a dry tone. You sigh.")
    assert without_turn(
        domain,
        "You know a great deal about balcony vegetables, compost and small spaces, but you're "
        "not really interested in organic farming. You are a traditionalist.",
    ) == (
        "You know a great deal about balcony vegetables, compost and small spaces. You are a "
        "traditionalist."
    )
    kept = [
        (style, "Speak in a patient tone, but not too formal."),  # qualifies the tone
        (style, "Speak in a grumpy tone, but you're a master."),  # no negation
        (style, "Speak in a calm tone. You are calm, but you don't shout."),  # not the opening
        ("## Core Identity:", "You love cooking, but you never use a microwave."),  # a detail
    ]
    for heading, text in kept:
        assert without_turn(heading, text) == text
