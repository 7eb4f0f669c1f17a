"""The queue panel: the job table and what can be done to a job (cancel, retry, remove,
move up or down). Failures of those actions are shown in the panel, next to the table."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.events import (
    JobFinished,
    JobStarted,
    StageStarted,
    TextWritten,
    WaitingChanged,
)
from persona_studio.errors import PersonaStudioError
from persona_studio.ui.labels import error_color, muted_color
from persona_studio.ui.queue_model import (
    COL_ELAPSED,
    COL_ERROR,
    COL_ID,
    COL_MODEL,
    COL_NAME,
    COL_PROGRESS,
    COL_RATE,
    COL_STAGE,
    COL_STATUS,
    QueueModel,
)
from persona_studio.ui.tasks import TaskGroup

if TYPE_CHECKING:  # for annotations only: importing the store loads SQLAlchemy
    from persona_studio.store import Store

# Enough history to be useful; a file with 100,000 old jobs still loads in milliseconds.
QUEUE_LIMIT = 300
COLUMN_SAMPLES = {
    COL_ID: "#00000",
    COL_NAME: "Expert for Home Lab and more",
    COL_MODEL: "SmolLM2-135M-Instruct.Q4_1",
    COL_STATUS: "Loading model…",
    COL_STAGE: "Refinement",
    COL_PROGRESS: "00,000 tokens",
    COL_RATE: "Tokens/s",
    COL_ELAPSED: "000 days",
}


class QueuePanel(QWidget):
    personaRequested = Signal(int)  # a finished job's persona, double-clicked
    cancelRequested = Signal(int)  # a running job: the worker thread should stop it now
    pauseToggled = Signal(bool)  # True: start no new job until resumed
    otherModelRequested = Signal(object)  # WaitingJob: the user wants it run elsewhere
    retryWaitingRequested = Signal(int)  # request id: look for its model again now

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store: Store | None = None
        self.writes = TaskGroup()
        self.model = QueueModel(self)
        self.view = QTableView()
        self.view.setObjectName("queueTable")
        self.view.setAccessibleName("Generation queue")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setVisible(False)
        self.view.setWordWrap(False)
        # Fixed widths from sample texts, not ResizeToContents: that mode re-measures every
        # row on each change, and the running job's row changes thirty times a second.
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_ERROR, QHeaderView.ResizeMode.Stretch)
        metrics = self.view.fontMetrics()
        for column, sample in COLUMN_SAMPLES.items():
            header.resizeSection(column, metrics.horizontalAdvance(sample) + 24)
        self.view.doubleClicked.connect(self._open_persona)

        def button(text: str, tip: str) -> QPushButton:
            widget = QPushButton(text)
            widget.setToolTip(tip)
            widget.setAccessibleName(tip)
            widget.setEnabled(False)
            return widget

        self.cancel_button = button("Cancel", "Cancel the selected job")
        self.retry_button = button("Retry", "Queue the selected failed job again")
        self.remove_button = button("Remove", "Remove the selected job from the queue")
        self.other_model_button = button(
            "Run on another model…", "Run the selected job on a model that can be reached now"
        )
        self.try_again_button = button(
            "Try again", "Look again whether the selected job's model can be reached"
        )
        # Shown only for a job waiting for its model: they mean nothing otherwise.
        self.other_model_button.setVisible(False)
        self.try_again_button.setVisible(False)
        self.other_model_button.clicked.connect(self._other_model)
        self.try_again_button.clicked.connect(self._try_again)
        self.up_button = button("Move up", "Run the selected waiting job earlier")
        self.down_button = button("Move down", "Run the selected waiting job later")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.retry_button.clicked.connect(self.retry_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(1))

        self.pause_button = QPushButton("Pause queue")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip(
            "Start no new job until resumed (the running one finishes); useful to queue "
            "several jobs and reorder them first"
        )
        self.pause_button.setAccessibleName("Pause or resume the queue")
        self.pause_button.toggled.connect(self._pause_toggled)

        self.detail = QLabel()
        self.detail.setObjectName("jobError")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setStyleSheet(f"color: {error_color().name()};")
        self.detail.setVisible(False)

        self.message = QLabel()
        self.message.setObjectName("fieldError")
        self.message.setWordWrap(True)
        self.message.setVisible(False)

        buttons = QHBoxLayout()
        for widget in (
            self.other_model_button,
            self.try_again_button,
            self.cancel_button,
            self.retry_button,
            self.remove_button,
            self.up_button,
            self.down_button,
        ):
            buttons.addWidget(widget)
        buttons.addWidget(self.pause_button)
        buttons.addStretch(1)
        self.summary = QLabel()
        buttons.addWidget(self.summary)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.detail)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.dataChanged.connect(self._update_buttons)
        self.model.rowsInserted.connect(self._update_buttons)
        self.model.rowsRemoved.connect(self._update_buttons)

    # -- data -----------------------------------------------------------------------------

    def set_store(self, store: Store) -> None:
        self.store = store
        self.model.set_subforum_names({})
        self.model.set_jobs([])
        self.refresh()

    def refresh(self) -> None:
        if self.store is None:
            return
        try:
            jobs = self.store.queue.list(limit=QUEUE_LIMIT)
            if self.model.needs_subforum_names(jobs):
                self.model.set_subforum_names(
                    {s.subforum_id: s.name for s in self.store.subforums.list()}
                )
        except PersonaStudioError as exc:
            self._show(str(exc))
            return
        self.model.set_jobs(jobs)
        waiting = sum(1 for j in jobs if j.status.value == "pending")
        running = sum(1 for j in jobs if j.status.value == "processing")
        paused = " · paused" if self.pause_button.isChecked() else ""
        self.summary.setText(f"{running} running · {waiting} waiting{paused}")
        self._update_buttons()

    # -- actions --------------------------------------------------------------------------

    def selected_job(self):
        rows = self.view.selectionModel().selectedRows()
        return self.model.job_at(rows[0].row()) if rows else None

    def select_request(self, request_id: int) -> None:
        row = self.model.row_of(request_id)
        if row is None:
            return
        self.view.selectionModel().select(
            self.model.index(row, COL_ID),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.view.scrollTo(self.model.index(row, COL_ID))

    def cancel_selected(self) -> None:
        job = self.selected_job()
        if job is None:
            return
        if job.status.value == "processing":
            self.cancelRequested.emit(job.request_id)  # the token loop stops at once
        self._run(lambda store: store.queue.cancel(job.request_id))

    def retry_selected(self) -> None:
        job = self.selected_job()
        if job is not None:
            self._run(lambda store: store.queue.retry(job.request_id))

    def remove_selected(self) -> None:
        job = self.selected_job()
        if job is not None:
            self._run(lambda store: store.queue.remove(job.request_id))

    def move_selected(self, step: int) -> None:
        job = self.selected_job()
        if job is None or job.status.value != "pending":
            return
        pending = [j.request_id for j in self.model.jobs() if j.status.value == "pending"]
        here = pending.index(job.request_id)
        there = here + step
        if not 0 <= there < len(pending):
            return
        pending[here], pending[there] = pending[there], pending[here]
        self._run(
            lambda store: store.queue.reorder(pending),
            then=lambda: self.select_request(job.request_id),
        )

    def _run(
        self, action: Callable[[Store], object], then: Callable[[], None] | None = None
    ) -> None:
        """A store write off the GUI thread; its failure is shown under the table; the table
        is refreshed either way."""
        store = self.store
        if store is None:
            return

        def done(_result) -> None:
            self.message.setVisible(False)
            self.refresh()
            if then is not None:
                then()

        def failed(exc: PersonaStudioError) -> None:
            self._show(str(exc))
            self.refresh()

        self.writes.off_thread(lambda: action(store), done, failed)

    def show_job_event(self, event) -> None:
        """A job's event (the worker thread's jobEvent): the running job's live progress,
        shown until the stored row catches up, and the jobs waiting for their model."""
        match event:
            case JobStarted():
                self.refresh()
                self.model.set_live(event.request_id, stage="", tokens=0, rate=0.0)
            case StageStarted():
                self.model.set_live(event.request_id, stage=event.stage, loading=False)
            case TextWritten():
                self.model.set_live(
                    event.request_id,
                    stage=event.stage,
                    tokens=event.job_tokens,
                    rate=event.tokens_per_s,
                )
            case JobFinished():
                self.model.clear_live(event.request_id)
            case WaitingChanged():
                self.set_waiting(event.jobs)

    def show_loading(self, request_id: int, loading: bool) -> None:
        """The running job's model is loading (or done loading)."""
        self.model.set_live(request_id, loading=loading)

    def set_waiting(self, waiting) -> None:
        """The jobs the worker leaves waiting for their model (WaitingJob records)."""
        self.model.set_waiting(waiting)
        self._update_buttons()

    def _other_model(self) -> None:
        waiting = self.model.waiting_for(self.selected_job())
        if waiting is not None:
            self.otherModelRequested.emit(waiting)

    def _try_again(self) -> None:
        waiting = self.model.waiting_for(self.selected_job())
        if waiting is not None:
            self.retryWaitingRequested.emit(waiting.request_id)

    def _pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("Resume queue" if paused else "Pause queue")
        self.pauseToggled.emit(paused)
        self.refresh()

    def _show(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(True)

    def _open_persona(self, index) -> None:
        job = self.model.job_at(index.row())
        if job is not None and job.persona_id is not None:
            self.personaRequested.emit(job.persona_id)

    def _update_buttons(self, *_args) -> None:
        job = self.selected_job()
        status = job.status.value if job is not None else ""
        # The whole reason a selected job failed, where the row has room for its start only.
        error = job.error_message if job is not None and status == "error" else None
        waiting = self.model.waiting_for(job)
        if waiting is not None:
            # Not an error: said in the muted colour, with what can be done about it.
            self.detail.setText(
                f"Job #{job.request_id} is {waiting.message}. It starts by itself once the "
                "model can be reached; or run it on another model."
            )
            self.detail.setStyleSheet(f"color: {muted_color().name()};")
        else:
            self.detail.setText(f"Job #{job.request_id}: {error}" if error else "")
            self.detail.setStyleSheet(f"color: {error_color().name()};")
        self.detail.setVisible(bool(error) or waiting is not None)
        self.other_model_button.setVisible(waiting is not None)
        self.try_again_button.setVisible(waiting is not None)
        self.other_model_button.setEnabled(waiting is not None)
        self.try_again_button.setEnabled(waiting is not None)
        pending = [j.request_id for j in self.model.jobs() if j.status.value == "pending"]
        ours_running = status == "processing" and job.owner is not None
        self.cancel_button.setEnabled(status in ("pending", "pending_dependency") or ours_running)
        self.retry_button.setEnabled(status == "error")
        self.remove_button.setEnabled(bool(status) and status != "processing")
        self.up_button.setEnabled(status == "pending" and pending[:1] != [job.request_id])
        self.down_button.setEnabled(status == "pending" and pending[-1:] != [job.request_id])
