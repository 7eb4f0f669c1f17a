"""Personas dragged out of the list as files, exported from its context menu, and files
dropped onto the window imported."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

from persona_studio.ui.persona_list import COL_NAME
from persona_studio.ui.preferences import PreferencesDialog
from persona_studio.ui.transfer import drag_format, file_mime_data, local_files

QUILL, HANK = "Archivist Quill", "Homelab Hank"


def _select(window, names: list[str]) -> None:
    panel = window.personas
    model = panel.model
    selection = panel.view.selectionModel()
    selection.clearSelection()
    for row in range(model.rowCount()):
        if model.index(row, COL_NAME).data() in names:
            selection.select(
                model.index(row, COL_NAME),
                QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
            )
    assert len(panel.selected_ids()) == len(names)


def _drag(window) -> list[Path]:
    view = window.personas.view
    mime = window.personas.model.mimeData(view.selectionModel().selectedIndexes())
    assert mime is not None
    return local_files(mime)


def test_drag_personas_out_as_files(qtbot, window) -> None:
    model = window.personas.model
    qtbot.waitUntil(lambda: model.rowCount() >= 2, timeout=15_000)
    assert window.prefs.export_format == "md"  # the default
    assert model.flags(model.index(0, COL_NAME)) & Qt.ItemFlag.ItemIsDragEnabled
    assert model.mimeTypes() == ["text/uri-list"]

    _select(window, [QUILL, HANK])
    files = _drag(window)
    assert sorted(p.name for p in files) == [f"{QUILL}.md", f"{HANK}.md"]
    quill = window.store.personas.get_by_name(QUILL)
    text = next(p for p in files if p.name.startswith(QUILL)).read_text("utf-8")
    assert quill.prompt_instructions.strip()[:40] in text

    # Preferences: the combo sets the format the next drag writes.
    dialog = PreferencesDialog(window.prefs, window)
    dialog.export_format.setCurrentIndex(dialog.export_format.findData("card-v2"))
    dialog.accept()
    assert window.prefs.export_format == "card-v2"
    _select(window, [HANK])
    (card,) = _drag(window)
    assert card.name == f"{HANK}.card-v2.json"
    assert '"chara_card_v2"' in card.read_text("utf-8")
    # Alt held when the drag starts: the lossless JSON (Markdown when JSON is preferred).
    assert drag_format("card-v2", alternate=True) == "json"
    assert drag_format("json", alternate=True) == "md"
    assert drag_format("no-such-format", alternate=False) == "md"


def test_context_menu_exports(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    model = window.personas.model
    qtbot.waitUntil(lambda: model.rowCount() >= 2, timeout=15_000)
    _select(window, [QUILL, HANK])
    menu = window.personas.build_context_menu()
    texts = [a.text() for a in menu.actions()]
    assert texts == ["Export as…", "Export selected to folder…"]

    folder = tmp_path / "out"
    folder.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    menu.actions()[1].trigger()  # the preferred format: Markdown
    qtbot.waitUntil(lambda: len(list(folder.iterdir())) == 2, timeout=15_000)
    assert sorted(p.name for p in folder.iterdir()) == [f"{QUILL}.md", f"{HANK}.md"]

    # Export as… one persona, in the format picked from the submenu, to the file chosen.
    _select(window, [HANK])
    target = tmp_path / "hank.Modelfile"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    submenu = window.personas.build_context_menu().actions()[0].menu()
    labels = {a.data(): a for a in submenu.actions()}
    labels["modelfile"].trigger()
    qtbot.waitUntil(target.exists, timeout=15_000)
    assert target.read_text("utf-8").startswith(("FROM", "#"))
    menu.deleteLater()


def test_drop_files_imports_each(qtbot, window, tmp_path: Path) -> None:
    model = window.personas.model
    qtbot.waitUntil(lambda: model.rowCount() >= 2, timeout=15_000)
    _select(window, [HANK])
    (exported,) = _drag(window)
    bad = tmp_path / "broken.json"
    bad.write_text('{"not": "a persona"}', "utf-8")
    mime = file_mime_data([exported, bad])

    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert event.isAccepted()
    qtbot.waitUntil(lambda: len(window.import_results) == 2, timeout=15_000)
    ok, failed = window.import_results
    assert ok.ok and f"imported as “{HANK} (2)”" in ok.message and "was taken" in ok.message
    assert not failed.ok and failed.message.startswith("broken.json")
    box = window.findChild(QMessageBox, "importReport")
    assert box is not None and "Imported 1 of 2" in box.text()
    assert "broken.json" in box.informativeText()
    box.accept()
    qtbot.waitUntil(
        lambda: (
            model.row_of(window.store.personas.get_by_name(f"{HANK} (2)").persona_id) is not None
        ),
        timeout=15_000,
    )
