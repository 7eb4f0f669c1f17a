"""Export then import, for every format: the persona's text and name survive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from persona_studio.engine.headings import check_structure
from persona_studio.export import FORMATS, export_persona, import_file, load_document, save_document
from persona_studio.export.model import USER_MANUAL, PersonaDocument
from persona_studio.store import NewPersona

from .fixtures import V2_CARD_WITH_BOOK
from .helpers import HANK_TEXT, hank

# Modelfiles need a FROM; naming it keeps the test off the model catalogue.
FROM = "llama3"


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_keeps_text_and_name(fmt: str, tmp_path: Path) -> None:
    path = export_persona(hank(), fmt, tmp_path, from_model=FROM)
    assert path.parent == tmp_path.resolve()
    assert path.name == "Homelab Hank" + FORMATS[fmt].suffix
    [doc] = import_file(path)
    assert doc.name == "Homelab Hank"
    assert doc.prompt_instructions == HANK_TEXT


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_awkward_text_survives(fmt: str, tmp_path: Path) -> None:
    text = (
        '## Persona Name: Zoë 👩‍💻 "Q"\n## Core Identity:\nSays {{char}} and <bot> literally;'
        " uses ``` fences, tabs\tand back\\slashes.\n## Example Phrases:\n- \"Ça va?\"\n- 'ok'"
    )
    doc = PersonaDocument(name='Zoë 👩‍💻 "Q"', prompt_instructions=text)
    [back] = import_file(export_persona(doc, fmt, tmp_path, from_model=FROM))
    assert (back.name, back.prompt_instructions) == (doc.name, text)


def test_persona_studio_json_is_lossless(tmp_path: Path) -> None:
    original = hank(extensions={"x": {"y": 1}}, card_fields={"first_mes": "Hi."})
    [back] = import_file(export_persona(original, "json", tmp_path))
    assert back == original


def test_cards_carry_generation_facts_back(tmp_path: Path) -> None:
    for fmt in ("card-v2", "card-v3", "card-png"):
        [back] = import_file(export_persona(hank(), fmt, tmp_path))
        assert back.generation_source == "llm_generated_from_name_and_description"
        assert back.model == "ollama:llama3"
        assert back.template_versions == hank().template_versions
        assert back.input_details == hank().input_details
        assert back.card_fields.get("creator_notes") is None  # our provenance is not kept
    [v3] = import_file(tmp_path / "Homelab Hank.card-v3.json")
    assert (v3.created_at, v3.updated_at) == (hank().created_at, hank().updated_at)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_bare_instructions_keep_their_name(fmt: str, tmp_path: Path) -> None:
    """FORLLM's hand-written personas have no headings; text formats name them by file."""
    text = "You are Archivist Quill, a meticulous librarian."
    doc = PersonaDocument(name="Archivist Quill", prompt_instructions=text)
    [back] = import_file(export_persona(doc, fmt, tmp_path, from_model=FROM))
    assert (back.name, back.prompt_instructions) == (doc.name, text)


def test_text_without_a_name_is_named_after_the_file(tmp_path: Path) -> None:
    path = tmp_path / "Garden Notes.txt"
    path.write_text("Talk about roses.\n", encoding="utf-8")
    [doc] = import_file(path)
    assert doc.name == "Garden Notes" and "named after the file" in doc.notes[0]


def test_markdown_from_forllm_preamble_only(tmp_path: Path) -> None:
    path = tmp_path / "p.md"
    path.write_text(
        "Always respond as Sal the Baker, using the style, tone and personality explained "
        "below.\n\n---\n\nYou bake bread and talk about it.\n",
        encoding="utf-8",
    )
    [doc] = import_file(path)
    assert doc.name == "Sal the Baker"
    assert doc.prompt_instructions.endswith("talk about it.")


