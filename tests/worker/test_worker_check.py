"""The worker and the persona check: the file's names go to the pipeline as names to avoid,
the check is saved with the persona, and the check stage reaches listeners (the queue's
stage). Through a scripted backend, fast; the real model's path is in tests/ui/test_check.py.
"""

from __future__ import annotations

import subprocess
import sys

from persona_studio.core.events import JobFinished, Retried, StageStarted, TextWritten
from persona_studio.engine.headings import DEFAULT_HEADINGS
from persona_studio.engine.pipeline import PersonaPipeline, PipelineConfig
from persona_studio.engine.templates import TemplateLibrary
from persona_studio.store import JobStatus, Store
from persona_studio.worker import Worker
from tests.scripted_backend import ScriptedBackend

REFINED = "\n".join(
    ["## Persona Name: Whoever"]
    + [f"## {h}:\nYou know servers and {h.lower()} well." for h in DEFAULT_HEADINGS[1:]]
)
ANSWERS = [
    "I run the Home Lab subforum.",
    "People call me the admin.",
    "Servers, storage and networks.",
    "Yes.",
]


HOME_LAB = {
    "generation_type": "subforum_expert",
    "input_details": {"subforum_name": "Home Lab", "subforum_description": "Servers"},
}


def one_check_pipeline(kind, backend, tmp_path):
    """One check per job: no rewrite, no other names and no other forms of introduction
    tried (those have their own tests in tests/engine/test_pipeline_faults.py), so each job
    takes exactly its scripted replies."""
    return kind(
        TemplateLibrary(user_dir=tmp_path),
        lambda _model: backend,
        PipelineConfig(
            retry_backoff_s=0,
            check_attempts=1,
            rename_attempts=0,
            introduction_attempts=0,
            seed=3,
        ),
    )


class SpyPipeline(PersonaPipeline):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.avoided: list[list[str]] = []

    def run(self, request, **kwargs):
        self.avoided.append(sorted(kwargs.get("avoid_names", ())))
        return super().run(request, **kwargs)


def test_names_differ_and_the_check_is_saved_with_the_persona(store: Store, tmp_path) -> None:
    backend = ScriptedBackend(["Brainstorm about servers.", REFINED, *ANSWERS] * 2)
    pipeline = one_check_pipeline(SpyPipeline, backend, tmp_path)
    params = {**HOME_LAB, "output_preferences": {"length_preference": "concise"}}
    first, second = store.queue.enqueue_many([(params, "scripted"), (params, "scripted")])
    updates = []
    worker = Worker(store, pipeline, listener=updates.append)
    assert worker.run_one(request_id=first) == first
    assert worker.run_one(request_id=second) == second

    before = ["Archivist Quill", "Homelab Hank", "fallback"]
    first_job, second_job = store.queue.get(first), store.queue.get(second)
    assert first_job.status == second_job.status == JobStatus.COMPLETE
    first_name = store.personas.get(first_job.persona_id).name
    second_name = store.personas.get(second_job.persona_id).name
    # The second job of the batch was told the first one's name, and chose another.
    assert pipeline.avoided == [before, sorted([*before, first_name])]
    assert first_name != second_name and {first_name, second_name}.isdisjoint(before)

    finished = [u for u in updates if isinstance(u, JobFinished)]
    for update, job in zip(finished, (first_job, second_job), strict=True):
        assert update.result.check is not None
        stored = store.personas.latest_check(job.persona_id)
        assert stored is not None and stored.version == 1
        assert stored.result == update.result.check.to_dict()
        assert stored.summary == update.result.check.summary()
        listed = [p for p in store.personas.list() if p.persona_id == job.persona_id]
        assert listed[0].check_summary == stored.summary
    # Listeners (the queue's live stage, the stream view) see the check stage and its text.
    check_events = [
        u
        for u in updates
        if isinstance(u, StageStarted | TextWritten | Retried) and u.stage == "check"
    ]
    assert isinstance(check_events[0], StageStarted)
    assert any(
        "Q: Who are you?\nA: I run the Home Lab subforum." in e.text
        for e in check_events
        if isinstance(e, TextWritten)
    )
    info = store.personas.generation_info(first_job.persona_id)
    assert info is not None and "check" in info["stats"]["stages"]


def test_the_worker_and_the_check_glue_import_no_qt() -> None:
    probe = (
        "import sys, persona_studio.worker, persona_studio.checks, persona_studio.cli; "
        "print([m for m in sys.modules if m.startswith(('PySide6', 'qasync', "
        "'persona_studio.ui'))])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_hints_come_from_the_request_that_made_the_persona(store: Store) -> None:
    from persona_studio.checks import hints_for, model_for
    from persona_studio.llm.catalog import DEFAULT_MODEL_ID

    # FORLLM's own generated persona: its type and input details are enough.
    words, may_be_ai = hints_for(store, 3, "Homelab Hank")
    assert words and may_be_ai is False
    assert model_for(store, 3) == DEFAULT_MODEL_ID  # FORLLM keeps no model with it
    # Written by hand: no request, so the persona's own text decides.
    assert hints_for(store, 2, "Archivist Quill") == ((), None)
    # A generation record no one could have written: no hints, no crash.
    store.personas.save_edit(2, "## Persona Name: Quill")
    from tests.store.sqlite_helpers import sql

    sql(
        store.path,
        "INSERT INTO ps_persona_generation (persona_id, version, request_params, model, "
        "created_at) VALUES (2, 9, ?, '  ', '2026-01-01 00:00:00')",
        ("[" * 100_000,),
    )
    assert hints_for(store, 2, "Quill") == ((), None)
    assert model_for(store, 2) == DEFAULT_MODEL_ID  # a blank model: the built-in one


def test_a_regenerate_into_a_persona_keeps_its_name_in_the_new_text(store: Store, tmp_path) -> None:
    # The first job chose a name; the second regenerates that persona. Its check is weak (no
    # answer gives the name) and other names would be tried for a new persona: not here.
    backend = ScriptedBackend(
        ["Brainstorm about servers.", REFINED, *ANSWERS, "More about servers.", REFINED, *ANSWERS]
    )
    pipeline = one_check_pipeline(PersonaPipeline, backend, tmp_path)
    params = HOME_LAB
    worker = Worker(store, pipeline)
    (first,) = store.queue.enqueue_many([(params, "scripted")])
    worker.run_one(request_id=first)
    persona_id = store.queue.get(first).persona_id
    name = store.personas.get(persona_id).name

    # Other names allowed (the default), other forms of introduction not: they would ask more.
    pipeline.config = PipelineConfig(
        retry_backoff_s=0, check_attempts=1, introduction_attempts=0, seed=4
    )
    again = {**params, "persona_studio": {"replaces_persona_id": persona_id}}
    (second,) = store.queue.enqueue_many([(again, "scripted")])
    worker.run_one(request_id=second)
    job = store.queue.get(second)
    assert job.status == JobStatus.COMPLETE and job.persona_id == persona_id
    assert not backend.replies  # one check, no other names tried
    persona = store.personas.get(persona_id)
    assert persona.version == 2 and persona.name == name
    assert f"## Persona Name: {name}" in persona.prompt_instructions
    assert f"You are {name}, the resident expert" in persona.prompt_instructions
