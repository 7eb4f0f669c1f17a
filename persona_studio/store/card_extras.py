"""Card extras and tags (ps_card_extras, ps_persona_tags): what a character card has that a
persona text does not, kept per persona.

A card reader expects a greeting (``first_mes``), alternate greetings, an example dialogue
(``mes_example``), a scenario line and tags. They belong to the persona, not to one of its
versions: a greeting written for version 3 still greets after a hand edit, and the writer
edits it in the Card tab like any other field. A row in ``ps_card_extras`` is the whole
truth about the four texts (an empty text there means "none", so a greeting the writer
cleared stays cleared); tags are rows of their own so the persona list can filter by one
with an index.

Writing checks every value (InvalidInputError); reading is lenient, as everywhere in the
store, because any program may write the file: text that is not text reads as "", a
greetings column that is not a JSON list of texts as no greetings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from persona_studio.errors import InvalidInputError, NotFoundError
from persona_studio.store.timestamps import from_db, now_utc, to_db_text

# Far above any greeting a card carries (long ones are a few thousand characters), and the
# same bound an imported persona text has.
MAX_EXTRA_CHARS = 100_000
MAX_GREETINGS = 50
MAX_TAGS = 50
MAX_TAG_CHARS = 64
MAX_MODEL_CHARS = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class CardExtras:
    """A persona's card extras. ``model``: the model that last wrote them (None: typed or
    imported); ``updated_at``: when they were last saved (None: never)."""

    first_mes: str = ""
    alternate_greetings: tuple[str, ...] = ()
    mes_example: str = ""
    scenario: str = ""
    tags: tuple[str, ...] = ()
    model: str | None = None
    updated_at: datetime | None = None

    def is_empty(self) -> bool:
        return not (
            self.first_mes.strip()
            or any(g.strip() for g in self.alternate_greetings)
            or self.mes_example.strip()
            or self.scenario.strip()
            or self.tags
        )

    def same_content(self, other: CardExtras) -> bool:
        """Equal in what a card shows (who wrote them and when aside)."""
        return (
            self.first_mes,
            self.alternate_greetings,
            self.mes_example,
            self.scenario,
            self.tags,
        ) == (
            other.first_mes,
            other.alternate_greetings,
            other.mes_example,
            other.scenario,
            other.tags,
        )


def clean_tags(values: Any) -> tuple[str, ...]:
    """Tags as the store keeps them: each on one line with single spaces, at most
    MAX_TAG_CHARS, no empty ones, no second copy in another letter case, at most MAX_TAGS.
    Used for typed tags and card tags alike, so both look the same in the list's filter."""
    if isinstance(values, str):
        values = values.split(",")
    seen: set[str] = set()
    tags: list[str] = []
    for value in values or ():
        if not isinstance(value, str):
            continue
        tag = " ".join(_CONTROL.sub(" ", value).split())[:MAX_TAG_CHARS].strip()
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tuple(tags[:MAX_TAGS])


def check_extras(extras: Any) -> CardExtras:
    """``extras`` if it can be stored as it is, else InvalidInputError saying why."""
    if not isinstance(extras, CardExtras):
        raise InvalidInputError(f"Card extras to save are CardExtras, not {type(extras)}.")
    texts = {
        "greeting": extras.first_mes,
        "example dialogue": extras.mes_example,
        "scenario": extras.scenario,
    }
    for index, greeting in enumerate(extras.alternate_greetings, 1):
        texts[f"alternate greeting {index}"] = greeting
    for what, text in texts.items():
        if not isinstance(text, str):
            raise InvalidInputError(f"The card's {what} must be text.")
        if len(text) > MAX_EXTRA_CHARS:
            raise InvalidInputError(
                f"The card's {what} has {len(text):,} characters; the limit is "
                f"{MAX_EXTRA_CHARS:,}. Shorten it."
            )
    if len(extras.alternate_greetings) > MAX_GREETINGS:
        raise InvalidInputError(f"A card holds at most {MAX_GREETINGS} alternate greetings.")
    if clean_tags(extras.tags) != tuple(extras.tags):
        raise InvalidInputError(
            f"Tags are at most {MAX_TAGS}, each of at most {MAX_TAG_CHARS} characters on one "
            "line, none twice."
        )
    if extras.model is not None and (
        not isinstance(extras.model, str) or len(extras.model) > MAX_MODEL_CHARS
    ):
        raise InvalidInputError("The model of card extras is a model identifier (text).")
    return extras


