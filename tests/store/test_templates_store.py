"""Template texts in ps_template_versions: stored once, found again from a persona."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import datetime
from typing import Any

import pytest

from persona_studio.errors import InvalidInputError, LeaseLostError, NotFoundError
from persona_studio.store import JobStatus, NewPersona, Store
from tests.store.sqlite_helpers import sql as _sql

GTYPE = "from_name_and_description"
EXP = f"expansion/{GTYPE}@111111111111"
REF = f"refinement/{GTYPE}@222222222222"
REF_USER = f"refinement/{GTYPE}@333333333333"
TEXTS = {
    EXP: ("expansion", GTYPE, "shipped", "Brainstorm {{name_hint}}."),
    REF: ("refinement", GTYPE, "shipped", "Refine:\n{{brainstormed_text}}"),
}


def _count(store: Store) -> int:
    return _sql(store.path, "SELECT COUNT(*) FROM ps_template_versions")[0][0]


def _persona(name: str, **kwargs: Any) -> NewPersona:
    return NewPersona(name, f"You are {name}.", GTYPE, {"name_hint": name}, **kwargs)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _claim(store: Store, name: str) -> int:
    rid = store.queue.enqueue({"generation_type": GTYPE, "input_details": {"name_hint": name}}, "m")
    claimed = store.queue.claim("w", request_id=rid)
    assert claimed is not None and claimed.request_id == rid
    return rid


def test_remember_is_idempotent(store: Store) -> None:
    store.templates.remember(EXP, "expansion", GTYPE, "shipped", "Brainstorm {{name_hint}}.")
    first = store.templates.get(EXP)
    assert first is not None
    assert (first.version, first.stage, first.generation_type, first.source, first.text) == (
        EXP,
        "expansion",
        GTYPE,
        "shipped",
        "Brainstorm {{name_hint}}.",
    )
    assert isinstance(first.first_seen_at, datetime) and first.first_seen_at.tzinfo is not None
    _sql(store.path, "UPDATE ps_template_versions SET first_seen_at = '2024-01-01 00:00:00'")
    kept = store.templates.get(EXP)
    # Again, even from the user's identical copy: nothing changes, the first record stays.
    store.templates.remember(EXP, "expansion", GTYPE, "user", "Brainstorm {{name_hint}}.")
    store.templates.remember(EXP, "expansion", GTYPE, "shipped", "Brainstorm {{name_hint}}.")
    assert store.templates.get(EXP) == kept and kept is not None and kept.source == "shipped"
    assert _count(store) == 1


def test_get_unknown_version(store: Store) -> None:
    assert store.templates.get("expansion/nope@000000000000") is None


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("", "expansion", GTYPE, "shipped", "t"), "version"),
        ((EXP, " ", GTYPE, "shipped", "t"), "stage"),
        ((EXP, "expansion", None, "shipped", "t"), "generation type"),
        ((EXP, "expansion", GTYPE, "downloaded", "t"), "'shipped' or 'user'"),
        ((EXP, "expansion", GTYPE, "user", b"t"), "text"),
        (("x" * 301, "expansion", GTYPE, "user", "t"), "at most 300"),
    ],
)
def test_remember_refuses_malformed_input(store: Store, args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        store.templates.remember(*args)
    assert _count(store) == 0


def test_for_persona(store: Store) -> None:
    saved = store.personas.create(
        _persona(
            "Nell",
            template_versions={"expansion": EXP, "refinement": REF},
            template_texts={EXP: TEXTS[EXP]},  # the refinement text was never stored
        )
    )
    found = store.templates.for_persona(saved.persona_id)
    assert set(found) == {"expansion", "refinement"}
    assert found["refinement"] is None
    expansion = found["expansion"]
    assert expansion is not None and expansion.text == "Brainstorm {{name_hint}}."
    # FORLLM's own persona: no generation record, so no templates.
    hank = store.personas.get_by_name("Homelab Hank").persona_id
    assert store.templates.for_persona(hank) == {}
    with pytest.raises(NotFoundError):
        store.templates.for_persona(999)


def test_for_persona_follows_its_versions(store: Store) -> None:
    first = store.personas.create(
        _persona(
            "Nell", template_versions={"expansion": EXP, "refinement": REF}, template_texts=TEXTS
        )
    )
    user_text = ("refinement", GTYPE, "user", "My refine:\n{{brainstormed_text}}")
    store.personas.create(
        _persona(
            "Nell",
            template_versions={"expansion": EXP, "refinement": REF_USER},
            template_texts={EXP: TEXTS[EXP], REF_USER: user_text},
            replaces_persona_id=first.persona_id,
        )
    )
    store.personas.save_edit(first.persona_id, "Edited by hand.")  # version 3, not generated
    pid = first.persona_id
    latest = store.templates.for_persona(pid)
    assert {s: r.version if r else None for s, r in latest.items()} == {
        "expansion": EXP,
        "refinement": REF_USER,
    }
    assert latest["refinement"] is not None and latest["refinement"].source == "user"
    v1 = store.templates.for_persona(pid, version=1)
    assert v1["refinement"] is not None and v1["refinement"].text == TEXTS[REF][3]
    assert store.templates.for_persona(pid, version=3) == {}
    assert _count(store) == 3  # the shared expansion text is stored once


def test_complete_saves_template_texts_with_the_persona(store: Store) -> None:
    rid = _claim(store, "Ada")
    saved = store.queue.complete(
        rid,
        "w",
        _persona(
            "Ada", template_versions={"expansion": EXP, "refinement": REF}, template_texts=TEXTS
        ),
    )
    assert store.queue.get(rid).status is JobStatus.COMPLETE
    found = store.templates.for_persona(saved.persona_id)
    assert {s: (r.text if r else None) for s, r in found.items()} == {
        "expansion": TEXTS[EXP][3],
        "refinement": TEXTS[REF][3],
    }


def test_complete_without_texts_stores_none(store: Store) -> None:
    rid = _claim(store, "Bo")
    saved = store.queue.complete(
        rid, "w", _persona("Bo", template_versions={"expansion": EXP, "refinement": REF})
    )
    assert _count(store) == 0
    assert store.templates.for_persona(saved.persona_id) == {"expansion": None, "refinement": None}


def test_lost_lease_saves_no_template_text(store: Store) -> None:
    rid = _claim(store, "Late")
    _sql(store.path, "UPDATE ps_jobs SET owner_pid = ? WHERE request_id = ?", (_dead_pid(), rid))
    assert store.queue.recover_stale() == [rid]
    count = store.personas.count(include_inactive=True)
    with pytest.raises(LeaseLostError):
        store.queue.complete(rid, "w", _persona("Late", template_texts=TEXTS))
    assert _count(store) == 0
    assert store.personas.count(include_inactive=True) == count


def test_malformed_texts_save_nothing_and_keep_the_job(store: Store) -> None:
    rid = _claim(store, "Bad")
    count = store.personas.count(include_inactive=True)
    bad = {**TEXTS, REF_USER: ("refinement", GTYPE, "elsewhere", "t")}
    with pytest.raises(InvalidInputError, match="'shipped' or 'user'"):
        store.queue.complete(rid, "w", _persona("Bad", template_texts=bad))
    with pytest.raises(InvalidInputError, match=r"\(stage, generation_type, source, text\)"):
        short: Any = {EXP: ("expansion",)}
        store.queue.complete(rid, "w", _persona("Bad", template_texts=short))
    assert _count(store) == 0
    assert store.personas.count(include_inactive=True) == count
    assert store.queue.get(rid).status is JobStatus.PROCESSING  # still the worker's to finish


def test_a_failure_after_the_texts_rolls_them_back(store: Store) -> None:
    """Texts and persona are one transaction: a persona that cannot be saved takes its
    template texts with it."""
    rid = _claim(store, "Gone")
    with pytest.raises(NotFoundError):
        store.queue.complete(
            rid, "w", _persona("Gone", template_texts=TEXTS, replaces_persona_id=999)
        )
    assert _count(store) == 0
    assert store.queue.get(rid).status is JobStatus.PROCESSING


def test_forllm_reads_template_versions_with_parse_decltypes(store: Store) -> None:
    store.templates.remember(*((EXP,) + TEXTS[EXP]))
    conn = sqlite3.connect(store.path, detect_types=sqlite3.PARSE_DECLTYPES)
    try:
        [(seen,)] = conn.execute("SELECT first_seen_at FROM ps_template_versions").fetchall()
    finally:
        conn.close()
    assert isinstance(seen, datetime)
