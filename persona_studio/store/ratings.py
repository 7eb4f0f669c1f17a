"""Ratings (ps_ratings) and the feedback report built from them.

A writer rates a persona 1-5 and may note what was good or bad; one row per rated persona,
no row when it is not rated. The report groups rated personas by what produced them (the
template versions, model and settings recorded in ps_persona_generation), so a writer sees
which templates and settings gave their best personas.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from persona_studio.core import safejson
from persona_studio.core.request import StoredPreferences, StoredRequest
from persona_studio.errors import InvalidInputError
from persona_studio.store.db import AnyRow
from persona_studio.store.models import PersonaGenerationRow, PersonaRow, RatingRow
from persona_studio.store.records import Rating, RatingGroup, parse_json_object
from persona_studio.store.timestamps import now_utc

MIN_RATING = 1
MAX_RATING = 5
MAX_NOTE_CHARS = 2000

Rt = RatingRow
G = PersonaGenerationRow
P = PersonaRow


def check_rating(rating: Any) -> int | None:
    """``rating`` if it is a whole number from 1 to 5 or None (no rating), else a clear error."""
    if rating is None:
        return None
    if isinstance(rating, bool) or not isinstance(rating, int):
        raise InvalidInputError(
            f"A rating is a whole number from {MIN_RATING} to {MAX_RATING} (or none, to clear "
            f"it), not {rating!r}."
        )
    if not MIN_RATING <= rating <= MAX_RATING:
        raise InvalidInputError(
            f"A rating goes from {MIN_RATING} to {MAX_RATING} stars; {rating} is out of range."
        )
    return rating


def check_note(note: Any) -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise InvalidInputError(f"A rating note is text, not {type(note).__name__}.")
    text = note.strip()
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidInputError(
            f"A rating note can be at most {MAX_NOTE_CHARS:,} characters; this one has "
            f"{len(text):,}. Shorten it."
        )
    return text


def write_rating(
    conn: sa.Connection, persona_id: int, rating: int | None, note: str, rated_at: datetime | None
) -> None:
    """Set (or with ``rating`` None, remove) the persona's rating; values already checked."""
    if rating is None:
        conn.execute(sa.delete(RatingRow).where(col(Rt.persona_id) == persona_id))
        return
    values = {"rating": rating, "note": note, "rated_at": rated_at or now_utc()}
    conn.execute(
        sqlite_insert(RatingRow)
        .values(persona_id=persona_id, **values)
        .on_conflict_do_update(index_elements=[col(Rt.persona_id)], set_=values)
    )


def read_rating(conn: sa.Connection, persona_id: int) -> Rating | None:
    row = conn.execute(
        sa.select(col(Rt.rating), col(Rt.note), col(Rt.rated_at)).where(
            col(Rt.persona_id) == persona_id
        )
    ).first()
    return None if row is None else Rating(row.rating, row.note or "", row.rated_at)


# -- the feedback report -----------------------------------------------------------------------

_GroupKey = tuple[tuple[tuple[str, str], ...], str | None, str, bool, bool, bool]
_NO_INFO: _GroupKey = ((), None, "", False, False, False)


def _text_of(value: Any) -> str:
    return safejson.printable(value.strip(), 300) if isinstance(value, str) else ""


def _plain(value: Any) -> str:
    """A recorded value as text a report can show (the column may hold anything)."""
    if isinstance(value, str):
        return safejson.printable(value, 300)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return safejson.printable(repr(value), 300)
    return safejson.printable(json.dumps(value, ensure_ascii=False), 300)


def _group_key(gen: AnyRow | None) -> _GroupKey:
    """What produced a persona, from its latest generation record (None: no record)."""
    if gen is None:
        return _NO_INFO
    request = StoredRequest.from_params(parse_json_object(gen.request_params))
    # The generation record's own preferences, else those in its request.
    own_prefs = parse_json_object(gen.output_preferences)
    prefs = request.preferences if own_prefs is None else StoredPreferences.read(own_prefs)
    versions = parse_json_object(gen.template_versions) or {}
    critique = request.options.critique or "critique" in versions
    return (
        tuple(sorted((_plain(stage), _plain(version)) for stage, version in versions.items())),
        _text_of(gen.model) or None,
        prefs.length or "",
        prefs.tone is not None,
        critique,
        True,
    )


def rating_report(
    conn: sa.Connection, *, include_inactive: bool, best_per_group: int
) -> list[RatingGroup]:
    rated_query = sa.select(
        col(P.persona_id), col(P.name), col(Rt.rating), col(Rt.rated_at)
    ).join_from(RatingRow, PersonaRow, col(P.persona_id) == Rt.persona_id)
    if not include_inactive:
        rated_query = rated_query.where(col(P.is_active) == sa.true())
    rated = conn.execute(rated_query).all()
    # The latest generation of each rated persona: ordered so the last row per persona wins
    # (the same record generation_info() shows).
    latest: dict[int, AnyRow] = {
        row.persona_id: row
        for row in conn.execute(
            sa.select(
                col(G.persona_id),
                col(G.model),
                col(G.request_params),
                col(G.output_preferences),
                col(G.template_versions),
            )
            .where(col(G.persona_id).in_(sa.select(col(Rt.persona_id))))
            .order_by(col(G.persona_id), col(G.version), col(G.id))
        )
    }
    groups: dict[_GroupKey, list[AnyRow]] = {}
    for row in rated:
        groups.setdefault(_group_key(latest.get(row.persona_id)), []).append(row)

    def best_first(row: AnyRow) -> tuple[Any, ...]:
        stamp = row.rated_at.timestamp() if row.rated_at is not None else 0.0
        return (-row.rating, -stamp, row.name.casefold(), row.persona_id)

    result = []
    for (versions, model, length, tone, critique, has_info), rows in groups.items():
        rows.sort(key=best_first)
        result.append(
            RatingGroup(
                template_versions=dict(versions),
                model=model,
                length=length,
                tone=tone,
                critique=critique,
                count=len(rows),
                mean_rating=sum(r.rating for r in rows) / len(rows),
                best=tuple((r.persona_id, r.name, r.rating) for r in rows[:best_per_group]),
                has_generation_info=has_info,
            )
        )
    # Best mean first, then the better-supported group; the rest only makes the order stable.
    result.sort(
        key=lambda g: (
            -g.mean_rating,
            -g.count,
            not g.has_generation_info,
            sorted(g.template_versions.items()),
            g.model or "",
            g.length,
            g.tone,
            g.critique,
        )
    )
    return result
