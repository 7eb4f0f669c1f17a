"""The editor's Card tab and the list's tag filter in the real window: extras shown, edited,
saved with the persona and discarded; written on the worker thread (a scripted model for
the faults, the real default model once), model output replacing a field as one undoable
edit, garbage refused with a message and nothing lost; the fields round-trip through every
card format."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from persona_studio.export import export_persona, import_file, load_document, save_document
from persona_studio.llm.catalog import BackendPool
from persona_studio.store import CardExtras
from tests.scripted_backend import ScriptedBackend

QUILL = 2  # FORLLM's hand-written "Archivist Quill"
HANK = 3  # FORLLM-generated "Homelab Hank"
EXTRAS_TIMEOUT_MS = 180_000
CARD_TAB = 2


def _open(qtbot, window, persona_id: int):
    window.show_persona(persona_id)
    qtbot.waitUntil(lambda: window.editor.persona_id == persona_id, timeout=15_000)
    return window.editor


def test_the_card_tab_shows_edits_saves_and_discards_the_extras(qtbot, window) -> None:
    window.store.cards.save(
        HANK,
        CardExtras(
            first_mes="Hello.",
            alternate_greetings=("One.", "Two.", "Three."),
            tags=("homelab",),
        ),
    )
    editor = _open(qtbot, window, HANK)
    panel = editor.card_panel
    assert editor.checks_tabs.tabText(CARD_TAB) == "Card"
    assert panel.greeting.toPlainText() == "Hello."
    assert [e.toPlainText() for e in panel.alternates] == ["One.", "Two.", "Three."]
    assert panel.tags.text() == "homelab"
    assert not editor.is_dirty() and not editor.save_button.isEnabled()

    panel.scenario.setText("A garage full of servers.")
    panel.tags.setText("homelab, ZFS, homelab")
    assert editor.is_dirty() and editor.save_button.isEnabled()
    with qtbot.waitSignal(editor.saved, timeout=15_000):
        qtbot.keyClick(editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert editor.message.text() == "Card saved."  # the card alone: no new version
    assert window.store.personas.get(HANK).version == 1
    stored = window.store.cards.get(HANK)
    assert stored.scenario == "A garage full of servers." and stored.tags == ("homelab", "ZFS")
    assert not editor.is_dirty()

    # Text and card together: one save, a new version, the card kept.
    editor.text.setPlainText(editor.text.toPlainText() + "\nMore.")
    panel.greeting.setPlainText("Hi again.")
    with qtbot.waitSignal(editor.saved, timeout=15_000):
        editor.save()
    assert window.store.personas.get(HANK).version == 2
    assert window.store.cards.get(HANK).first_mes == "Hi again."
    assert panel.greeting.toPlainText() == "Hi again." and not editor.is_dirty()

    # Extras written elsewhere (export --card-extras) show up when the file changes.
    window.store.cards.save(HANK, CardExtras(first_mes="From the command line.", tags=("zfs",)))
    editor.reload()
    assert panel.greeting.toPlainText() == "From the command line." and not editor.is_dirty()
    window.store.cards.save(HANK, CardExtras(first_mes="Hi again.", tags=("homelab", "ZFS")))
    editor.reload()

    # The list filters by the tags; the filter offers every tag in the file.
    personas = window.personas
    personas.refresh()
    labels = [personas.tag.itemText(i) for i in range(personas.tag.count())]
    assert labels == ["All tags", "homelab (1)", "ZFS (1)"]
    personas.tag.setCurrentIndex(personas.tag.findData("ZFS"))
    qtbot.waitUntil(lambda: personas.model.total == 1, timeout=5_000)
    assert personas.count_label.text() == "1 persona tagged “ZFS”"
    personas.tag.setCurrentIndex(0)
    qtbot.waitUntil(lambda: personas.model.total > 1, timeout=5_000)


def test_model_output_fills_the_fields_as_undoable_edits_and_garbage_is_refused(
    qtbot, window, monkeypatch: pytest.MonkeyPatch
) -> None:
    replies = [
        "Quill: Well hello! Come in, mind the cables.\nUser: thanks",
        "## Core Identity:\nI am someone else now.",  # refused: the field keeps its text
        "Back again? Good. Let's look at the logs.",
        "I'm Hank. I run far too many servers.",
        "<|im_start|>",  # refused
        "We are in Hank's garage lab.",
        "homelab, servers, zfs, linux, mentor",
    ]
    threads: list[str] = []

    def scripted(self, model_id: str):
        threads.append(threading.current_thread().name)
        return ScriptedBackend(list(replies), model_id=model_id)

    monkeypatch.setattr(BackendPool, "get", scripted)
    window.store.cards.save(QUILL, CardExtras(alternate_greetings=("Kept, as I was.",)))
    editor = _open(qtbot, window, QUILL)
    panel = editor.card_panel
    panel.greeting.setPlainText("My own greeting.")
    progress: list[str] = []
    window.worker.extrasProgress.connect(lambda _id, key: progress.append(key))
    with qtbot.waitSignal(window.worker.extrasFinished, timeout=30_000) as finished:
        qtbot.mouseClick(panel.write_button, Qt.MouseButton.LeftButton)
        assert not panel.write_button.isEnabled() and panel.stop_button.isEnabled()
    outcome = finished.args[0]
    assert outcome.error is None and threads and threads[0] != threading.main_thread().name
    assert len(progress) == 7
    assert panel.greeting.toPlainText() == "Well hello! Come in, mind the cables."
    assert panel.alternates[0].toPlainText() == "Back again? Good. Let's look at the logs."
    assert panel.alternates[1].toPlainText() == ""  # only one usable alternate
    assert panel.example.toPlainText() == (
        "<START>\n{{user}}: Who are you?\n{{char}}: I'm Hank. I run far too many servers."
    )
    assert panel.tags.text() == "homelab, servers, zfs, linux, mentor"
    status = panel.status.text()
    assert "alternate greeting 1: the model said nothing usable; left as it was" in status
    assert "save to keep them" in status
    assert window.store.cards.get(QUILL).first_mes == ""  # nothing saved yet
    panel.greeting.undo()  # the writer's own text is one undo away
    assert panel.greeting.toPlainText() == "My own greeting."
    with qtbot.waitSignal(editor.saved, timeout=15_000):
        editor.save()
    stored = window.store.cards.get(QUILL)
    assert stored.first_mes == "My own greeting." and stored.model == panel._model()
    assert stored.alternate_greetings == ("Back again? Good. Let's look at the logs.",)

    # A model that cannot be loaded: said in words, nothing changed.
    monkeypatch.undo()
    editor.try_panel.select_model("gguf:/nonexistent/missing.gguf")
    with qtbot.waitSignal(window.worker.extrasFinished, timeout=15_000):
        assert panel.start()
    assert "Model file not found" in panel.status.text()
    assert panel.greeting.toPlainText() == "My own greeting." and not editor.is_dirty()


@pytest.mark.model
def test_the_default_model_writes_the_card_and_it_round_trips_through_every_format(
    qtbot, window, tmp_path: Path
) -> None:
    editor = _open(qtbot, window, HANK)
    panel = editor.card_panel
    with qtbot.waitSignal(window.worker.extrasFinished, timeout=EXTRAS_TIMEOUT_MS) as done:
        assert panel.start()
    assert done.args[0].error is None, done.args[0].error
    assert panel.status.text().startswith("Written by")
    # What a 135M model writes varies with the persona: some field may be refused (the
    # status says which); the card as a whole is never empty.
    assert panel.is_dirty() and not panel.current().is_empty()
    with qtbot.waitSignal(editor.saved, timeout=15_000):
        editor.save()
    written = window.store.cards.get(HANK)
    assert written is not None and written.model == panel._model()
    for fmt in ("card-v2", "card-v3", "card-png", "json"):
        path = export_persona(load_document(window.store, "Homelab Hank"), fmt, tmp_path)
        [doc] = import_file(path)
        saved = save_document(window.store, doc).saved
        back = window.store.cards.get(saved.persona_id)
        assert back is not None and back.same_content(written), fmt
