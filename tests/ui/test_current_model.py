"""The window's current model: the Generate form's picker sets it and follows it; the editor
measures with it and the Try it panel starts from it."""

from __future__ import annotations

from persona_studio.llm.catalog import DEFAULT_MODEL_ID
from persona_studio.ui.current_model import CurrentModel
from persona_studio.ui.generate_form import GenerateForm

OTHER = "gguf:/models/other-model.Q4_K_M.gguf"


def test_the_form_picker_sets_and_follows_the_current_model(qtbot, prefs) -> None:
    current = CurrentModel()
    form = GenerateForm(prefs, current_model=current)
    qtbot.addWidget(form)
    assert current.model_id() == form.model_picker.model_id() == DEFAULT_MODEL_ID
    assert current.entries() == form.model_picker.entries()
    changes: list[str] = []
    current.changed.connect(changes.append)

    form.model_picker.set_model_id(OTHER)  # a file chosen by path: listed, then selected
    assert current.model_id() == OTHER and changes == [OTHER]
    assert OTHER in [model_id for _label, model_id in current.entries()]
    assert prefs.last_model == OTHER

    current.set_model_id(DEFAULT_MODEL_ID)  # chosen elsewhere: the picker follows
    assert form.model_picker.model_id() == DEFAULT_MODEL_ID
    assert changes == [OTHER, DEFAULT_MODEL_ID]


def test_the_window_reads_the_current_model(qtbot, window) -> None:
    picker = window.form.model_picker
    picker.set_model_id(OTHER)
    assert window.current_model.model_id() == OTHER
    assert window.editor.current_model is window.current_model
    assert window.editor.try_panel.model_id() == OTHER  # it follows until a model is picked
