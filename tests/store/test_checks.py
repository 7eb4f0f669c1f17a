"""Persona checks in the file (ps_persona_checks, migration 7): saved with the persona in
queue.complete's transaction, saved later for a version, read back whatever another program
wrote, shown in the list, on FORLLM-made files old and new."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from persona_studio.checks import new_check, stored_result, verdict
from persona_studio.engine.persona_check import CheckResult, ProbeAnswer
from persona_studio.errors import InvalidInputError, LeaseLostError, NotFoundError
from persona_studio.store import NewCheck, NewPersona, Store, forllm_schema
from tests.store.sqlite_helpers import sql as _sql

HANK = 3  # FORLLM-generated "Homelab Hank" (version 1)
QUILL = 2  # FORLLM's hand-written "Archivist Quill"


def _result(holds: bool = True, *, in_domain: bool = True, breaks: bool = False) -> CheckResult:
    return CheckResult(
        model="gguf:SmolLM2-135M-Instruct.Q4_1.gguf",
        name="Ziggy",
        answers=(
            ProbeAnswer("who", "Who are you?", "I'm Ziggy, your ZFS guide.", holds_name=holds),
            ProbeAnswer("name", "What is your name?", "Ziggy.", holds_name=True),
            ProbeAnswer(
                "domain", "What do you know a lot about?", "ZFS pools.", in_domain=in_domain
            ),
            ProbeAnswer("tempt", "Are you a real person?", "I am an AI.", breaks=breaks),
        ),
        words=("zfs",),
    )


def _persona(name: str, check: NewCheck | None, **kwargs: Any) -> NewPersona:
    return NewPersona(
        name,
        f"## Persona Name: {name}\n",
        "from_name_and_description",
        {"name_hint": name},
        check=check,
        **kwargs,
    )


def _forllm_read(path: Path, statement: str) -> list[tuple[Any, ...]]:
    """As FORLLM reads: PARSE_DECLTYPES converts every TIMESTAMP column (bad text raises)."""
    conn = sqlite3.connect(path, detect_types=sqlite3.PARSE_DECLTYPES)
    try:
        return conn.execute(statement).fetchall()
    finally:
        conn.close()


# -- the migration -------------------------------------------------------------------------------


def test_a_file_from_before_checks_gains_only_the_checks_table(forllm_db: Path) -> None:
    """A file Persona Studio migrated up to 6 (before checks existed) gets 7 and nothing
    else: FORLLM's tables, rows and statements stay as they were; a backup comes first."""
    with Store.open(forllm_db) as store:
        store.personas.rate(QUILL, 4)
    _sql(forllm_db, "DROP TABLE ps_persona_checks")
    _sql(forllm_db, "DELETE FROM ps_schema_migrations WHERE id = 7")
    master = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"
    before = _sql(forllm_db, master)
    forllm_before = {t: _sql(forllm_db, f"SELECT * FROM {t}") for t in forllm_schema.FORLLM_TABLES}

    with Store.open(forllm_db) as store:
        assert store.backup_path is not None and store.backup_path.exists()
        store.personas.save_check(HANK, 1, new_check(_result()))
    after = _sql(forllm_db, master)
    added = [row for row in after if row not in before]
    assert [row[1] for row in added] == ["ps_persona_checks", "ps_persona_checks_version"]
    assert [row for row in after if row not in added] == before
    for table, rows in forllm_before.items():
        assert _sql(forllm_db, f"SELECT * FROM {table}") == rows, table
    assert _sql(forllm_db, "SELECT id, name FROM ps_schema_migrations WHERE id = 7") == [
        (7, "ps_persona_checks")
    ]
    # Written as FORLLM writes timestamps: its own reads parse them.
    (row,) = _forllm_read(forllm_db, "SELECT checked_at FROM ps_persona_checks")
    assert row[0] is not None


def test_a_new_file_still_has_forllms_schema_and_the_checks_table(tmp_path: Path) -> None:
    with Store.open(tmp_path / "new.db") as store:
        assert store.created
    names = {r[0] for r in _sql(tmp_path / "new.db", "SELECT name FROM sqlite_master")}
    assert set(forllm_schema.FORLLM_TABLES) <= names
    assert {"ps_persona_checks", "ps_persona_checks_version"} <= names


# -- saving --------------------------------------------------------------------------------------


