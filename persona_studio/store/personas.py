"""Personas: FORLLM's personas + persona_versions tables, FORLLM's own rows included.

Writes follow FORLLM's own shapes (create_persona, update_persona, save_generated_persona,
soft_delete_persona) so FORLLM reads what we write as if it had written it: user 1
(LocalUser) as author, a persona_versions row for every text a persona has had, is_active 0
for a deleted persona. Names are unique ignoring case, as FORLLM's create_persona checks
(``COLLATE NOCASE``), across active and inactive personas alike, because FORLLM's UNIQUE
index covers both: a clash gets 'Name (2)', 'Name (3)'... instead of an IntegrityError.

A writer's ratings live in our ps_ratings table (ratings.py), joined in by persona_id; the
persona checks of each version in ps_persona_checks (checks.py); what a version says of how
it was made (a section rewritten by the model) in ps_version_notes (version_notes.py).
"""

from __future__ import annotations

import builtins  # for annotations in Personas, where `list` is Personas.list
import json
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import col

from persona_studio.core import safejson
from persona_studio.core.document import without_forllm_preamble
from persona_studio.errors import NameTakenError, NotFoundError, StoreError
from persona_studio.store import card_extras as cards_db
from persona_studio.store import checks as checks_db
from persona_studio.store import ratings
from persona_studio.store import version_notes as notes_db
from persona_studio.store.db import AnyRow, Database, inserted_id
from persona_studio.store.models import (
    JobRow,
    PersonaCheckRow,
    PersonaGenerationRow,
    PersonaRow,
    PersonaVersionRow,
    RatingRow,
    SettingRow,
    SubforumPersonaRow,
    SubforumRow,
)
from persona_studio.store.records import (
    NewCheck,
    NewPersona,
    Persona,
    PersonaCheck,
    PersonaSummary,
    PersonaVersion,
    Rating,
    RatingGroup,
    SavedPersona,
    parse_json_object,
)
from persona_studio.store.template_versions import check_template_texts, remember_texts
from persona_studio.store.timestamps import now_utc

LOCAL_USER_ID = 1  # FORLLM's CURRENT_USER_ID ('LocalUser'); FORLLM has no other user
FALLBACK_PERSONA_ID = 1  # FORLLM re-inserts it on every start and falls back to it

OrderBy = Literal["name", "updated", "created", "source", "rating", "check"]

P = PersonaRow
V = PersonaVersionRow
Rt = RatingRow
# Every persona with its rating, if it has one (ps_ratings.persona_id is its primary key).
_WITH_RATING = sa.outerjoin(PersonaRow, RatingRow, col(Rt.persona_id) == P.persona_id)
C = PersonaCheckRow
# ...and, for the list, the latest check of its current version, if it has one.
_WITH_RATING_AND_CHECK = _WITH_RATING.outerjoin(
    PersonaCheckRow, col(C.id) == checks_db.latest_check_id()
)

_PREVIEW_CHARS = 160
_NUMBERED = re.compile(r"(.*\S) \((\d+)\)")


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise StoreError("A persona needs a name.")
    return cleaned


def _check_text(prompt_instructions: str) -> None:
    if not prompt_instructions.strip():
        raise StoreError("A persona's instructions cannot be empty.")


def _taken_names(conn: sa.Connection, base: str, exclude_id: int | None) -> set[str]:
    query = sa.select(col(P.name)).where(
        sa.or_(
            col(P.name).collate("NOCASE") == base,
            col(P.name).like(escape_like(base) + " (%)", escape="\\"),
        )
    )
    if exclude_id is not None:
        query = query.where(col(P.persona_id) != exclude_id)
    return {name.casefold() for name in conn.scalars(query)}


def unique_name(conn: sa.Connection, name: str) -> str:
    """``name`` if free (ignoring case), else the first free 'Name (n)'."""
    name = _clean_name(name)
    match = _NUMBERED.fullmatch(name)
    base, n = (match.group(1), int(match.group(2)) + 1) if match else (name, 2)
    taken = _taken_names(conn, base, None)
    if name.casefold() not in taken:
        return name
    while f"{base} ({n})".casefold() in taken:
        n += 1
    return f"{base} ({n})"


