"""Card extras and tags in the file (ps_card_extras, ps_persona_tags; migration 8): saved,
replaced, read back whatever another program wrote, filtered on in the list, purged with
the persona, on a FORLLM-made file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from persona_studio.errors import InvalidInputError, NotFoundError
from persona_studio.store import CardExtras, NewPersona, Store, clean_tags
from tests.store.sqlite_helpers import sql as _sql

HANK = 3  # FORLLM-generated "Homelab Hank"
QUILL = 2  # FORLLM's hand-written "Archivist Quill"

EXTRAS = CardExtras(
    first_mes="*looks up from the rack* Another NAS? Sit down.",
    alternate_greetings=("Back again?", "Mind the cables."),
    mes_example="<START>\n{{user}}: What is ZFS?\n{{char}}: A filesystem that checks itself.",
    scenario="A cluttered home lab on a Saturday morning.",
    tags=("homelab", "ZFS", "servers"),
    model="gguf:SmolLM2-135M-Instruct.Q4_1.gguf",
)


def test_extras_are_saved_replaced_and_read_back(store: Store) -> None:
    assert store.cards.get(HANK) is None
    saved = store.cards.save(HANK, EXTRAS)
    assert saved.updated_at is not None
    back = store.cards.get(HANK)
    assert back is not None and back.same_content(EXTRAS) and back.model == EXTRAS.model
    cleared = CardExtras(first_mes="", tags=("zfs",))
    store.cards.save(HANK, cleared)
    back = store.cards.get(HANK)
    assert back is not None and back.same_content(cleared)  # a cleared greeting stays cleared


def test_tags_filter_the_list_in_any_letter_case(store: Store) -> None:
    store.cards.save(HANK, EXTRAS)
    store.cards.save(QUILL, CardExtras(tags=("archives", "zfs")))
    assert [p.persona_id for p in store.personas.list(tag="ZFS")] == sorted(
        [HANK, QUILL], key=lambda pid: store.personas.get(pid).name.lower()
    )
    assert store.personas.count(tag="homelab") == 1
    assert store.personas.count(tag="homelab", search="Quill") == 0
    counts = {tag.lower(): n for tag, n in store.cards.tags()}  # one entry for ZFS and zfs
    assert counts == {"archives": 1, "homelab": 1, "servers": 1, "zfs": 2}
    store.personas.delete(QUILL)  # hidden personas' tags are not offered
    assert {tag.lower(): n for tag, n in store.cards.tags()}["zfs"] == 1


def test_purge_removes_the_extras_and_tags(store: Store) -> None:
    saved = store.personas.create(NewPersona("Tess", "## Persona Name: Tess", None, None))
    store.cards.save(saved.persona_id, EXTRAS)
    store.personas.purge(saved.persona_id)
    assert _sql(store.path, "SELECT COUNT(*) FROM ps_card_extras")[0][0] == 0
    assert _sql(store.path, "SELECT COUNT(*) FROM ps_persona_tags")[0][0] == 0


def test_what_cannot_be_stored_is_refused(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.cards.save(9999, EXTRAS)
    with pytest.raises(InvalidInputError, match="greeting has 100,001 characters"):
        store.cards.save(HANK, CardExtras(first_mes="x" * 100_001))
    with pytest.raises(InvalidInputError, match="Tags are at most"):
        store.cards.save(HANK, CardExtras(tags=("a", "A")))
    assert store.cards.get(HANK) is None


def test_clean_tags() -> None:
    assert clean_tags(" baking,  Sour  dough ,BAKING,, x" + "y" * 80) == (
        "baking",
        "Sour dough",
        "x" + "y" * 63,
    )
    assert clean_tags(["a", 3, None, "b"]) == ("a", "b")


def test_rows_another_program_wrote_read_leniently(store: Store) -> None:
    conn = sqlite3.connect(store.path)
    conn.execute(
        "INSERT INTO ps_card_extras VALUES (?, ?, ?, ?, ?, ?, ?)",
        (HANK, b"\xff bytes", "{not json", '["a list"]', "", b"\x00", "garbage"),
    )
    conn.execute("INSERT INTO ps_persona_tags (persona_id, tag, position) VALUES (3, x'00', 0)")
    conn.execute("INSERT INTO ps_persona_tags (persona_id, tag, position) VALUES (3, 'ok', 1)")
    conn.commit()
    conn.close()
    back = store.cards.get(HANK)
    assert back == CardExtras(
        first_mes="\ufffd bytes", mes_example='["a list"]', tags=("ok",), model=None
    )
    assert store.cards.tags() == [("ok", 1)]


def test_migration_adds_only_ps_objects(forllm_db: Path) -> None:
    Store.open(forllm_db).close()
    names = {r[0] for r in _sql(forllm_db, "SELECT name FROM sqlite_master")}
    assert {"ps_card_extras", "ps_persona_tags", "ps_persona_tags_tag"} <= names
