"""Opening a FORLLM-made file: additive migrations, recorded, idempotent, backed up first."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from persona_studio.errors import StoreError
from persona_studio.store import Store, forllm_schema
from persona_studio.store.migrations import MIGRATIONS, backup_file


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def _dump(path: Path, tables: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Every row of every table (or of ``tables``), each table's columns and sqlite_master."""
    conn = sqlite3.connect(path)
    try:
        names = tables or tuple(
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        )
        return {
            "master": conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"
            ).fetchall(),
            "columns": {t: _columns(conn, t) for t in names},
            "rows": {
                t: conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in names
            },
        }
    finally:
        conn.close()


def _rows_with_columns(path: Path, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        cols = ", ".join(f'"{c}"' for c in columns)
        return conn.execute(f'SELECT {cols} FROM "{table}" ORDER BY rowid').fetchall()
    finally:
        conn.close()


def test_migration_keeps_every_forllm_row_and_column(forllm_db: Path) -> None:
    before = _dump(forllm_db, forllm_schema.FORLLM_TABLES)
    assert sum(len(rows) for rows in before["rows"].values()) > 100  # a real fixture
    Store.open(forllm_db).close()
    after = _dump(forllm_db, forllm_schema.FORLLM_TABLES)

    for table in forllm_schema.FORLLM_TABLES:
        gained = [c for c in after["columns"][table] if c not in before["columns"][table]]
        assert after["columns"][table][: len(before["columns"][table])] == before["columns"][table]
        assert gained == (["description"] if table == "subforums" else []), table
        assert (
            _rows_with_columns(forllm_db, table, before["columns"][table])
            == (before["rows"][table])
        ), table


def test_forllm_statements_change_only_by_the_added_column(forllm_db: Path) -> None:
    before = {row[1]: row for row in _dump(forllm_db)["master"]}
    Store.open(forllm_db).close()
    after = {row[1]: row for row in _dump(forllm_db)["master"]}
    for name, row in before.items():
        if name == "subforums":
            # What SQLite's ALTER TABLE ADD COLUMN does to the stored statement.
            assert after[name][3] == row[3][:-1] + ", description TEXT)"
        else:
            assert after[name] == row, name
    assert all(name.startswith("ps_") for name in set(after) - set(before))


def test_migrations_are_recorded(forllm_db: Path) -> None:
    Store.open(forllm_db).close()
    conn = sqlite3.connect(forllm_db, detect_types=sqlite3.PARSE_DECLTYPES)
    try:
        rows = conn.execute("SELECT id, name, applied_at FROM ps_schema_migrations").fetchall()
    finally:
        conn.close()
    assert [(r[0], r[1]) for r in rows] == [(m.id, m.name) for m in MIGRATIONS]
    assert all(r[2] is not None for r in rows)  # parsed by PARSE_DECLTYPES: well-formed


def test_second_open_changes_nothing(forllm_db: Path) -> None:
    first = Store.open(forllm_db)
    assert first.backup_path is not None
    first.close()
    files = sorted(p.name for p in forllm_db.parent.iterdir())
    snapshot = _dump(forllm_db)

    second = Store.open(forllm_db)
    assert (second.created, second.backup_path) == (False, None)
    second.close()
    assert _dump(forllm_db) == snapshot
    assert sorted(p.name for p in forllm_db.parent.iterdir()) == files  # no second backup


def test_backup_is_the_original_file(forllm_db: Path) -> None:
    original = _dump(forllm_db)
    store = Store.open(forllm_db)
    store.close()
    backup = store.backup_path
    assert backup is not None and backup.parent == forllm_db.parent
    assert re.fullmatch(r"forllm_data\.backup-\d{8}-\d{6}\.db", backup.name)
    conn = sqlite3.connect(backup)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()
    assert _dump(backup) == original


def test_backup_never_overwrites_one_that_exists(forllm_db: Path) -> None:
    first = backup_file(forllm_db)
    first_bytes = first.read_bytes()
    second = backup_file(forllm_db)
    assert second != first and second.exists()
    assert first.read_bytes() == first_bytes


def test_no_backup_for_a_file_we_create(tmp_path: Path) -> None:
    with Store.open(tmp_path / "new.db") as store:
        assert store.created and store.backup_path is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.db"]


def test_an_empty_existing_file_is_set_up_as_new(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with Store.open(path) as store:
        assert store.created and store.backup_path is None
        assert [p.name for p in store.personas.list()] == ["fallback"]


def test_a_sqlite_file_that_is_not_forllms_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not FORLLM's"):
        Store.open(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_a_file_from_an_older_forllm_is_refused_untouched(forllm_db: Path) -> None:
    conn = sqlite3.connect(forllm_db)
    conn.execute("ALTER TABLE llm_requests DROP COLUMN prompt_token_breakdown")
    conn.commit()
    conn.close()
    before = forllm_db.read_bytes()
    with pytest.raises(StoreError, match=r"older FORLLM .*llm_requests\.prompt_token_breakdown"):
        Store.open(forllm_db)
    assert forllm_db.read_bytes() == before
    assert len(list(forllm_db.parent.iterdir())) == 1


def test_description_column_already_there_is_kept(forllm_db: Path) -> None:
    """A FORLLM that one day adds subforums.description itself: migration 1 is a no-op."""
    conn = sqlite3.connect(forllm_db)
    conn.execute("ALTER TABLE subforums ADD COLUMN description TEXT")
    conn.execute("UPDATE subforums SET description = 'ZFS, NAS' WHERE subforum_id = 2")
    conn.commit()
    conn.close()
    with Store.open(forllm_db) as store:
        assert store.subforums.get(2).description == "ZFS, NAS"
    conn = sqlite3.connect(forllm_db)
    try:
        assert _columns(conn, "subforums") == ["subforum_id", "name", "description"]
    finally:
        conn.close()


def test_a_file_from_before_ratings_gains_only_the_new_tables(forllm_db: Path) -> None:
    """A file an earlier Persona Studio migrated (1-4) gets 5 to 9 and nothing else (8's
    and 9's tables are left in place here, so only their records are new)."""
    with Store.open(forllm_db) as store:
        store.personas.save_edit(2, "You are Quill, briefly.")
    conn = sqlite3.connect(forllm_db)
    conn.execute("DROP TABLE ps_ratings")
    conn.execute("DROP TABLE ps_template_versions")
    conn.execute("DROP TABLE ps_persona_checks")
    conn.execute("DELETE FROM ps_schema_migrations WHERE id > 4")
    conn.commit()
    conn.close()
    before = _dump(forllm_db)

    with Store.open(forllm_db) as store:
        assert store.backup_path is not None  # a change to an existing file: backed up first
        store.personas.rate(2, 5, "better now")
    after = _dump(forllm_db)

    added = {row[1] for row in after["master"]} - {row[1] for row in before["master"]}
    assert added == {
        "ps_ratings",
        "ps_template_versions",
        "ps_template_versions_version",
        "ps_persona_checks",
        "ps_persona_checks_version",
    }
    assert [row for row in after["master"] if row[1] not in added] == before["master"]
    for table, rows in before["rows"].items():
        if table == "ps_schema_migrations":
            assert after["rows"][table][: len(rows)] == rows
            assert [r[:2] for r in after["rows"][table][len(rows) :]] == [
                (5, "ps_ratings"),
                (6, "ps_template_versions"),
                (7, "ps_persona_checks"),
                (8, "ps_card_extras and ps_persona_tags"),
                (9, "ps_version_notes"),
            ]
        else:
            assert after["rows"][table] == rows, table
            assert after["columns"][table] == before["columns"][table], table


def test_new_tables_declare_their_rules(forllm_db: Path) -> None:
    Store.open(forllm_db).close()
    conn = sqlite3.connect(forllm_db)
    try:
        ratings_sql = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'ps_ratings'"
        ).fetchone()[0]
        unique = conn.execute("PRAGMA index_list(ps_template_versions)").fetchall()
    finally:
        conn.close()
    assert "CHECK (rating IN (1, 2, 3, 4, 5))" in ratings_sql
    assert [(row[1], row[2]) for row in unique] == [("ps_template_versions_version", 1)]


def _damage_an_index(path: Path) -> None:
    """Damage FORLLM's file the way a bad disk or a crashed copy can: an index that no longer
    matches its table (every read still works; SQLite's integrity check says what is wrong).
    The index's recorded definition is changed without rebuilding it."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE INDEX damage_probe ON personas (name)")
        conn.commit()
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute(
            "UPDATE sqlite_master SET sql = 'CREATE INDEX damage_probe ON personas "
            "(prompt_instructions)' WHERE name = 'damage_probe'"
        )
        conn.commit()
    finally:
        conn.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok"
        assert conn.execute("SELECT COUNT(*) FROM personas").fetchone()[0] > 0
    finally:
        conn.close()


def test_a_damaged_file_is_refused_before_the_first_migration(forllm_db: Path) -> None:
    _damage_an_index(forllm_db)
    before = forllm_db.read_bytes()
    with pytest.raises(StoreError) as info:
        Store.open(forllm_db)
    message = str(info.value)
    assert "is damaged (SQLite's integrity check found: row 1 missing from index" in message
    assert "Persona Studio did not change it" in message
    assert "sqlite3 forllm_data.db .recover | sqlite3 forllm_data-recovered.db" in message
    assert "restore a backup of it if you have one" in message
    assert forllm_db.read_bytes() == before  # not migrated, not written
    assert sorted(p.name for p in forllm_db.parent.iterdir()) == ["forllm_data.db"]  # no backup


def test_the_refusal_names_the_newest_backup(forllm_db: Path) -> None:
    older = forllm_db.with_name("forllm_data.backup-20250101-000000.db")
    newer = forllm_db.with_name("forllm_data.backup-20250601-120000.db")
    for backup in (older, newer):
        backup.write_bytes(forllm_db.read_bytes())
    _damage_an_index(forllm_db)
    with pytest.raises(StoreError, match=f"restore the newest backup, {newer.name}, by copying"):
        Store.open(forllm_db)


def test_the_cli_refuses_a_damaged_file_in_words(forllm_db: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    _damage_an_index(forllm_db)
    persona = tmp_path / "ada.md"
    persona.write_text("## Persona Name: Ada\nHelpful.\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "persona_studio", "import", "--db", str(forllm_db), str(persona)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert ".recover" in proc.stderr
