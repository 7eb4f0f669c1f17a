"""Personas in FORLLM's tables: ours and FORLLM's own (fallback, Archivist Quill, Homelab Hank)."""

from __future__ import annotations

from typing import Any

import pytest

from persona_studio.errors import NameTakenError, NotFoundError, StoreError
from persona_studio.store import NewPersona, Store
from tests.store.sqlite_helpers import sql as _sql


def _manual(name: str, text: str | None = None, **kwargs: Any) -> NewPersona:
    return NewPersona(name, text or f"You are {name}.", None, None, **kwargs)


def test_create_writes_persona_and_version_one(store: Store) -> None:
    saved = store.personas.create(_manual("Nova"))
    assert (saved.name, saved.version, saved.requested_name, saved.renamed) == (
        "Nova",
        1,
        "Nova",
        False,
    )
    persona = store.personas.get(saved.persona_id)
    assert (persona.generation_source, persona.generation_input_details) == ("user_manual", None)
    assert (persona.created_by_user, persona.version, persona.is_active) == (1, 1, True)
    assert persona.created_at == persona.updated_at and persona.created_at is not None
    assert [
        (v.version, v.prompt_instructions) for v in store.personas.versions(saved.persona_id)
    ] == [(1, "You are Nova.")]
    assert _sql(
        store.path,
        "SELECT updated_by_user FROM persona_versions WHERE persona_id = ?",
        (saved.persona_id,),
    ) == [(1,)]
    assert store.personas.generation_info(saved.persona_id) is None


def test_name_clash_gets_a_numbered_variant(store: Store) -> None:
    second = store.personas.create(_manual("Homelab Hank"))
    assert (second.name, second.requested_name, second.renamed) == (
        "Homelab Hank (2)",
        "Homelab Hank",
        True,
    )
    third = store.personas.create(_manual("Homelab Hank"))
    assert third.name == "Homelab Hank (3)"
    # Asking for a numbered name that is taken moves on from its number.
    assert store.personas.create(_manual("Homelab Hank (2)")).name == "Homelab Hank (4)"
    assert store.personas.unique_name("Homelab Hank") == "Homelab Hank (5)"
    assert store.personas.unique_name("  Brand   New  ") == "Brand New"


def test_names_clash_ignoring_case(store: Store) -> None:
    saved = store.personas.create(_manual("homelab HANK"))
    assert (saved.name, saved.renamed) == ("homelab HANK (2)", True)
    assert store.personas.create(_manual("ARCHIVIST QUILL")).name == "ARCHIVIST QUILL (2)"


def test_names_clash_with_deleted_personas(store: Store) -> None:
    quill = store.personas.get_by_name("Archivist Quill")
    store.personas.delete(quill.persona_id)
    saved = store.personas.create(_manual("Archivist Quill"))
    assert saved.name == "Archivist Quill (2)"  # FORLLM's UNIQUE index covers inactive rows


def test_names_with_like_wildcards_are_literal(store: Store) -> None:
    store.personas.create(_manual("100% Pure_Tone"))
    assert store.personas.create(_manual("100% Pure_Tone")).name == "100% Pure_Tone (2)"
    assert store.personas.unique_name("100_ Pure%Tone") == "100_ Pure%Tone"


def test_bad_names_and_texts(store: Store) -> None:
    with pytest.raises(StoreError, match="needs a name"):
        store.personas.create(_manual("   "))
    with pytest.raises(StoreError, match="cannot be empty"):
        store.personas.create(NewPersona("Blank", "  \n", None, None))


def test_get_and_get_by_name(store: Store) -> None:
    hank = store.personas.get_by_name("homelab hank")
    assert hank.name == "Homelab Hank"
    assert hank.generation_source == "llm_generated_from_name_and_description"
    assert hank.generation_input_details == {
        "name_hint": "Homelab Hank",
        "description_hint": "Grizzled home-lab tinkerer who helps with NAS and networking problems",
    }
    assert store.personas.get(hank.persona_id) == hank
    with pytest.raises(NotFoundError, match="no persona with id 999"):
        store.personas.get(999)
    with pytest.raises(NotFoundError, match="no persona called 'Nobody'"):
        store.personas.get_by_name("Nobody")


def test_unparseable_generation_details_read_as_none(store: Store) -> None:
    _sql(store.path, "UPDATE personas SET generation_input_details = '[1, 2' WHERE persona_id = 3")
    assert store.personas.get(3).generation_input_details is None