def write_extras(conn: sa.Connection, persona_id: int, extras: CardExtras) -> datetime:
    """Replace the persona's card extras and tags (already checked), inside the caller's
    transaction; returns the time they were saved."""
    when = now_utc()
    greetings = json.dumps(list(extras.alternate_greetings), ensure_ascii=False)
    conn.exec_driver_sql(
        "INSERT OR REPLACE INTO ps_card_extras "
        "(persona_id, first_mes, alternate_greetings, mes_example, scenario, model, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            persona_id,
            extras.first_mes,
            greetings,
            extras.mes_example,
            extras.scenario,
            extras.model,
            to_db_text(when),
        ),
    )
    conn.exec_driver_sql("DELETE FROM ps_persona_tags WHERE persona_id = ?", (persona_id,))
    for position, tag in enumerate(extras.tags):
        conn.exec_driver_sql(
            "INSERT INTO ps_persona_tags (persona_id, tag, position) VALUES (?, ?, ?)",
            (persona_id, tag, position),
        )
    return when


def delete_extras(conn: sa.Connection, persona_id: int) -> None:
    conn.exec_driver_sql("DELETE FROM ps_card_extras WHERE persona_id = ?", (persona_id,))
    conn.exec_driver_sql("DELETE FROM ps_persona_tags WHERE persona_id = ?", (persona_id,))


# -- reading (lenient) -----------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value[:MAX_EXTRA_CHARS] if isinstance(value, str) else ""


def _greetings(value: Any) -> tuple[str, ...]:
    text = _text(value)
    if not text or len(text) >= MAX_EXTRA_CHARS:
        return ()
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return ()
    if not isinstance(parsed, list):
        return ()
    return tuple(g[:MAX_EXTRA_CHARS] for g in parsed if isinstance(g, str))[:MAX_GREETINGS]


def read_tags(conn: sa.Connection, persona_id: int) -> tuple[str, ...]:
    rows = conn.exec_driver_sql(
        "SELECT tag FROM ps_persona_tags WHERE persona_id = ? ORDER BY position, id",
        (persona_id,),
    )
    return clean_tags(row[0] for row in rows if isinstance(row[0], str))


def read_extras(conn: sa.Connection, persona_id: int) -> CardExtras | None:
    """The persona's card extras, or None when none were ever saved (tags alone count)."""
    row = conn.exec_driver_sql(
        "SELECT first_mes, alternate_greetings, mes_example, scenario, model, updated_at "
        "FROM ps_card_extras WHERE persona_id = ?",
        (persona_id,),
    ).first()
    tags = read_tags(conn, persona_id)
    if row is None:
        return CardExtras(tags=tags) if tags else None
    try:
        when = from_db(row[5])
    except (ValueError, TypeError, OverflowError):
        when = None
    model = row[4][:MAX_MODEL_CHARS] if isinstance(row[4], str) and row[4] else None
    return CardExtras(
        first_mes=_text(row[0]),
        alternate_greetings=_greetings(row[1]),
        mes_example=_text(row[2]),
        scenario=_text(row[3]),
        tags=tags,
        model=model,
        updated_at=when,
    )


def tag_counts(conn: sa.Connection, *, include_inactive: bool = False) -> list[tuple[str, int]]:
    """Every tag in use, with how many personas carry it, by name (letter case ignored)."""
    active = "" if include_inactive else "AND p.is_active = 1"
    rows = conn.exec_driver_sql(
        "SELECT t.tag, COUNT(DISTINCT t.persona_id) FROM ps_persona_tags t "
        f"JOIN personas p ON p.persona_id = t.persona_id {active} "
        "WHERE typeof(t.tag) = 'text' "
        "GROUP BY t.tag COLLATE NOCASE ORDER BY t.tag COLLATE NOCASE"
    )
    return [(str(tag), int(count)) for tag, count in rows]


def tagged(tag: str) -> sa.TextClause:
    """A condition on personas.persona_id: the persona carries ``tag`` (any letter case)."""
    return sa.text(
        "personas.persona_id IN (SELECT persona_id FROM ps_persona_tags "
        "WHERE tag = :ps_tag COLLATE NOCASE)"
    ).bindparams(ps_tag=tag)


class CardExtrasStore:
    """``store.cards``: every method is one short transaction of its own."""

    def __init__(self, db) -> None:
        self._db = db

    def get(self, persona_id: int) -> CardExtras | None:
        return self._db.read(lambda conn: read_extras(conn, persona_id))

    def save(self, persona_id: int, extras: CardExtras) -> CardExtras:
        """Replace the persona's extras and tags; NotFoundError if there is no such persona."""
        checked = check_extras(extras)

        def write(conn: sa.Connection) -> CardExtras:
            exists = conn.exec_driver_sql(
                "SELECT 1 FROM personas WHERE persona_id = ?", (persona_id,)
            ).first()
            if exists is None:
                raise NotFoundError(f"There is no persona with id {persona_id}.")
            return replace(checked, updated_at=write_extras(conn, persona_id, checked))

        return self._db.write(write)

    def tags(self, *, include_inactive: bool = False) -> list[tuple[str, int]]:
        return self._db.read(lambda conn: tag_counts(conn, include_inactive=include_inactive))