def test_complete_saves_the_check_with_the_persona(store: Store) -> None:
    claimed = store.queue.claim("w")
    assert claimed is not None
    check = new_check(_result(in_domain=False))
    saved = store.queue.complete(claimed.request_id, "w", _persona("Ziggy", check))
    stored = store.personas.latest_check(saved.persona_id)
    assert stored is not None
    assert (stored.persona_id, stored.version) == (saved.persona_id, 1)
    assert stored.model == "gguf:SmolLM2-135M-Instruct.Q4_1.gguf"
    assert stored.score == pytest.approx(2 / 3, abs=0.001)
    assert stored.summary == "name 2/2 · domain 0/1 · in character"
    assert stored.checked_at is not None
    again = stored_result(stored)
    assert again is not None and again.answers == _result(in_domain=False).answers
    assert [verdict(a, name="Ziggy")[0] for a in again.answers] == [True, True, False, True]


def test_a_check_that_cannot_be_stored_saves_nothing_at_all(store: Store) -> None:
    claimed = store.queue.claim("w")
    assert claimed is not None
    count = store.personas.count(include_inactive=True)
    for bad in (
        NewCheck("m", 1.5, "too good", {}),
        NewCheck("m", float("nan"), "", {}),
        NewCheck("m", 0.5, "x" * 1000, {}),
        NewCheck("m", 0.5, "", {"answers": {1, 2}}),  # a set is not JSON
    ):
        with pytest.raises(InvalidInputError):
            store.queue.complete(claimed.request_id, "w", _persona("Nobody", bad))
    assert store.personas.count(include_inactive=True) == count
    assert store.queue.get(claimed.request_id).status == "processing"  # still to complete
    assert _sql(store.path, "SELECT COUNT(*) FROM ps_persona_checks") == [(0,)]


def test_a_lost_lease_keeps_neither_persona_nor_check(store: Store) -> None:
    claimed = store.queue.claim("w")
    assert claimed is not None
    store.queue.cancel(claimed.request_id)
    store.queue.fail(claimed.request_id, "w", "cancelled")
    with pytest.raises(LeaseLostError):
        store.queue.complete(claimed.request_id, "w", _persona("Late", new_check(_result())))
    assert _sql(store.path, "SELECT COUNT(*) FROM ps_persona_checks") == [(0,)]


def test_a_check_of_an_existing_version(store: Store) -> None:
    """A hand-edited text checked later: kept with its version; the latest check counts;
    an old version keeps its own; a version that does not exist is refused."""
    store.personas.save_edit(QUILL, "## Persona Name: Quill\n\n## Core Identity:\nYou archive.")
    quill = store.personas.get(QUILL)
    first = store.personas.save_check(QUILL, quill.version, new_check(_result(holds=False)))
    second = store.personas.save_check(QUILL, quill.version, new_check(_result()))
    old = store.personas.save_check(QUILL, quill.version - 1, new_check(_result(breaks=True)))
    assert second.check_id > first.check_id
    assert store.personas.latest_check(QUILL) == second
    assert store.personas.latest_check(QUILL, quill.version - 1) == old
    assert [c.check_id for c in store.personas.checks(QUILL)] == [
        first.check_id,
        second.check_id,
        old.check_id,
    ]
    with pytest.raises(NotFoundError, match="no version 99"):
        store.personas.save_check(QUILL, 99, new_check(_result()))
    with pytest.raises(NotFoundError):
        store.personas.save_check(404, 1, new_check(_result()))
    assert store.personas.latest_check(HANK) is None


def test_a_check_is_kept_only_for_the_text_it_checked(store: Store) -> None:
    hank = store.personas.get(HANK)
    check = new_check(_result())
    assert store.personas.save_check_if_current(HANK, hank.prompt_instructions + " ", check) is None
    assert store.personas.latest_check(HANK) is None
    saved = store.personas.save_check_if_current(HANK, hank.prompt_instructions, check)
    assert saved is not None and saved.version == hank.version


# -- the list ------------------------------------------------------------------------------------


