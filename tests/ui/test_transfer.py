"""Personas dragged out of the list as files, exported from its context menu (cards with
the saved card extras, read back as SillyTavern and Agnai read them; a persona without them
pointed to the Card tab), and files dropped onto the window imported."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

from persona_studio.store import CardExtras
from persona_studio.ui.persona_list import COL_NAME
from persona_studio.ui.preferences import PreferencesDialog
from persona_studio.ui.transfer import drag_format, file_mime_data, local_files
from tests.export.test_card_readers import agnai_read, sillytavern_read, sillytavern_read_json

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


# -- cards: the saved card extras go out, and a persona without them is pointed to the Card tab

EXTRAS = CardExtras(
    first_mes="*looks up from the rack* Another dead NAS? Show me the logs.",
    alternate_greetings=("Back again?", "Mind the cables."),
    mes_example="<START>\n{{user}}: What is ZFS?\n{{char}}: A filesystem that checks itself.",
    scenario="{{user}} brings a dead NAS to Hank's garage lab.",
    tags=("homelab", "zfs", "mentor"),
    model="gguf:SmolLM2-135M-Instruct.Q4_1.gguf",
)


def _messages(window) -> list[str]:
    said: list[str] = []
    window.personas.message.connect(said.append)
    return said


def _export_as(qtbot, window, monkeypatch, fmt: str, target: Path) -> None:
    """Export as… ``fmt`` from the list's context menu, to ``target`` (the save dialog's
    answer), and wait for the file."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    menu = window.personas.build_context_menu()
    actions = {a.data(): a for a in menu.actions()[0].menu().actions()}
    actions[fmt].trigger()
    qtbot.waitUntil(target.exists, timeout=15_000)
    menu.deleteLater()


def _assert_extras(char: dict, extras: CardExtras) -> None:
    assert char["first_mes"] == extras.first_mes
    assert char["alternate_greetings"] == list(extras.alternate_greetings)
    assert char["mes_example"] == extras.mes_example
    assert char["scenario"] == extras.scenario
    assert char["tags"][: len(extras.tags)] == list(extras.tags)


def test_card_exports_from_the_window_carry_the_saved_extras(
    qtbot, window, tmp_path: Path, monkeypatch
) -> None:
    """Export as… (PNG, V3 and V2 JSON) and a drag in a card format write the card extras
    saved with the persona, read back as SillyTavern and Agnai read cards; no model runs."""
    model = window.personas.model
    qtbot.waitUntil(lambda: model.rowCount() >= 2, timeout=15_000)
    hank = window.store.personas.get_by_name(HANK).persona_id
    window.store.cards.save(hank, EXTRAS)
    written: list[int] = []
    window.worker.extrasStarted.connect(written.append)
    said = _messages(window)
    _select(window, [HANK])

    png = tmp_path / "hank.png"
    _export_as(qtbot, window, monkeypatch, "card-png", png)
    _assert_extras(sillytavern_read(png.read_bytes())["data"], EXTRAS)
    agnai = agnai_read(png.read_bytes())
    assert (agnai["greeting"], agnai["sampleChat"]) == (EXTRAS.first_mes, EXTRAS.mes_example)
    assert agnai["alternateGreetings"] == list(EXTRAS.alternate_greetings)

    v3 = tmp_path / "hank.card-v3.json"
    _export_as(qtbot, window, monkeypatch, "card-v3", v3)
    char = sillytavern_read_json(v3.read_text("utf-8"))
    assert char["spec"] == "chara_card_v3"
    _assert_extras(char, EXTRAS)

    window.prefs.export_format = "card-v2"
    (dragged,) = _drag(window)
    char = sillytavern_read_json(dragged.read_text("utf-8"))
    assert char["spec"] == "chara_card_v2"
    _assert_extras(char, EXTRAS)

    qtbot.waitUntil(lambda: len(said) >= 2, timeout=15_000)
    assert all("no card extras" not in text and "not saved" not in text for text in said)
    assert said[:2] == [f"Exported 1 persona(s) to {png}.", f"Exported 1 persona(s) to {v3}."]
    assert written == []  # exporting never asks the model for extras


def test_a_card_without_extras_says_where_to_write_them(
    qtbot, window, tmp_path: Path, monkeypatch
) -> None:
    """A persona with no card extras is exported as it is (nothing written by a model), and
    the window says so, pointing to the Card tab (which says it too); unsaved changes in
    the Card tab are not in the card, and the window says that as well."""
    model = window.personas.model
    qtbot.waitUntil(lambda: model.rowCount() >= 2, timeout=15_000)
    store = window.store
    quill = store.personas.get_by_name(QUILL).persona_id
    store.cards.save(store.personas.get_by_name(HANK).persona_id, EXTRAS)
    assert store.cards.get(quill) is None
    said = _messages(window)

    # Export as… a card: the file as it is, and the hint with the message.
    _select(window, [QUILL])
    card = tmp_path / "quill.card-v3.json"
    _export_as(qtbot, window, monkeypatch, "card-v3", card)
    assert sillytavern_read_json(card.read_text("utf-8"))["first_mes"] == ""
    qtbot.waitUntil(lambda: len(said) == 1, timeout=15_000)
    assert said[0].startswith(f"Exported 1 persona(s) to {card}. “{QUILL}” has no card extras")
    assert "The editor's Card tab writes them (Write with the model)" in said[0]
    assert store.cards.get(quill) is None  # nothing written on export

    # Not a card: nothing to say about card extras.
    markdown = tmp_path / "quill.md"
    _export_as(qtbot, window, monkeypatch, "md", markdown)
    qtbot.waitUntil(lambda: len(said) == 2, timeout=15_000)
    assert said[1] == f"Exported 1 persona(s) to {markdown}."

    # A drag of both as PNG cards: the one without extras is named.
    window.prefs.export_format = "card-png"
    _select(window, [QUILL, HANK])
    files = {p.name: p for p in _drag(window)}
    assert sillytavern_read(files[f"{HANK}.png"].read_bytes())["data"]["first_mes"] == (
        EXTRAS.first_mes
    )
    assert sillytavern_read(files[f"{QUILL}.png"].read_bytes())["data"]["first_mes"] == ""
    assert said[2].startswith(f"“{QUILL}” has no card extras, so its card has no greeting")
    assert HANK not in said[2]

    # The editor's Card tab says what a card exported now lacks, until extras are saved.
    window.show_persona(quill)
    editor = window.editor
    qtbot.waitUntil(lambda: editor.persona_id == quill, timeout=15_000)
    panel = editor.card_panel
    assert panel.empty_hint.isVisibleTo(panel)
    assert "a card exported now has no greeting" in panel.empty_hint.text()
    panel.greeting.setPlainText("Welcome to the stacks.")
    assert editor.is_dirty()
    _select(window, [QUILL])
    (dragged,) = _drag(window)
    assert sillytavern_read(dragged.read_bytes())["data"]["first_mes"] == ""  # the saved ones
    assert f"The Card tab of “{QUILL}” has changes that are not saved" in said[3]
    with qtbot.waitSignal(editor.saved, timeout=15_000):
        assert editor.save()
    assert not panel.empty_hint.isVisibleTo(panel)
    _select(window, [QUILL])
    (dragged,) = _drag(window)
    assert sillytavern_read(dragged.read_bytes())["data"]["first_mes"] == "Welcome to the stacks."
    assert len(said) == 4  # nothing more to say: it has card extras now
