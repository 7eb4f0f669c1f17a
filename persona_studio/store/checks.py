"""Persona checks (ps_persona_checks): per persona version, how the model that uses it
answered the probe questions, and the score.

The store keeps the figures a list needs (score, summary, model, when) as columns and the
whole result as JSON it does not interpret; reading is lenient throughout, because any
program may write the file: a score that is not a number from 0 to 1 reads as None, text
that is not text as "", a result that is not a JSON object (or is absurdly large or deep) as
None. Nothing read back from this table raises.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from persona_studio.errors import InvalidInputError
from persona_studio.store.db import AnyRow, inserted_id
from persona_studio.store.models import PersonaCheckRow, PersonaRow, table_of
from persona_studio.store.records import NewCheck, PersonaCheck, parse_json_object
from persona_studio.store.timestamps import from_db, now_utc

C = PersonaCheckRow
P = PersonaRow

MAX_SUMMARY_CHARS = 300
MAX_MODEL_CHARS = 1000
# A check of four questions with their baseline is a few kilobytes; far more than that was
# not written by Persona Studio and is not worth parsing.
MAX_RESULT_CHARS = 1024 * 1024


# -- writing (values checked: what we write must read back as written) -----------------------


def check_new(check: Any) -> NewCheck:
    """``check`` if it can be stored as it is, else InvalidInputError saying why."""
    if not isinstance(check, NewCheck):
        raise InvalidInputError(f"A persona check to save is a NewCheck, not {type(check)}.")
    score = check.score
    if (
        isinstance(score, bool)
        or not isinstance(score, int | float)
        or not math.isfinite(score)
        or not 0.0 <= score <= 1.0
    ):
        raise InvalidInputError(f"A check's score goes from 0 to 1; {score!r} is not one.")
    if not isinstance(check.summary, str) or len(check.summary) > MAX_SUMMARY_CHARS:
        raise InvalidInputError(
            f"A check's summary is text of at most {MAX_SUMMARY_CHARS} characters."
        )
    if not isinstance(check.model, str) or len(check.model) > MAX_MODEL_CHARS:
        raise InvalidInputError(f"A check's model is text of at most {MAX_MODEL_CHARS} characters.")
    if not isinstance(check.result, dict):
        raise InvalidInputError("A check's result is a JSON object.")
    return check


def _result_json(check: NewCheck) -> str:
    try:
        text = json.dumps(check.result, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"A check's result cannot be stored as JSON ({exc}).") from exc
    if len(text) > MAX_RESULT_CHARS:
        raise InvalidInputError(
            f"A check's result can be at most {MAX_RESULT_CHARS:,} characters of JSON; this "
            f"one has {len(text):,}."
        )
    return text


def write_check(
    conn: sa.Connection,
    persona_id: int,
    version: int,
    check: NewCheck,
    *,
    checked_at: datetime | None = None,
) -> PersonaCheck:
    """Insert ``check`` (already checked) for that version, inside the caller's transaction."""
    when = checked_at or now_utc()
    result = _result_json(check)
    check_id = inserted_id(
        conn.execute(
            sa.insert(PersonaCheckRow).values(
                persona_id=persona_id,
                version=version,
                model=check.model,
                checked_at=when,
                score=float(check.score),
                summary=check.summary,
                result=result,
            )
        )
    )
    return PersonaCheck(
        check_id,
        persona_id,
        version,
        check.model,
        when,
        float(check.score),
        check.summary,
        dict(check.result),
    )


# -- reading (lenient) -----------------------------------------------------------------------


def lenient_score(value: Any) -> float | None:
    """A score as stored, if it is one: a finite number from 0 to 1."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        return None
    return float(value)


def lenient_text(value: Any, limit: int) -> str:
    """Text as stored, if it is text, cut to ``limit`` characters; else ""."""
    if not isinstance(value, str):
        return ""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def lenient_result(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str) and len(value) > MAX_RESULT_CHARS:
        return None
    if isinstance(value, bytes) and len(value) > MAX_RESULT_CHARS:
        return None
    try:
        return parse_json_object(value)
    except (RecursionError, MemoryError):  # nested deeper than the parser goes
        return None


def lenient_when(value: Any) -> datetime | None:
    try:
        return from_db(value)
    except (ValueError, TypeError, OverflowError):  # bytes that are not UTF-8, and such
        return None


# Every column as stored, no type processing: what is in the file is judged here.
_RAW = tuple(sa.type_coerce(c, sa.types.NullType()).label(c.name) for c in table_of(C).columns)


def _to_check(row: AnyRow) -> PersonaCheck:
    return PersonaCheck(
        check_id=int(row.id),
        persona_id=int(row.persona_id),
        version=row.version if isinstance(row.version, int) else 0,
        model=lenient_text(row.model, MAX_MODEL_CHARS),
        checked_at=lenient_when(row.checked_at),
        score=lenient_score(row.score),
        summary=lenient_text(row.summary, MAX_SUMMARY_CHARS),
        result=lenient_result(row.result),
    )


def read_latest(conn: sa.Connection, persona_id: int, version: int) -> PersonaCheck | None:
    """The latest check of that version (the last saved), or None."""
    row = conn.execute(
        sa.select(*_RAW)
        .where(col(C.persona_id) == persona_id, col(C.version) == version)
        .order_by(col(C.id).desc())
        .limit(1)
    ).first()
    return None if row is None else _to_check(row)


def read_all(conn: sa.Connection, persona_id: int) -> list[PersonaCheck]:
    rows = conn.execute(
        sa.select(*_RAW).where(col(C.persona_id) == persona_id).order_by(col(C.id))
    ).all()
    return [_to_check(row) for row in rows]


# -- the list: each persona with its current version's latest check -----------------------------

_inner = table_of(PersonaCheckRow).alias("ps_latest_check")


def current_version() -> sa.ColumnElement[Any]:
    # FORLLM's personas.version may be NULL on rows it wrote before it kept versions.
    return sa.func.coalesce(P.version, 1)


def latest_check_id() -> sa.ScalarSelect[Any]:
    """Correlated: the id of the latest check of the persona row's current version."""
    return (
        sa.select(sa.func.max(_inner.c.id))
        .where(_inner.c.persona_id == P.persona_id, _inner.c.version == current_version())
        .correlate(PersonaRow)
        .scalar_subquery()
    )


def sortable_score() -> sa.ColumnElement[Any]:
    """The score where it is a number from 0 to 1, else NULL (so garbage sorts as unchecked)."""
    return sa.case(
        (
            sa.and_(
                sa.func.typeof(C.score).in_(("real", "integer")),
                col(C.score) >= 0,
                col(C.score) <= 1,
            ),
            C.score,
        ),
        else_=None,
    )
