"""SillyTavern character cards: V1 read; V2 and V3 read and written, as JSON and as PNG.

Writing maps the persona's headings onto the card: ``description`` <- Core Identity +
Knowledge Domain, ``personality`` <- Key Personality Traits + the first sentence of the
Speaking Style, ``mes_example`` <- Example Phrases (one ``<START>`` block each),
``scenario`` <- a 'Scenario' heading if the persona has one, and ``system_prompt`` <- the whole
persona text, which is what makes a card behave like the persona. ``creator_notes`` says
where the persona came from; ``extensions.persona_studio`` carries the generation facts so a
card made here imports back with them. Spec defaults are kept: ``character_book`` is left
out (never null), greetings are lists, V3's ``group_only_greetings`` is [] and its
``assets`` is the spec's default icon.

Reading takes ``system_prompt`` as the persona when the card was made here or when it holds
our headings (a tool that copied our text); otherwise it composes a persona from the card's fields, each under
the heading it corresponds to, with SillyTavern's ``{{char}}``/``{{user}}`` macros written
out (FORLLM does not expand them). What a persona has no place for (greetings, a lorebook,
the ``extensions`` object, fields of future specs) is kept in ``card_fields``/``extensions``
and written back on export. A foreign card's ``mes_example`` and ``scenario`` are kept there
too (as well as composed into the text), so the card keeps its own; so are ours when they
were card extras (written in the Card tab or by the extras step) rather than made from the
persona's headings. A card's own ``mes_example``/``scenario`` in ``card_fields`` win over
the ones made from the headings. Fields that end up in the persona text must be text or the card
is refused; the others are repaired or dropped with a note, since refusing a card for a
field the persona never uses would only stand in the user's way.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from persona_studio.core.document import (
    CORE_IDENTITY,
    EXAMPLE_PHRASES,
    GUIDELINES,
    KEY_TRAITS,
    KNOWLEDGE,
    PERSONA_NAME,
    SPEAKING_STYLE,
)
from persona_studio.engine.headings import parse_persona, render_persona
from persona_studio.engine.request import MAX_NAME_CHARS
from persona_studio.errors import ImportFormatError
from persona_studio.export import jsonload
from persona_studio.export.avatar import avatar_png
from persona_studio.export.jsonload import type_name
from persona_studio.export.limits import MAX_PERSONA_CHARS
from persona_studio.export.model import (
    USER_MANUAL,
    PersonaDocument,
    clean_name,
    clean_source,
    clean_text,
    generation_type_of,
    require_persona,
)
from persona_studio.export.png_chunks import PngError, find_text, read_chunks, replace_text

V2_SPEC, V2_VERSION = "chara_card_v2", "2.0"
V3_SPEC, V3_VERSION = "chara_card_v3", "3.0"
V2_KEYWORD, V3_KEYWORD = "chara", "ccv3"
EXTENSION_KEY = "persona_studio"  # namespaced, as the V2 spec asks of applications
# The V3 spec asks a V2 copy written beside a V3 card to say so, and readers to trim it.
BACKFILL_NOTE = (
    "This character card is Character Card V3, but it is loaded as a Character Card V2. "
    "Please use a Character Card V3 compatible application to use this character card "
    "properly."
)
DEFAULT_ASSETS = [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}]

SCENARIO = "Scenario"
# Texts a card may have of its own although the persona text holds them too.
CARD_OWN_TEXTS = ("mes_example", "scenario")

# Card fields that become the persona text on import and are made from it on export.
_TEXT_FIELDS = (
    "description",
    "personality",
    "scenario",
    "mes_example",
    "system_prompt",
    "post_history_instructions",
)
_V2_KEPT = (
    "first_mes",
    "alternate_greetings",
    "character_book",
    "tags",
    "creator",
    "character_version",
)
_V3_KEPT = ("group_only_greetings", "assets", "nickname", "creator_notes_multilingual", "source")
_REBUILT = {
    "name",
    "creator_notes",
    "extensions",
    "creation_date",
    "modification_date",
    *_TEXT_FIELDS,
}
# TavernAI's pre-V1 key names, still found in old files.
_LEGACY_KEYS = {
    "char_name": "name",
    "char_persona": "description",
    "world_scenario": "scenario",
    "char_greeting": "first_mes",
    "example_dialogue": "mes_example",
}
_V1_KEYS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")


# -- writing ---------------------------------------------------------------------------------


def card_v2(doc: PersonaDocument, *, now: datetime, backfill: bool = False) -> dict[str, Any]:
    data = _v2_data(doc, now)
    if backfill:
        data["creator_notes"] = f"{data['creator_notes']}\n\n{BACKFILL_NOTE}"
    return {"spec": V2_SPEC, "spec_version": V2_VERSION, "data": data}


def card_v3(doc: PersonaDocument, *, now: datetime) -> dict[str, Any]:
    data = _v2_data(doc, now)
    kept = doc.card_fields
    data["group_only_greetings"] = list(kept.get("group_only_greetings", []))
    data["assets"] = list(kept.get("assets", DEFAULT_ASSETS))
    for key in ("nickname", "creator_notes_multilingual", "source"):
        if key in kept:
            data[key] = kept[key]
    if doc.created_at is not None:
        data["creation_date"] = int(doc.created_at.timestamp())
    if doc.updated_at is not None:
        data["modification_date"] = int(doc.updated_at.timestamp())
    known = {*_V2_KEPT, *_V3_KEPT, *_REBUILT}
    data.update({k: v for k, v in kept.items() if k not in known and k not in data})
    return {"spec": V3_SPEC, "spec_version": V3_VERSION, "data": data}


def _v2_data(doc: PersonaDocument, now: datetime) -> dict[str, Any]:
    parsed = parse_persona(doc.prompt_instructions)

    def section(heading: str) -> str:
        found = parsed.section(heading)
        return found.content if found else ""

    kept = doc.card_fields
    data: dict[str, Any] = {
        "name": doc.name,
        "description": "\n\n".join(p for p in (section(CORE_IDENTITY), section(KNOWLEDGE)) if p),
        "personality": _personality(section(KEY_TRAITS), section(SPEAKING_STYLE)),
        "scenario": kept.get("scenario") or section(SCENARIO),
        "first_mes": kept.get("first_mes", ""),
        "mes_example": kept.get("mes_example") or _mes_example(section(EXAMPLE_PHRASES)),
        "creator_notes": kept.get("creator_notes") or provenance(doc, now),
        "system_prompt": doc.prompt_instructions,
        "post_history_instructions": "",
        "alternate_greetings": list(kept.get("alternate_greetings", [])),
    }
    if "character_book" in kept:
        data["character_book"] = kept["character_book"]
    data["tags"] = _tags(doc)
    data["creator"] = kept.get("creator", "")
    data["character_version"] = kept.get("character_version") or str(doc.version or 1)
    data["extensions"] = {**doc.extensions, EXTENSION_KEY: _our_extension(doc)}
    return data


def _personality(traits: str, style: str) -> str:
    summary = _first_sentence(style)
    return f"{traits}\nSpeaking style: {summary}".strip() if summary else traits


def _first_sentence(text: str) -> str:
    line = next((_unbullet(line) for line in text.splitlines() if line.strip()), "")
    match = re.match(r"(.+?[.!?])(?:\s|$)", line)
    return (match.group(1) if match else line)[:200]


def _unbullet(line: str) -> str:
    return re.sub(r"^\s*(?:[-*+•]|\d+[.)])\s+", "", line).strip()


def _unquote(text: str) -> str:
    if len(text) >= 2 and (text[0], text[-1]) in {('"', '"'), ("“", "”"), ("'", "'")}:
        return text[1:-1].strip()
    return text


def _mes_example(examples: str) -> str:
    phrases = [_unquote(_unbullet(line)) for line in examples.splitlines()]
    return "\n".join(f'<START>\n{{{{char}}}}: "{p}"' for p in phrases if p)


def _tags(doc: PersonaDocument) -> list[str]:
    tags = list(doc.card_fields.get("tags", []))
    return tags + [t for t in _our_tags(doc.generation_source) if t not in tags]


def _our_tags(generation_source: Any) -> list[str]:
    """The tags every card made here carries: where it came from."""
    ours = ["persona-studio"]
    kind = generation_type_of(generation_source if isinstance(generation_source, str) else None)
    if kind:
        ours.append(kind.replace("_", "-"))
    elif generation_source == USER_MANUAL:
        ours.append("hand-written")
    return ours


def provenance(doc: PersonaDocument, now: datetime) -> str:
    """creator_notes for a persona made here: where it came from, in words."""
    if doc.generation_type:
        source = f"generated by a model ({doc.generation_type.replace('_', ' ')})"
    elif doc.generation_source == USER_MANUAL:
        source = "written by hand"
    else:
        source = "not recorded"
    lines = ["Persona made with Persona Studio.", f"Source: {source}."]
    if doc.model:
        lines.append(f"Model: {doc.model}.")
    if doc.template_versions:
        templates = ", ".join(f"{k} {_plain(v)}" for k, v in doc.template_versions.items())
        lines.append(f"Templates: {templates}.")
    dates = [f"Exported {now.astimezone(UTC):%Y-%m-%d}"]
    if doc.created_at is not None:
        dates.insert(0, f"Created {doc.created_at.astimezone(UTC):%Y-%m-%d}")
    lines.append(", ".join(dates) + ".")
    return "\n".join(lines)


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _our_extension(doc: PersonaDocument) -> dict[str, Any]:
    return {
        "generation_source": doc.generation_source,
        "model": doc.model,
        "input_details": doc.input_details,
        "output_preferences": doc.output_preferences,
        "template_versions": doc.template_versions,
        # creator_notes then hold our provenance, which an import must not keep as the
        # card's own notes (they would be stale on the next export).
        "wrote_creator_notes": not doc.card_fields.get("creator_notes"),
        # Which of the card's texts are the card's own, not made from the persona's
        # headings: an import keeps those (and only those) as card extras.
        "card_extras": [key for key in CARD_OWN_TEXTS if doc.card_fields.get(key)],
    }


def card_json(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False, indent=2) + "\n"


def card_png(doc: PersonaDocument, *, now: datetime, base: bytes | None = None) -> bytes:
    """A PNG holding the V3 card (``ccv3``) and a V2 copy (``chara``) for older readers, as
    SillyTavern writes them; ``base`` is an existing PNG to put them into (its older card
    chunks are replaced), else the generated avatar. ``chara`` is the image's first text
    chunk and ``ccv3`` the second: Agnai reads only the first text chunk (and only V2),
    SillyTavern looks for ``ccv3`` first wherever it is."""
    texts = {
        V2_KEYWORD: _b64(card_v2(doc, now=now, backfill=True)),
        V3_KEYWORD: _b64(card_v3(doc, now=now)),
    }
    return replace_text(base if base is not None else avatar_png(doc.name), texts)


def _b64(card: dict[str, Any]) -> str:
    text = json.dumps(card, ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


# -- reading ---------------------------------------------------------------------------------


def looks_like_card(value: Any) -> bool:
    return isinstance(value, dict) and any(
        key in value for key in ("spec", "data", "name", "char_name")
    )


def read_card_png(data: bytes) -> PersonaDocument:
    try:
        chunks = read_chunks(data)
    except PngError as exc:
        raise ImportFormatError(f"{exc}.") from None
    v3_text, v2_text = find_text(chunks, V3_KEYWORD), find_text(chunks, V2_KEYWORD)
    if v3_text is None and v2_text is None:
        raise ImportFormatError(
            "it is a PNG image without a character card in it (no 'chara' or 'ccv3' text)."
        )
    if v3_text is None:
        return read_card(_decode(v2_text, V2_KEYWORD), backfilled=True)
    try:
        return read_card(_decode(v3_text, V3_KEYWORD))
    except ImportFormatError as exc:
        if v2_text is None:
            raise
        try:
            doc = read_card(_decode(v2_text, V2_KEYWORD), backfilled=True)
        except ImportFormatError:
            raise exc from None
        note = f"its V3 card could not be read ({exc}), so its V2 copy was used"
        return replace(doc, notes=(*doc.notes, note))


def _decode(text: str | None, keyword: str) -> dict[str, Any]:
    try:
        raw = base64.b64decode("".join((text or "").split()), validate=True)
    except binascii.Error:
        raise ImportFormatError(
            f"its '{keyword}' text is not valid base64, so the card in it cannot be read."
        ) from None
    try:
        value = jsonload.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ImportFormatError(f"its '{keyword}' card is not UTF-8 text.") from None
    except ImportFormatError as exc:
        raise ImportFormatError(f"its '{keyword}' card: {exc}") from None
    if not isinstance(value, dict):
        raise ImportFormatError(f"its '{keyword}' card is {type_name(value)}, not an object.")
    return value


def read_card(card: dict[str, Any], *, backfilled: bool = False) -> PersonaDocument:
    """A persona from a parsed card of any version (V1 flat, V2, V3, or a newer spec)."""
    spec = card.get("spec")
    notes: list[str] = []
    data: Any  # whatever the card holds, until the isinstance check below
    if spec is None and "data" not in card:
        data = {_LEGACY_KEYS.get(k, k): v for k, v in card.items() if k in _LEGACY_KEYS}
        data.update({k: card[k] for k in _V1_KEYS if k in card})
    else:
        if spec is not None and not isinstance(spec, str):
            raise ImportFormatError(f"its 'spec' should be text, not {type_name(spec)}.")
        data = card.get("data")
        if data is None and isinstance(card.get("name"), str):
            # Some tools label a flat card with a spec; its fields are where V1 has them.
            notes.append("its 'data' was missing; its fields were read from the top level")
            data = {k: v for k, v in card.items() if k not in ("spec", "spec_version")}
        if not isinstance(data, dict):
            raise ImportFormatError(
                f"it calls itself a character card ({spec or 'no spec'}) but its 'data' is "
                f"{type_name(data)}, not an object."
            )
        if spec not in (V2_SPEC, V3_SPEC, None):
            notes.append(f"its spec '{spec[:40]}' is unknown here; it was read like a V3 card")
    return _from_data(data, notes, backfilled=backfilled)


def _from_data(data: dict[str, Any], notes: list[str], *, backfilled: bool) -> PersonaDocument:
    name = clean_name(_text(data, "name"))
    if not name:
        raise ImportFormatError("the card has no name.")
    # Cut to the import limits before anything is composed: expanding {{char}} macros with
    # a name of 100,000 characters in a 14 MB description would make gigabytes of text.
    # What is cut here is over the limit either way, and within_limits says so.
    texts = {key: _text(data, key)[: MAX_PERSONA_CHARS + 1] for key in _TEXT_FIELDS}
    extensions = data.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        notes.append(f"its 'extensions' was {type_name(extensions)}, not an object; ignored")
    extensions = dict(extensions) if isinstance(extensions, dict) else {}
    ours = extensions.pop(EXTENSION_KEY, None)
    ours = ours if isinstance(ours, dict) else {}
    system_prompt = texts["system_prompt"]
    # Our own card's system_prompt is the persona, headings or not (FORLLM's hand-written
    # personas have none); another tool's counts as one only if it has our headings.
    if system_prompt and (ours or parse_persona(system_prompt).section(PERSONA_NAME)):
        text = system_prompt
    elif not any(texts.values()):  # a name alone is no persona (nor is any JSON with a name)
        raise ImportFormatError(
            "the card has no description, personality, examples or instructions to make a "
            "persona from."
        )
    else:
        text = compose_text(name[:MAX_NAME_CHARS], texts)
    require_persona(name, text)
    kept = _kept_fields(data, notes, ours=bool(ours))
    own = ours.get("card_extras") if ours else CARD_OWN_TEXTS
    for key in CARD_OWN_TEXTS:
        if isinstance(own, list | tuple) and key in own and texts[key]:
            kept[key] = texts[key]
    if ours and "tags" in kept:  # the tags our export adds are not the writer's
        made = set(_our_tags(ours.get("generation_source")))
        kept["tags"] = [t for t in kept["tags"] if t not in made]
    notes_text = data.get("creator_notes")
    if backfilled and isinstance(notes_text, str):
        notes_text = notes_text.replace(BACKFILL_NOTE, "").strip()
    if not ours.get("wrote_creator_notes"):
        notes_text = _clean_str("creator_notes", notes_text, notes)
        if notes_text is not None:
            kept["creator_notes"] = notes_text
    return PersonaDocument(
        name=name,
        prompt_instructions=text,
        generation_source=clean_source(ours.get("generation_source")),
        model=_typed(ours.get("model"), str),
        input_details=_typed(ours.get("input_details"), dict),
        output_preferences=_typed(ours.get("output_preferences"), dict),
        template_versions=_typed(ours.get("template_versions"), dict),
        created_at=_date(data.get("creation_date")),
        updated_at=_date(data.get("modification_date")),
        extensions=extensions,
        card_fields=kept,
        notes=tuple(notes),
    )


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ImportFormatError(f"its '{key}' should be text, not {type_name(value)}.")
    return clean_text(value).strip()


def _typed(value: Any, kind: type) -> Any:
    return value if isinstance(value, kind) else None


def _date(value: Any) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return None
    seconds = value / 1000 if value > 1e11 else value  # some tools write milliseconds
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def compose_text(name: str, texts: dict[str, str]) -> str:
    """Our headings from a foreign card's fields; only headings with content are written."""

    def expand(text: str) -> str:
        text = re.sub(r"\{\{original\}\}", "", text, flags=re.I)
        text = re.sub(r"\{\{char\}\}|<bot>", lambda _: name, text, flags=re.I)
        return re.sub(r"\{\{user\}\}|<user>", "the user", text, flags=re.I).strip()

    guidelines = "\n\n".join(
        p for p in (texts["system_prompt"], texts["post_history_instructions"]) if p
    )
    sections = [
        (CORE_IDENTITY, texts["description"]),
        (KEY_TRAITS, texts["personality"]),
        (GUIDELINES, guidelines),
        (EXAMPLE_PHRASES, _phrases(texts["mes_example"], name)),
        (SCENARIO, texts["scenario"]),
    ]
    filled = [(heading, expand(content)) for heading, content in sections]
    return render_persona(name, [(h, c) for h, c in filled if c]).rstrip("\n")


