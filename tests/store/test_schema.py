"""A file we create is the file FORLLM would create; our models are FORLLM's columns."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect

from persona_studio.store import NewPersona, Store, forllm_schema, models
from tests.conftest import MAKE_FORLLM_DB, build_forllm_db


def _fixture_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_forllm_db", MAKE_FORLLM_DB)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _forllm_master(path: Path) -> list[tuple[str, str, str, str | None]]:
    """sqlite_master without our ps_ objects, in file order (what `sqlite3 .schema` prints)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'ps\\_%' ESCAPE '\\' ORDER BY rowid"
        ).fetchall()
    finally:
        conn.close()


def test_schema_module_is_a_verbatim_copy_of_the_fixture_script() -> None:
    script = _fixture_script()
    constants = {name for name in dir(script) if name.startswith("SQL_")}
    assert constants == {name for name in dir(forllm_schema) if name.startswith("SQL_")}
    for name in constants:
        assert getattr(forllm_schema, name) == getattr(script, name), name
    assert script.default_blocklist == forllm_schema.DEFAULT_BLOCKLIST
    assert (forllm_schema.CURRENT_USER_ID, forllm_schema.CURRENT_USERNAME) == (1, "LocalUser")
    assert forllm_schema.DEFAULT_MODEL == script.DEFAULT_MODEL


def test_new_file_has_forllms_schema_byte_for_byte(tmp_path: Path) -> None:
    with Store.open(tmp_path / "new.db") as store:
        assert store.created and store.backup_path is None
    reference = build_forllm_db(tmp_path / "reference.db")
    # Our migration 1 then adds subforums.description exactly as it does on FORLLM's files.
    before = _forllm_master(reference)
    conn = sqlite3.connect(reference)
    conn.execute("ALTER TABLE subforums ADD COLUMN description TEXT")
    conn.commit()
    conn.close()

    ours = _forllm_master(tmp_path / "new.db")
    assert ours == _forllm_master(reference)
    # ...and every FORLLM statement other than subforums' is untouched upstream text.
    changed = [a[1] for a, b in zip(before, ours, strict=True) if a != b]
    assert changed == ["subforums"]


def test_new_file_has_forllms_first_start_rows(tmp_path: Path) -> None:
    Store.open(tmp_path / "new.db").close()
    conn = sqlite3.connect(tmp_path / "new.db")
    try:
        assert conn.execute("SELECT * FROM users").fetchall() == [(1, "LocalUser")]
        assert dict(conn.execute("SELECT * FROM settings").fetchall()) == {
            "selectedModel": "llama3",
            "llmLinkSecurity": "true",
            "default_llm_context_window": "4096",
            "globalDefaultPersonaId": "1",
        }
        assert conn.execute(
            "SELECT persona_id, name, prompt_instructions, created_by_user, version, is_active, "
            "generation_source FROM personas"
        ).fetchall() == [(1, "fallback", "You are a helpful assistant.", 1, 1, 1, None)]
        assert conn.execute(
            "SELECT persona_id, version, name, prompt_instructions, updated_by_user "
            "FROM persona_versions"
        ).fetchall() == [(1, 1, "fallback", "You are a helpful assistant.", 1)]
        rules = conn.execute("SELECT rule_type, extension FROM file_filter_rules ORDER BY id")
        assert rules.fetchall() == [
            ("global_blocklist", e) for e in forllm_schema.DEFAULT_BLOCKLIST
        ]
        for table in ("topics", "posts", "llm_requests", "subforums", "subforum_personas"):
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,)
        # FORLLM sets no pragmas; neither do we on the file.
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    finally:
        conn.close()


MAPPED = [
    models.UserRow,
    models.SubforumRow,
    models.SettingRow,
    models.LlmRequestRow,
    models.PersonaRow,
    models.PersonaVersionRow,
    models.SubforumPersonaRow,
    models.SchemaMigrationRow,
    models.JobRow,
    models.PersonaGenerationRow,
    models.RatingRow,
    models.TemplateVersionRow,
    models.PersonaCheckRow,
]


@pytest.mark.parametrize("model", MAPPED, ids=lambda m: m.__tablename__)
def test_models_map_the_columns_exactly(model: type, forllm_db: Path) -> None:
    Store.open(forllm_db).close()
    conn = sqlite3.connect(forllm_db)
    try:
        info = conn.execute(f"PRAGMA table_info({model.__tablename__})").fetchall()
    finally:
        conn.close()
    table: sa.Table = model.__table__
    assert [c.name for c in table.columns] == [row[1] for row in info]
    dialect = sqlite_dialect.dialect()
    for _cid, name, declared, notnull, default, pk in info:
        column = table.columns[name]
        assert column.type.compile(dialect=dialect) == declared, name
        assert bool(pk) == column.primary_key, name
        if not pk:
            assert bool(notnull) == (not column.nullable), name
        server_default = column.server_default
        assert (None if server_default is None else str(server_default.arg)) == default, name


def test_our_writes_leave_the_journal_mode_alone(store: Store) -> None:
    store.queue.enqueue({"generation_type": "from_name_and_description"}, "m")
    store.personas.create(NewPersona("Someone", "Be someone.", None, None))
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (0,)
    finally:
        conn.close()
    assert not Path(f"{store.path}-wal").exists()


def test_every_object_we_add_is_prefixed_ps(forllm_db: Path) -> None:
    before = {row[1] for row in _forllm_master(forllm_db)}
    Store.open(forllm_db).close()
    conn = sqlite3.connect(forllm_db)
    try:
        after = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert before == set(forllm_schema.FORLLM_TABLES) | set(forllm_schema.FORLLM_INDEXES) | {
        "sqlite_sequence",
        "sqlite_autoindex_users_1",
        "sqlite_autoindex_subforums_1",
        "sqlite_autoindex_attachments_1",
        "sqlite_autoindex_user_activity_1",
        "sqlite_autoindex_settings_1",
        "sqlite_autoindex_personas_1",
        "sqlite_autoindex_llm_model_metadata_1",
        "sqlite_autoindex_indexed_folders_1",
        "sqlite_autoindex_file_index_cache_1",
        "sqlite_autoindex_file_filter_rules_1",
    }
    assert after - before and all(name.startswith("ps_") for name in after - before)
