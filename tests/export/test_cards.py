"""Character cards, checked by an independent reader (tests/export/helpers.py parses the PNG
with struct, zlib.crc32, base64 and json), and cards other tools make, imported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from persona_studio.engine.headings import check_structure, parse_persona
from persona_studio.errors import ExportError
from persona_studio.export import export_persona, import_bytes, import_file
from persona_studio.export.avatar import HEIGHT, WIDTH

from .fixtures import V1_CARD, V2_CARD_WITH_BOOK, V3_CARD_WITH_ASSETS
from .helpers import HANK_TEXT, b64_card, card_from_png, hank, image_size, make_png, png_texts

V2_TEXT_FIELDS = (
    "name",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "creator",
    "character_version",
)


def check_v2(card: dict[str, Any]) -> dict[str, Any]:
    """Required fields and types per the V2 spec (malfoyslastname/character-card-spec-v2)."""
    assert card["spec"] == "chara_card_v2" and card["spec_version"] == "2.0"
    data = card["data"]
    for key in V2_TEXT_FIELDS:
        assert isinstance(data[key], str), key
    assert isinstance(data["alternate_greetings"], list)
    assert all(isinstance(g, str) for g in data["alternate_greetings"])
    assert isinstance(data["tags"], list) and all(isinstance(t, str) for t in data["tags"])
    assert isinstance(data["extensions"], dict)
    assert "character_book" not in data or isinstance(data["character_book"], dict)
    return data


def check_v3(card: dict[str, Any]) -> dict[str, Any]:
    """V3 adds these (kwaroran/character-card-spec-v3, SPEC_V3.md)."""
    assert card["spec"] == "chara_card_v3" and card["spec_version"] == "3.0"
    data = check_v2({**card, "spec": "chara_card_v2", "spec_version": "2.0"})
    assert isinstance(data["group_only_greetings"], list)
    for asset in data.get("assets", []):
        assert {k: type(v) for k, v in asset.items()} == dict.fromkeys(
            ("type", "uri", "name", "ext"), str
        )
    assert "nickname" not in data or isinstance(data["nickname"], str)
    assert "creator_notes_multilingual" not in data or isinstance(
        data["creator_notes_multilingual"], dict
    )
    for key in ("creation_date", "modification_date"):
        assert key not in data or isinstance(data[key], int)
    return data


def test_png_card_read_back_independently(tmp_path: Path) -> None:
    png = export_persona(hank(), "card-png", tmp_path).read_bytes()
    keywords = [kw for kw, _ in png_texts(png)]
    assert sorted(keywords) == ["ccv3", "chara"]  # exactly one of each
    v3 = check_v3(card_from_png(png, "ccv3"))
    v2 = check_v2(card_from_png(png, "chara"))
    for data in (v2, v3):
        assert data["name"] == "Homelab Hank"
        assert data["system_prompt"] == HANK_TEXT
        assert data["description"] == (
            "A retired network engineer who runs an over-engineered home lab.\n\n"
            "Linux servers, NAS appliances, ZFS."
        )
        assert data["personality"].startswith("- Patient\n- Practical\nSpeaking style: Speak")
        assert data["mes_example"] == (
            '<START>\n{{char}}: "Let\'s look at the logs first."\n'
            '<START>\n{{char}}: "That\'s a DNS problem until proven otherwise."'
        )
        assert (
            "Persona Studio" in data["creator_notes"] and "ollama:llama3" in data["creator_notes"]
        )
        assert "persona-studio" in data["tags"] and "from-name-and-description" in data["tags"]
        assert (data["scenario"], data["first_mes"], data["alternate_greetings"]) == ("", "", [])
        assert "character_book" not in data
    assert v3["group_only_greetings"] == []
    assert v3["assets"] == [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}]
    assert v3["creation_date"] == int(hank().created_at.timestamp())
    assert "V3" in v2["creator_notes"] and "V3" not in v3["creator_notes"]  # spec's backfill
    width, height, raw = image_size(png)
    assert (width, height) == (WIDTH, HEIGHT) and len(raw) == height * (1 + 3 * width)


@pytest.mark.parametrize("fmt,check", [("card-v2", check_v2), ("card-v3", check_v3)])
def test_json_cards_follow_the_spec(fmt: str, check, tmp_path: Path) -> None:
    card = json.loads(export_persona(hank(), fmt, tmp_path).read_text(encoding="utf-8"))
    data = check(card)
    assert data["system_prompt"] == HANK_TEXT
    assert data["extensions"]["persona_studio"]["model"] == "ollama:llama3"


def test_exporting_into_a_png_again_keeps_one_chunk_per_keyword(tmp_path: Path) -> None:
    target = tmp_path / "hank.png"
    export_persona(hank(), "card-png", target)
    first = target.read_bytes()
    renamed = hank(prompt_instructions=HANK_TEXT.replace("Patient", "Patient as a rock"))
    export_persona(renamed, "card-png", target)
    export_persona(renamed, "card-png", target)
    png = target.read_bytes()
    assert sorted(kw for kw, _ in png_texts(png)) == ["ccv3", "chara"]
    assert "Patient as a rock" in card_from_png(png, "ccv3")["data"]["system_prompt"]
    assert "Patient as a rock" in card_from_png(png, "chara")["data"]["system_prompt"]
    assert image_size(png) == image_size(first)  # the picture itself is untouched


def test_embedding_into_another_tools_png_replaces_its_chunks(tmp_path: Path) -> None:
    old = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Old"}}
    target = tmp_path / "theirs.png"
    # Another tool's file with duplicated and differently-cased card chunks.
    target.write_bytes(
        make_png(
            [
                ("chara", b64_card(old)),
                ("Chara", b64_card(old)),
                ("ccv3", b64_card(old)),
                ("Comment", "kept"),
            ]
        )
    )
    export_persona(hank(), "card-png", target)
    png = target.read_bytes()
    assert sorted(kw for kw, _ in png_texts(png)) == ["Comment", "ccv3", "chara"]
    assert card_from_png(png, "chara")["data"]["name"] == "Homelab Hank"
    assert image_size(png)[:2] == (2, 2)


def test_export_onto_a_file_that_is_not_a_png_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "notes.png"
    target.write_text("my notes", encoding="utf-8")
    with pytest.raises(ExportError, match="exists and a card cannot be put into it"):
        export_persona(hank(), "card-png", target)
    assert target.read_text(encoding="utf-8") == "my notes"


def test_reader_prefers_ccv3() -> None:
    v2 = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {"name": "V2 name", "description": "old"},
    }
    v3 = {
        "spec": "chara_card_v3",
        "spec_version": "3.0",
        "data": {"name": "V3 name", "description": "new"},
    }
    [doc] = import_bytes(make_png([("chara", b64_card(v2)), ("ccv3", b64_card(v3))]), "x.png")
    assert doc.name == "V3 name"
    [doc] = import_bytes(make_png([("chara", b64_card(v2)), ("ccv3", "%%%")]), "x.png")
    assert doc.name == "V2 name" and "V2 copy was used" in doc.notes[0]


def test_v1_json(tmp_path: Path) -> None:
    path = tmp_path / "mira.json"
    path.write_text(json.dumps(V1_CARD), encoding="utf-8")
    [doc] = import_file(path)
    assert doc.name == "Captain Mira"
    parsed = parse_persona(doc.prompt_instructions)
    assert parsed.name == "Captain Mira"
    assert parsed.section("Core Identity").content == V1_CARD["description"]
    assert parsed.section("Key Personality Traits").content == V1_CARD["personality"]
    assert parsed.section("Example Phrases").content == '- "Report, ensign."\n- "Hold the line!"'
    assert (
        parsed.section("Scenario").content == "the user is a new recruit on Captain Mira's bridge."
    )
    assert doc.card_fields["first_mes"] == V1_CARD["first_mes"]


def test_tavernai_legacy_keys() -> None:
    legacy = {"char_name": "Ann", "char_persona": "A gardener.", "char_greeting": "Hi."}
    [doc] = import_bytes(json.dumps(legacy).encode(), "ann.json")
    assert doc.name == "Ann" and "A gardener." in doc.prompt_instructions


def test_v2_png_with_extensions_and_book(tmp_path: Path) -> None:
    path = tmp_path / "tom.png"
    path.write_bytes(make_png([("chara", b64_card(V2_CARD_WITH_BOOK))]))
    [doc] = import_file(path)
    data = V2_CARD_WITH_BOOK["data"]
    assert doc.name == "Old Tom"
    assert doc.extensions == data["extensions"]
    assert doc.card_fields["character_book"] == data["character_book"]
    assert doc.card_fields["alternate_greetings"] == data["alternate_greetings"]
    assert doc.card_fields["creator_notes"] == data["creator_notes"]
    guidelines = parse_persona(doc.prompt_instructions).section(
        "Interaction Guidelines & Behaviors"
    )
    # {{original}} dropped, {{char}} written out, post-history instructions kept.
    assert guidelines.content == (
        "You are Old Tom. Never break character.\n\nStay in the lighthouse."
    )
    # Exported again, as V2 and V3, unknown extension keys and the lorebook come along.
    png = export_persona(doc, "card-png", tmp_path / "tom-again.png").read_bytes()
    for keyword, check in (("chara", check_v2), ("ccv3", check_v3)):
        out = check(card_from_png(png, keyword))
        for key, value in data["extensions"].items():
            assert out["extensions"][key] == value
        assert out["character_book"] == data["character_book"]
        assert out["alternate_greetings"] == data["alternate_greetings"]
        assert out["creator_notes"].startswith("Made in SillyTavern by someone else.")
        assert out["tags"][:2] == ["maritime", "keeper"]
        assert out["character_version"] == "1.4"


def test_v3_json_with_assets(tmp_path: Path) -> None:
    path = tmp_path / "quill.json"
    path.write_text(json.dumps(V3_CARD_WITH_ASSETS), encoding="utf-8")
    [doc] = import_file(path)
    data = V3_CARD_WITH_ASSETS["data"]
    assert doc.name == "Professor Quill"
    assert doc.card_fields["assets"] == data["assets"]
    assert doc.created_at is not None and int(doc.created_at.timestamp()) == 1722650000
    out = check_v3(json.loads(export_persona(doc, "card-v3", tmp_path).read_text("utf-8")))
    for key in (
        "assets",
        "nickname",
        "creator_notes_multilingual",
        "source",
        "group_only_greetings",
        "future_field",
        "creation_date",
    ):
        assert out[key] == data[key], key
    assert out["extensions"]["risuai"] == data["extensions"]["risuai"]
    v2 = check_v2(json.loads(export_persona(doc, "card-v2", tmp_path).read_text("utf-8")))
    assert "assets" not in v2 and "future_field" not in v2  # V3-only data stays in V3


def test_rich_foreign_card_passes_the_structure_check() -> None:
    card = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": "Full",
            "description": "Who.",
            "personality": "How.",
            "system_prompt": "Rules.",
            "mes_example": "{{char}}: Hi there.",
        },
    }
    [doc] = import_bytes(json.dumps(card).encode(), "full.json")
    missing = {issue.heading for issue in check_structure(doc.prompt_instructions)}
    # Only the headings a card has no field for are missing; the rest are in order.
    assert missing == {
        "Knowledge Domain & Expertise",
        "Speaking Style & Tone",
        "Forbidden Actions & Topics",
    }


def test_card_whose_system_prompt_holds_our_headings_uses_it() -> None:
    card = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {"name": "Homelab Hank", "system_prompt": HANK_TEXT, "description": "x"},
    }
    [doc] = import_bytes(json.dumps(card).encode(), "h.json")
    assert doc.prompt_instructions == HANK_TEXT
    assert check_structure(doc.prompt_instructions) == []
