"""Ratings in ps_ratings: rate, clear, sort by them, and the feedback report built on them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

import pytest

from persona_studio.errors import InvalidInputError, NotFoundError, StoreError
from persona_studio.store import NewPersona, RatingGroup, Store
from tests.store.sqlite_helpers import sql as _sql

GTYPE = "from_name_and_description"
V1 = {
    "expansion": f"expansion/{GTYPE}@aaaaaaaaaaaa",
    "refinement": f"refinement/{GTYPE}@bbbbbbbbbbbb",
}
V2 = {
    "expansion": f"expansion/{GTYPE}@aaaaaaaaaaaa",
    "critique": f"critique/{GTYPE}@cccccccccccc",
    "refinement": f"refinement/{GTYPE}@dddddddddddd",
}


def _manual(name: str) -> NewPersona:
    return NewPersona(name, f"You are {name}.", None, None)


def _generated(
    name: str,
    versions: dict[str, str],
    *,
    model: str = "llama3",
    length: str = "",
    tone: str = "",
    critique: bool = False,
    replaces: int | None = None,
) -> NewPersona:
    prefs: dict[str, Any] = {}
    if length:
        prefs["length_preference"] = length
    if tone:
        prefs["tone_preference"] = tone
    params: dict[str, Any] = {
        "generation_type": GTYPE,
        "input_details": {"name_hint": name},
        "output_preferences": prefs,
        "llm_model_for_generation": model,
        "target_persona_name_override": "",
    }
    if critique:
        params["persona_studio"] = {"critique": True}
    return NewPersona(
        name,
        f"You are {name}.",
        GTYPE,
        {"name_hint": name},
        output_preferences=prefs,
        template_versions=versions,
        model=model,
        request_params=params,
        replaces_persona_id=replaces,
    )


def _id(store: Store, name: str) -> int:
    return store.personas.get_by_name(name).persona_id


# -- rate / clear / overwrite ------------------------------------------------------------------


def test_rate_then_read_back(store: Store) -> None:
    quill = _id(store, "Archivist Quill")
    assert store.personas.rating(quill) is None
    assert (store.personas.get(quill).rating, store.personas.get(quill).rating_note) == (None, "")
    before = datetime.now(UTC).replace(microsecond=0)
    store.personas.rate(quill, 4, "  Terse, stays in character.  ")
    rating = store.personas.rating(quill)
    assert rating is not None
    assert (rating.rating, rating.note) == (4, "Terse, stays in character.")
    assert rating.rated_at is not None and rating.rated_at >= before
    assert rating.rated_at.tzinfo is not None
    persona = store.personas.get(quill)
    assert (persona.rating, persona.rating_note) == (4, "Terse, stays in character.")
    by_name = store.personas.get_by_name("archivist quill")
    assert (by_name.rating, by_name.rating_note) == (4, "Terse, stays in character.")
    summary = next(p for p in store.personas.list() if p.persona_id == quill)
    assert summary.rating == 4


def test_overwrite_replaces_rating_and_note(store: Store) -> None:
    quill = _id(store, "Archivist Quill")
    store.personas.rate(quill, 2, "too long-winded")
    store.personas.rate(quill, 5)
    rating = store.personas.rating(quill)
    assert rating is not None and (rating.rating, rating.note) == (5, "")
    assert _sql(store.path, "SELECT COUNT(*) FROM ps_ratings WHERE persona_id = ?", (quill,)) == [
        (1,)
    ]


def test_none_clears_the_rating_and_its_note(store: Store) -> None:
    quill = _id(store, "Archivist Quill")
    store.personas.rate(quill, 3, "fine")
    store.personas.rate(quill, None)
    assert store.personas.rating(quill) is None
    assert (store.personas.get(quill).rating, store.personas.get(quill).rating_note) == (None, "")
    assert _sql(store.path, "SELECT COUNT(*) FROM ps_ratings") == [(0,)]
    store.personas.rate(quill, None)  # clearing what is not there is fine


def test_rated_at_can_be_given(store: Store) -> None:
    quill = _id(store, "Archivist Quill")
    when = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    store.personas.rate(quill, 4, rated_at=when)
    rating = store.personas.rating(quill)
    assert rating is not None and rating.rated_at == when
    assert _sql(store.path, "SELECT rated_at FROM ps_ratings") == [("2025-03-04 05:06:07",)]


@pytest.mark.parametrize("bad", [0, 6, -1, 100, 3.5, True, "4", [4]])
def test_rating_out_of_bounds_is_refused_clearly(store: Store, bad: Any) -> None:
    quill = _id(store, "Archivist Quill")
    store.personas.rate(quill, 3, "kept")
    with pytest.raises(InvalidInputError, match="1 to 5") as caught:
        store.personas.rate(quill, bad)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, StoreError)
    rating = store.personas.rating(quill)
    assert rating is not None and (rating.rating, rating.note) == (3, "kept")


def test_note_is_capped(store: Store) -> None:
    quill = _id(store, "Archivist Quill")
    store.personas.rate(quill, 4, "x" * 2000)  # exactly the cap is fine
    with pytest.raises(InvalidInputError, match=r"at most 2,000 characters; this one has 2,001"):
        store.personas.rate(quill, 5, "x" * 2001)
    with pytest.raises(InvalidInputError, match="is text"):
        store.personas.rate(quill, 5, 42)  # type: ignore[arg-type]
    rating = store.personas.rating(quill)
    assert rating is not None and (rating.rating, len(rating.note)) == (4, 2000)


def test_unknown_persona(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no persona with id 999"):
        store.personas.rate(999, 4)
    with pytest.raises(NotFoundError):
        store.personas.rating(999)
    with pytest.raises(NotFoundError):
        store.personas.get(999)
    assert _sql(store.path, "SELECT COUNT(*) FROM ps_ratings") == [(0,)]


def test_the_table_itself_refuses_bad_ratings(store: Store) -> None:
    """The CHECK holds for any program writing the file, not only through our API."""
    quill = _id(store, "Archivist Quill")
    for bad in (0, 6, 2.5):
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            _sql(
                store.path,
                "INSERT INTO ps_ratings (persona_id, rating, note, rated_at) "
                "VALUES (?, ?, '', '2025-01-01 00:00:00')",
                (quill, bad),
            )


def test_delete_keeps_the_rating_purge_removes_it(store: Store) -> None:
    saved = store.personas.create(_manual("Nova"))
    store.personas.rate(saved.persona_id, 5, "great")
    store.personas.delete(saved.persona_id)
    assert store.personas.rating(saved.persona_id) is not None  # hidden, not gone
    store.personas.purge(saved.persona_id)
    assert _sql(
        store.path, "SELECT COUNT(*) FROM ps_ratings WHERE persona_id = ?", (saved.persona_id,)
    ) == [(0,)]


def test_forllm_reads_ratings_with_parse_decltypes(store: Store) -> None:
    store.personas.rate(_id(store, "Archivist Quill"), 4, "ok")
    conn = sqlite3.connect(store.path, detect_types=sqlite3.PARSE_DECLTYPES)
    try:
        [(rated_at,)] = conn.execute("SELECT rated_at FROM ps_ratings").fetchall()
        # FORLLM's own reads of its tables are unaffected by our new table.
        assert conn.execute("SELECT created_at FROM personas").fetchall()
    finally:
        conn.close()
    assert isinstance(rated_at, datetime)


# -- sorting -----------------------------------------------------------------------------------


def test_list_by_rating_puts_unrated_last_both_ways(store: Store) -> None:
    ids = {name: store.personas.create(_manual(name)).persona_id for name in ("Ada", "Bo", "Cy")}
    store.personas.rate(ids["Ada"], 3)
    store.personas.rate(ids["Bo"], 5)
    store.personas.rate(_id(store, "Archivist Quill"), 3)

    def names(**kwargs: Any) -> list[str]:
        return [p.name for p in store.personas.list(order_by="rating", **kwargs)]

    assert names() == ["Ada", "Archivist Quill", "Bo", "Cy", "fallback", "Homelab Hank"]
    assert names(descending=True) == [
        "Bo",
        "Archivist Quill",
        "Ada",
        "Homelab Hank",
        "fallback",
        "Cy",
    ]
    assert names(descending=True, limit=2) == ["Bo", "Archivist Quill"]
    assert names(descending=True, limit=2, offset=2) == ["Ada", "Homelab Hank"]
    # Filters apply as for any order ("bo" is in Bo's name and in Hank's text).
    assert names(search="librarian") == ["Archivist Quill"]
    assert names(search="bo", descending=True) == ["Bo", "Homelab Hank"]
    assert names(search="bo") == ["Bo", "Homelab Hank"]
    ratings = {p.name: p.rating for p in store.personas.list(order_by="rating")}
    assert ratings == {
        "Ada": 3,
        "Archivist Quill": 3,
        "Bo": 5,
        "Cy": None,
        "fallback": None,
        "Homelab Hank": None,
    }
    # Other orders and the subforum view carry the rating too.
    assert {p.name: p.rating for p in store.personas.list(order_by="updated")} == ratings


def test_subforum_view_carries_ratings(store: Store) -> None:
    saved = store.personas.create(NewPersona("Ziggy", "You are Ziggy.", None, None, subforum_id=2))
    store.personas.rate(saved.persona_id, 4)
    [ziggy] = [p for p in store.personas.for_subforum(2) if p.persona_id == saved.persona_id]
    assert ziggy.rating == 4


# -- the feedback report -----------------------------------------------------------------------


def _rate(store: Store, persona: NewPersona, stars: int | None) -> int:
    saved = store.personas.create(persona)
    if stars is not None:
        store.personas.rate(saved.persona_id, stars)
    return saved.persona_id


def _key(group: RatingGroup) -> tuple[Any, ...]:
    return (
        group.template_versions,
        group.model,
        group.length,
        group.tone,
        group.critique,
        group.count,
        group.mean_rating,
        group.has_generation_info,
    )


def test_rating_report_groups_by_what_made_the_personas(store: Store) -> None:
    a1 = _rate(store, _generated("A1", V1, length="concise"), 5)
    a2 = _rate(store, _generated("A2", V1, length="concise"), 3)
    _rate(store, _generated("A3", V1, length="concise"), None)  # unrated: not counted
    b1 = _rate(store, _generated("B1", V2, length="concise", critique=True), 5)
    b2 = _rate(store, _generated("B2", V2, length="concise", critique=True), 5)
    c1 = _rate(store, _generated("C1", V1, length="detailed", tone="dry"), 4)
    d1 = _rate(store, _generated("D1", V1, model="qwen2.5-3b"), 4)
    # Regenerated with the critique templates: it counts with its latest generation.
    g = _rate(store, _generated("G", V1, length="concise"), 5)
    store.personas.create(_generated("G", V2, length="concise", critique=True, replaces=g))
    # Deleted personas count only when asked for.
    f = _rate(store, _generated("F", V1, length="concise"), 1)
    store.personas.delete(f)
    # FORLLM's own personas have no generation record of ours.
    hank, quill = _id(store, "Homelab Hank"), _id(store, "Archivist Quill")
    store.personas.rate(hank, 2)
    store.personas.rate(quill, 4)

    report = store.personas.rating_report()
    assert [_key(g) for g in report] == [
        (V2, "llama3", "concise", False, True, 3, 5.0, True),
        (V1, "llama3", "concise", False, False, 2, 4.0, True),
        (V1, "llama3", "detailed", True, False, 1, 4.0, True),
        (V1, "qwen2.5-3b", "", False, False, 1, 4.0, True),
        ({}, None, "", False, False, 2, 3.0, False),
    ]
    critique_group, a_group, c_group, d_group, forllm_group = report
    assert {pid for pid, _, _ in critique_group.best} == {b1, b2, g}
    assert a_group.best == ((a1, "A1", 5), (a2, "A2", 3))
    assert c_group.best == ((c1, "C1", 4),) and d_group.best == ((d1, "D1", 4),)
    assert forllm_group.best == ((quill, "Archivist Quill", 4), (hank, "Homelab Hank", 2))
    assert "No generation record" in forllm_group.label
    assert "critique on" in critique_group.label and "concise length" in critique_group.label
    assert "tone given" in c_group.label and "qwen2.5-3b" in d_group.label

    with_deleted = store.personas.rating_report(include_inactive=True, best_per_group=1)
    a_again = next(grp for grp in with_deleted if grp.count == 3 and not grp.critique)
    assert (a_again.template_versions, a_again.length, a_again.mean_rating) == (V1, "concise", 3.0)
    assert a_again.best == ((a1, "A1", 5),)


def test_rating_report_ties_go_to_the_larger_group(store: Store) -> None:
    _rate(store, _generated("Solo", V1, model="m1"), 4)
    _rate(store, _generated("Pair1", V2, model="m2"), 4)
    _rate(store, _generated("Pair2", V2, model="m2"), 4)
    assert [(g.model, g.count) for g in store.personas.rating_report()] == [("m2", 2), ("m1", 1)]


def test_rating_report_empty_and_messy_records(store: Store) -> None:
    assert store.personas.rating_report() == []
    # A generation record anyone may have written: bad JSON, odd types.
    saved = store.personas.create(_generated("Odd", V1))
    _sql(
        store.path,
        "UPDATE ps_persona_generation SET request_params = '{not json', "
        "output_preferences = '[1, 2]', template_versions = '{\"expansion\": 3}', model = NULL "
        "WHERE persona_id = ?",
        (saved.persona_id,),
    )
    store.personas.rate(saved.persona_id, 2)
    [group] = store.personas.rating_report()
    assert _key(group) == ({"expansion": "3"}, None, "", False, False, 1, 2.0, True)
