"""The one lenient reader of llm_requests.request_params: whatever FORLLM, this application
or a broken writer stored, it gives a label, hints and options, and never raises."""

from __future__ import annotations

import json
from typing import Any

import pytest

from persona_studio.core.request import (
    APP_OPTIONS_KEY,
    MAX_PARAMS_CHARS,
    MAX_SEED,
    MAX_SHOWN_CHARS,
    RequestOptions,
    StoredPreferences,
    StoredRequest,
)
from persona_studio.engine.request import PersonaGenerationRequest

EMPTY = StoredRequest()
DEEP = "[" * 100_000 + "]" * 100_000


def _params(**fields: Any) -> str:
    return json.dumps({"generation_type": "from_name_and_description", **fields})


# Each value as a column could hold it: JSON text, bytes, another SQLite type.
UNREADABLE: dict[str, Any] = {
    "NULL": None,
    "empty text": "",
    "empty bytes": b"",
    "whitespace": "   \n",
    "JSON null": "null",
    "a number": "42",
    "a string": '"from_name_and_description"',
    "a list": '[{"generation_type": "subforum_expert"}]',
    "true": "true",
    "not JSON": "{not json",
    "truncated": '{"generation_type": "subforum_expert", "input_det',
    "nested 100,000 deep": DEEP,
    "deep inside a field": '{"input_details": {"name_hint": ' + DEEP + "}}",
    "a 4,301-digit number": '{"n": ' + "9" * 4301 + "}",
    "too long": '{"x": "' + "a" * MAX_PARAMS_CHARS + '"}',
    "binary": b"\x00\xff\x10binary",
    "invalid UTF-8": b'{"generation_type": "\xff"}',
    "an integer column": 42,
    "a real column": 1.5,
    "an object": object(),
}


@pytest.mark.parametrize("stored", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_what_cannot_be_read_reads_as_nothing(stored: Any) -> None:
    request = StoredRequest.from_json(stored)
    assert request == EMPTY
    assert request.label() == ""


def test_forllm_expert_named_by_id_alone() -> None:
    """FORLLM's expert job, as FORLLM stores it."""
    stored = json.dumps(
        {
            "generation_type": "subforum_expert",
            "input_details": {"subforum_id": 2},
            "output_preferences": {},
            "llm_model_for_generation": "llama3",
            "target_persona_name_override": None,
        }
    )
    request = StoredRequest.from_json(stored)
    assert request.subforum_id == 2 and request.unnamed_subforum_id == 2
    assert request.label({2: "Home Lab"}) == "Expert for Home Lab"
    assert request.label({3: "Other"}) == request.label() == "Subforum expert"


def test_the_label_prefers_the_name_then_the_subforum_then_the_type() -> None:
    def label(params: dict[str, Any]) -> str:
        return StoredRequest.from_json(json.dumps(params)).label({5: "Bread"})

    details = {"name_hint": "Rosa", "subforum_name": "Baking", "subforum_id": 5}
    expert = {"generation_type": "subforum_expert", "input_details": details}
    assert label({**expert, "target_persona_name_override": "Ada"}) == "Ada"
    assert label(expert) == "Rosa"
    assert label({**expert, "input_details": {"name": "Old style", "subforum_id": 5}}) == (
        "Old style"
    )
    assert label({**expert, "input_details": {"subforum_name": "Baking"}}) == "Expert for Baking"
    # The id is looked up only where the request has no name to show.
    assert label({**expert, "input_details": {"subforum_id": 5}}) == "Expert for Bread"
    assert label({"generation_type": "general_purpose_assistant"}) == "General assistant"
    assert label({"generation_type": "from_name_and_description"}) == "Name & description"
    assert label({"generation_type": "roleplay_bot"}) == "roleplay bot"  # a newer FORLLM's
    assert label({"input_details": {}}) == ""


@pytest.mark.parametrize(
    "value",
    [5, True, None, [], {}, ["Ada"], {"name": "Ada"}, "", "   ", "\n\t"],
    ids=repr,
)
def test_a_name_that_is_not_text_is_no_name(value: Any) -> None:
    request = StoredRequest.from_json(
        _params(target_persona_name_override=value, input_details={"name_hint": value})
    )
    assert request.name is None
    assert request.label() == "Name & description"


def test_text_is_shown_as_one_printable_line_of_bounded_length() -> None:
    huge = "word " * 150_000  # 750,000 characters, under the request limit
    stored = (
        '{"generation_type": "bad \\ud800 type", '  # JSON's escape for a lone surrogate
        '"target_persona_name_override": "  Captain\\n\\tNemo  ", '
        '"input_details": {"subforum_name": "' + huge + '"}}'
    )
    request = StoredRequest.from_json(stored)
    assert request.name == "Captain Nemo"
    assert request.subforum_name is not None and len(request.subforum_name) == MAX_SHOWN_CHARS
    assert request.subforum_name.endswith("…")
    # A lone surrogate cannot be encoded (UTF-8 has no such character); it is replaced.
    assert request.generation_type == "bad \ufffd type"
    for text in (request.name, request.subforum_name, request.generation_type):
        assert text is not None
        text.encode("utf-8")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, 7),
        ("7", 7),  # some programs write ids as text
        (" 12 ", 12),
        (0, 0),
        (-3, -3),
        (2**63 - 1, 2**63 - 1),
        (2**63, None),  # SQLite cannot hold it
        (10**30, None),
        ("-3", None),
        ("1e3", None),
        ("٣", None),  # a digit, but not an ASCII one
        ("9" * 25, None),
        (True, None),
        (1.0, None),
        (None, None),
        ([2], None),
    ],
    ids=repr,
)
def test_subforum_ids(value: Any, expected: int | None) -> None:
    stored = json.dumps(
        {"generation_type": "subforum_expert", "input_details": {"subforum_id": value}}
    )
    assert StoredRequest.from_json(stored).subforum_id == expected


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN", "1e400"])
def test_non_finite_subforum_ids(literal: str) -> None:
    """Python's json accepts these, though JSON has no such numbers."""
    stored = '{"generation_type": "subforum_expert", "input_details": {"subforum_id": ' + literal
    request = StoredRequest.from_json(stored + "}}")
    assert request.subforum_id is None
    assert request.label({1: "x"}) == "Subforum expert"


