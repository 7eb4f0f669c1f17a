import json

import pytest

from persona_studio.engine.headings import DEFAULT_HEADINGS
from persona_studio.engine.request import (
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    PersonaGenerationRequest,
)
from persona_studio.errors import InvalidRequestError

FORLLM_KEYS = {
    "generation_type",
    "input_details",
    "output_preferences",
    "llm_model_for_generation",
    "target_persona_name_override",
}


def test_round_trip_through_forllm_json():
    request = PersonaGenerationRequest.create(
        "from_name_and_description",
        {"name_hint": "Ada", "description_hint": "Explains maths with {{name_hint}} jokes"},
        {
            "desired_headings": ["Core Identity", "Example Phrases"],
            "tone_preference": "witty",
            "length_preference": "concise",
        },
        llm_model_for_generation="ollama:llama3",
        target_persona_name_override="Countess Ada",
    )
    params = json.loads(request.to_json())
    assert set(params) == FORLLM_KEYS
    assert params["output_preferences"]["desired_headings"] == ["Core Identity", "Example Phrases"]
    again = PersonaGenerationRequest.from_json(request.to_json())
    assert again == request
    assert again.detail("description_hint") == "Explains maths with {{name_hint}} jokes"


def test_forllm_subforum_expert_with_only_subforum_id_is_valid_and_resolvable():
    params = {
        "generation_type": "subforum_expert",
        "input_details": {
            "subforum_id": 2,
            "additional_directives": "Focus on ZFS.",
            "name_hint": "",
        },
        "output_preferences": {},
        "llm_model_for_generation": "llama3",
        "target_persona_name_override": "",
    }
    request = PersonaGenerationRequest.from_params(params)
    assert request.needs_subforum_lookup
    resolved = request.with_subforum("Home Lab", "Servers at home")
    assert not resolved.needs_subforum_lookup
    assert resolved.detail("subforum_name") == "Home Lab"
    assert resolved.input_details["subforum_id"] == 2


def test_persona_name_heading_is_always_first():
    request = PersonaGenerationRequest.create(
        "general_purpose_assistant",
        {},
        {"desired_headings": ["Example Phrases", "Persona Name", "Core Identity"]},
    )
    assert request.output_preferences.headings == (
        "Persona Name",
        "Example Phrases",
        "Core Identity",
    )
    default = PersonaGenerationRequest.create("general_purpose_assistant", {})
    assert default.output_preferences.headings == DEFAULT_HEADINGS


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"generation_type": "wizard"}, "generation_type"),
        ({"generation_type": None}, "generation_type"),
        (
            {"generation_type": "subforum_expert", "input_details": {}},
            "input_details.subforum_name",
        ),
        (
            {"generation_type": "subforum_expert", "input_details": {"subforum_name": "  "}},
            "input_details.subforum_name",
        ),
        (
            {"generation_type": "from_name_and_description", "input_details": {}},
            "input_details.description_hint",
        ),
        (
            {
                "generation_type": "from_name_and_description",
                "input_details": {"name_hint": "x" * (MAX_NAME_CHARS + 1)},
            },
            "input_details.name_hint",
        ),
        (
            {
                "generation_type": "from_name_and_description",
                "input_details": {"description_hint": "x" * (MAX_TEXT_CHARS + 1)},
            },
            "input_details.description_hint",
        ),
        (
            {"generation_type": "from_name_and_description", "input_details": {"name_hint": 42}},
            "input_details.name_hint",
        ),
        (
            {
                "generation_type": "general_purpose_assistant",
                "output_preferences": {"desired_headings": ["Core Identity", 7]},
            },
            "output_preferences.desired_headings[1]",
        ),
        (
            {
                "generation_type": "general_purpose_assistant",
                "output_preferences": {"desired_headings": "Core Identity"},
            },
            "output_preferences.desired_headings",
        ),
        (
            {
                "generation_type": "general_purpose_assistant",
                "output_preferences": {"desired_headings": ["Tone", "tone:"]},
            },
            "output_preferences.desired_headings[1]",
        ),
        (
            {
                "generation_type": "general_purpose_assistant",
                "output_preferences": {"desired_headings": ["  ## "]},
            },
            "output_preferences.desired_headings[0]",
        ),
        (
            {
                "generation_type": "general_purpose_assistant",
                "output_preferences": {"length_preference": "epic"},
            },
            "output_preferences.length_preference",
        ),
        (
            {"generation_type": "general_purpose_assistant", "output_preferences": []},
            "output_preferences",
        ),
        ({"generation_type": "general_purpose_assistant", "input_details": "Ada"}, "input_details"),
        (
            {"generation_type": "subforum_expert", "input_details": {"subforum_id": "two"}},
            "input_details.subforum_id",
        ),
    ],
)
def test_invalid_requests_name_the_field(params, field):
    with pytest.raises(InvalidRequestError) as info:
        PersonaGenerationRequest.from_params(params)
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")