def _ensure_name_free(conn: sa.Connection, name: str, persona_id: int) -> None:
    if name.casefold() in _taken_names(conn, name, persona_id):
        raise NameTakenError(
            f"Another persona is already called '{name}' (names must differ in more than "
            "upper/lower case, deleted personas included). Choose another name."
        )


def _missing(persona_id: int) -> NotFoundError:
    return NotFoundError(f"There is no persona with id {persona_id} (was it purged?).")


def _valid_id(persona_id: Any) -> int:
    # An id out of SQLite's range (a request anyone may write can name one) binds as an
    # OverflowError, not as a row that is not there.
    if isinstance(persona_id, bool) or not isinstance(persona_id, int):
        raise _missing(persona_id)
    if not safejson.fits_sqlite_int(persona_id):
        raise NotFoundError("There is no persona with that id (the number is far too large).")
    return persona_id


def _exists(conn: sa.Connection, persona_id: int) -> None:
    _valid_id(persona_id)
    if (
        conn.execute(sa.select(col(P.persona_id)).where(col(P.persona_id) == persona_id)).first()
        is None
    ):
        raise _missing(persona_id)


def _row(conn: sa.Connection, persona_id: int) -> AnyRow:
    _valid_id(persona_id)
    row = conn.execute(sa.select(PersonaRow).where(col(P.persona_id) == persona_id)).first()
    if row is None:
        raise _missing(persona_id)
    return row


def _rated_row(conn: sa.Connection, where: Any, *order: Any) -> AnyRow | None:
    """The first persona row matching ``where``, with its rating and note (NULL if none)."""
    query: sa.Select[*tuple[Any, ...]] = (
        sa.select(PersonaRow, col(Rt.rating), col(Rt.note).label("rating_note"))
        .select_from(_WITH_RATING)
        .where(where)
        .order_by(*order)
        .limit(1)
    )
    return conn.execute(query).first()


def _to_persona(row: AnyRow) -> Persona:
    return Persona(
        persona_id=row.persona_id,
        name=row.name,
        prompt_instructions=row.prompt_instructions,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version or 1,
        is_active=bool(row.is_active),
        generation_source=row.generation_source,
        generation_input_details=parse_json_object(row.generation_input_details),
        created_by_user=row.created_by_user,
        rating=row.rating,
        rating_note=row.rating_note or "",
    )


def _to_version(row: AnyRow) -> PersonaVersion:
    return PersonaVersion(
        version_id=row.version_id,
        persona_id=row.persona_id,
        name=row.name,
        prompt_instructions=row.prompt_instructions,
        updated_at=row.updated_at,
        version=row.version,
    )


def _preview(head: str | None) -> str:
    # FORLLM's generator puts its preamble before every generated text; a preview skips it.
    text = " ".join(without_forllm_preamble(head or "").split())
    return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 1].rstrip() + "…"


_SUMMARY_COLUMNS = (
    col(P.persona_id),
    col(P.name),
    col(P.generation_source),
    col(P.created_at),
    col(P.updated_at),
    col(P.version),
    col(P.is_active),
    # Enough text for the preview after FORLLM's preamble, without loading ~2 KB per row.
    sa.func.substr(P.prompt_instructions, 1, 400).label("head"),
    col(Rt.rating),
    # As stored (no type processing): checks.lenient_* judge what another program wrote.
    sa.type_coerce(C.score, sa.types.NullType()).label("check_score"),
    sa.type_coerce(C.summary, sa.types.NullType()).label("check_summary"),
)


def _summaries() -> sa.Select[Any]:
    return sa.select(*_SUMMARY_COLUMNS).select_from(_WITH_RATING_AND_CHECK)


