"""The generate form on its own (no worker): subforum experts, batches that differ, the
subforum description saved to the file, the model picker and the preferences."""

from __future__ import annotations

import json

from PySide6.QtCore import QModelIndex, Qt

from persona_studio.engine.headings import DEFAULT_HEADINGS
from persona_studio.engine.request import SUBFORUM_EXPERT
from persona_studio.llm.catalog import DEFAULT_MODEL_ID
from persona_studio.ui.generate_form import DEFAULT_FOCUSES, GenerateForm
from persona_studio.ui.output_prefs import HeadingsEditor
from persona_studio.ui.preferences import PreferencesDialog
from tests.ui.conftest import queue_form

HOME_LAB = 2  # FORLLM's subforum; Homelab Hank is its expert


def _form(qtbot, prefs, store) -> GenerateForm:
    form = GenerateForm(prefs)
    qtbot.addWidget(form)
    form.show()
    form.set_store(store)
    form.set_generation_type(SUBFORUM_EXPERT)
    form.subforum.setCurrentIndex(form.subforum.findData(HOME_LAB))
    return form


def test_batch_of_experts_differ_and_avoid_existing_names(qtbot, qt_loop, prefs, store) -> None:
    form = _form(qtbot, prefs, store)
    assert [form.experts.item(i).text() for i in range(form.experts.count())] == ["Homelab Hank"]
    assert "Homelab Hank" in form.naming_note.text()

    form.subforum_description.setPlainText("Servers, NAS boxes and networks at home.")
    assert form.save_description.isEnabled()
    qtbot.mouseClick(form.save_description, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: form.description_status.text().startswith("Saved"), timeout=15_000)
    assert store.subforums.get(HOME_LAB).description == "Servers, NAS boxes and networks at home."
    assert not form.save_description.isEnabled()

    form.directives.setPlainText("Keep answers practical.")
    form.count.setValue(3)
    assert form.generate_button.text() == "Generate 3 experts"
    assert form.focuses.toPlainText().splitlines() == list(DEFAULT_FOCUSES[:3])
    ids = queue_form(qtbot, form)
    assert len(ids) == 3
    directives = []
    for request_id in ids:
        params = json.loads(store.queue.get(request_id).params_json)
        details = params["input_details"]
        assert details["subforum_id"] == HOME_LAB and details["subforum_name"] == "Home Lab"
        assert details["subforum_description"] == "Servers, NAS boxes and networks at home."
        assert "Keep answers practical." in details["additional_directives"]
        # No naming directive: it would become a line of the persona; the engine picks a
        # name unlike the file's instead.
        assert "name" not in details["additional_directives"].casefold()
        directives.append(details["additional_directives"])
    assert len(set(directives)) == 3  # one focus line each
    assert "Queued 3 jobs" in form.result.text()

    # Fewer focus lines than experts: said next to the focus box, nothing queued.
    form.count.setValue(4)
    form.focuses.setPlainText("Only one focus.")
    assert not form.generate()
    assert form.focuses_error.isVisible()
    assert "4 needed, 1 given" in form.focuses_error.text()
    assert len(store.queue.list()) == 3 + 1  # ours + FORLLM's own job


def test_experts_open_in_the_editor_on_double_click(qtbot, qt_loop, prefs, store) -> None:
    form = _form(qtbot, prefs, store)
    item = form.experts.item(0)
    with qtbot.waitSignal(form.personaRequested) as opened:
        form.experts.itemDoubleClicked.emit(item)
    assert opened.args == [3]


def test_model_picker_lists_unreachable_endpoints(qtbot, qt_loop, prefs, store) -> None:
    prefs.endpoints = ["http://127.0.0.1:9/v1"]  # nothing listens on the discard port
    form = GenerateForm(prefs)
    qtbot.addWidget(form)
    picker = form.model_picker
    assert picker.model_id() == DEFAULT_MODEL_ID  # usable before the listing ends
    form.set_store(store)
    qtbot.waitUntil(lambda: len(picker.tasks) == 0, timeout=30_000)
    labels = [picker.combo.itemText(i) for i in range(picker.combo.count())]
    assert any("127.0.0.1:9" in label and "not available" in label for label in labels)
    assert "127.0.0.1:9" in picker.status.text()
    assert picker.model_id() == DEFAULT_MODEL_ID


def test_preferences_dialog_saves_to_qsettings(qtbot, prefs) -> None:
    dialog = PreferencesDialog(prefs)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.endpoint_edit.setText("not a url")
    dialog.endpoint_edit.returnPressed.emit()
    assert dialog.endpoint_error.isVisible()
    dialog.endpoint_edit.setText("http://127.0.0.1:8080/v1/")
    dialog.endpoint_edit.returnPressed.emit()
    dialog.threads.setValue(2)
    dialog.context.setValue(2048)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.accept()
    assert prefs.endpoints == ["http://localhost:11434/v1", "http://127.0.0.1:8080/v1"]
    assert prefs.model_settings.threads == 2 and prefs.model_settings.context_size == 2048
    assert prefs.theme == "dark"


def test_headings_checklist_orders_ticks_and_adds(qtbot) -> None:
    editor = HeadingsEditor()
    qtbot.addWidget(editor)
    items = editor.list
    assert tuple(items.item(i).text() for i in range(items.count())) == DEFAULT_HEADINGS
    assert editor.headings() == []  # the eight defaults: the request leaves them implicit

    items.setCurrentRow(1)
    assert not editor.up.isEnabled()  # nothing goes above the name
    items.setCurrentRow(7)
    editor.up.click()
    items.item(2).setCheckState(Qt.CheckState.Unchecked)
    editor.new_heading.setText("Favourite Sayings")
    editor.add_button.click()
    assert editor.headings() == [
        "Persona Name",
        "Core Identity",
        "Knowledge Domain & Expertise",
        "Speaking Style & Tone",
        "Interaction Guidelines & Behaviors",
        "Example Phrases",
        "Forbidden Actions & Topics",
        "Favourite Sayings",
    ]
    editor.new_heading.setText("core identity")
    editor.add_button.click()
    assert not editor.error.isHidden() and "already in the list" in editor.error.text()
    assert editor.remove.isEnabled()  # the custom heading is selected
    editor.remove.click()
    assert "Favourite Sayings" not in editor.headings()

    # A drag that drops a heading above the name: the name goes back on top.
    assert items.model().moveRow(QModelIndex(), 3, QModelIndex(), 0)
    qtbot.waitUntil(lambda: items.item(0).text() == "Persona Name", timeout=2_000)
