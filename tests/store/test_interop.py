"""After everything we write, FORLLM still reads the file the way it does."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime

from persona_studio.store import NewPersona, Store

# llm_queue.llm_worker() at 06129a5, verbatim.
FORLLM_WORKER_PICK = (
    "SELECT request_id, post_id_to_respond_to, llm_model, llm_persona, request_type, "
    "request_params FROM llm_requests WHERE status = 'pending' ORDER BY requested_at ASC LIMIT 1"
)
TIMESTAMP_COLUMNS = {
    "personas": ("created_at", "updated_at"),
    "persona_versions": ("updated_at",),
    "llm_requests": ("requested_at", "processed_at"),
    "subforum_personas": ("assigned_at",),
    "ps_jobs": ("claimed_at", "heartbeat_at"),
    "ps_persona_generation": ("created_at",),
    "ps_schema_migrations": ("applied_at",),
    "ps_ratings": ("rated_at",),
    "ps_template_versions": ("first_seen_at",),
}
FORLLM_FORMAT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def _exercise(store: Store) -> None:
    """Every kind of write the store does."""
    q = store.queue
    ids = q.enqueue_many(
        [
            (
                {"generation_type": "from_name_and_description", "input_details": {"name_hint": n}},
                "m",
            )
            for n in ("Ada", "Bo", "Cy", "Di")
        ]
    )
    q.reorder(list(reversed(ids)))
    first = q.claim("w")
    assert first is not None
    q.heartbeat(first.request_id, "w", stage="expansion", tokens=12, tokens_per_s=3.5)
    q.complete(
        first.request_id,
        "w",
        NewPersona(
            "Ada",
            "You are Ada.",
            "from_name_and_description",
            {"name_hint": "Ada"},
            model="m",
            stats={"tokens": 12},
            subforum_id=1,
            template_versions={"expansion": "expansion/from_name_and_description@0123456789ab"},
            template_texts={
                "expansion/from_name_and_description@0123456789ab": (
                    "expansion",
                    "from_name_and_description",
                    "shipped",
                    "Brainstorm {{name_hint}}.",
                )
            },
        ),
    )
    second = q.claim("w")
    assert second is not None
    q.cancel(second.request_id)
    q.fail(second.request_id, "w", "Cancelled by the user.")
    q.retry(second.request_id)
    q.cancel(ids[0])
    q.remove(ids[1])
    forllm_job = next(j for j in q.list() if j.request.generation_type == "subforum_expert")
    q.cancel(forllm_job.request_id)

    p = store.personas
    quill = p.get_by_name("Archivist Quill").persona_id
    p.save_edit(quill, "You are Quill, terse now.")
    p.restore(quill, 1)
    p.rename(quill, "Quill the Archivist")
    p.rate(quill, 4, "Terse and exact.")
    saved = p.create(NewPersona("Homelab Hank", "A second Hank.", None, None, subforum_id=2))
    p.delete(saved.persona_id)
    store.subforums.set_description(2, "Home servers, NAS, networking.")
    store.settings.set("selectedModel", "llama3.1")


def test_forllm_reads_everything_we_wrote(store: Store) -> None:
    _exercise(store)
    conn = sqlite3.connect(store.path, detect_types=sqlite3.PARSE_DECLTYPES)
    conn.row_factory = sqlite3.Row
    try:
        # FORLLM's connections convert every TIMESTAMP column; a malformed value raises here.
        for table in (
            "personas",
            "persona_versions",
            "llm_requests",
            "subforum_personas",
            "subforums",
            "settings",
            "ps_ratings",
            "ps_template_versions",
        ):
            rows = conn.execute(f"SELECT * FROM {table}").fetchall()
            assert rows, table
            for row in rows:
                for column in TIMESTAMP_COLUMNS.get(table, ()):
                    assert row[column] is None or isinstance(row[column], datetime)
        picked = conn.execute(FORLLM_WORKER_PICK).fetchone()
        # FORLLM's worker would take the oldest pending row, its own respond job.
        assert picked["request_type"] is None and picked["post_id_to_respond_to"] is not None
        # FORLLM's list_personas() and get_subforum_details() (which needs our column).
        assert conn.execute("SELECT * FROM personas WHERE is_active = 1").fetchall()
        assert (
            conn.execute(
                "SELECT subforum_id, name, description FROM subforums WHERE subforum_id = 2"
            ).fetchone()["description"]
            == "Home servers, NAS, networking."
        )
    finally:
        conn.close()


def test_every_timestamp_we_write_has_forllms_text_form(store: Store) -> None:
    _exercise(store)
    conn = sqlite3.connect(store.path)
    try:
        for table, columns in TIMESTAMP_COLUMNS.items():
            for column in columns:
                values = [v for (v,) in conn.execute(f"SELECT {column} FROM {table}") if v]
                assert values, (table, column)
                bad = [v for v in values if not FORLLM_FORMAT.fullmatch(v)]
                assert not bad, (table, column, bad)
    finally:
        conn.close()


def test_generated_persona_looks_like_forllms_own(store: Store) -> None:
    job = store.queue.enqueue({"generation_type": "from_name_and_description"}, "m")
    claimed = store.queue.claim("w")
    assert claimed is not None and claimed.request_id == 6  # FORLLM's queued job comes first
    store.queue.fail(claimed.request_id, "w", "not now")
    claimed = store.queue.claim("w")
    assert claimed is not None and claimed.request_id == job
    details = {"name_hint": "Nell", "description_hint": "A patient gardener"}
    saved = store.queue.complete(
        job, "w", NewPersona("Nell", "You are Nell.", "from_name_and_description", details)
    )
    conn = sqlite3.connect(store.path)
    try:
        row = conn.execute(
            "SELECT name, generation_source, generation_input_details, created_by_user, version, "
            "is_active FROM personas WHERE persona_id = ?",
            (saved.persona_id,),
        ).fetchone()
        request = conn.execute(
            "SELECT status, error_message, request_type FROM llm_requests WHERE request_id = ?",
            (job,),
        ).fetchone()
    finally:
        conn.close()
    assert row == (
        "Nell",
        "llm_generated_from_name_and_description",
        '{"name_hint": "Nell", "description_hint": "A patient gardener"}',
        1,
        1,
        1,
    )
    assert request == ("complete", None, "generate_persona")
