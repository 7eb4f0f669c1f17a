"""Version notes in the file (ps_version_notes; migration 9): what a saved version says of how
it was made, kept with FORLLM's persona_versions row in the same transaction, read back with
the history, on a FORLLM-made file; FORLLM's tables untouched."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from persona_studio.errors import InvalidInputError
from persona_studio.store import NewPersona, Store
from persona_studio.store.version_notes import MAX_NOTE_CHARS, join_notes
from tests.store.sqlite_helpers import sql as _sql

QUILL = 2  # FORLLM's hand-written "Archivist Quill" (two versions in the fixture)
HANK = 3  # FORLLM-generated "Homelab Hank", version 1
STYLE_NOTE = "Rewrote 'Speaking Style & Tone' (shorter) with gguf:SmolLM2-135M-Instruct.Q4_1.gguf"
ADD_NOTE = "Added 'Favourite Sayings' with gguf:SmolLM2-135M-Instruct.Q4_1.gguf"


def _forllm_columns(path: Path) -> list[str]:
    return [row[1] for row in _sql(path, "PRAGMA table_info(persona_versions)")]


def test_a_note_is_kept_with_its_version_and_read_back(store: Store) -> None:
    columns = _forllm_columns(store.path)
    before = store.personas.versions(HANK)
    assert [v.note for v in before] == [""]

    first = store.personas.save_edit(HANK, "## Persona Name: Homelab Hank\nv2", note=STYLE_NOTE)
    assert first.note == STYLE_NOTE
    plain = store.personas.save_edit(HANK, "## Persona Name: Homelab Hank\nv3 by hand")
    assert plain.note == ""
    both = join_notes([STYLE_NOTE, ADD_NOTE])
    last = store.personas.save_edit(HANK, "## Persona Name: Homelab Hank\nv4", note=both)

    versions = store.personas.versions(HANK)
    assert [(v.version, v.note) for v in versions] == [
        (1, ""),
        (2, STYLE_NOTE),
        (3, ""),
        (4, f"{STYLE_NOTE}; {ADD_NOTE}"),  # several changes in one save: all, in order
    ]
    assert versions[-1].version_id == last.version_id
    # Another persona's history has none of them.
    assert all(v.note == "" for v in store.personas.versions(QUILL))

    # In the file: keyed by FORLLM's version_id, FORLLM's table without a new column, and
    # the time in the text form FORLLM's sqlite3 converter reads.
    assert _forllm_columns(store.path) == columns
    rows = _sql(
        store.path,
        "SELECT version_id, persona_id, version, note, created_at FROM ps_version_notes "
        "ORDER BY version_id",
    )
    assert [r[:4] for r in rows] == [
        (first.version_id, HANK, 2, STYLE_NOTE),
        (last.version_id, HANK, 4, f"{STYLE_NOTE}; {ADD_NOTE}"),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r[4]) for r in rows)
    conn = sqlite3.connect(store.path, detect_types=sqlite3.PARSE_DECLTYPES)
    try:
        parsed = conn.execute("SELECT created_at FROM ps_version_notes").fetchall()
    finally:
        conn.close()
    assert all(isinstance(row[0], datetime) for row in parsed)


def test_notes_survive_reopening_and_forllms_own_edits(forllm_db: Path) -> None:
    with Store.open(forllm_db) as store:
        saved = store.personas.save_edit(HANK, "## Persona Name: Homelab Hank\nv2", note=ADD_NOTE)
    # FORLLM's update_persona, as FORLLM runs it on the same file: a version of its own.
    conn = sqlite3.connect(forllm_db)
    conn.execute(
        "UPDATE personas SET prompt_instructions = 'FORLLM edit', version = 3 WHERE persona_id = ?",
        (HANK,),
    )
    conn.execute(
        "INSERT INTO persona_versions (persona_id, name, prompt_instructions, "
        "updated_by_user, version) VALUES (?, 'Homelab Hank', 'FORLLM edit', 1, 3)",
        (HANK,),
    )
    conn.commit()
    conn.close()
    with Store.open(forllm_db) as store:
        assert store.backup_path is None  # nothing to migrate the second time
        notes = [(v.version, v.version_id, v.note) for v in store.personas.versions(HANK)]
    assert notes[1:] == [(2, saved.version_id, ADD_NOTE), (3, notes[2][1], "")]


def test_a_file_migrated_before_notes_gains_the_table_and_keeps_its_rows(
    forllm_db: Path,
) -> None:
    """A file an earlier Persona Studio set up (migrations 1-8, with versions of its own)
    gets ps_version_notes on the next open, after a backup; nothing else changes."""
    with Store.open(forllm_db) as store:
        store.personas.save_edit(QUILL, "You are Quill, briefly.")
    _sql(forllm_db, "DROP TABLE ps_version_notes")
    _sql(forllm_db, "DELETE FROM ps_schema_migrations WHERE id = 9")
    master = _sql(forllm_db, "SELECT type, name, sql FROM sqlite_master ORDER BY rowid")
    versions = _sql(forllm_db, "SELECT * FROM persona_versions ORDER BY version_id")

    with Store.open(forllm_db) as store:
        assert store.backup_path is not None and store.backup_path.exists()
        assert [v.note for v in store.personas.versions(QUILL)] == ["", "", ""]
        saved = store.personas.save_edit(QUILL, "You are Quill, in one line.", note=STYLE_NOTE)
        assert store.personas.versions(QUILL)[-1].note == STYLE_NOTE

    after = _sql(forllm_db, "SELECT type, name, sql FROM sqlite_master ORDER BY rowid")
    added = [row for row in after if row not in master]
    assert [(row[0], row[1]) for row in added] == [
        ("table", "ps_version_notes"),
        ("index", "ps_version_notes_persona"),
    ]
    assert _sql(forllm_db, "SELECT * FROM persona_versions ORDER BY version_id")[:-1] == versions
    assert _sql(forllm_db, "SELECT id, name FROM ps_schema_migrations WHERE id = 9") == [
        (9, "ps_version_notes")
    ]
    assert saved.version == 4


def test_a_note_that_cannot_be_stored_saves_nothing(store: Store) -> None:
    before = store.personas.get(HANK)
    with pytest.raises(InvalidInputError, match=f"the limit is {MAX_NOTE_CHARS:,}"):
        store.personas.save_edit(HANK, "new text", note="x" * (MAX_NOTE_CHARS + 1))
    with pytest.raises(InvalidInputError, match="A version's note is text"):
        store.personas.save_edit(HANK, "new text", note=42)  # type: ignore[arg-type]
    after = store.personas.get(HANK)
    assert (after.version, after.prompt_instructions) == (
        before.version,
        before.prompt_instructions,
    )
    assert len(store.personas.versions(HANK)) == 1
    assert _sql(store.path, "SELECT COUNT(*) FROM ps_version_notes") == [(0,)]
    # A blank note is no note.
    assert store.personas.save_edit(HANK, "new text", note="  \n ").note == ""
    assert _sql(store.path, "SELECT COUNT(*) FROM ps_version_notes") == [(0,)]


def test_rows_another_program_wrote_read_leniently(store: Store) -> None:
    v2 = store.personas.save_edit(HANK, "## Persona Name: Homelab Hank\nv2")
    v3 = store.personas.save_edit(HANK, "## Persona Name: Homelab Hank\nv3")
    v4 = store.personas.save_edit(HANK, "## Persona Name: Homelab Hank\nv4")
    quill = store.personas.versions(QUILL)[0]
    conn = sqlite3.connect(store.path)
    conn.executemany(
        "INSERT INTO ps_version_notes VALUES (?, ?, ?, ?, ?)",
        [
            (v2.version_id, HANK, 2, b"bytes \xff", "garbage"),  # not UTF-8, odd time
            (v3.version_id, HANK, 3, b"  ", 0),  # blank: no note
            (v4.version_id, HANK, 99, "for another version number", "2025-01-01 00:00:00"),
            (quill.version_id, HANK, quill.version, "for Quill's row", "2025-01-01 00:00:00"),
            (987654, HANK, 5, "for a version that is not there", "2025-01-01 00:00:00"),
        ],
    )
    conn.commit()
    conn.close()
    notes = {v.version: v.note for v in store.personas.versions(HANK)}
    assert notes == {1: "", 2: "bytes \ufffd", 3: "", 4: ""}
    assert all(v.note == "" for v in store.personas.versions(QUILL))


def test_purge_removes_the_notes(store: Store) -> None:
    saved = store.personas.create(NewPersona("Tess", "## Persona Name: Tess\nv1", None, None))
    store.personas.save_edit(saved.persona_id, "## Persona Name: Tess\nv2", note=ADD_NOTE)
    store.personas.save_edit(HANK, "## Persona Name: Homelab Hank\nv2", note=STYLE_NOTE)
    store.personas.purge(saved.persona_id)
    assert _sql(store.path, "SELECT persona_id, note FROM ps_version_notes") == [(HANK, STYLE_NOTE)]


def test_join_notes_keeps_the_order_and_the_bound() -> None:
    assert join_notes([]) == ""
    assert join_notes([STYLE_NOTE, " ", ADD_NOTE]) == f"{STYLE_NOTE}; {ADD_NOTE}"
    assert join_notes(["Rewrote 'A'\n(more  formal)"]) == "Rewrote 'A' (more formal)"
    many = [f"Rewrote 'Section {n}' ({'x' * 900}) with gguf:m.gguf" for n in range(40)]
    joined = join_notes(many)
    assert len(joined) <= MAX_NOTE_CHARS
    assert joined.startswith("Rewrote 'Section 0' (")
    kept = joined.count("Rewrote")
    assert 0 < kept < 40 and joined.endswith(f"; and {40 - kept} more changes")
    huge = join_notes(["y" * (MAX_NOTE_CHARS * 2), ADD_NOTE])
    assert len(huge) <= MAX_NOTE_CHARS and huge.endswith("…; and 1 more change")
    assert len(join_notes(["z" * (MAX_NOTE_CHARS + 5)])) == MAX_NOTE_CHARS
