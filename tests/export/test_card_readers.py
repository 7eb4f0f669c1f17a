"""Our cards as the real readers read them, and real-world shaped cards read here.

``sillytavern_read`` does what SillyTavern's ``src/character-card-parser.js`` ``read()``
does: the PNG's tEXt chunks, the first whose keyword is ``ccv3`` (any case), else the first
``chara``, base64 then UTF-8 then JSON. ``agnai_read`` does what Agnai's
``extractTavernData`` and ``jsonToCharacter`` do: the FIRST tEXt chunk whatever its keyword,
base64 then JSON, and a V2 card only when ``spec == 'chara_card_v2'``, with
``data.extensions`` read as an object. Both are written here from those files, without the
exporter's code. The card extras (greetings, example dialogue, scenario, tags) go out in
every card format and our JSON, and come back into the store on import.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from persona_studio.export import export_persona, import_file, load_document, save_document
from persona_studio.export.avatar import avatar_png
from persona_studio.store import CardExtras, NewPersona, Store

from .helpers import HANK_TEXT

EXTRAS = CardExtras(
    first_mes="*wipes the solder off his hands* Another dead NAS? Let's see the logs.",
    alternate_greetings=("Back again? What broke this time?", "Mind the cables. Coffee?"),
    mes_example=(
        "<START>\n{{user}}: What is ZFS?\n{{char}}: A filesystem that checks its own data.\n"
        "<START>\n{{user}}: Who are you?\n{{char}}: Hank. I run too many servers."
    ),
    scenario="{{user}} brings a dead NAS to Hank's cluttered garage lab.",
    tags=("homelab", "servers", "zfs", "mentor", "linux"),
)


def _text_chunks(png: bytes) -> list[tuple[str, str]]:
    """Every tEXt chunk's (keyword, text), in file order (png-chunks-extract + png-chunk-text)."""
    pos, out = 8, []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        body = png[pos + 8 : pos + 8 + length]
        if kind == b"tEXt":
            keyword, _, text = body.partition(b"\0")
            out.append((keyword.decode("latin-1"), text.decode("latin-1")))
        pos += 12 + length
        if kind == b"IEND":
            break
    return out


def sillytavern_read(png: bytes) -> dict[str, Any]:
    chunks = _text_chunks(png)
    assert chunks, "SillyTavern: 'No PNG metadata.'"
    for wanted in ("ccv3", "chara"):
        found = next((text for key, text in chunks if key.lower() == wanted), None)
        if found is not None:
            return json.loads(base64.b64decode(found).decode("utf-8"))
    raise AssertionError("SillyTavern: 'PNG metadata does not contain any character data.'")


# What readFromV2 copies from a card's data to the character SillyTavern keeps.
_ST_V2_FIELDS = (
    "name",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "tags",
)


def sillytavern_read_json(text: str) -> dict[str, Any]:
    """SillyTavern's import of a JSON card (``importFromJson`` in src/endpoints/characters.js):
    a card with a ``spec`` goes through ``readFromV2``, which takes the V1 fields from
    ``data`` (name, description, personality, scenario, first_mes, mes_example, tags); the
    chat reads ``data.alternate_greetings`` and ``data.system_prompt`` as they are."""
    card = json.loads(text)
    assert card.get("spec") is not None, "SillyTavern would read it as a V1 card"
    data = card.get("data")
    assert isinstance(data, dict), "SillyTavern: 'Spec v2 data missing'"
    char = {field: data.get(field) for field in _ST_V2_FIELDS}
    char["alternate_greetings"] = data.get("alternate_greetings", [])
    char["system_prompt"] = data.get("system_prompt", "")
    char["spec"] = card["spec"]
    return char


def agnai_read(png: bytes) -> dict[str, Any]:
    """Agnai's import of a PNG: the first text chunk, then its tavernV2 branch."""
    [(_, text), *_] = _text_chunks(png)
    card = json.loads(base64.b64decode(text).decode("utf-8"))
    assert card.get("spec") == "chara_card_v2", "Agnai: 'Unknown import format'"
    data = card["data"]
    extensions = data["extensions"]  # read as data.extensions.agnai?.persona: must exist
    assert isinstance(extensions, dict)
    return {
        "name": data["name"],
        "greeting": data["first_mes"],
        "sampleChat": data["mes_example"],
        "scenario": data["scenario"],
        "alternateGreetings": data["alternate_greetings"],
        "systemPrompt": data["system_prompt"],
        "tags": data["tags"],
    }