def test_markdown_that_starts_like_json(tmp_path: Path) -> None:
    path = tmp_path / "Bracey.md"
    path.write_text("{{char}} speaks in riddles.\n", encoding="utf-8")
    [doc] = import_file(path)
    assert (doc.name, doc.prompt_instructions) == ("Bracey", "{{char}} speaks in riddles.")


def test_markdown_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_bytes(b"\xef\xbb\xbf" + HANK_TEXT.replace("\n", "\r\n").encode() + b"\r\n")
    [doc] = import_file(path)
    assert doc.prompt_instructions == HANK_TEXT


def test_store_round_trip_with_versions(store, tmp_path: Path) -> None:
    outcome = save_document(store, hank())
    assert outcome.saved.name == "Homelab Hank (2)" and outcome.saved.renamed  # FORLLM's Hank
    assert outcome.saved.version == 2
    assert any("ratings" in note for note in outcome.notes)
    doc = load_document(store, outcome.saved.name, with_versions=True)
    assert [v.prompt_instructions for v in doc.versions] == [
        v.prompt_instructions for v in hank().versions
    ]
    assert doc.prompt_instructions == HANK_TEXT
    assert doc.generation_source == hank().generation_source
    assert (doc.model, doc.template_versions) == (hank().model, hank().template_versions)
    assert doc.output_preferences == hank().output_preferences
    assert doc.input_details == hank().input_details
    # ... and from there through a JSON file into the store again.
    [again] = import_file(export_persona(doc, "json", tmp_path))
    saved = save_document(store, again).saved
    assert [v.prompt_instructions for v in store.personas.versions(saved.persona_id)] == [
        v.prompt_instructions for v in hank().versions
    ]


def test_imported_card_extras_survive_the_store(store, tmp_path: Path) -> None:
    path = tmp_path / "tom.json"
    path.write_text(json.dumps(V2_CARD_WITH_BOOK), encoding="utf-8")
    [doc] = import_file(path)
    assert doc.generation_source is None
    saved = save_document(store, doc).saved
    stored = load_document(store, saved.name)
    assert stored.generation_source == USER_MANUAL
    assert stored.extensions == V2_CARD_WITH_BOOK["data"]["extensions"]
    assert stored.card_fields["character_book"] == V2_CARD_WITH_BOOK["data"]["character_book"]
    assert stored.input_details is None  # the card data is not shown as generation input
    [back] = import_file(export_persona(stored, "card-v2", tmp_path))
    assert back.extensions == V2_CARD_WITH_BOOK["data"]["extensions"]
    assert back.prompt_instructions == doc.prompt_instructions
    assert check_structure(back.prompt_instructions)  # a sparse card cannot fill every heading


@pytest.mark.parametrize("fmt", ["md", "txt", "modelfile", "json"])
@pytest.mark.parametrize(
    "ending",
    ["", "\n", "\n\n", '\nEnds with quotes """', '\nQuotes """ mid-line and at the end """\n'],
)
def test_final_newlines_and_triple_quotes_survive(fmt: str, ending: str, tmp_path: Path) -> None:
    text = f'## Persona Name: Edge\n## Core Identity:\nSays """hi""".{ending}'
    doc = PersonaDocument(name="Edge", prompt_instructions=text)
    [back] = import_file(export_persona(doc, fmt, tmp_path, from_model=FROM))
    assert back.prompt_instructions == text


def test_a_stored_persona_ending_in_a_newline_exports_and_imports_unchanged(
    store, tmp_path: Path
) -> None:
    """What the pipeline saves ends with a newline: md, txt and Modelfile round trips used
    to drop it, so every re-import made a new, different version."""
    text = "## Persona Name: Newline Nell\n## Core Identity:\nEnds like a file.\n"
    saved = store.personas.create(NewPersona("Newline Nell", text, None, None))
    for fmt in ("md", "txt", "modelfile"):
        path = export_persona(load_document(store, "Newline Nell"), fmt, tmp_path, from_model=FROM)
        [doc] = import_file(path)
        assert doc.prompt_instructions == store.personas.get(saved.persona_id).prompt_instructions
