import pytest

from persona_studio.engine.request import GENERATION_TYPES
from persona_studio.engine.templates import CRITIQUE, EXPANSION, REFINEMENT, TemplateLibrary
from persona_studio.errors import TemplateError


def test_shipped_templates_load_for_every_type_and_stage(tmp_path):
    library = TemplateLibrary(user_dir=tmp_path)
    for gtype in GENERATION_TYPES:
        for stage in (EXPANSION, CRITIQUE, REFINEMENT):
            template = library.get(stage, gtype)
            assert template.source == "shipped"
            assert template.version.startswith(f"{stage}/{gtype}@")
            assert len(template.content_hash) == 12


def test_rendering_is_one_pass_user_text_stays_literal(tmp_path):
    template = TemplateLibrary(user_dir=tmp_path).get(EXPANSION, "from_name_and_description")
    values = dict.fromkeys(template.variables, "")
    values["name_hint"] = "{{description_hint}}"
    values["description_hint"] = "{{name_hint}} and }}{{ {{unknown}}"
    text = template.render(values)
    assert "Name: {{description_hint}}" in text
    assert "Description: {{name_hint}} and }}{{ {{unknown}}" in text


def test_user_override_wins_and_changes_version(tmp_path):
    shipped = TemplateLibrary(user_dir=tmp_path).get(EXPANSION, "general_purpose_assistant")
    (tmp_path / "expansion").mkdir()
    (tmp_path / "expansion" / "general_purpose_assistant.txt").write_text(
        "Brainstorm an assistant called {{name_hint}} in {{word_target}} words.", encoding="utf-8"
    )
    override = TemplateLibrary(user_dir=tmp_path).get(EXPANSION, "general_purpose_assistant")
    assert override.source == "user"
    assert override.version != shipped.version
    assert override.version.startswith("expansion/general_purpose_assistant@")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Hello {{no_such_variable}}", "unknown variable"),
        ("Hello {{name_hint}", "not a valid placeholder"),
        ("   ", "is empty"),
    ],
)
def test_bad_user_template_fails_when_loaded(tmp_path, text, message):
    (tmp_path / "refinement").mkdir()
    (tmp_path / "refinement" / "subforum_expert.txt").write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match=message) as info:
        TemplateLibrary(user_dir=tmp_path)
    assert "refinement/subforum_expert.txt" in str(info.value)


def test_expansion_may_not_use_refinement_only_variables(tmp_path):
    (tmp_path / "expansion").mkdir()
    (tmp_path / "expansion" / "subforum_expert.txt").write_text(
        "Use {{brainstormed_text}}", encoding="utf-8"
    )
    with pytest.raises(TemplateError, match="brainstormed_text"):
        TemplateLibrary(user_dir=tmp_path)


def test_saving_a_user_copy_is_checked_used_and_restorable(tmp_path):
    library = TemplateLibrary(user_dir=tmp_path)
    shipped = library.get(REFINEMENT, "subforum_expert")
    with pytest.raises(TemplateError, match="unknown variable"):
        library.save_user_template(REFINEMENT, "subforum_expert", "Use {{nope}}")
    assert library.get(REFINEMENT, "subforum_expert") == shipped  # nothing half-saved
    assert not (tmp_path / "refinement" / "subforum_expert.txt").exists()

    edited = library.save_user_template(REFINEMENT, "subforum_expert", shipped.text + "\nBe brief.")
    assert edited.source == "user" and edited.version != shipped.version
    assert library.get(REFINEMENT, "subforum_expert") == edited
    assert library.shipped(REFINEMENT, "subforum_expert").text == shipped.text
    assert library.changes_since({"refinement": shipped.version}) == [
        f"The refinement template has changed since this persona was made ({shipped.version} "
        f"then, {edited.version} now, user copy)."
    ]
    restored = library.restore_shipped(REFINEMENT, "subforum_expert")
    assert restored.version == shipped.version and restored.source == "shipped"
    assert library.changes_since({"refinement": shipped.version}) == []


def test_refresh_picks_up_a_copy_saved_by_another_library(tmp_path):
    worker_side = TemplateLibrary(user_dir=tmp_path)
    window_side = TemplateLibrary(user_dir=tmp_path)
    before = worker_side.get(EXPANSION, "general_purpose_assistant")
    assert worker_side.refresh() == []
    window_side.save_user_template(
        EXPANSION, "general_purpose_assistant", "Brainstorm {{persona_label}} briefly."
    )
    changed = worker_side.refresh()
    assert [t.name for t in changed] == ["expansion/general_purpose_assistant"]
    assert worker_side.get(EXPANSION, "general_purpose_assistant").version != before.version
    window_side.restore_shipped(EXPANSION, "general_purpose_assistant")
    worker_side.refresh()
    assert worker_side.get(EXPANSION, "general_purpose_assistant").version == before.version
