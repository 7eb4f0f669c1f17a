"""Edit › Prompt templates…: a saved user copy is what the next library load uses; Restore
shipped brings the shipped one back; a bad placeholder is refused with the reason shown."""

from __future__ import annotations

from persona_studio.engine.request import SUBFORUM_EXPERT
from persona_studio.engine.templates import CRITIQUE, TemplateLibrary
from persona_studio.ui.template_editor import TemplateEditorDialog


def test_edit_save_refuse_restore(qtbot, window) -> None:
    edit_menu = window.menuBar().actions()[1].menu()
    action = next(a for a in edit_menu.actions() if a.text() == "Prompt &templates…")
    action.trigger()
    dialog = window.findChild(TemplateEditorDialog)
    assert dialog is not None and dialog.isVisible()

    dialog.stage.setCurrentIndex(dialog.stage.findData(CRITIQUE))
    dialog.generation_type.setCurrentIndex(dialog.generation_type.findData(SUBFORUM_EXPERT))
    shipped = TemplateLibrary().shipped(CRITIQUE, SUBFORUM_EXPERT)
    assert dialog.text.toPlainText() == shipped.text
    assert dialog.info.text().startswith(f"Source: shipped · version {shipped.version}")
    assert not dialog.save_button.isEnabled() and not dialog.restore_button.isEnabled()

    edited = shipped.text + "\nKeep the review under ten bullet points.\n"
    dialog.text.setPlainText(edited)
    assert dialog.save_button.isEnabled()
    assert not dialog.stage.isEnabled()  # save or revert before switching
    assert dialog.save()
    fresh = TemplateLibrary().get(CRITIQUE, SUBFORUM_EXPERT)
    assert (fresh.source, fresh.text) == ("user", edited)
    assert dialog.info.text().startswith(f"Source: your copy · version {fresh.version}")
    assert dialog.restore_button.isEnabled() and dialog.stage.isEnabled()

    # An unknown placeholder: the reason is shown, the saved copy is untouched.
    dialog.text.setPlainText(edited + "{{favourite_colour}}")
    assert not dialog.save()
    assert dialog.error.isVisible() and "favourite_colour" in dialog.error.text()
    assert TemplateLibrary().get(CRITIQUE, SUBFORUM_EXPERT).text == edited
    dialog.revert_button.click()
    assert dialog.text.toPlainText() == edited and not dialog.error.isVisible()

    dialog.restore_button.click()
    restored = TemplateLibrary().get(CRITIQUE, SUBFORUM_EXPERT)
    assert (restored.source, restored.text) == ("shipped", shipped.text)
    assert dialog.text.toPlainText() == shipped.text
    assert not dialog.restore_button.isEnabled()
    dialog.reject()
    assert not dialog.isVisible()