def test_malformed_json_is_a_clear_error():
    with pytest.raises(InvalidRequestError, match="request_params: is not valid JSON"):
        PersonaGenerationRequest.from_json("{not json")
    with pytest.raises(InvalidRequestError, match="request_params: is empty"):
        PersonaGenerationRequest.from_json(None)
    with pytest.raises(InvalidRequestError, match="request_params: must be a JSON object"):
        PersonaGenerationRequest.from_json("[1, 2]")
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InvalidRequestError, match="request_params"):
        PersonaGenerationRequest.from_json(deep)


def test_names_are_cleaned_and_control_characters_dropped():
    request = PersonaGenerationRequest.create(
        "from_name_and_description",
        {
            "name_hint": "  **Captain\x00  Nemo**\n",
            "description_hint": "Sea\x07 captain\n\nof the Nautilus",
        },
        target_persona_name_override=None,
    )
    assert request.detail("name_hint") == "Captain Nemo"
    assert request.detail("description_hint") == "Sea captain\n\nof the Nautilus"
    assert request.target_persona_name_override == ""


def test_our_options_round_trip_under_their_own_key():
    request = PersonaGenerationRequest.create(
        "general_purpose_assistant", {}, app_options={"replaces_persona_id": 7}
    )
    params = request.to_params()
    assert params["persona_studio"] == {"replaces_persona_id": 7}
    assert set(params) - {"persona_studio"} == FORLLM_KEYS
    assert PersonaGenerationRequest.from_params(params).replaces_persona_id == 7
    assert (
        "persona_studio"
        not in PersonaGenerationRequest.create("general_purpose_assistant", {}).to_params()
    )
    with pytest.raises(InvalidRequestError) as info:
        PersonaGenerationRequest.from_params(
            {
                "generation_type": "general_purpose_assistant",
                "persona_studio": {"replaces_persona_id": "seven"},
            }
        )
    assert info.value.field == "persona_studio.replaces_persona_id"


# -- rows anyone may write: every value ends as InvalidRequestError naming the field ----------