def _to_summary(row: AnyRow) -> PersonaSummary:
    return PersonaSummary(
        persona_id=row.persona_id,
        name=row.name,
        generation_source=row.generation_source,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version or 1,
        is_active=bool(row.is_active),
        preview=_preview(row.head),
        rating=row.rating,
        check_score=checks_db.lenient_score(row.check_score),
        check_summary=checks_db.lenient_text(row.check_summary, checks_db.MAX_SUMMARY_CHARS),
    )


def _insert_version(
    conn: sa.Connection, persona_id: int, name: str, text: str, version: int, when: Any
) -> PersonaVersion:
    version_id = inserted_id(
        conn.execute(
            sa.insert(PersonaVersionRow).values(
                persona_id=persona_id,
                name=name,
                prompt_instructions=text,
                updated_at=when,
                updated_by_user=LOCAL_USER_ID,
                version=version,
            )
        )
    )
    return PersonaVersion(version_id, persona_id, name, text, when, version)


def _ensure_snapshot(conn: sa.Connection, row: AnyRow) -> None:
    """Keep the current text in persona_versions before it is replaced: personas FORLLM made
    before it kept versions, or edited outside update_persona, may have no row for it."""
    version = row.version or 1
    exists = conn.execute(
        sa.select(col(V.version_id))
        .where(
            V.persona_id == row.persona_id,
            col(V.version) == version,
            V.prompt_instructions == row.prompt_instructions,
        )
        .limit(1)
    ).first()
    if exists is None:
        _insert_version(
            conn,
            row.persona_id,
            row.name,
            row.prompt_instructions,
            version,
            row.updated_at or now_utc(),
        )


def _new_version(
    conn: sa.Connection,
    row: AnyRow,
    text: str,
    *,
    name: str | None = None,
    extra: dict[str, Any] | None = None,
) -> PersonaVersion:
    """FORLLM's update_persona: version + 1, updated_at, and a persona_versions row."""
    _ensure_snapshot(conn, row)
    version = (row.version or 1) + 1
    name = name or row.name
    now = now_utc()
    conn.execute(
        sa.update(PersonaRow)
        .where(P.persona_id == row.persona_id)
        .values(
            name=name, prompt_instructions=text, updated_at=now, version=version, **(extra or {})
        )
    )
    return _insert_version(conn, row.persona_id, name, text, version, now)


def _link_subforum(conn: sa.Connection, subforum_id: int, persona_id: int) -> None:
    # A subforum deleted while the job ran is not a reason to lose the persona.
    subforum = conn.execute(
        sa.select(col(SubforumRow.subforum_id)).where(col(SubforumRow.subforum_id) == subforum_id)
    ).first()
    linked = conn.execute(
        sa.select(col(SubforumPersonaRow.subforum_persona_id))
        .where(
            col(SubforumPersonaRow.subforum_id) == subforum_id,
            col(SubforumPersonaRow.persona_id) == persona_id,
        )
        .limit(1)
    ).first()
    if subforum is not None and linked is None:
        conn.execute(
            sa.insert(SubforumPersonaRow).values(
                subforum_id=subforum_id,
                persona_id=persona_id,
                assigned_at=now_utc(),
                is_default_for_subforum=False,
            )
        )


def _dumps(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)


def _input_details_json(p: NewPersona) -> str | None:
    if not p.is_generated:
        return _dumps(p.input_details)
    # FORLLM writes json.dumps(request_params.get('input_details', {})) for generated ones.
    return json.dumps(p.input_details or {})


