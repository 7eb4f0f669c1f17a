"""FORLLM's subforums (with the description column our migration 1 adds) and settings."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from persona_studio.core import safejson
from persona_studio.errors import NotFoundError
from persona_studio.store.db import AnyRow, Database
from persona_studio.store.models import SettingRow, SubforumRow
from persona_studio.store.records import Subforum

S = SubforumRow


def _to_subforum(row: AnyRow) -> Subforum:
    return Subforum(row.subforum_id, row.name, row.description)


class Subforums:
    """``store.subforums``: FORLLM owns the subforums; we read them and keep a description
    (used as context for subforum-expert personas, as FORLLM's own generator intended)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def list(self) -> list[Subforum]:
        query = sa.select(col(S.subforum_id), col(S.name), col(S.description)).order_by(
            col(S.name).collate("NOCASE"), col(S.subforum_id)
        )
        return self._db.read(lambda conn: [_to_subforum(r) for r in conn.execute(query)])

    def get(self, subforum_id: int) -> Subforum:
        if not safejson.fits_sqlite_int(subforum_id):  # FORLLM's rows may name anything
            raise NotFoundError("There is no subforum with that id (the number is far too large).")

        def read(conn: sa.Connection) -> Subforum:
            row = conn.execute(
                sa.select(col(S.subforum_id), col(S.name), col(S.description)).where(
                    col(S.subforum_id) == subforum_id
                )
            ).first()
            if row is None:
                raise NotFoundError(f"There is no subforum with id {subforum_id}.")
            return _to_subforum(row)

        return self._db.read(read)

    def set_description(self, subforum_id: int, text: str | None) -> None:
        """Empty text clears the description (NULL, as FORLLM's rows have it)."""
        value = text.strip() if text and text.strip() else None

        def write(conn: sa.Connection) -> None:
            result = conn.execute(
                sa.update(SubforumRow)
                .where(col(S.subforum_id) == subforum_id)
                .values(description=value)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"There is no subforum with id {subforum_id}.")

        self._db.write(write)


class Settings:
    """``store.settings``: FORLLM's key/value settings table (values are text)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key: str, default: str | None = None) -> str | None:
        query = sa.select(col(SettingRow.setting_value)).where(col(SettingRow.setting_key) == key)
        row = self._db.read(lambda conn: conn.execute(query).first())
        return default if row is None else row.setting_value

    def set(self, key: str, value: Any) -> None:
        text = None if value is None else str(value)
        statement = (
            sqlite_insert(SettingRow)
            .values(setting_key=key, setting_value=text)
            .on_conflict_do_update(
                index_elements=[SettingRow.setting_key], set_={"setting_value": text}
            )
        )
        self._db.write(lambda conn: conn.execute(statement))