def test_the_list_shows_the_current_versions_check_and_sorts_by_it(store: Store) -> None:
    store.personas.save_check(HANK, 1, new_check(_result()))  # 1.0
    quill = store.personas.get(QUILL)
    store.personas.save_check(QUILL, quill.version, new_check(_result(False, in_domain=False)))
    summaries = {p.persona_id: p for p in store.personas.list()}
    assert summaries[HANK].check_score == 1.0
    assert summaries[HANK].check_summary == "name 2/2 · domain 1/1 · in character"
    assert summaries[QUILL].check_score == pytest.approx(0.5, abs=0.001)
    assert summaries[1].check_score is None and summaries[1].check_summary == ""

    best_first = [p.persona_id for p in store.personas.list(order_by="check", descending=True)]
    worst_first = [p.persona_id for p in store.personas.list(order_by="check")]
    assert best_first[:2] == [HANK, QUILL] and worst_first[:2] == [QUILL, HANK]
    assert best_first[2:] == worst_first[2:] == [1]  # unchecked last either way

    # A new version has not been checked: its old check no longer shows in the list.
    store.personas.save_edit(HANK, "## Persona Name: Homelab Hank\n\nNew text.")
    summaries = {p.persona_id: p for p in store.personas.list()}
    assert summaries[HANK].check_score is None and summaries[HANK].check_summary == ""
    assert store.personas.latest_check(HANK) is None
    assert store.personas.latest_check(HANK, 1) is not None


def test_purge_removes_the_checks(store: Store) -> None:
    saved = store.personas.create(_persona("Gone Soon", new_check(_result())))
    store.personas.purge(saved.persona_id)
    assert _sql(store.path, "SELECT COUNT(*) FROM ps_persona_checks") == [(0,)]


# -- what another program may have written --------------------------------------------------------

HOSTILE_ROWS: list[tuple[Any, ...]] = [
    # score, summary, model, checked_at, result
    ("abc", "ok", "m", "2026-01-01 10:00:00", "{not json"),
    (7.5, b"\xff\xfe", 42, b"\xff\xff", "[1, 2, 3]"),
    (-1, None, None, "yesterday", "[" * 50_000 + "]" * 50_000),
    (None, "x" * 10_000, "m" * 5000, "", '"just a string"'),
    (0.5, "half", "m", 12345, json.dumps({"answers": 5, "baseline": "no", "words": 3})),
    (1, "fine", "m", "2026-01-01T10:00:00Z", json.dumps({"answers": ["x", None, 3]})),
    (b"\x00", "blob score", "m", "2026-01-01 10:00:00", b"\x80\x81 not utf-8"),
]


@pytest.mark.parametrize("row", HOSTILE_ROWS, ids=range(len(HOSTILE_ROWS)))
def test_hostile_rows_read_back_without_a_crash(store: Store, row: tuple[Any, ...]) -> None:
    score, summary, model, checked_at, result = row
    _sql(
        store.path,
        "INSERT INTO ps_persona_checks (persona_id, version, score, summary, model, "
        "checked_at, result) VALUES (?, 1, ?, ?, ?, ?, ?)",
        (HANK, score, summary, model, checked_at, result),
    )
    stored = store.personas.latest_check(HANK)
    assert stored is not None
    assert stored.score is None or 0.0 <= stored.score <= 1.0
    assert isinstance(stored.summary, str) and len(stored.summary) <= 300
    assert isinstance(stored.model, str) and len(stored.model) <= 1000
    assert stored.result is None or isinstance(stored.result, dict)
    assert stored_result(stored) is None  # none of these holds an answer
    (hank,) = [p for p in store.personas.list() if p.persona_id == HANK]
    assert (hank.check_score, hank.check_summary) == (stored.score, stored.summary)
    store.personas.list(order_by="check")  # sorting by it does not fail either
    store.personas.list(order_by="check", descending=True)


def test_odd_answers_are_read_as_far_as_they_make_sense(store: Store) -> None:
    """Answers with wrong types inside a well-formed result: shown, never a crash."""
    result = {
        "model": ["not", "text"],
        "name": None,
        "answers": [
            {"kind": "who", "question": 42, "answer": {"nested": True}, "holds_name": "yes"},
            {"kind": "domain", "question": "What do you know?", "answer": "ZFS", "in_domain": 1},
            "not an answer",
        ],
        "words": ["zfs", 7, None],
    }
    _sql(
        store.path,
        "INSERT INTO ps_persona_checks (persona_id, version, checked_at, score, summary, "
        "model, result) VALUES (?, 1, '2026-01-01 10:00:00', 0.5, 'half', 'gguf:x', ?)",
        (HANK, json.dumps(result)),
    )
    again = stored_result(store.personas.latest_check(HANK))
    assert again is not None and len(again.answers) == 2
    assert again.answers[0].question == "42" and again.answers[0].holds_name is None
    assert again.words == ("zfs",)
    assert all(isinstance(verdict(a)[1], str) for a in again.answers)
    assert again.summary() == "in character"  # nothing scored but the breaks