@pytest.fixture
def hank_id(store: Store) -> int:
    saved = store.personas.create(
        NewPersona("Garage Hank", HANK_TEXT.replace("Homelab Hank", "Garage Hank"), None, None)
    )
    store.cards.save(saved.persona_id, EXTRAS)
    return saved.persona_id


def test_sillytavern_reads_our_png_as_a_v3_card_with_the_extras(
    store: Store, hank_id: int, tmp_path: Path
) -> None:
    png = export_persona(load_document(store, "Garage Hank"), "card-png", tmp_path).read_bytes()
    card = sillytavern_read(png)
    assert (card["spec"], card["spec_version"]) == ("chara_card_v3", "3.0")
    data = card["data"]
    assert data["first_mes"] == EXTRAS.first_mes
    assert data["alternate_greetings"] == list(EXTRAS.alternate_greetings)
    assert data["mes_example"] == EXTRAS.mes_example
    assert data["scenario"] == EXTRAS.scenario
    assert data["tags"][:5] == list(EXTRAS.tags) and "persona-studio" in data["tags"]
    assert data["group_only_greetings"] == []
    for key in ("creation_date", "modification_date"):  # seconds, as the V3 spec says
        assert isinstance(data[key], int) and 1e9 < data[key] < 1e11


def test_agnai_reads_the_first_text_chunk_which_is_our_v2_copy(
    store: Store, hank_id: int, tmp_path: Path
) -> None:
    # An image that already holds text (as GIMP or a camera writes it) must not hide the card.
    base = tmp_path / "base.png"
    plain = avatar_png("x")
    software = b"Software\0GIMP 2.10"
    chunk = struct.pack(">I", len(software)) + b"tEXt" + software
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + software))
    base.write_bytes(plain[:33] + chunk + plain[33:])  # after the 8-byte signature + IHDR
    png = export_persona(load_document(store, "Garage Hank"), "card-png", base).read_bytes()
    keywords = [key for key, _ in _text_chunks(png)]
    assert keywords[:2] == ["chara", "ccv3"] and "Software" in keywords
    character = agnai_read(png)
    assert character["greeting"] == EXTRAS.first_mes
    assert character["alternateGreetings"] == list(EXTRAS.alternate_greetings)
    assert character["sampleChat"] == EXTRAS.mes_example
    assert "{{char}}" in character["sampleChat"] and "{{user}}" in character["sampleChat"]
    assert character["scenario"] == EXTRAS.scenario


@pytest.mark.parametrize("fmt", ["card-v2", "card-v3"])
def test_sillytavern_reads_our_json_cards_with_the_extras(
    store: Store, hank_id: int, fmt: str, tmp_path: Path
) -> None:
    path = export_persona(load_document(store, "Garage Hank"), fmt, tmp_path)
    char = sillytavern_read_json(path.read_text(encoding="utf-8"))
    assert char["spec"] == f"chara_card_{fmt[-2:]}"
    assert char["first_mes"] == EXTRAS.first_mes
    assert char["alternate_greetings"] == list(EXTRAS.alternate_greetings)
    assert (char["mes_example"], char["scenario"]) == (EXTRAS.mes_example, EXTRAS.scenario)
    assert char["tags"][:5] == list(EXTRAS.tags)


def test_v2_json_is_for_tools_that_accept_only_chara_card_v2(
    store: Store, hank_id: int, tmp_path: Path
) -> None:
    path = export_persona(load_document(store, "Garage Hank"), "card-v2", tmp_path)
    card = json.loads(path.read_text(encoding="utf-8"))
    assert card["spec"] == "chara_card_v2"
    assert card["data"]["first_mes"] == EXTRAS.first_mes
    assert "group_only_greetings" not in card["data"]


