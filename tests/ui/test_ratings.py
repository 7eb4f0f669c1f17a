"""Rating personas in the editor, sorting the list by rating, and the best-rated report."""

from __future__ import annotations

from PySide6.QtCore import Qt

from persona_studio.ui.persona_list import COL_NAME, COL_RATING

QUILL, HANK = 2, 3  # FORLLM's "Archivist Quill" and "Homelab Hank" in the fixture


def _rate(qtbot, window, persona_id: int, stars: int, note: str) -> None:
    editor = window.editor
    window.show_persona(persona_id)
    qtbot.waitUntil(lambda: editor.persona_id == persona_id, timeout=15_000)
    editor.rating.setCurrentIndex(editor.rating.findData(stars))
    editor.rating_note.setText(note)
    assert editor.rate_button.isEnabled()
    with qtbot.waitSignal(editor.rated, timeout=15_000):
        qtbot.mouseClick(editor.rate_button, Qt.MouseButton.LeftButton)
    assert not editor.rate_button.isEnabled()  # nothing left to save


def test_rating_saved_reloaded_sorted_and_reported(qtbot, window) -> None:
    editor = window.editor
    model = window.personas.model
    qtbot.waitUntil(lambda: model.rowCount() >= 2, timeout=15_000)
    window.show_persona(QUILL)
    qtbot.waitUntil(lambda: editor.persona_id == QUILL, timeout=15_000)
    assert editor.rating.currentText() == "Not rated" and not editor.rate_button.isEnabled()

    _rate(qtbot, window, QUILL, 3, "Good voice, thin on facts.")
    _rate(qtbot, window, HANK, 5, "Exactly right.")
    rating = window.store.personas.rating(QUILL)
    assert (rating.rating, rating.note) == (3, "Good voice, thin on facts.")

    # Shown again when the persona is opened again.
    window.show_persona(QUILL)
    qtbot.waitUntil(lambda: editor.persona_id == QUILL, timeout=15_000)
    assert editor.rating.currentData() == 3
    assert editor.rating_note.text() == "Good voice, thin on facts."

    # The list: a Rating column, sorted by the store (order_by='rating'), best first.
    assert (
        model.headerData(COL_RATING, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
        == "Rating"
    )
    window.personas.view.sortByColumn(COL_RATING, Qt.SortOrder.DescendingOrder)
    assert model.order_by == "rating" and model.descending
    qtbot.waitUntil(lambda: model.index(0, COL_RATING).data() == "★★★★★", timeout=15_000)
    names = [model.index(r, COL_NAME).data() for r in range(model.rowCount())]
    assert names[:2] == ["Homelab Hank", "Archivist Quill"]
    assert model.index(1, COL_RATING).data() == "★★★"

    # "Not rated" clears the rating.
    window.show_persona(QUILL)
    qtbot.waitUntil(lambda: editor.persona_id == QUILL, timeout=15_000)
    editor.rating.setCurrentIndex(0)
    with qtbot.waitSignal(editor.rated, timeout=15_000):
        editor.save_rating()
    assert window.store.personas.rating(QUILL) is None
    _rate(qtbot, window, QUILL, 3, "Good voice, thin on facts.")

    # The report lists every group the store reports.
    groups = window.store.personas.rating_report()
    dialog = window.open_rating_report()
    tree = dialog.tree
    assert tree.topLevelItemCount() == len(groups) >= 1
    rows = [[tree.topLevelItem(i).text(c) for c in range(4)] for i in range(len(groups))]
    for row, group in zip(rows, groups, strict=True):
        assert row[:3] == [group.label, str(group.count), f"{group.mean_rating:.2f}"]
    assert sum(int(row[1]) for row in rows) == 2
    best = " ".join(row[3] for row in rows)
    assert "Homelab Hank (5★)" in best and "Archivist Quill (3★)" in best
    dialog.reject()


def test_a_rating_not_yet_saved_is_saved_when_another_persona_opens(qtbot, window) -> None:
    editor = window.editor
    window.show_persona(QUILL)
    qtbot.waitUntil(lambda: editor.persona_id == QUILL, timeout=15_000)
    editor.rating.setCurrentIndex(editor.rating.findData(4))
    editor.rating_note.setText("Chose it, never clicked Save rating.")
    with qtbot.waitSignal(editor.rated, timeout=15_000):
        window.show_persona(HANK)
    qtbot.waitUntil(lambda: editor.persona_id == HANK, timeout=15_000)
    rating = window.store.personas.rating(QUILL)
    assert (rating.rating, rating.note) == (4, "Chose it, never clicked Save rating.")
    assert editor.message.text() == "Rating saved for “Archivist Quill”."
    assert editor.rating.currentText() == "Not rated"  # Hank's own, untouched


def test_unsaved_text_and_rating_are_both_kept_when_saving_on_the_way_out(
    qtbot, window, monkeypatch
) -> None:
    from PySide6.QtWidgets import QMessageBox

    editor = window.editor
    window.show_persona(HANK)
    qtbot.waitUntil(lambda: editor.persona_id == HANK, timeout=15_000)
    editor.text.setPlainText(editor.text.toPlainText() + '\n- "Check the cables."')
    editor.rating.setCurrentIndex(editor.rating.findData(2))
    monkeypatch.setattr(QMessageBox, "question", lambda *_a, **_k: QMessageBox.StandardButton.Save)
    with qtbot.waitSignal(editor.rated, timeout=15_000):
        window.show_persona(QUILL)
    qtbot.waitUntil(lambda: editor.persona_id == QUILL, timeout=15_000)
    hank = window.store.personas.get(HANK)
    assert hank.version == 2 and hank.prompt_instructions.endswith('"Check the cables."')
    assert window.store.personas.rating(HANK).rating == 2