@pytest.mark.parametrize(
    "details",
    ['"text"', "[1, 2]", "42", "null", "true"],
    ids=["text", "list", "int", "null", "bool"],
)
def test_details_that_are_not_an_object(details: str) -> None:
    stored = '{"generation_type": "subforum_expert", "input_details": ' + details + "}"
    request = StoredRequest.from_json(stored)
    assert (request.name, request.subforum_name, request.subforum_id) == (None, None, None)
    assert request.label() == "Subforum expert"


def test_our_options_as_we_write_them() -> None:
    stored = _params(
        input_details={"name_hint": "Rosa"},
        **{APP_OPTIONS_KEY: {"critique": True, "replaces_persona_id": 12, "seed": 7}},
    )
    assert StoredRequest.from_json(stored).options == RequestOptions(True, 12, 7)
    assert StoredRequest.from_json(_params()).options == RequestOptions()


@pytest.mark.parametrize(
    "options",
    [
        '"critique"',
        "[true]",
        "null",
        "7",
        '{"critique": "true"}',
        '{"critique": 1}',
        '{"replaces_persona_id": true}',
        '{"replaces_persona_id": "12"}',  # we write numbers, never text
        '{"replaces_persona_id": 0}',
        '{"replaces_persona_id": -4}',
        '{"replaces_persona_id": 9223372036854775808}',
        '{"replaces_persona_id": 12.0}',
        '{"replaces_persona_id": {"id": 12}}',
        '{"seed": -1}',
        f'{{"seed": {MAX_SEED + 1}}}',
        '{"seed": false}',
        '{"seed": "7"}',
        '{"seed": Infinity}',
    ],
)
def test_options_we_did_not_write_are_not_used(options: str) -> None:
    stored = f'{{"generation_type": "general_purpose_assistant", "{APP_OPTIONS_KEY}": {options}}}'
    assert StoredRequest.from_json(stored).options == RequestOptions()


def test_output_preferences() -> None:
    prefs = {"tone_preference": "  warm\nand dry ", "length_preference": " Detailed "}
    request = StoredRequest.from_json(_params(output_preferences=prefs))
    assert request.preferences == StoredPreferences(tone="warm and dry", length="detailed")
    odd = {"tone_preference": 5, "length_preference": ["concise"]}
    assert StoredRequest.from_json(_params(output_preferences=odd)).preferences == (
        StoredPreferences()
    )
    assert StoredRequest.from_json(_params(output_preferences="concise")).preferences == (
        StoredPreferences()
    )
    assert StoredPreferences.read(None) == StoredPreferences()


def test_parsed_data_of_any_shape() -> None:
    for data in (None, 42, "text", [1], ("a",), {1: 2}, {"input_details": object()}):
        assert StoredRequest.from_params(data) == EMPTY


def test_one_label_for_a_job_everywhere() -> None:
    """The worker's request (the stream view's label) and the stored row (the queue's) give
    the same label, before and after FORLLM's subforum id is resolved."""
    forllm = PersonaGenerationRequest.from_json(
        '{"generation_type": "subforum_expert", "input_details": {"subforum_id": 2}}'
    )
    stored = StoredRequest.from_json(forllm.to_json())
    assert forllm.display_name == stored.label() == "Subforum expert"
    resolved = forllm.with_subforum("Home Lab", "Servers at home")
    assert resolved.display_name == stored.label({2: "Home Lab"}) == "Expert for Home Lab"
    for request in (
        PersonaGenerationRequest.create("from_name_and_description", {"name_hint": "Rosa"}),
        PersonaGenerationRequest.create(
            "from_name_and_description", {"description_hint": "A baker"}
        ),
        PersonaGenerationRequest.create(
            "subforum_expert", {"subforum_name": "Baking"}, target_persona_name_override="Ada"
        ),
        PersonaGenerationRequest.create("general_purpose_assistant"),
    ):
        assert request.display_name == StoredRequest.from_json(request.to_json()).label()


def test_a_validated_request_reads_its_options_the_same_way() -> None:
    request = PersonaGenerationRequest.create(
        "general_purpose_assistant",
        app_options={"critique": True, "replaces_persona_id": 3, "seed": MAX_SEED},
    )
    assert (request.critique, request.replaces_persona_id, request.seed) == (True, 3, MAX_SEED)
    assert request.options == StoredRequest.from_json(request.to_json()).options