def _phrases(mes_example: str, name: str) -> str:
    """Example Phrases from example dialogue: the character's lines, one bullet each."""
    speaker = re.compile(rf"^\s*(?:\{{\{{char\}}\}}|<bot>|{re.escape(name)})\s*:\s*(.+)$", re.I)
    lines = [line for line in mes_example.splitlines() if line.strip().upper() != "<START>"]
    said = [_unquote(m.group(1).strip()) for m in map(speaker.match, lines) if m]
    if said:
        return "\n".join(f'- "{p}"' for p in said if p)
    return "\n".join(lines).strip()


def _kept_fields(data: dict[str, Any], notes: list[str], *, ours: bool) -> dict[str, Any]:
    """The card's fields a persona has no place for, repaired where the intent is clear."""
    skipped = _REBUILT | ({"character_version"} if ours else set())
    return clean_card_fields({k: v for k, v in data.items() if k not in skipped}, notes)


def clean_card_fields(fields: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """``fields`` with every known card field of the type the specs give it (repaired, or
    dropped with a note); fields of newer specs are kept as they are. Whatever a file or the
    database holds passes through here before an exporter can write it back."""
    kept: dict[str, Any] = {}
    for key, value in fields.items():
        clean = _CLEANERS.get(key)
        if clean is None:
            kept[key] = value
            continue
        cleaned = clean(key, value, notes)
        if cleaned is not None:
            kept[key] = cleaned
    return kept


def _clean_str(key: str, value: Any, notes: list[str]) -> str | None:
    if isinstance(value, str):
        return clean_text(value) if clean_text(value).strip() else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # character_version: 1.2 written as a number
    if value is not None:
        notes.append(f"its '{key}' was {type_name(value)}, not text; ignored")
    return None


def _clean_texts(key: str, value: Any, notes: list[str]) -> list[str] | None:
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")] if key == "tags" else [value]
        notes.append(f"its '{key}' was a single text, not a list; read as a list")
        return [clean_text(p) for p in parts if p.strip()]
    if isinstance(value, list):
        texts = [clean_text(v) for v in value if isinstance(v, str)]
        if len(texts) != len(value):
            notes.append(f"its '{key}' held entries that are not text; they were left out")
        return texts
    if value is not None:
        notes.append(f"its '{key}' was {type_name(value)}, not a list; ignored")
    return None


def _clean_book(key: str, value: Any, notes: list[str]) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if value is None:
        notes.append(f"its '{key}' was null (the spec says to leave it out); ignored")
    else:
        notes.append(f"its '{key}' was {type_name(value)}, not a lorebook object; ignored")
    return None


def _clean_assets(key: str, value: Any, notes: list[str]) -> list[dict[str, str]] | None:
    if not isinstance(value, list):
        if value is not None:
            notes.append(f"its '{key}' was {type_name(value)}, not a list; ignored")
        return None
    fields = ("type", "uri", "name", "ext")
    assets = [
        a for a in value if isinstance(a, dict) and all(isinstance(a.get(f), str) for f in fields)
    ]
    if len(assets) != len(value):
        notes.append(f"its '{key}' held malformed entries; they were left out")
    return assets


def _clean_multilingual(key: str, value: Any, notes: list[str]) -> dict[str, str] | None:
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return value
    if value is not None:
        notes.append(f"its '{key}' was not an object of texts; ignored")
    return None


_CLEANERS: dict[str, Callable[[str, Any, list[str]], Any]] = {
    "creator_notes": _clean_str,
    "first_mes": _clean_str,
    "mes_example": _clean_str,
    "scenario": _clean_str,
    "creator": _clean_str,
    "character_version": _clean_str,
    "nickname": _clean_str,
    "alternate_greetings": _clean_texts,
    "group_only_greetings": _clean_texts,
    "tags": _clean_texts,
    "source": _clean_texts,
    "character_book": _clean_book,
    "assets": _clean_assets,
    "creator_notes_multilingual": _clean_multilingual,
}
