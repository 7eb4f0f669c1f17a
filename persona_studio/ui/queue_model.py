"""The queue as a table model: every generate_persona job in the file, FORLLM's included.

Rows come from ``store.queue.list()`` (running, then waiting in run order, then finished ones
newest first) and are updated in place by :func:`sync_rows`. The running job's stage, token
count and speed come live from the worker thread's signals; the stored figures (which the
worker's heartbeat writes every few seconds) fill in for jobs other processes run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
)

from persona_studio.llm.availability import display_name
from persona_studio.ui.labels import (
    error_color,
    format_duration,
    model_label,
    muted_color,
    stage_label,
)
from persona_studio.ui.rowdiff import sync_rows

Index = QModelIndex | QPersistentModelIndex

COLUMNS = ("#", "Persona", "Model", "Status", "Stage", "Progress", "Tokens/s", "Elapsed", "Error")
(
    COL_ID,
    COL_NAME,
    COL_MODEL,
    COL_STATUS,
    COL_STAGE,
    COL_PROGRESS,
    COL_RATE,
    COL_ELAPSED,
    COL_ERROR,
) = range(len(COLUMNS))

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1  # the raw status text: pending, processing, ...
JOB_ROLE = Qt.ItemDataRole.UserRole + 2  # the Job record

HEADER_TIPS = {
    COL_ELAPSED: "Waiting: time since it was queued. Running: time since it started. "
    "Finished: time from queueing to the end.",
    COL_PROGRESS: "Tokens the model has written so far, both stages together.",
}


@dataclass
class LiveProgress:
    stage: str = ""
    tokens: int = 0
    rate: float = 0.0
    loading: bool = False


def status_text(job, waiting=None) -> str:
    """``waiting``: the WaitingJob the worker reported for this job, if any."""
    status = job.status.value
    if status == "pending":
        if waiting is not None:
            return f"Waiting for {display_name(waiting.model_id)}"
        return "Waiting"
    if status == "pending_dependency":
        return "Waiting for another job"
    if status == "processing":
        if job.owner is None:
            return "Running in FORLLM"
        return "Stopping…" if job.cancel_requested else "Running"
    if status == "complete":
        return "Done"
    if status == "error":
        return "Cancelled" if job.cancelled else "Failed"
    return status


def job_label(job, subforum_names: dict[int, str]) -> str:
    """The label the request gives (the store read it; the view never parses a request),
    else the job's number."""
    return job.request.label(subforum_names) or f"Job {job.request_id}"


def _seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None:
        return None
    return ((end or datetime.now(UTC)) - start).total_seconds()


class QueueModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._jobs: list[Any] = []
        self._live: dict[int, LiveProgress] = {}
        self._subforums: dict[int, str] = {}
        # Pending jobs the worker leaves in the queue because their model cannot be reached.
        self._waiting: dict[int, Any] = {}
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)

    # -- feeding --------------------------------------------------------------------------

    def set_jobs(self, jobs: list[Any]) -> None:
        sync_rows(self, self._jobs, list(jobs), lambda job: job.request_id)
        running = {j.request_id for j in self._jobs if j.status.value == "processing"}
        for rid in [r for r in self._live if r not in running]:
            del self._live[rid]
        if self._has_active():
            if not self._ticker.isActive():
                self._ticker.start()
        else:
            self._ticker.stop()

    def set_waiting(self, waiting) -> None:
        """The jobs waiting for their model (WaitingJob records), as the worker reports
        them; shown as waiting, never as failed."""
        self._waiting = {w.request_id: w for w in waiting}
        if self._jobs:
            self.dataChanged.emit(
                self.index(0, COL_STATUS), self.index(len(self._jobs) - 1, COL_ERROR)
            )

    def waiting_for(self, job):
        """The WaitingJob of ``job`` if it is pending and waiting for its model, else None."""
        if job is None or job.status.value != "pending":
            return None
        return self._waiting.get(job.request_id)

    def set_subforum_names(self, names: dict[int, str]) -> None:
        self._subforums = dict(names)

    def needs_subforum_names(self, jobs: list[Any]) -> bool:
        """Whether a job names a subforum by an id this model has no name for."""
        ids = {job.request.unnamed_subforum_id for job in jobs} - {None}
        return not ids <= self._subforums.keys()

    def set_live(
        self,
        request_id: int,
        *,
        stage: str | None = None,
        tokens: int | None = None,
        rate: float | None = None,
        loading: bool | None = None,
    ) -> None:
        """Progress from the worker's signals, shown until the stored row catches up."""
        live = self._live.setdefault(request_id, LiveProgress())
        if stage is not None:
            live.stage = stage
        if tokens is not None:
            live.tokens = tokens
        if rate is not None:
            live.rate = rate
        if loading is not None:
            live.loading = loading
        row = self.row_of(request_id)
        if row is not None:
            self.dataChanged.emit(self.index(row, COL_STATUS), self.index(row, COL_ELAPSED))

    def clear_live(self, request_id: int) -> None:
        self._live.pop(request_id, None)

    def job_at(self, row: int):
        return self._jobs[row] if 0 <= row < len(self._jobs) else None

    def row_of(self, request_id: int) -> int | None:
        return next((i for i, job in enumerate(self._jobs) if job.request_id == request_id), None)

    def jobs(self) -> list[Any]:
        return list(self._jobs)

    def _has_active(self) -> bool:
        return any(j.status.value in ("pending", "processing") for j in self._jobs)

    def _tick(self) -> None:
        for row, job in enumerate(self._jobs):
            if job.status.value in ("pending", "processing"):
                index = self.index(row, COL_ELAPSED)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole])

    # -- Qt model -------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._jobs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(section)
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._jobs):
            return None
        job = self._jobs[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(job, column)
        waiting = self.waiting_for(job)
        if role == Qt.ItemDataRole.ToolTipRole:
            if waiting is not None and column in (COL_STATUS, COL_ERROR):
                return (
                    f"{waiting.message[:1].upper()}{waiting.message[1:]}. Nothing fails: the "
                    "job starts once the model can be reached, or run it on another model."
                )
            if column == COL_ERROR and job.error_message:
                return job.error_message
            if column == COL_MODEL:
                return job.llm_model
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if job.status.value == "error" and not job.cancelled:
                return error_color()
            if waiting is not None and column == COL_ERROR:
                return muted_color()
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (
            COL_ID,
            COL_PROGRESS,
            COL_RATE,
            COL_ELAPSED,
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == STATUS_ROLE:
            return job.status.value
        if role == JOB_ROLE:
            return job
        return None

    def _display(self, job, column: int) -> str:
        live = self._live.get(job.request_id) if job.status.value == "processing" else None
        if column == COL_ID:
            return str(job.request_id)
        if column == COL_NAME:
            return job_label(job, self._subforums)
        if column == COL_MODEL:
            return model_label(job.llm_model) or "default"
        if column == COL_STATUS:
            if live is not None and live.loading:
                return "Loading model…"
            return status_text(job, self.waiting_for(job))
        if column == COL_STAGE:
            stage = live.stage if live is not None and live.stage else job.stage
            return stage_label(stage)
        if column == COL_PROGRESS:
            tokens = live.tokens if live is not None and live.tokens else job.tokens
            return f"{tokens:,} tokens" if tokens else ""
        if column == COL_RATE:
            rate = live.rate if live is not None and live.rate else job.tokens_per_s
            return f"{rate:.1f}" if rate else ""
        if column == COL_ELAPSED:
            return self._elapsed(job)
        if column == COL_ERROR:
            waiting = self.waiting_for(job)
            if waiting is not None:
                return waiting.message
            return (job.error_message or "").splitlines()[0] if job.error_message else ""
        return ""

    @staticmethod
    def _elapsed(job) -> str:
        status = job.status.value
        if status in ("pending", "pending_dependency"):
            seconds = _seconds_between(job.requested_at, None)
        elif status == "processing":
            seconds = _seconds_between(job.processed_at or job.requested_at, None)
        elif job.claimed_at is not None:
            # How long the run took; the time it waited in the queue (FORLLM's jobs may have
            # waited months) is not the job's doing.
            seconds = _seconds_between(job.claimed_at, job.processed_at)
        else:
            seconds = None  # ended without one of our workers running it
        return format_duration(seconds) if seconds is not None else ""