@pytest.mark.parametrize("fmt", ["card-v2", "card-v3", "card-png", "json"])
def test_the_extras_round_trip_through_every_card_format(
    store: Store, hank_id: int, fmt: str, tmp_path: Path
) -> None:
    path = export_persona(load_document(store, "Garage Hank"), fmt, tmp_path)
    [doc] = import_file(path)
    saved = save_document(store, doc).saved
    back = store.cards.get(saved.persona_id)
    assert back is not None and back.same_content(EXTRAS), back  # our own tags stay ours
    assert store.personas.get(saved.persona_id).prompt_instructions.endswith('otherwise."')


def test_example_dialogue_and_scenario_from_the_headings_are_not_taken_for_extras(
    store: Store, tmp_path: Path
) -> None:
    store.personas.create(NewPersona("Plain Hank", HANK_TEXT, None, None))
    path = export_persona(load_document(store, "Plain Hank"), "card-v3", tmp_path)
    card = json.loads(path.read_text(encoding="utf-8"))
    assert card["data"]["mes_example"].startswith("<START>\n{{char}}: \"Let's look")
    [doc] = import_file(path)
    saved = save_document(store, doc).saved
    assert store.cards.get(saved.persona_id) is None  # nothing there that the text lacks


def _import(card: Any, tmp_path: Path, store: Store) -> tuple[CardExtras | None, tuple]:
    path = tmp_path / "card.json"
    path.write_text(json.dumps(card), encoding="utf-8")
    [doc] = import_file(path)
    saved = save_document(store, doc).saved
    return store.cards.get(saved.persona_id), doc.notes


def test_a_card_made_elsewhere_keeps_its_own_extras(store: Store, tmp_path: Path) -> None:
    card = {
        "spec": "chara_card_v3",
        "spec_version": "3.0",
        "data": {
            "name": "Mira",
            "description": "{{char}} keeps a lighthouse.",
            "first_mes": "*The lamp turns.* You made it through the storm.",
            "alternate_greetings": ["Tea's on."],
            "mes_example": "<START>\n{{user}}: Scared?\n{{char}}: Of the sea? Always.",
            "scenario": "A lighthouse in a storm.",
            "tags": ["Fantasy", "lighthouse"],
            "group_only_greetings": [],
            "extensions": {},
        },
    }
    extras, _ = _import(card, tmp_path, store)
    assert extras == CardExtras(
        first_mes="*The lamp turns.* You made it through the storm.",
        alternate_greetings=("Tea's on.",),
        mes_example="<START>\n{{user}}: Scared?\n{{char}}: Of the sea? Always.",
        scenario="A lighthouse in a storm.",
        tags=("Fantasy", "lighthouse"),
        updated_at=extras.updated_at if extras else None,
    )
    assert [p.name for p in store.personas.list(tag="fantasy")] == ["Mira"]


@pytest.mark.parametrize(
    ("card", "note"),
    [
        (  # greetings as a single string, tags as a comma list
            {
                "spec": "chara_card_v2",
                "spec_version": "2.0",
                "data": {
                    "name": "Str",
                    "description": "d",
                    "first_mes": "Hi.",
                    "alternate_greetings": "Hello again.",
                    "tags": "a, b",
                    "extensions": {},
                },
            },
            "its 'alternate_greetings' was a single text",
        ),
        (  # character_book: null, as many exporters write it
            {
                "spec": "chara_card_v2",
                "data": {
                    "name": "Nul",
                    "description": "d",
                    "first_mes": "Hi.",
                    "tags": ["a", "b"],
                    "character_book": None,
                    "alternate_greetings": ["Hello again."],
                },
            },
            "its 'character_book' was null",
        ),
        (  # a spec but no data: the fields at the top level
            {
                "spec": "chara_card_v2",
                "name": "Flat",
                "description": "d",
                "first_mes": "Hi.",
                "alternate_greetings": ["Hello again."],
                "tags": ["a", "b"],
            },
            "its 'data' was missing",
        ),
    ],
)
def test_real_world_shaped_cards_import_with_their_extras(
    card: dict[str, Any], note: str, store: Store, tmp_path: Path
) -> None:
    extras, notes = _import(card, tmp_path, store)
    assert extras is not None
    assert (extras.first_mes, extras.alternate_greetings, extras.tags) == (
        "Hi.",
        ("Hello again.",),
        ("a", "b"),
    )
    assert any(note in n for n in notes), notes
