"""Between the store and the file formats: a stored persona as a PersonaDocument, and a
PersonaDocument saved as a new persona (a clash gets 'Name (2)', as for generated ones).

What the store has no column for is kept where FORLLM will not trip on it: for a persona
written by hand (or imported from a card), the card's extensions and other fields go into
``generation_input_details`` under ``imported_card``; FORLLM only records that column. A
generated persona's input details keep FORLLM's own shape untouched.

A persona's card extras (greeting, alternate greetings, example dialogue, scenario, tags:
store.cards) travel in ``card_fields`` under the card's own keys, so every format that
carries card fields carries them; an import saves them back as the persona's card extras,
in the same transaction as the persona.

A persona's rating travels as ``ratings = {"rating": 1-5, "note": "...", "rated_at": ISO}``
(the store keeps one rating per persona); an import restores it with store.personas.rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from persona_studio.export.cards import clean_card_fields
from persona_studio.export.model import USER_MANUAL, PersonaDocument, VersionEntry
from persona_studio.store import CardExtras, NewPersona, Persona, SavedPersona, Store, clean_tags
from persona_studio.store.card_extras import MAX_EXTRA_CHARS, MAX_GREETINGS, MAX_TAGS
from persona_studio.store.ratings import MAX_NOTE_CHARS, MAX_RATING, MIN_RATING

CARD_KEY = "imported_card"
# The card fields that are a persona's card extras (store.cards), not kept in input details.
EXTRA_KEYS = ("first_mes", "alternate_greetings", "mes_example", "scenario", "tags")


def load_document(store: Store, name: str, *, with_versions: bool = False) -> PersonaDocument:
    """The persona called ``name`` (NotFoundError if none), ready to export."""
    return document_from_persona(
        store, store.personas.get_by_name(name), with_versions=with_versions
    )


def document_from_persona(
    store: Store, persona: Persona, *, with_versions: bool = False
) -> PersonaDocument:
    info = store.personas.generation_info(persona.persona_id) or {}
    details = persona.generation_input_details
    extensions: dict[str, Any] = {}
    card_fields: dict[str, Any] = {}
    source = persona.generation_source or USER_MANUAL  # FORLLM writes NULL for hand-written
    if source == USER_MANUAL and details and isinstance(details.get(CARD_KEY), dict):
        details = dict(details)
        card = details.pop(CARD_KEY)
        extensions = _dict(card.get("extensions"))
        # Anyone may have edited the column; nothing there is written out unchecked.
        card_fields = clean_card_fields(_dict(card.get("fields")), [])
    extras = store.cards.get(persona.persona_id)
    if extras is not None:  # the saved extras are the whole truth, cleared ones included
        card_fields = {k: v for k, v in card_fields.items() if k not in EXTRA_KEYS}
        card_fields.update(extras_fields(extras))
    versions: tuple[VersionEntry, ...] = ()
    if with_versions:
        versions = tuple(
            VersionEntry(v.version, v.name, v.prompt_instructions, v.updated_at)
            for v in store.personas.versions(persona.persona_id)
        )
    rating = store.personas.rating(persona.persona_id)
    ratings = None
    if rating is not None:
        ratings = {
            "rating": rating.rating,
            "note": rating.note,
            "rated_at": rating.rated_at.isoformat() if rating.rated_at else None,
        }
    return PersonaDocument(
        name=persona.name,
        prompt_instructions=persona.prompt_instructions,
        generation_source=source,
        input_details=details or None,
        output_preferences=info.get("output_preferences"),
        template_versions=info.get("template_versions"),
        model=info.get("model"),
        request_params=info.get("request_params"),
        stats=info.get("stats"),
        ratings=ratings,
        created_at=persona.created_at,
        updated_at=persona.updated_at,
        version=persona.version,
        versions=versions,
        extensions=extensions,
        card_fields=card_fields,
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def extras_fields(extras: CardExtras) -> dict[str, Any]:
    """Card extras as the card fields they are written as (only those with content: an
    empty example dialogue or scenario is then made from the persona's headings)."""
    fields: dict[str, Any] = {
        "first_mes": extras.first_mes,
        "alternate_greetings": [g for g in extras.alternate_greetings if g.strip()],
        "mes_example": extras.mes_example,
        "scenario": extras.scenario,
        "tags": list(extras.tags),
    }
    return {k: v for k, v in fields.items() if v and (not isinstance(v, str) or v.strip())}


def extras_from_fields(fields: dict[str, Any], notes: list[str]) -> CardExtras | None:
    """The card extras among a document's card fields (already of the right types, see
    cards.clean_card_fields), within the store's limits (cut, with a note); None if none."""

    def text(key: str, what: str) -> str:
        value = fields.get(key)
        if not isinstance(value, str):
            return ""
        if len(value) > MAX_EXTRA_CHARS:
            notes.append(f"its {what} was cut to {MAX_EXTRA_CHARS:,} characters")
            return value[:MAX_EXTRA_CHARS]
        return value

    greetings = [g for g in fields.get("alternate_greetings") or () if isinstance(g, str)]
    if len(greetings) > MAX_GREETINGS:
        notes.append(f"only the first {MAX_GREETINGS} of its alternate greetings were kept")
    kept_greetings = []
    for greeting in greetings[:MAX_GREETINGS]:
        if len(greeting) > MAX_EXTRA_CHARS:
            notes.append(f"an alternate greeting was cut to {MAX_EXTRA_CHARS:,} characters")
        kept_greetings.append(greeting[:MAX_EXTRA_CHARS])
    raw_tags = [t for t in fields.get("tags") or () if isinstance(t, str)]
    tags = clean_tags(raw_tags)
    if len(raw_tags) > MAX_TAGS and len(tags) == MAX_TAGS:
        notes.append(f"only the first {MAX_TAGS} of its tags were kept")
    extras = CardExtras(
        first_mes=text("first_mes", "greeting"),
        alternate_greetings=tuple(kept_greetings),
        mes_example=text("mes_example", "example dialogue"),
        scenario=text("scenario", "scenario"),
        tags=tags,
    )
    return None if extras.is_empty() else extras


@dataclass(frozen=True)
class SaveOutcome:
    saved: SavedPersona
    notes: tuple[str, ...]  # the importer's repairs, plus what could not be stored


def save_document(store: Store, doc: PersonaDocument) -> SaveOutcome:
    """Save ``doc`` as a new persona; with a history, the oldest text becomes version 1 and
    each later text a new version, in order (all under the persona's current name: the
    store's versions take the name the persona has when they are saved)."""
    texts = _history(doc)
    notes = list(doc.notes)
    rating = _rating(doc.ratings, notes)
    extras = extras_from_fields(doc.card_fields, notes)
    other_fields = {k: v for k, v in doc.card_fields.items() if k not in EXTRA_KEYS}
    details = doc.input_details
    if doc.generation_type is None and (doc.extensions or other_fields):
        card = {"extensions": doc.extensions, "fields": other_fields}
        details = {**(details or {}), CARD_KEY: card}
    # One transaction: a crash or a kill mid-import leaves the whole persona or nothing.
    saved = store.personas.create_with_history(
        NewPersona(
            name=doc.name,
            prompt_instructions=texts[0],
            generation_type=doc.generation_type,
            input_details=details,
            output_preferences=doc.output_preferences,
            template_versions=doc.template_versions,
            model=doc.model,
            request_params=doc.request_params,
            stats=doc.stats,
        ),
        texts[1:],
        rating=rating,
        card_extras=extras,
    )
    return SaveOutcome(saved, tuple(notes))


def _rating(value: Any, notes: list[str]) -> tuple[int, str, datetime | None] | None:
    """(rating, note, rated_at) from a document's ``ratings``: our object, or a list of them
    (the last one counts). Anything else is left out, with a note saying so."""
    if not value:
        return None
    entry = value[-1] if isinstance(value, list) else value
    stars = entry.get("rating") if isinstance(entry, dict) else None
    if (
        isinstance(stars, bool)
        or not isinstance(stars, int)
        or not MIN_RATING <= stars <= MAX_RATING
    ):
        notes.append(
            "its ratings were not imported (Persona Studio keeps one rating per persona, "
            f'{{"rating": {MIN_RATING}-{MAX_RATING}, "note": ...}}, and the file holds another '
            "form)"
        )
        return None
    note = entry.get("note")
    note = note.strip() if isinstance(note, str) else ""
    if len(note) > MAX_NOTE_CHARS:
        notes.append(f"its rating note was cut to {MAX_NOTE_CHARS:,} characters")
        note = note[:MAX_NOTE_CHARS]
    return stars, note, _when(entry.get("rated_at"))


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _history(doc: PersonaDocument) -> list[str]:
    """The texts to save, oldest first, ending with the current one; a text equal to the one
    before it is skipped (it would only add an identical version)."""
    texts: list[str] = []
    for text in [v.prompt_instructions for v in doc.versions] + [doc.prompt_instructions]:
        if not texts or texts[-1] != text:
            texts.append(text)
    return texts
