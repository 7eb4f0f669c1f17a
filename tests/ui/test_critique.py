"""The critique option of the generate form, and the stream view's header for its stage."""

from __future__ import annotations

from types import SimpleNamespace

from persona_studio.engine.request import (
    APP_OPTIONS_KEY,
    FROM_NAME_AND_DESCRIPTION,
    SUBFORUM_EXPERT,
)
from persona_studio.ui.generate_form import GenerateForm
from persona_studio.ui.stream_view import StreamView

HOME_LAB = 2


def test_critique_checkbox_sets_app_option(qtbot, qt_loop, prefs, store) -> None:
    form = GenerateForm(prefs)
    qtbot.addWidget(form)
    form.set_store(store)
    form.set_generation_type(FROM_NAME_AND_DESCRIPTION)
    form.name_hint.setText("Quartermaster Vell")
    form.description.setPlainText("A ship's quartermaster who counts everything twice.")
    assert "critique stage" in form.critique.text()
    assert not form.critique.isChecked()
    (plain,) = form.build_requests()
    assert not plain.critique and "critique" not in plain.app_options

    form.critique.setChecked(True)
    (request,) = form.build_requests()
    assert request.critique and request.app_options == {"critique": True}
    assert request.to_params()[APP_OPTIONS_KEY] == {"critique": True}  # what is queued

    form.set_generation_type(SUBFORUM_EXPERT)
    form.subforum.setCurrentIndex(form.subforum.findData(HOME_LAB))
    form.count.setValue(2)
    form.focuses.setPlainText("Storage\nNetworking")
    assert all(r.critique for r in form.build_requests())


def test_stream_view_headers_number_the_critique_stage(qtbot) -> None:
    view = StreamView()
    qtbot.addWidget(view)
    view.start_job(7, "Vell", "")
    view.append(7, "expansion", "ideas…", 3, 1.0)
    view.append(7, "critique", "the ideas conflict…", 6, 1.0)
    view.append(7, "refinement", "## Core Identity", 9, 1.0)
    view.finish(SimpleNamespace(request_id=7, persona_id=None, cancelled=True))
    text = view.text.toPlainText()
    assert "Stage 1 · Expansion: brainstorming ideas" in text
    assert "Stage 2 · Critique: reviewing the brainstorm" in text
    assert "Stage 3 · Refinement: writing the persona" in text
    assert view.stage_label.text() == "Refinement"