GPA = "general_purpose_assistant"
_EXPERT = "subforum_expert"


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("[" * 100_000 + "]" * 100_000, "request_params", "nested more than 64 levels"),
        (
            '{"generation_type": "general_purpose_assistant", "input_details": {"x": '
            + "[" * 70
            + "]" * 70
            + "}}",
            "request_params",
            "nested more than 64 levels",
        ),
        (
            json.dumps({"generation_type": _EXPERT, "input_details": {"subforum_id": 10**30}}),
            "input_details.subforum_id",
            "a 31-digit number is not a subforum number",
        ),
        (
            json.dumps({"generation_type": _EXPERT, "input_details": {"subforum_id": "9" * 40}}),
            "input_details.subforum_id",
            "is not a subforum number",
        ),
        (
            '{"generation_type": "subforum_expert", "input_details": {"subforum_id": Infinity}}',
            "input_details.subforum_id",
            "must be a subforum number, not a number",
        ),
        ('{"n": ' + "9" * 5000 + "}", "request_params", "thousands of digits"),
        (
            '{"generation_type": "general_purpose_assistant", "input_details": '
            '{"name_hint": "A \\ud800 B"}}',
            "input_details.name_hint",
            "lone UTF-16 surrogate",
        ),
        (
            '{"generation_type": "general_purpose_assistant", "input_details": '
            '{"new \\udfff key": 1}}',
            "input_details.new \ufffd key",
            "lone UTF-16 surrogate",
        ),
        (b"\xff\xfe{}", "request_params", "binary data"),
        (7, "request_params", "is a number, not JSON text"),
        (2.5, "request_params", "is a number, not JSON text"),
        ('"just text"', "request_params", "must be a JSON object, not str"),
        (
            json.dumps({"generation_type": GPA, "input_details": {"name_hint": "x" * 2_000_000}}),
            "request_params",
            "more than the 1,000,000 allowed",
        ),
        (
            json.dumps({"generation_type": GPA, "input_details": {"name_hint": "x" * 500_000}}),
            "input_details.name_hint",
            "the limit is 120",
        ),
        (
            json.dumps({"generation_type": GPA, "persona_studio": {"replaces_persona_id": 10**30}}),
            "persona_studio.replaces_persona_id",
            "is not a persona number",
        ),
        (
            json.dumps({"generation_type": GPA, "persona_studio": {"replaces_persona_id": True}}),
            "persona_studio.replaces_persona_id",
            "must be a persona number",
        ),
        (
            json.dumps({"generation_type": GPA, "persona_studio": {"seed": 2**40}}),
            "persona_studio.seed",
            "must be a whole number from 0 to",
        ),
        (
            json.dumps({"generation_type": 10**30}),
            "generation_type",
            "unknown type a 31-digit number",
        ),
    ],
)
def test_hostile_request_params_are_refused_in_words(text, field, words):
    with pytest.raises(InvalidRequestError) as info:
        PersonaGenerationRequest.from_json(text)
    assert info.value.field == field
    assert words in str(info.value)
    str(info.value).encode("utf-8", "surrogatepass")  # the message itself can be shown


def test_the_model_column_is_checked_like_the_request_field():
    request = PersonaGenerationRequest.create(GPA, {})
    assert request.with_model("  llama3 ").llm_model_for_generation == "llama3"
    with pytest.raises(InvalidRequestError, match="llm_model: must be text, not a number"):
        request.with_model(12)
    with pytest.raises(InvalidRequestError, match="llm_model: is 2,000 characters long"):
        request.with_model("m" * 2000)


def test_a_seed_is_kept_with_the_request():
    request = PersonaGenerationRequest.create(GPA, {}, app_options={"seed": 7})
    again = PersonaGenerationRequest.from_json(request.to_json())
    assert again.seed == 7
    assert PersonaGenerationRequest.create(GPA, {}).seed is None


# -- headings the document format cannot carry ------------------------------------------------


@pytest.mark.parametrize(
    ("headings", "index", "words"),
    [
        (["Core Identity", "Tips: Advanced"], 1, "holds ':', which ends a heading"),
        (["Setup # Notes"], 0, "holds '#', which marks a heading"),
        (["C# Tips"], 0, "holds '#'"),
        (["Tone & Style", "Tone and Style"], 1, "listed twice (as 'Tone & Style')"),
        (["Core Identity", "core-identity"], 1, "listed twice"),
        (["!!!"], 0, "needs at least one letter or digit"),
    ],
)
def test_headings_the_document_cannot_carry_are_refused_up_front(headings, index, words):
    with pytest.raises(InvalidRequestError) as info:
        PersonaGenerationRequest.create(GPA, {}, {"desired_headings": headings})
    assert info.value.field == f"output_preferences.desired_headings[{index}]"
    assert words in str(info.value)


def test_every_accepted_heading_passes_the_structure_check_of_its_document():
    """The point of the check: a heading it lets through always makes a document that the
    pipeline's final structure check accepts (letters of every script count)."""
    from persona_studio.engine.headings import check_structure, render_persona

    headings = ["性格", "语气", "Über mich", "Q&A", "Tips - Advanced", "100% Honest", "(Notes)"]
    request = PersonaGenerationRequest.create(GPA, {}, {"desired_headings": headings})
    chosen = request.output_preferences.headings
    text = render_persona("Ada", [(h, "Some words here.") for h in chosen[1:]])
    assert check_structure(text, chosen) == []
