"""Bringing a file to the shape the store needs, without ever breaking FORLLM.

Rules (FORLLM has no schema-version table and migrates by PRAGMA table_info + ADD COLUMN on
every start, so a second application must be just as additive):
- FORLLM's tables are never dropped, renamed or rebuilt; they may only gain a column
  (``subforums.description``, which FORLLM's own get_subforum_details() already selects)
  and ``ps_``-prefixed indexes, which are invisible to FORLLM's SQL.
- Everything of ours lives in ``ps_`` tables. Migrations are numbered, recorded in
  ``ps_schema_migrations`` and written so that running one again changes nothing.
- All pending migrations run in one BEGIN IMMEDIATE transaction: all or nothing, and a
  second process opening the file at the same moment waits and then finds nothing to do.
- Before an existing file is changed, a copy is taken with SQLite's backup API next to it
  (``<name>.backup-YYYYmmdd-HHMMSS.db``; an existing file of that name is never replaced).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from persona_studio.errors import InvalidDatabaseError, StoreError
from persona_studio.store import models
from persona_studio.store.db import Database, driver_connection
from persona_studio.store.forllm_schema import create_forllm_schema
from persona_studio.store.timestamps import now_utc


@dataclass(frozen=True)
class Migration:
    id: int
    name: str
    apply: Callable[[sa.Connection], None]


def _add_subforum_description(conn: sa.Connection) -> None:
    # FORLLM's own way of adding a column, so a FORLLM that later gains the same column in
    # its init_db() finds it present and skips it.
    if "description" not in _columns(conn, "subforums"):
        conn.exec_driver_sql("ALTER TABLE subforums ADD COLUMN description TEXT")


def _run_ddl(*statements: str) -> Callable[[sa.Connection], None]:
    def apply(conn: sa.Connection) -> None:
        for statement in statements:
            conn.exec_driver_sql(statement)

    return apply


_CREATE_PS_JOBS = """
CREATE TABLE IF NOT EXISTS ps_jobs (
    request_id INTEGER PRIMARY KEY,          -- = llm_requests.request_id (generate_persona)
    position INTEGER,                        -- order among pending jobs; NULL = by requested_at
    owner TEXT,                              -- worker that holds the lease
    owner_host TEXT,
    owner_pid INTEGER,
    claimed_at TIMESTAMP,
    heartbeat_at TIMESTAMP,
    attempts INTEGER NOT NULL DEFAULT 0,     -- claims so far (a crash counts as one)
    cancel_requested BOOLEAN NOT NULL DEFAULT 0,
    cancelled BOOLEAN NOT NULL DEFAULT 0,
    stage TEXT,
    tokens INTEGER,
    tokens_per_s REAL,
    persona_id INTEGER                       -- the persona the job saved
)"""

_CREATE_PS_PERSONA_GENERATION = """
CREATE TABLE IF NOT EXISTS ps_persona_generation (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    persona_id INTEGER NOT NULL,
    version INTEGER NOT NULL,                -- personas.version this generation produced
    request_id INTEGER,
    generation_type TEXT,
    model TEXT,
    request_params TEXT,                     -- JSON: the full generation request
    output_preferences TEXT,                 -- JSON
    template_versions TEXT,                  -- JSON
    stats TEXT,                              -- JSON
    created_at TIMESTAMP NOT NULL
)"""

_CREATE_PS_RATINGS = """
CREATE TABLE IF NOT EXISTS ps_ratings (
    persona_id INTEGER PRIMARY KEY,          -- = personas.persona_id; no row = not rated
    rating INTEGER NOT NULL CHECK (rating IN (1, 2, 3, 4, 5)),
    note TEXT NOT NULL DEFAULT '',
    rated_at TIMESTAMP NOT NULL
)"""

# The version name is the key, enforced by a ps_ index: a TEXT PRIMARY KEY would make SQLite
# add an index named sqlite_autoindex_..., and every object we add is named ps_.
_CREATE_PS_TEMPLATE_VERSIONS = """
CREATE TABLE IF NOT EXISTS ps_template_versions (
    id INTEGER PRIMARY KEY,
    version TEXT NOT NULL,                   -- '<stage>/<generation_type>@<content hash>'
    stage TEXT NOT NULL,
    generation_type TEXT NOT NULL,
    source TEXT NOT NULL,                    -- 'shipped' or 'user'
    text TEXT NOT NULL,
    first_seen_at TIMESTAMP NOT NULL
)"""

# One row per check of a persona version (persona_check.py): the figures the list sorts and
# shows, and the whole result (questions, answers, verdicts, baseline) as JSON.
_CREATE_PS_PERSONA_CHECKS = """
CREATE TABLE IF NOT EXISTS ps_persona_checks (
    id INTEGER PRIMARY KEY,
    persona_id INTEGER NOT NULL,
    version INTEGER NOT NULL,                -- the persona version whose text was checked
    model TEXT,                              -- the model that answered
    checked_at TIMESTAMP NOT NULL,
    score REAL,                              -- 0..1
    summary TEXT,                            -- 'name 2/2 · domain 1/1 · in character'
    result TEXT                              -- JSON: the whole CheckResult
)"""

# A persona's card extras (card_extras.py): one row per persona, the whole truth about the
# four texts once it exists; its tags one row each, so the list can filter by one.
_CREATE_PS_CARD_EXTRAS = """
CREATE TABLE IF NOT EXISTS ps_card_extras (
    persona_id INTEGER PRIMARY KEY,          -- = personas.persona_id
    first_mes TEXT NOT NULL DEFAULT '',      -- the greeting
    alternate_greetings TEXT NOT NULL DEFAULT '[]',  -- JSON list of texts
    mes_example TEXT NOT NULL DEFAULT '',    -- example dialogue, <START> blocks
    scenario TEXT NOT NULL DEFAULT '',
    model TEXT,                              -- the model that wrote them; NULL: typed, imported
    updated_at TIMESTAMP NOT NULL
)"""

_CREATE_PS_PERSONA_TAGS = """
CREATE TABLE IF NOT EXISTS ps_persona_tags (
    id INTEGER PRIMARY KEY,
    persona_id INTEGER NOT NULL,
    tag TEXT NOT NULL,
    position INTEGER NOT NULL                -- the order the writer gave them
)"""

# What a saved version says of how it was made ("Rewrote 'Speaking Style & Tone' (shorter)
# with gguf:..."): FORLLM's persona_versions has no column for it and is not ours to change.
_CREATE_PS_VERSION_NOTES = """
CREATE TABLE IF NOT EXISTS ps_version_notes (
    version_id INTEGER PRIMARY KEY,          -- = persona_versions.version_id
    persona_id INTEGER NOT NULL,             -- = persona_versions.persona_id
    version INTEGER NOT NULL,                -- = persona_versions.version
    note TEXT NOT NULL,                      -- every change saved in that version, in order
    created_at TIMESTAMP NOT NULL
)"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "subforums.description", _add_subforum_description),
    Migration(2, "ps_jobs", _run_ddl(_CREATE_PS_JOBS)),
    Migration(
        3,
        "ps_persona_generation",
        _run_ddl(
            _CREATE_PS_PERSONA_GENERATION,
            "CREATE INDEX IF NOT EXISTS ps_persona_generation_persona "
            "ON ps_persona_generation (persona_id, version)",
        ),
    ),
    # The queue view and claim() select generate_persona rows by status among FORLLM's
    # respond jobs; without this they scan all of llm_requests.
    Migration(
        4,
        "queue indexes",
        _run_ddl(
            "CREATE INDEX IF NOT EXISTS ps_llm_requests_type_status "
            "ON llm_requests (request_type, status)"
        ),
    ),
    Migration(5, "ps_ratings", _run_ddl(_CREATE_PS_RATINGS)),
    Migration(
        6,
        "ps_template_versions",
        _run_ddl(
            _CREATE_PS_TEMPLATE_VERSIONS,
            "CREATE UNIQUE INDEX IF NOT EXISTS ps_template_versions_version "
            "ON ps_template_versions (version)",
        ),
    ),
    Migration(
        7,
        "ps_persona_checks",
        _run_ddl(
            _CREATE_PS_PERSONA_CHECKS,
            # The latest check of a version: the list joins it for every persona it shows.
            "CREATE INDEX IF NOT EXISTS ps_persona_checks_version "
            "ON ps_persona_checks (persona_id, version, id)",
        ),
    ),
    Migration(
        8,
        "ps_card_extras and ps_persona_tags",
        _run_ddl(
            _CREATE_PS_CARD_EXTRAS,
            _CREATE_PS_PERSONA_TAGS,
            "CREATE INDEX IF NOT EXISTS ps_persona_tags_persona "
            "ON ps_persona_tags (persona_id, position)",
            # The list's tag filter: personas carrying a tag, whatever its letter case.
            "CREATE INDEX IF NOT EXISTS ps_persona_tags_tag "
            "ON ps_persona_tags (tag COLLATE NOCASE, persona_id)",
        ),
    ),
    Migration(
        9,
        "ps_version_notes",
        _run_ddl(
            _CREATE_PS_VERSION_NOTES,
            # The history reads a persona's notes; a purge deletes them.
            "CREATE INDEX IF NOT EXISTS ps_version_notes_persona ON ps_version_notes (persona_id)",
        ),
    ),
)

_CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS ps_schema_migrations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL
)"""

# FORLLM tables and columns the store maps; a file lacking one was made by an older FORLLM.
_REQUIRED: dict[str, set[str]] = {
    model.__tablename__: {c.name for c in models.table_of(model).columns} - {"description"}
    for model in (
        models.UserRow,
        models.SubforumRow,
        models.SettingRow,
        models.LlmRequestRow,
        models.PersonaRow,
        models.PersonaVersionRow,
        models.SubforumPersonaRow,
    )
}


@dataclass(frozen=True)
class PrepareResult:
    created: bool
    backup_path: Path | None


@dataclass(frozen=True)
class _FileState:
    empty: bool
    pending: tuple[Migration, ...]


def _columns(conn: sa.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.exec_driver_sql(f'PRAGMA table_info("{table}")')}


def _inspect(conn: sa.Connection, path: Path) -> _FileState:
    tables = {
        row[0]
        for row in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    if not tables:
        return _FileState(empty=True, pending=MIGRATIONS)
    if "personas" not in tables and "llm_requests" not in tables:
        raise InvalidDatabaseError(
            f"{path} is a SQLite database, but not FORLLM's (it has no personas or "
            "llm_requests table). Choose FORLLM's forllm_data.db or a new file name."
        )
    missing: list[str] = []
    for table, needed in _REQUIRED.items():
        if table not in tables:
            missing.append(table)
        else:
            missing.extend(f"{table}.{column}" for column in sorted(needed - _columns(conn, table)))
    if missing:
        raise StoreError(
            f"{path} was made by an older FORLLM (it lacks {', '.join(missing)}). "
            "Start FORLLM once so that it upgrades the file, then open it again."
        )
    applied: set[int] = set()
    if "ps_schema_migrations" in tables:
        applied = {row[0] for row in conn.exec_driver_sql("SELECT id FROM ps_schema_migrations")}
    return _FileState(empty=False, pending=tuple(m for m in MIGRATIONS if m.id not in applied))


def prepare(db: Database) -> PrepareResult:
    """Create FORLLM's schema in an empty file and apply pending migrations.

    A file with nothing to do is only read, so a read-only file that is already up to date
    opens fine (writes then fail with a clear message).
    """
    state = db.read(lambda conn: _inspect(conn, db.path))
    if not state.empty and not state.pending:
        return PrepareResult(created=False, backup_path=None)
    if not state.empty:
        # A damaged file must not be written to (its problems would spread into every row we
        # add) nor backed up as if it were sound: check it whole before the first change.
        check_integrity(db)
    backup: list[Path] = []  # kept across retries of the transaction: one backup per open

    def migrate(conn: sa.Connection) -> PrepareResult:
        state = _inspect(conn, db.path)  # again, under the write lock
        if state.empty:
            create_forllm_schema(driver_connection(conn).cursor())
        elif state.pending and not backup:
            backup.append(backup_file(db.path))
        conn.exec_driver_sql(_CREATE_MIGRATIONS_TABLE)
        for migration in state.pending:
            migration.apply(conn)
            conn.execute(
                sa.insert(models.SchemaMigrationRow).values(
                    id=migration.id, name=migration.name, applied_at=now_utc()
                )
            )
        return PrepareResult(created=state.empty, backup_path=backup[0] if backup else None)

    return db.write(migrate)


_MAX_PROBLEMS_SHOWN = 3


def check_integrity(db: Database) -> None:
    """StoreError, saying how to recover, unless SQLite's PRAGMA integrity_check finds the
    file sound. Reads only; the file is left exactly as it was."""

    def read(conn: sa.Connection) -> list[str]:
        return [str(row[0]) for row in conn.exec_driver_sql("PRAGMA integrity_check")]

    try:
        problems = db.read(read)
    except StoreError as exc:  # so damaged that the check itself cannot run
        problems = [str(exc)]
    if problems == ["ok"]:
        return
    path = db.path
    shown = "; ".join(problems[:_MAX_PROBLEMS_SHOWN])
    more = len(problems) - _MAX_PROBLEMS_SHOWN
    if more > 0:
        shown += f"; and {more} more"
    backups = sorted(path.parent.glob(f"{path.stem}.backup-*.db"))
    restore = (
        f"restore the newest backup, {backups[-1].name}, by copying it over the file (it was "
        "saved before Persona Studio last changed the file)"
        if backups
        else "restore a backup of it if you have one"
    )
    raise StoreError(
        f"{path} is damaged (SQLite's integrity check found: {shown}). Persona Studio did "
        f"not change it. To recover, close FORLLM, then either {restore}, or salvage what "
        f"SQLite can read into a new file: sqlite3 {path.name} .recover | sqlite3 "
        f"{path.stem}-recovered.db, and open that file instead."
    )


def backup_file(path: Path) -> Path:
    """Copy ``path`` with SQLite's online backup (consistent even while others use it)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        suffix = "" if n == 1 else f"-{n}"
        target = path.with_name(f"{path.stem}.backup-{stamp}{suffix}.db")
        try:
            # 'x' claims the name atomically: an existing backup is never overwritten.
            fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue
        except OSError as exc:
            raise StoreError(
                f"Could not write a backup of {path} to {target} ({exc.strerror}), so the file "
                "was left unchanged. Check that its folder is writable."
            ) from exc
        os.close(fd)
        break
    else:
        raise StoreError(f"Too many backups of {path} in one second; try again.")
    try:
        source = sqlite3.connect(path)
        try:
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)
            finally:
                copy.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        raise StoreError(
            f"Could not write a backup of {path} to {target} ({exc}), so the file was left "
            "unchanged."
        ) from exc
    return target