def test_save_edit_adds_a_version_like_forllms_update_persona(store: Store) -> None:
    quill = store.personas.get_by_name("Archivist Quill")
    assert quill.version == 2
    edited = store.personas.save_edit(quill.persona_id, "You are Quill. Be brief.")
    assert (edited.version, edited.name) == (3, "Archivist Quill")
    after = store.personas.get(quill.persona_id)
    assert (after.version, after.prompt_instructions) == (3, "You are Quill. Be brief.")
    assert after.updated_at is not None and after.updated_at > quill.updated_at
    renamed = store.personas.save_edit(quill.persona_id, "You are Q.", name="Q the Archivist")
    assert (renamed.version, renamed.name) == (4, "Q the Archivist")
    with pytest.raises(NameTakenError, match="already called 'homelab hank'"):
        store.personas.save_edit(quill.persona_id, "x", name="homelab hank")
    assert store.personas.get(quill.persona_id).version == 4


def test_versions_dedupe_forllms_repeated_fallback_rows(store: Store) -> None:
    rows = _sql(store.path, "SELECT COUNT(*) FROM persona_versions WHERE persona_id = 1")
    assert rows == [(2,)]  # FORLLM re-inserts it on every start
    versions = store.personas.versions(1)
    assert [(v.version, v.prompt_instructions) for v in versions] == [
        (1, "You are a helpful assistant.")
    ]
    store.personas.save_edit(1, "You are a helpful, concise assistant.")
    assert [v.version for v in store.personas.versions(1)] == [1, 2]
    with pytest.raises(NotFoundError):
        store.personas.versions(999)


def test_restore_writes_the_old_text_as_a_new_version(store: Store) -> None:
    quill = store.personas.get_by_name("Archivist Quill")
    v1 = store.personas.versions(quill.persona_id)[0]
    restored = store.personas.restore(quill.persona_id, 1)
    assert (restored.version, restored.prompt_instructions) == (3, v1.prompt_instructions)
    assert [v.version for v in store.personas.versions(quill.persona_id)] == [1, 2, 3]
    assert store.personas.get(quill.persona_id).prompt_instructions == v1.prompt_instructions
    with pytest.raises(NotFoundError, match="has no version 9"):
        store.personas.restore(quill.persona_id, 9)


def test_restore_keeps_a_current_text_that_had_no_version_row(store: Store) -> None:
    # Edited outside update_persona (or by a FORLLM older than persona_versions).
    _sql(
        store.path,
        "UPDATE personas SET prompt_instructions = 'Hand-patched text.' WHERE persona_id = 3",
    )
    restored = store.personas.restore(3, 1)
    texts = [(v.version, v.prompt_instructions) for v in store.personas.versions(3)]
    assert ("Hand-patched text." in {t for _, t in texts}) and restored.version == 2
    assert texts[-1] == (2, restored.prompt_instructions)


def test_rename(store: Store) -> None:
    hank = store.personas.get_by_name("Homelab Hank")
    store.personas.rename(hank.persona_id, "HOMELAB HANK")  # own name in other case: fine
    store.personas.rename(hank.persona_id, "Hank of the Homelab")
    after = store.personas.get(hank.persona_id)
    assert (after.name, after.version) == ("Hank of the Homelab", hank.version)
    assert [v.name for v in store.personas.versions(hank.persona_id)] == ["Homelab Hank"]
    with pytest.raises(NameTakenError, match="Archivist Quill"):
        store.personas.rename(hank.persona_id, "Archivist Quill")
    with pytest.raises(NotFoundError):
        store.personas.rename(999, "Anyone")


def test_delete_hides_like_forllm_and_purge_removes_everything(store: Store) -> None:
    saved = store.personas.create(_manual("Temp", subforum_id=1))
    store.personas.delete(saved.persona_id)
    assert _sql(
        store.path, "SELECT is_active FROM personas WHERE persona_id = ?", (saved.persona_id,)
    ) == [(0,)]
    assert saved.persona_id not in {p.persona_id for p in store.personas.list()}
    assert saved.persona_id in {p.persona_id for p in store.personas.list(include_inactive=True)}
    assert not store.personas.get(saved.persona_id).is_active

    claimed = store.queue.claim("w")
    assert claimed is not None
    made = store.queue.complete(
        claimed.request_id,
        "w",
        NewPersona("Made", "You are Made.", "subforum_expert", {}, subforum_id=2),
    )
    for persona_id in (saved.persona_id, made.persona_id):
        store.personas.purge(persona_id)
        with pytest.raises(NotFoundError):
            store.personas.get(persona_id)
        for table in ("persona_versions", "subforum_personas", "ps_persona_generation"):
            assert _sql(
                store.path, f"SELECT COUNT(*) FROM {table} WHERE persona_id = ?", (persona_id,)
            ) == [(0,)], table
    assert store.queue.get(claimed.request_id).persona_id is None


def test_forllms_default_persona_cannot_be_deleted(store: Store) -> None:
    with pytest.raises(StoreError, match="FORLLM's default persona"):
        store.personas.delete(1)
    with pytest.raises(StoreError, match="FORLLM's default persona"):
        store.personas.purge(1)
    store.settings.set("globalDefaultPersonaId", 2)
    with pytest.raises(StoreError, match="'Archivist Quill' is FORLLM's default persona"):
        store.personas.delete(2)


