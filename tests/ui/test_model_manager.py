"""The Models dialog on the real window: the catalog, the recommendation, a download from a
hub on 127.0.0.1 with its progress and Cancel, and the model in every model list after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt

from persona_studio import paths
from persona_studio.llm.model_catalog import find_entry
from persona_studio.ui.model_manager import COL_MODEL, COL_STATUS
from persona_studio.ui.regenerate_dialog import RegenerateDialog
from tests.hub_server import FakeHub, HubFile, builtin_gguf

ENTRY = find_entry("qwen2.5-1.5b")


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    server = FakeHub().start()
    yield server
    server.stop()


def _open(qtbot, window, hub):
    window.hub_endpoint = hub.hub_url
    qtbot.mouseClick(window.form.model_picker.more_button, Qt.MouseButton.LeftButton)
    dialog = window.model_manager
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_catalog_and_recommendation_are_shown(qtbot, window, hub) -> None:
    dialog = _open(qtbot, window, hub)
    assert dialog.table.rowCount() == len(dialog.entries) >= 6
    assert "GB of memory" in dialog.advice.text()
    best = dialog.recommendation.entry
    if best is not None:
        assert dialog.advice.text().startswith(f"Recommended for this machine: {best.name}.")
        row = [e.id for e in dialog.entries].index(best.id)
        assert "recommended" in dialog.table.item(row, COL_MODEL).text()
        assert dialog.selected_entry() == best


def test_a_download_shows_progress_and_lands_in_every_model_list(qtbot, window, hub) -> None:
    hub.add(ENTRY.repo, ENTRY.file, HubFile(builtin_gguf().read_bytes(), chunk_delay=0.01))
    regenerate = window.open_regenerate(window.store.personas.list()[0].persona_id)
    assert isinstance(regenerate, RegenerateDialog)
    dialog = _open(qtbot, window, hub)
    dialog.select(ENTRY.id)
    texts: list[str] = []
    dialog._relay.progress.connect(lambda p: texts.append(p.describe()))
    with qtbot.waitSignal(dialog.downloaded, timeout=120_000) as done:
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
        assert dialog.cancel_button.isEnabled() and not dialog.download_button.isEnabled()
    assert done.args == [ENTRY.model_id]
    assert any(" of " in t and "/s" in t for t in texts), texts
    assert any("left" in t for t in texts), texts
    row = [e.id for e in dialog.entries].index(ENTRY.id)
    assert dialog.table.item(row, COL_STATUS).text() == "In the models folder"
    assert "is in the models folder" in dialog.progress_text.text()
    assert (paths.models_dir() / ENTRY.file).is_file()

    picker = window.form.model_picker
    qtbot.waitUntil(lambda: picker.model_id() == ENTRY.model_id, timeout=20_000)
    try_panel = window.editor.try_panel
    assert try_panel.model.findData(ENTRY.model_id) >= 0
    qtbot.waitUntil(
        lambda: regenerate.model_picker.combo.findData(ENTRY.model_id) >= 0, timeout=20_000
    )
    regenerate.reject()


def test_cancel_leaves_nothing_and_says_so(qtbot, window, hub) -> None:
    hub.add(ENTRY.repo, ENTRY.file, HubFile(builtin_gguf().read_bytes(), chunk_delay=0.05))
    dialog = _open(qtbot, window, hub)
    dialog.select(ENTRY.id)
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: " of " in dialog.progress_text.text(), timeout=30_000)
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.downloading, timeout=30_000)
    assert dialog.message.text().startswith("Download cancelled")
    models = paths.models_dir()
    assert [p for p in models.rglob("*") if p.name.endswith((".gguf", ".incomplete"))] == []
    assert dialog.download_button.isEnabled()
