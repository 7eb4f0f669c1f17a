"""Persona Studio JSON: one persona, everything the store knows about it, losslessly.

    {"format": "persona-studio", "version": 1, "exported_at": "...", "persona": {...}}

``persona`` holds the name and text, the generation facts (source, input details, output
preferences, template versions, model, request parameters, stats), ratings when there are
any, timestamps, and with ``--versions`` the whole history, oldest first. Card data kept from
an imported character card rides along, so a card that went through Persona Studio can go
back out with its extensions. Readers refuse a higher ``version`` rather than guess.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from persona_studio.errors import ImportFormatError
from persona_studio.export.cards import clean_card_fields
from persona_studio.export.jsonload import type_name
from persona_studio.export.model import (
    PersonaDocument,
    VersionEntry,
    clean_name,
    clean_source,
    clean_text,
    require_persona,
)

FORMAT = "persona-studio"
VERSION = 1
_OBJECT_FIELDS = (
    "input_details",
    "output_preferences",
    "template_versions",
    "request_params",
    "stats",
)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def render_json(doc: PersonaDocument, *, now: datetime) -> str:
    persona: dict[str, Any] = {
        "name": doc.name,
        "prompt_instructions": doc.prompt_instructions,
        "generation_source": doc.generation_source,
        "version": doc.version,
        "created_at": iso(doc.created_at),
        "updated_at": iso(doc.updated_at),
        "model": doc.model,
        **{key: getattr(doc, key) for key in _OBJECT_FIELDS},
    }
    if doc.ratings is not None:
        persona["ratings"] = doc.ratings
    if doc.extensions:
        persona["card_extensions"] = doc.extensions
    if doc.card_fields:
        persona["card_fields"] = doc.card_fields
    if doc.versions:
        persona["versions"] = [
            {
                "version": v.version,
                "name": v.name,
                "prompt_instructions": v.prompt_instructions,
                "updated_at": iso(v.updated_at),
            }
            for v in doc.versions
        ]
    payload = {"format": FORMAT, "version": VERSION, "exported_at": iso(now), "persona": persona}
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def is_ps_json(value: Any) -> bool:
    return isinstance(value, dict) and value.get("format") == FORMAT


def read_json(value: dict[str, Any]) -> PersonaDocument:
    version = value.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ImportFormatError("its 'version' should be a whole number such as 1.")
    if version > VERSION:
        raise ImportFormatError(
            f"it was written by a newer Persona Studio (file format version {version}; this "
            f"one reads version {VERSION}). Update Persona Studio to import it."
        )
    persona = _get(value, "persona", dict, "")
    if persona is None:
        raise ImportFormatError("it has no 'persona' object.")
    name = clean_name(_required_text(persona, "name"))
    text = clean_text(_required_text(persona, "prompt_instructions"))
    require_persona(name, text)
    notes: list[str] = []
    ratings = persona.get("ratings")
    if ratings is not None and not isinstance(ratings, list | dict):
        raise ImportFormatError(
            f"'persona.ratings' should be a list or an object, not {type_name(ratings)}."
        )
    return PersonaDocument(
        name=name,
        prompt_instructions=text,
        generation_source=clean_source(persona.get("generation_source")),
        model=_get(persona, "model", str, "persona."),
        version=_get(persona, "version", int, "persona."),
        created_at=_time(persona, "created_at", "persona."),
        updated_at=_time(persona, "updated_at", "persona."),
        ratings=ratings,
        extensions=_get(persona, "card_extensions", dict, "persona.") or {},
        card_fields=clean_card_fields(_get(persona, "card_fields", dict, "persona.") or {}, notes),
        versions=_versions(persona.get("versions")),
        notes=tuple(notes),
        **{key: _get(persona, key, dict, "persona.") for key in _OBJECT_FIELDS},
    )


def _versions(value: Any) -> tuple[VersionEntry, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ImportFormatError(f"'persona.versions' should be a list, not {type_name(value)}.")
    entries = []
    for index, item in enumerate(value):
        where = f"persona.versions[{index}]."
        if not isinstance(item, dict):
            raise ImportFormatError(f"'{where[:-1]}' should be an object, not {type_name(item)}.")
        number = _get(item, "version", int, where)
        text = clean_text(_required_text(item, "prompt_instructions", where))
        if not text.strip():
            raise ImportFormatError(f"'{where}prompt_instructions' is empty.")
        entries.append(
            VersionEntry(
                version=number if number is not None else index + 1,
                name=clean_name(_get(item, "name", str, where) or ""),
                prompt_instructions=text,
                updated_at=_time(item, "updated_at", where),
            )
        )
    return tuple(entries)


def _get(obj: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        wanted = {dict: "an object", str: "text", int: "a whole number"}[kind]
        raise ImportFormatError(f"'{where}{key}' should be {wanted}, not {type_name(value)}.")
    return value


def _required_text(obj: dict[str, Any], key: str, where: str = "persona.") -> str:
    value = _get(obj, key, str, where)
    if value is None or not value.strip():
        raise ImportFormatError(f"'{where}{key}' is missing or empty.")
    return value


def _time(obj: dict[str, Any], key: str, where: str) -> datetime | None:
    value = _get(obj, key, str, where)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ImportFormatError(f"'{where}{key}' is not a date and time: {value[:40]!r}.") from None
