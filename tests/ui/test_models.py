"""The item models over a real FORLLM-made file, checked by QAbstractItemModelTester while
the data under them changes; no model is loaded here."""

from __future__ import annotations

import random

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from persona_studio.store import NewPersona
from persona_studio.ui.persona_list import (
    COL_NAME,
    COL_SOURCE,
    COL_UPDATED,
    PAGE_SIZE,
    PERSONA_ID_ROLE,
    PersonaListModel,
)
from persona_studio.ui.queue_model import (
    COL_NAME as QUEUE_COL_NAME,
)
from persona_studio.ui.queue_model import (
    COL_PROGRESS,
    COL_STAGE,
    COL_STATUS,
    STATUS_ROLE,
    QueueModel,
)
from persona_studio.ui.rowdiff import sync_rows


def _params(name: str) -> dict:
    return {
        "generation_type": "from_name_and_description",
        "input_details": {"name_hint": name},
        "output_preferences": {"length_preference": "concise"},
        "llm_model_for_generation": "gguf:SmolLM2-135M-Instruct.Q4_1.gguf",
        "target_persona_name_override": "",
    }


class _Rows(QAbstractTableModel):
    def __init__(self, rows: list[tuple[int, str]]) -> None:
        super().__init__()
        self.rows = list(rows)

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else 2

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and index.isValid():
            return self.rows[index.row()][index.column()]
        return None


def test_sync_rows_emits_consistent_signals(qtbot, qtmodeltester) -> None:
    rng = random.Random(7)
    model = _Rows([(i, f"row {i}") for i in range(12)])
    qtmodeltester.check(model)
    changed: list[int] = []
    model.dataChanged.connect(lambda top, _bottom, *_: changed.append(top.row()))
    for step in range(40):
        pool = list(range(30))
        rng.shuffle(pool)
        wanted = [(k, f"row {k}" + ("*" if rng.random() < 0.2 else "")) for k in pool[:15]]
        if step % 3 == 0:  # mostly stable orders, as between two queue polls
            wanted.sort()
        sync_rows(model, model.rows, wanted, lambda row: row[0])
        assert model.rows == wanted
    assert changed  # text changes came as dataChanged, not as remove + insert


def test_queue_model_follows_the_store(qtbot, qtmodeltester, store) -> None:
    model = QueueModel()
    model.set_subforum_names({s.subforum_id: s.name for s in store.subforums.list()})
    model.set_jobs(store.queue.list())
    qtmodeltester.check(model)

    # FORLLM's own generate_persona job is there, named after its subforum.
    forllm = model.index(model.row_of(6), QUEUE_COL_NAME).data()
    assert forllm == "Expert for Home Lab"

    ids = store.queue.enqueue_many([(_params(f"P{i}"), "gguf:x.gguf") for i in range(4)])
    model.set_jobs(store.queue.list())
    assert [j.request_id for j in model.jobs()] == [j.request_id for j in store.queue.list()]
    assert {model.index(model.row_of(i), COL_STATUS).data(STATUS_ROLE) for i in ids} == {"pending"}

    store.queue.reorder([ids[3], ids[0]])
    store.queue.cancel(ids[1])
    store.queue.remove(ids[2])
    model.set_jobs(store.queue.list())
    assert [j.request_id for j in model.jobs()] == [j.request_id for j in store.queue.list()]
    assert model.row_of(ids[2]) is None
    assert model.index(model.row_of(ids[1]), COL_STATUS).data() == "Cancelled"

    claimed = store.queue.claim("test-owner")
    model.set_jobs(store.queue.list())
    row = model.row_of(claimed.request_id)
    assert model.index(row, COL_STATUS).data() == "Running"
    model.set_live(claimed.request_id, stage="refinement", tokens=42, rate=12.5)
    assert model.index(row, COL_STAGE).data() == "Refinement"
    assert model.index(row, COL_PROGRESS).data() == "42 tokens"


def test_persona_list_pages_filters_and_sorts(qtbot, qtmodeltester, store) -> None:
    for i in range(PAGE_SIZE + 40):
        store.personas.create(NewPersona(f"Bulk {i:03d}", f"You are Bulk {i}.", None, None))
    model = PersonaListModel()
    model.set_store(store)
    assert model.rowCount() == PAGE_SIZE and model.canFetchMore()
    qtmodeltester.check(model)  # the tester fetches the remaining pages
    while model.canFetchMore():
        model.fetchMore()
    assert model.rowCount() == model.total == PAGE_SIZE + 40 + 3  # + FORLLM's three

    model.set_filter("quill", None)
    assert [model.index(r, COL_NAME).data() for r in range(model.rowCount())] == ["Archivist Quill"]
    model.set_filter("", "llm_generated")
    assert [model.index(r, COL_NAME).data() for r in range(model.rowCount())] == ["Homelab Hank"]
    assert model.index(0, COL_SOURCE).data() == "Generated: details"

    model.set_filter("", None)
    model.sort(COL_NAME, Qt.SortOrder.DescendingOrder)
    assert model.index(0, COL_NAME).data() == "Homelab Hank"
    model.sort(COL_UPDATED, Qt.SortOrder.DescendingOrder)
    while model.canFetchMore():
        model.fetchMore()

    # A change made elsewhere is merged in place (no reset): FORLLM's oldest persona, edited
    # now, moves up from the bottom.
    before = model.rowCount() - 1
    edited = model.index(before, COL_NAME).data(PERSONA_ID_ROLE)
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    store.personas.save_edit(edited, "You are edited.")
    model.refresh()
    assert model.row_of(edited) < before
    expected = store.personas.list(order_by="updated", descending=True, limit=model.rowCount())
    assert [model.index(r, COL_NAME).data(PERSONA_ID_ROLE) for r in range(model.rowCount())] == [
        p.persona_id for p in expected
    ]
    assert not resets


def test_elapsed_of_a_finished_job_is_its_run_time_not_its_wait(store):
    """FORLLM's jobs may wait in the queue for months; the column shows how long ours ran."""
    from dataclasses import replace
    from datetime import timedelta

    from persona_studio.ui.queue_model import QueueModel

    rid = store.queue.enqueue({"generation_type": "general_purpose_assistant"}, "m")
    store.queue.claim("worker-a", request_id=rid)
    store.queue.fail(rid, "worker-a", "boom")
    job = store.queue.get(rid)
    assert job.claimed_at is not None
    long_ago = replace(
        job,
        requested_at=job.claimed_at - timedelta(days=400),
        processed_at=job.claimed_at + timedelta(seconds=75),
    )
    assert QueueModel._elapsed(long_ago) == "1:15"
    assert QueueModel._elapsed(replace(long_ago, claimed_at=None)) == ""
