"""Template texts (ps_template_versions): each template version's text, stored once.

A persona's generation record names the template versions that made it
(``ps_persona_generation.template_versions``: stage -> '<stage>/<type>@<content hash>'); this
table keeps the text behind each name, so the history can show the exact prompt even after
the user edited or restored the template. Rows are only ever added: a version's text never
changes (its name carries a hash of it), so the first text stored for a version is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from persona_studio.errors import InvalidInputError, NotFoundError
from persona_studio.store.db import AnyRow, Database
from persona_studio.store.models import PersonaGenerationRow, PersonaRow, TemplateVersionRow
from persona_studio.store.records import TemplateVersionRecord, parse_json_object
from persona_studio.store.timestamps import now_utc

SOURCES = ("shipped", "user")
MAX_VERSION_CHARS = 300

T = TemplateVersionRow
G = PersonaGenerationRow

_Entry = tuple[str, str, str, str, str]  # version, stage, generation_type, source, text


def _check_entry(version: Any, stage: Any, generation_type: Any, source: Any, text: Any) -> _Entry:
    for what, value in (
        ("version", version),
        ("stage", stage),
        ("generation type", generation_type),
    ):
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError(f"A template's {what} must be non-empty text, not {value!r}.")
    if len(version) > MAX_VERSION_CHARS:
        raise InvalidInputError(
            f"A template version name is at most {MAX_VERSION_CHARS} characters; got "
            f"{len(version):,}."
        )
    if source not in SOURCES:
        raise InvalidInputError(
            f"A template's source is 'shipped' or 'user', not {source!r} (template {version})."
        )
    if not isinstance(text, str):
        raise InvalidInputError(
            f"A template's text must be text, not {type(text).__name__} (template {version})."
        )
    return version, stage, generation_type, source, text


def check_template_texts(
    texts: dict[str, tuple[str, str, str, str]] | None,
) -> list[_Entry]:
    """NewPersona.template_texts as rows to insert; InvalidInputError if malformed."""
    if not texts:
        return []
    entries = []
    for version, value in texts.items():
        if not isinstance(value, tuple | list) or len(value) != 4:
            raise InvalidInputError(
                f"template_texts[{version!r}] must be (stage, generation_type, source, text)."
            )
        entries.append(_check_entry(version, *value))
    return entries


def remember_texts(conn: sa.Connection, entries: list[_Entry]) -> None:
    """Insert the versions not stored yet (inside the caller's write transaction)."""
    if not entries:
        return
    now = now_utc()
    conn.execute(
        sqlite_insert(TemplateVersionRow)
        .values(
            [
                {
                    "version": version,
                    "stage": stage,
                    "generation_type": generation_type,
                    "source": source,
                    "text": text,
                    "first_seen_at": now,
                }
                for version, stage, generation_type, source, text in entries
            ]
        )
        .on_conflict_do_nothing(index_elements=[T.version])
    )


def _to_record(row: AnyRow) -> TemplateVersionRecord:
    return TemplateVersionRecord(
        version=row.version,
        stage=row.stage,
        generation_type=row.generation_type,
        source=row.source,
        text=row.text,
        first_seen_at=row.first_seen_at,
    )


class TemplateVersions:
    """``store.templates``: each method is one short transaction of its own."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def remember(
        self, version: str, stage: str, generation_type: str, source: str, text: str
    ) -> None:
        """Store the text of ``version`` unless it is stored already (then nothing changes:
        the first text and first_seen_at stay)."""
        entry = _check_entry(version, stage, generation_type, source, text)
        self._db.write(lambda conn: remember_texts(conn, [entry]))

    def get(self, version: str) -> TemplateVersionRecord | None:
        def read(conn: sa.Connection) -> TemplateVersionRecord | None:
            row = conn.execute(
                sa.select(TemplateVersionRow).where(col(T.version) == version)
            ).first()
            return None if row is None else _to_record(row)

        return self._db.read(read)

    def for_persona(
        self, persona_id: int, version: int | None = None
    ) -> dict[str, TemplateVersionRecord | None]:
        """stage -> the template that made the persona's current text (or, with
        ``version``, that version of it), from its generation record; None for a stage whose
        text was never stored (made before texts were kept, or by another program). Empty
        when the persona (version) was not generated here. NotFoundError for an unknown
        persona."""

        def read(conn: sa.Connection) -> dict[str, TemplateVersionRecord | None]:
            persona = conn.execute(
                sa.select(col(PersonaRow.persona_id)).where(
                    col(PersonaRow.persona_id) == persona_id
                )
            ).first()
            if persona is None:
                raise NotFoundError(f"There is no persona with id {persona_id} (was it purged?).")
            query = sa.select(col(G.template_versions)).where(col(G.persona_id) == persona_id)
            if version is not None:
                query = query.where(col(G.version) == version)
            stored = conn.scalar(query.order_by(col(G.version).desc(), col(G.id).desc()).limit(1))
            stages = parse_json_object(stored) or {}
            names = {str(stage): name for stage, name in stages.items()}
            wanted = [name for name in names.values() if isinstance(name, str)]
            rows: Iterable[AnyRow] = (
                conn.execute(sa.select(TemplateVersionRow).where(col(T.version).in_(wanted)))
                if wanted
                else []
            )
            found = {row.version: _to_record(row) for row in rows}
            return {
                stage: found.get(name) if isinstance(name, str) else None
                for stage, name in names.items()
            }

        return self._db.read(read)