def save_new(conn: sa.Connection, p: NewPersona, *, request_id: int | None = None) -> SavedPersona:
    """Save ``p`` inside the caller's write transaction (queue.complete shares it)."""
    _check_text(p.prompt_instructions)
    requested = _clean_name(p.name)
    if p.check is not None:
        checks_db.check_new(p.check)
    # The texts first, then the persona whose record names them (all one transaction).
    remember_texts(conn, check_template_texts(p.template_texts))
    if p.replaces_persona_id is not None:
        row = _row(conn, p.replaces_persona_id)
        saved = _new_version(
            conn,
            row,
            p.prompt_instructions,
            extra={
                "generation_source": p.generation_source,
                "generation_input_details": _input_details_json(p),
            },
        )
        persona_id, name, version = row.persona_id, row.name, saved.version
    else:
        name = unique_name(conn, requested)
        now = now_utc()
        persona_id = inserted_id(
            conn.execute(
                sa.insert(PersonaRow).values(
                    name=name,
                    prompt_instructions=p.prompt_instructions,
                    created_at=now,
                    updated_at=now,
                    created_by_user=LOCAL_USER_ID,
                    version=1,
                    is_active=True,
                    generation_source=p.generation_source,
                    generation_input_details=_input_details_json(p),
                )
            )
        )
        version = _insert_version(conn, persona_id, name, p.prompt_instructions, 1, now).version
    if p.subforum_id is not None:
        _link_subforum(conn, p.subforum_id, persona_id)
    if p.is_generated or request_id is not None:
        conn.execute(
            sa.insert(PersonaGenerationRow).values(
                persona_id=persona_id,
                version=version,
                request_id=request_id,
                generation_type=p.generation_type,
                model=p.model,
                request_params=_dumps(p.request_params),
                output_preferences=_dumps(p.output_preferences),
                template_versions=_dumps(p.template_versions),
                stats=_dumps(p.stats),
                created_at=now_utc(),
            )
        )
    if p.check is not None:
        checks_db.write_check(conn, persona_id, version, p.check)
    renamed = p.replaces_persona_id is None and name != requested
    return SavedPersona(persona_id, name, version, requested_name=requested, renamed=renamed)


def _filters(
    search: str | None, source: str | None, include_inactive: bool, tag: str | None = None
) -> list[Any]:
    conditions: list[Any] = []
    if tag:
        conditions.append(cards_db.tagged(tag))
    if not include_inactive:
        conditions.append(P.is_active == sa.true())  # FORLLM's own test: is_active = 1
    if source == "user_manual":
        # FORLLM's create_persona leaves generation_source NULL for hand-written personas.
        conditions.append(
            sa.or_(col(P.generation_source).is_(None), col(P.generation_source) == source)
        )
    elif source == "llm_generated":
        conditions.append(col(P.generation_source).like("llm\\_generated\\_%", escape="\\"))
    elif source:
        conditions.append(P.generation_source == source)
    if search and search.strip():
        pattern = f"%{escape_like(search.strip())}%"
        # LIKE ignores case for ASCII letters, as SQLite does without ICU.
        conditions.append(
            sa.or_(
                col(P.name).like(pattern, escape="\\"),
                col(P.prompt_instructions).like(pattern, escape="\\"),
            )
        )
    return conditions


def _order(order_by: OrderBy, descending: bool) -> Sequence[Any]:
    name = col(P.name).collate("NOCASE")
    keys: dict[str, list[Any]] = {
        "name": [name],
        "updated": [P.updated_at],
        "created": [P.created_at],
        "source": [sa.func.coalesce(P.generation_source, "user_manual"), name],
        "rating": [Rt.rating, name],
        "check": [checks_db.sortable_score(), name],
    }
    if order_by not in keys:
        raise StoreError(f"Cannot sort personas by {order_by!r}; use one of {sorted(keys)}.")
    columns = [*keys[order_by], P.persona_id]
    ordered = [c.desc() for c in columns] if descending else columns
    # Unrated (unchecked) personas come last whichever way the ratings (scores) run.
    if order_by == "rating":
        return [col(Rt.rating).is_(None), *ordered]
    if order_by == "check":
        return [checks_db.sortable_score().is_(None), *ordered]
    return ordered