def test_subforum_links(store: Store) -> None:
    assert [p.name for p in store.personas.for_subforum(2)] == ["Homelab Hank"]
    saved = store.personas.create(_manual("Nas Nerd", subforum_id=2))
    assert [p.name for p in store.personas.for_subforum(2)] == ["Homelab Hank", "Nas Nerd"]
    link = _sql(
        store.path,
        "SELECT is_default_for_subforum, assigned_at FROM subforum_personas WHERE persona_id = ?",
        (saved.persona_id,),
    )
    assert len(link) == 1 and link[0][0] == 0 and link[0][1]
    # A subforum that vanished meanwhile does not lose the persona.
    orphan = store.personas.create(_manual("Orphan", subforum_id=99))
    assert store.personas.get(orphan.persona_id).name == "Orphan"
    assert store.personas.for_subforum(99) == []


def test_list_includes_forllms_personas_sorted_by_name(store: Store) -> None:
    names = [p.name for p in store.personas.list()]
    assert names == ["Archivist Quill", "fallback", "Homelab Hank"]  # case-insensitive
    hank = next(p for p in store.personas.list() if p.name == "Homelab Hank")
    assert hank.preview.startswith("## Persona Name: Homelab Hank")  # FORLLM's preamble skipped
    assert len(hank.preview) <= 160
    assert store.personas.count() == 3


def test_search_filter_sort_and_page(store: Store) -> None:
    store.personas.create(_manual("Zed", "A zealous METICULOUS zookeeper."))
    store.personas.create(
        NewPersona("Gen", "Generated text.", "subforum_expert", {"subforum_id": 1})
    )
    ids = {p.name: p.persona_id for p in store.personas.list(include_inactive=True)}
    store.personas.delete(ids["Zed"])

    def names(**kwargs: Any) -> list[str]:
        return [p.name for p in store.personas.list(**kwargs)]

    assert names(search="meticulous") == ["Archivist Quill"]
    assert names(search="meticulous", include_inactive=True) == ["Archivist Quill", "Zed"]
    assert names(search="HANK") == ["Homelab Hank"]
    assert names(search="%") == [] and names(search="_") == []
    assert names(source="llm_generated") == ["Gen", "Homelab Hank"]
    assert names(source="llm_generated_subforum_expert") == ["Gen"]
    # FORLLM's hand-made personas have NULL generation_source: they count as manual.
    assert names(source="user_manual") == ["Archivist Quill", "fallback"]
    assert names(source="user_manual", include_inactive=True) == [
        "Archivist Quill",
        "fallback",
        "Zed",
    ]
    assert names(order_by="name", descending=True) == [
        "Homelab Hank",
        "Gen",
        "fallback",
        "Archivist Quill",
    ]
    assert names(order_by="created")[-1] == "Gen"
    assert names(order_by="updated", descending=True)[0] == "Gen"
    assert names(order_by="source") == ["Homelab Hank", "Gen", "Archivist Quill", "fallback"]
    assert names(limit=2, offset=1) == ["fallback", "Gen"]
    assert store.personas.count(search="meticulous", include_inactive=True) == 2
    assert store.personas.count(source="llm_generated") == 2
    with pytest.raises(StoreError, match="Cannot sort personas by 'size'"):
        store.personas.list(order_by="size")  # type: ignore[arg-type]


def test_generation_info_falls_back_to_forllms_details(store: Store) -> None:
    hank = store.personas.get_by_name("Homelab Hank")
    assert store.personas.generation_info(hank.persona_id) == {
        "generation_type": "from_name_and_description",
        "input_details": hank.generation_input_details,
    }
    assert store.personas.generation_info(2) is None  # Quill was written by hand
    saved = store.personas.create(
        NewPersona(
            "Gen",
            "Generated.",
            "from_name_and_description",
            {"name_hint": "Gen"},
            output_preferences={"length": "concise"},
            model="smollm2",
        )
    )
    info = store.personas.generation_info(saved.persona_id)
    assert info is not None
    assert (info["model"], info["output_preferences"], info["input_details"]) == (
        "smollm2",
        {"length": "concise"},
        {"name_hint": "Gen"},
    )


def test_imported_and_manual_sources_are_stored_as_given(store: Store) -> None:
    imported = store.personas.create(
        NewPersona("Imported One", "From a file.", "imported", {"file": "one.json"})
    )
    manual = store.personas.create(NewPersona("By Hand", "Typed.", "user_manual", None))
    assert store.personas.get(imported.persona_id).generation_source == "imported"
    assert store.personas.get(imported.persona_id).generation_input_details == {"file": "one.json"}
    assert store.personas.get(manual.persona_id).generation_source == "user_manual"
    assert [p.name for p in store.personas.list(source="imported")] == ["Imported One"]
    assert store.personas.generation_info(imported.persona_id) is None
