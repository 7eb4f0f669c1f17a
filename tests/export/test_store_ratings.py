"""A persona's rating goes out in Persona Studio JSON and comes back in with it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from persona_studio.export import export_persona, import_file, load_document, save_document
from persona_studio.store import Store

from .helpers import hank


def test_rating_round_trips_through_json(store: Store, tmp_path: Path) -> None:
    saved = save_document(store, hank(ratings=None)).saved
    when = datetime(2025, 8, 5, 10, 30, 0, tzinfo=UTC)
    store.personas.rate(saved.persona_id, 4, "Good commands, a bit dry.", rated_at=when)

    doc = load_document(store, saved.name)
    assert doc.ratings == {
        "rating": 4,
        "note": "Good commands, a bit dry.",
        "rated_at": "2025-08-05T10:30:00+00:00",
    }
    path = export_persona(doc, "json", tmp_path)
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["persona"]["ratings"] == doc.ratings

    [back] = import_file(path)
    outcome = save_document(store, back)
    assert not any("rating" in note for note in outcome.notes)
    rating = store.personas.rating(outcome.saved.persona_id)
    assert rating is not None
    assert (rating.rating, rating.note, rating.rated_at) == (4, "Good commands, a bit dry.", when)
    assert store.personas.get(outcome.saved.persona_id).rating == 4


def test_unrated_persona_exports_no_rating(store: Store, tmp_path: Path) -> None:
    doc = load_document(store, "Archivist Quill")
    assert doc.ratings is None
    path = export_persona(doc, "json", tmp_path)
    assert "ratings" not in json.loads(path.read_text(encoding="utf-8"))["persona"]
    [back] = import_file(path)
    saved = save_document(store, back).saved
    assert store.personas.rating(saved.persona_id) is None


def test_a_list_of_ratings_keeps_the_last(store: Store) -> None:
    doc = hank(
        ratings=[
            {"rating": 2, "note": "first try"},
            {"rating": 5, "note": "after edits", "rated_at": "not a date"},
        ]
    )
    outcome = save_document(store, doc)
    rating = store.personas.rating(outcome.saved.persona_id)
    assert rating is not None and (rating.rating, rating.note) == (5, "after edits")
    assert rating.rated_at is not None  # an unreadable time becomes the time of the import


def test_ratings_in_another_form_are_left_out_with_a_note(store: Store) -> None:
    for ratings in ([{"stars": 4}], {"rating": 9}, {"rating": "5"}, {"rating": True}):
        outcome = save_document(store, hank(ratings=ratings))
        assert any("ratings were not imported" in note for note in outcome.notes), ratings
        assert store.personas.rating(outcome.saved.persona_id) is None


def test_an_overlong_note_is_cut_with_a_note(store: Store) -> None:
    outcome = save_document(store, hank(ratings={"rating": 3, "note": "n" * 2500}))
    assert any("cut to 2,000" in note for note in outcome.notes)
    rating = store.personas.rating(outcome.saved.persona_id)
    assert rating is not None and (rating.rating, len(rating.note)) == (3, 2000)
