"""Finding, editing, saving, comparing and restoring a persona FORLLM made, in the window."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from persona_studio.ui.editor import LINE_ROLE
from persona_studio.ui.history import VERSION_ROLE, HistoryDialog
from persona_studio.ui.main_window import PERSONAS_TAB
from persona_studio.ui.persona_list import COL_NAME
from persona_studio.ui.queue_model import COL_NAME as COL_QUEUE_NAME
from persona_studio.ui.queue_model import COL_STATUS

QUILL = 2  # FORLLM's hand-written "Archivist Quill" in the fixture (two versions)
HANK = 3  # FORLLM-generated "Homelab Hank", version 1, with FORLLM's preamble
DUPLICATE = "\n## Core Identity:\nA second copy of the heading, by mistake.\n"


def _activate(qtbot, window) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=15_000)


def test_search_edit_save_diff_restore(qtbot, window) -> None:
    _activate(qtbot, window)
    # Ctrl+F: the search box of the persona list, on the Personas tab.
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == PERSONAS_TAB
    assert window.personas.search.hasFocus()
    qtbot.keyClicks(window.personas.search, "hank")
    model = window.personas.model
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=15_000)
    view = window.personas.view
    index = model.index(0, COL_NAME)
    qtbot.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center()
    )
    editor = window.editor
    qtbot.waitUntil(lambda: editor.persona_id == HANK, timeout=15_000)
    original = editor.text.toPlainText()
    assert "Version 1 · Generated: details" in editor.info.text()
    assert editor.issues_title.text() == "Structure check: OK"  # preamble and all
    assert not editor.save_button.isEnabled()

    # The live structure check flags a duplicate; clicking the issue goes to its line.
    edited = original + DUPLICATE
    editor.text.setPlainText(edited)
    qtbot.waitUntil(
        lambda: any(
            "appears more than once" in editor.issues.item(i).text()
            for i in range(editor.issues.count())
        ),
        timeout=3_000,
    )
    duplicate = next(
        editor.issues.item(i)
        for i in range(editor.issues.count())
        if "appears more than once" in editor.issues.item(i).text()
    )
    rect = editor.issues.visualItemRect(duplicate)
    qtbot.mouseClick(editor.issues.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    cursor = editor.text.textCursor()
    assert cursor.blockNumber() == duplicate.data(LINE_ROLE)
    assert cursor.block().text() == "## Core Identity:"
    assert "estimate" in editor.size_label.text()  # no model loaded in this test

    # Ctrl+S saves a new version.
    assert editor.save_button.isEnabled()
    qtbot.keyClick(editor.text, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: editor.persona.version == 2, timeout=15_000)
    assert not editor.is_dirty()
    assert [v.version for v in window.store.personas.versions(HANK)] == [1, 2]

    # History: a readable diff between the two versions, then Restore version 1.
    dialog = window.open_history(HANK)
    assert isinstance(dialog, HistoryDialog) and dialog.isVisible()
    dialog.compare(1, 2)
    diff = dialog.diff_view.toPlainText()
    assert "−" in diff and "+" in diff and "A second copy of the heading" in diff
    assert "version 1 → version 2" in diff
    version_one = next(
        dialog.list.item(i)
        for i in range(dialog.list.count())
        if dialog.list.item(i).data(VERSION_ROLE) == 1
    )
    dialog.list.setCurrentItem(version_one)
    assert dialog.restore_button.text() == "Restore version 1"
    qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "restored as version 3" in dialog.message.text(), timeout=15_000)
    qtbot.waitUntil(lambda: editor.persona.version == 3, timeout=15_000)
    assert editor.text.toPlainText() == original
    versions = window.store.personas.versions(HANK)
    assert [v.version for v in versions] == [1, 2, 3]
    assert versions[1].prompt_instructions == edited  # the replaced text is kept
    dialog.close()


def test_rename_shows_a_taken_name_next_to_the_field(qtbot, window) -> None:
    window.show_persona(QUILL)
    editor = window.editor
    editor.name_edit.setText("homelab hank")  # FORLLM's other persona, another case
    editor.name_edit.textEdited.emit("homelab hank")
    qtbot.mouseClick(editor.rename_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(editor.name_error.isVisible, timeout=15_000)
    assert "already called" in editor.name_error.text()

    editor.name_edit.setText("Quill the Archivist")
    editor.name_edit.textEdited.emit("Quill the Archivist")
    qtbot.mouseClick(editor.rename_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: editor.persona.name == "Quill the Archivist", timeout=15_000)
    assert not editor.name_error.isVisible()
    assert window.store.personas.get(QUILL).name == "Quill the Archivist"
    qtbot.waitUntil(
        lambda: (
            window.personas.model.index(window.personas.model.row_of(QUILL), COL_NAME).data()
            == "Quill the Archivist"
        ),
        timeout=5_000,
    )


def test_changes_from_another_program_appear(qtbot, window, forllm_db) -> None:
    """FORLLM (here: another connection to the file) edits a persona and queues a job; the
    window shows both without being told, through the data_version watcher."""
    from persona_studio.store import Store

    window.show_persona(QUILL)
    other = Store.open(forllm_db)
    try:
        other.personas.save_edit(QUILL, "You are Quill, edited in FORLLM.")
        qtbot.waitUntil(
            lambda: window.editor.text.toPlainText() == "You are Quill, edited in FORLLM.",
            timeout=5_000,
        )
        assert window.editor.persona.version == 3
        params = {
            "generation_type": "general_purpose_assistant",
            "input_details": {"name_hint": "Outsider"},
            "llm_model_for_generation": "gguf:/nonexistent/y.gguf",
        }
        request_id = other.queue.enqueue(params, "gguf:/nonexistent/y.gguf")
        model = window.queue.model
        qtbot.waitUntil(lambda: model.row_of(request_id) is not None, timeout=15_000)
        assert model.index(model.row_of(request_id), COL_QUEUE_NAME).data() == "Outsider"
        qtbot.waitUntil(
            lambda: model.index(model.row_of(request_id), COL_STATUS).data() == "Failed",
            timeout=30_000,
        )
    finally:
        other.close()


def test_delete_asks_and_refuses_forllms_default(qtbot, window, monkeypatch) -> None:
    answers: list[str] = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda *args, **kwargs: answers.append(args[1]) or QMessageBox.StandardButton.Yes,
    )
    window.show_persona(QUILL)
    with qtbot.waitSignal(window.editor.deleted, timeout=15_000):
        qtbot.mouseClick(window.editor.delete_button, Qt.MouseButton.LeftButton)
    assert answers == ["Delete persona"]
    qtbot.waitUntil(lambda: window.personas.model.row_of(QUILL) is None, timeout=15_000)
    assert window.editor.persona_id != QUILL  # the list moved on to a neighbour
    assert not window.store.personas.get(QUILL).is_active  # hidden the way FORLLM hides

    window.show_persona(1)  # FORLLM's fallback persona
    qtbot.mouseClick(window.editor.delete_button, Qt.MouseButton.LeftButton)
    message = window.editor.message
    qtbot.waitUntil(lambda: "default persona" in message.text(), timeout=15_000)
    assert message.isVisible()
    assert window.editor.persona_id == 1