class Personas:
    """``store.personas``: every method is one short transaction of its own."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, p: NewPersona) -> SavedPersona:
        """Persona row + version 1 (+ subforum link, + generation facts) in one transaction."""
        return self._db.write(lambda conn: save_new(conn, p))

    def create_with_history(
        self,
        p: NewPersona,
        later_texts: Sequence[str] = (),
        *,
        rating: tuple[int, str, datetime | None] | None = None,
        card_extras: cards_db.CardExtras | None = None,
    ) -> SavedPersona:
        """An imported persona in ONE transaction: ``p`` as version 1, each of
        ``later_texts`` as the next version (the last is the current text), its
        ``rating`` (stars, note, rated_at) and its ``card_extras`` (greetings, tags...). All of it is saved, or (an error, a crash, a
        kill) nothing is. The returned version is the last one saved."""
        for text in later_texts:
            _check_text(text)
        checked = None
        if rating is not None:
            checked = (ratings.check_rating(rating[0]), ratings.check_note(rating[1]), rating[2])
        extras = cards_db.check_extras(card_extras) if card_extras is not None else None

        def write(conn: sa.Connection) -> SavedPersona:
            saved = save_new(conn, p)
            version = saved.version
            if later_texts:
                now = now_utc()
                for text in later_texts:
                    version += 1
                    _insert_version(conn, saved.persona_id, saved.name, text, version, now)
                conn.execute(
                    sa.update(PersonaRow)
                    .where(col(P.persona_id) == saved.persona_id)
                    .values(prompt_instructions=later_texts[-1], updated_at=now, version=version)
                )
            if checked is not None and checked[0] is not None:
                ratings.write_rating(conn, saved.persona_id, checked[0], checked[1], checked[2])
            if extras is not None:
                cards_db.write_extras(conn, saved.persona_id, extras)
            return replace(saved, version=version)

        return self._db.write(write)

    def unique_name(self, name: str) -> str:
        return self._db.read(lambda conn: unique_name(conn, name))

    def get(self, persona_id: int) -> Persona:
        def read(conn: sa.Connection) -> Persona:
            row = _rated_row(conn, P.persona_id == _valid_id(persona_id))
            if row is None:
                raise _missing(persona_id)
            return _to_persona(row)

        return self._db.read(read)

    def get_by_name(self, name: str) -> Persona:
        def read(conn: sa.Connection) -> Persona:
            row = _rated_row(
                conn,
                col(P.name).collate("NOCASE") == name.strip(),
                # An exact match wins over a case variant (FORLLM's index is case-sensitive).
                (col(P.name) == name.strip()).desc(),
                P.persona_id,
            )
            if row is None:
                raise NotFoundError(f"There is no persona called '{name}'.")
            return _to_persona(row)

        return self._db.read(read)

    def list(
        self,
        *,
        search: str | None = None,
        source: str | None = None,
        include_inactive: bool = False,
        order_by: OrderBy = "name",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
        tag: str | None = None,
    ) -> list[PersonaSummary]:
        """Summaries for a list view. ``source``: a generation_source value; 'user_manual'
        also matches FORLLM's NULL, 'llm_generated' matches every generated type.
        ``order_by='rating'`` puts the best first with ``descending=True``; unrated personas
        come last either way. ``order_by='check'`` sorts by the score of the current
        version's latest check the same way (unchecked personas last). ``tag``: only
        personas carrying that tag (any letter case)."""
        filters = _filters(search, source, include_inactive, tag)
        order = _order(order_by, descending)
        if order_by == "check":
            query = _summaries().where(*filters).order_by(*order).limit(limit)
            query = query.offset(offset or None)
        else:
            # The page first (its order needs the personas and ratings only), then the
            # latest check of each persona on it: looked up for the rows shown, not for
            # every persona in the file.
            page = (
                sa.select(col(P.persona_id))
                .select_from(_WITH_RATING)
                .where(*filters)
                .order_by(*order)
                .limit(limit)
                .offset(offset or None)
            )
            query = _summaries().where(col(P.persona_id).in_(page)).order_by(*order)
        return self._db.read(lambda conn: [_to_summary(r) for r in conn.execute(query)])

    def count(
        self,
        *,
        search: str | None = None,
        source: str | None = None,
        include_inactive: bool = False,
        tag: str | None = None,
    ) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(PersonaRow)
            .where(*_filters(search, source, include_inactive, tag))
        )
        return self._db.read(lambda conn: int(conn.scalar(query) or 0))

    def save_edit(
        self,
        persona_id: int,
        prompt_instructions: str,
        *,
        name: str | None = None,
        note: str | None = None,
    ) -> PersonaVersion:
        """A hand edit, as FORLLM's update_persona saves one. ``note`` (what was changed and
        how, e.g. a section the model rewrote) is kept with the new version, in the same
        transaction; InvalidInputError, nothing saved, for a note that cannot be stored."""
        _check_text(prompt_instructions)
        new_name = _clean_name(name) if name is not None else None
        checked_note = notes_db.check_note(note)

        def write(conn: sa.Connection) -> PersonaVersion:
            row = _row(conn, persona_id)
            if new_name is not None and new_name != row.name:
                _ensure_name_free(conn, new_name, persona_id)
            saved = _new_version(conn, row, prompt_instructions, name=new_name)
            if checked_note is None:
                return saved
            notes_db.write_note(conn, saved.version_id, persona_id, saved.version, checked_note)
            return replace(saved, note=checked_note)

        return self._db.write(write)

    def versions(self, persona_id: int) -> builtins.list[PersonaVersion]:
        """Every stored text, oldest first, each with its note (ps_version_notes; "" if none).
        FORLLM inserts an identical fallback v1 row on each start, so rows equal in version,
        name and text are shown once (the first)."""

        def read(conn: sa.Connection) -> list[PersonaVersion]:
            _row(conn, persona_id)
            rows = conn.execute(
                sa.select(PersonaVersionRow)
                .where(col(V.persona_id) == persona_id)
                .order_by(col(V.version), col(V.version_id))
            )
            notes = notes_db.read_notes(conn, persona_id)
            kept: dict[tuple[int, str, str], PersonaVersion] = {}
            for row in rows:
                key = (row.version, row.name, row.prompt_instructions)
                note = notes.get(row.version_id, "")
                if key not in kept:
                    kept[key] = replace(_to_version(row), note=note)
                elif note and not kept[key].note:  # a note on a row shown once is kept
                    kept[key] = replace(kept[key], note=note)
            return list(kept.values())

        return self._db.read(read)

    def restore(self, persona_id: int, version: int) -> PersonaVersion:
        """Make an old text current again, as a NEW version (history is never rewritten)."""

        def write(conn: sa.Connection) -> PersonaVersion:
            row = _row(conn, persona_id)
            old = conn.execute(
                sa.select(col(V.prompt_instructions))
                .where(col(V.persona_id) == persona_id, col(V.version) == version)
                .order_by(col(V.version_id).desc())
                .limit(1)
            ).first()
            if old is None:
                raise NotFoundError(f"Persona '{row.name}' has no version {version}.")
            return _new_version(conn, row, old.prompt_instructions)

        return self._db.write(write)

    def rename(self, persona_id: int, new_name: str) -> None:
        """Change the name only; persona_versions rows keep the names they had."""
        name = _clean_name(new_name)

        def write(conn: sa.Connection) -> None:
            row = _row(conn, persona_id)
            if name == row.name:
                return
            _ensure_name_free(conn, name, persona_id)
            conn.execute(
                sa.update(PersonaRow)
                .where(col(P.persona_id) == persona_id)
                .values(name=name, updated_at=now_utc())
            )

        self._db.write(write)

    def delete(self, persona_id: int) -> None:
        """Hide the persona, as FORLLM's soft_delete_persona does (is_active = 0)."""

        def write(conn: sa.Connection) -> None:
            row = _row(conn, persona_id)
            _refuse_if_forllm_default(conn, row)
            conn.execute(
                sa.update(PersonaRow).where(col(P.persona_id) == persona_id).values(is_active=False)
            )

        self._db.write(write)

    def purge(self, persona_id: int) -> None:
        """Really delete the persona, its versions, its subforum links and our rows about it.
        FORLLM's posts and requests that name it are FORLLM's history and stay."""

        def write(conn: sa.Connection) -> None:
            row = _row(conn, persona_id)
            _refuse_if_forllm_default(conn, row)
            conn.execute(sa.delete(PersonaVersionRow).where(col(V.persona_id) == persona_id))
            conn.execute(
                sa.delete(SubforumPersonaRow).where(
                    col(SubforumPersonaRow.persona_id) == persona_id
                )
            )
            conn.execute(
                sa.delete(PersonaGenerationRow).where(
                    col(PersonaGenerationRow.persona_id) == persona_id
                )
            )
            conn.execute(
                sa.update(JobRow)
                .where(col(JobRow.persona_id) == persona_id)
                .values(persona_id=None)
            )
            conn.execute(sa.delete(RatingRow).where(col(Rt.persona_id) == persona_id))
            conn.execute(sa.delete(PersonaCheckRow).where(col(C.persona_id) == persona_id))
            cards_db.delete_extras(conn, persona_id)
            notes_db.delete_notes(conn, persona_id)
            conn.execute(sa.delete(PersonaRow).where(col(P.persona_id) == persona_id))

        self._db.write(write)

    # -- ratings ---------------------------------------------------------------------------

    def rate(
        self,
        persona_id: int,
        rating: int | None,
        note: str = "",
        *,
        rated_at: datetime | None = None,
    ) -> None:
        """Rate the persona 1-5 with an optional note (at most 2,000 characters), replacing
        any earlier rating; ``None`` clears the rating and its note. InvalidInputError for a
        rating or note out of bounds, NotFoundError for an unknown persona. ``rated_at``
        (default: now) lets an import keep the time a rating was given."""
        checked = ratings.check_rating(rating)
        text = ratings.check_note(note)

        def write(conn: sa.Connection) -> None:
            _exists(conn, persona_id)
            ratings.write_rating(conn, persona_id, checked, text, rated_at)

        self._db.write(write)

    def rating(self, persona_id: int) -> Rating | None:
        """The persona's rating, None if it has none (NotFoundError for an unknown persona)."""

        def read(conn: sa.Connection) -> Rating | None:
            _exists(conn, persona_id)
            return ratings.read_rating(conn, persona_id)

        return self._db.read(read)

    def rating_report(
        self, *, include_inactive: bool = False, best_per_group: int = 3
    ) -> builtins.list[RatingGroup]:
        """Rated personas grouped by what produced them (template versions, model, length
        preference, tone given or not, critique on or off), best mean rating first, then the
        larger group. A persona counts with its latest generation record; those without one
        (FORLLM's own, imported, hand-written) form one group, ``has_generation_info``
        False. Deleted (inactive) personas count only with ``include_inactive``."""
        return self._db.read(
            lambda conn: ratings.rating_report(
                conn, include_inactive=include_inactive, best_per_group=best_per_group
            )
        )

    # -- persona checks --------------------------------------------------------------------

    def save_check(self, persona_id: int, version: int, check: NewCheck) -> PersonaCheck:
        """Keep ``check`` with version ``version`` of the persona (a later check of the same
        version does not replace it: the latest one counts). NotFoundError for an unknown
        persona or version, InvalidInputError for a check that cannot be stored."""
        checks_db.check_new(check)

        def write(conn: sa.Connection) -> PersonaCheck:
            row = _row(conn, persona_id)
            known = version == (row.version or 1) or (
                conn.execute(
                    sa.select(col(V.version_id))
                    .where(col(V.persona_id) == persona_id, col(V.version) == version)
                    .limit(1)
                ).first()
                is not None
            )
            if not known:
                raise NotFoundError(f"Persona '{row.name}' has no version {version}.")
            return checks_db.write_check(conn, persona_id, version, check)

        return self._db.write(write)

    def save_check_if_current(
        self, persona_id: int, text: str, check: NewCheck
    ) -> PersonaCheck | None:
        """Keep ``check`` with the persona's current version if ``text`` (the text that was
        checked) is that version's text; None, nothing saved, if it is not (unsaved edits,
        or the persona changed meanwhile). One transaction: the text cannot change between
        the comparison and the save."""
        checks_db.check_new(check)

        def write(conn: sa.Connection) -> PersonaCheck | None:
            row = _row(conn, persona_id)
            if row.prompt_instructions != text:
                return None
            return checks_db.write_check(conn, persona_id, row.version or 1, check)

        return self._db.write(write)

    def latest_check(self, persona_id: int, version: int | None = None) -> PersonaCheck | None:
        """The latest check of ``version`` (default: the current version), None if it has
        none. Read leniently (see store/checks.py): never raises for what the row holds."""

        def read(conn: sa.Connection) -> PersonaCheck | None:
            row = _row(conn, persona_id)
            wanted = version if version is not None else (row.version or 1)
            return checks_db.read_latest(conn, persona_id, wanted)

        return self._db.read(read)

    def checks(self, persona_id: int) -> builtins.list[PersonaCheck]:
        """Every check of every version of the persona, oldest first."""

        def read(conn: sa.Connection) -> list[PersonaCheck]:
            _row(conn, persona_id)
            return checks_db.read_all(conn, persona_id)

        return self._db.read(read)

    def names(self) -> builtins.list[str]:
        """Every persona's name, deleted ones included (FORLLM's unique index covers them):
        what a new persona's chosen name must differ from."""
        return self._db.read(
            lambda conn: [str(n) for n in conn.scalars(sa.select(col(P.name))) if n is not None]
        )

    def generation_info(self, persona_id: int) -> dict[str, Any] | None:
        """How the current text was generated: our record of the latest generation, else
        what FORLLM kept (generation_source + generation_input_details), else None."""

        def read(conn: sa.Connection) -> dict[str, Any] | None:
            row = _row(conn, persona_id)
            G = PersonaGenerationRow
            gen = conn.execute(
                sa.select(PersonaGenerationRow)
                .where(col(G.persona_id) == persona_id)
                .order_by(col(G.version).desc(), col(G.id).desc())
                .limit(1)
            ).first()
            if gen is not None:
                return {
                    "generation_type": gen.generation_type,
                    "model": gen.model,
                    "request_id": gen.request_id,
                    "version": gen.version,
                    "created_at": gen.created_at,
                    "request_params": parse_json_object(gen.request_params),
                    "output_preferences": parse_json_object(gen.output_preferences),
                    "template_versions": parse_json_object(gen.template_versions),
                    "stats": parse_json_object(gen.stats),
                    "input_details": parse_json_object(row.generation_input_details),
                }
            source = row.generation_source or ""
            if not source.startswith("llm_generated_"):
                return None
            return {
                "generation_type": source.removeprefix("llm_generated_"),
                "input_details": parse_json_object(row.generation_input_details),
            }

        return self._db.read(read)

    def for_subforum(self, subforum_id: int) -> builtins.list[PersonaSummary]:
        """Active personas linked to the subforum (FORLLM allows duplicate links)."""
        linked = sa.select(col(SubforumPersonaRow.persona_id)).where(
            col(SubforumPersonaRow.subforum_id) == subforum_id
        )
        query = (
            _summaries()
            .where(col(P.persona_id).in_(linked), col(P.is_active) == sa.true())
            .order_by(col(P.name).collate("NOCASE"), col(P.persona_id))
        )
        return self._db.read(lambda conn: [_to_summary(r) for r in conn.execute(query)])


def _refuse_if_forllm_default(conn: sa.Connection, row: AnyRow) -> None:
    default = conn.scalar(
        sa.select(col(SettingRow.setting_value)).where(
            col(SettingRow.setting_key) == "globalDefaultPersonaId"
        )
    )
    if row.persona_id == FALLBACK_PERSONA_ID or str(row.persona_id) == (default or "").strip():
        raise StoreError(
            f"'{row.name}' is FORLLM's default persona: FORLLM answers with it when no other "
            "persona is chosen, so it cannot be deleted. Edit it instead."
        )
