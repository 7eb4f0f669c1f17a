"""The Models dialog: the catalog of recommended models, which one fits this machine, and
downloading one with a progress bar (bytes, speed, time left) and Cancel.

The catalog, the recommendation and the download itself are Qt-free
(``llm/model_catalog.py``, ``llm/download.py``); this module only shows them. The download
runs on a thread of its own (it is network and disk I/O, minutes long; the worker thread
keeps running jobs meanwhile); its progress reaches the dialog through a queued signal.
When a model is in the models folder, ``downloaded`` tells the window to refresh every
model picker.
"""

from __future__ import annotations

import logging
import os
import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from persona_studio.errors import PersonaStudioError
from persona_studio.llm.download import (
    DownloadCancelled,
    Progress,
    download_model,
    format_bytes,
)
from persona_studio.llm.model_catalog import (
    CatalogEntry,
    load_catalog,
    machine_memory_bytes,
    recommend,
)
from persona_studio.ui.labels import error_color, muted_color

log = logging.getLogger(__name__)

COLUMNS = ("Model", "Size", "Memory", "Licence", "Good for", "Status")
COL_MODEL, COL_SIZE, COL_MEMORY, COL_LICENCE, COL_NOTE, COL_STATUS = range(len(COLUMNS))
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1


class _Relay(QObject):
    """Carries the download thread's news to the GUI thread (queued: emitted elsewhere)."""

    progress = Signal(object)  # Progress
    finished = Signal(object, object)  # CatalogEntry, path or None
    failed = Signal(object, str, bool)  # CatalogEntry, message, cancelled


class ModelManagerDialog(QDialog):
    downloaded = Signal(str)  # model id now in the models folder

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        endpoint: str | None = None,
        memory_bytes: int | None = None,
    ) -> None:
        """``endpoint``: the hub (None: HF_ENDPOINT or huggingface.co); ``memory_bytes``:
        this machine's memory (None: measured)."""
        super().__init__(parent)
        self.setObjectName("modelManager")
        self.setWindowTitle("Models")
        self._endpoint = endpoint
        self._cancel: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._relay = _Relay(self)
        self._relay.progress.connect(self._show_progress)
        self._relay.finished.connect(self._finished)
        self._relay.failed.connect(self._failed)

        try:
            self.entries = load_catalog()
        except PersonaStudioError as exc:
            self.entries = []
            log.error("%s", exc)
        memory = memory_bytes if memory_bytes is not None else machine_memory_bytes()
        self.recommendation = recommend(self.entries, memory, os.cpu_count())

        self.advice = QLabel()
        self.advice.setObjectName("recommendation")
        self.advice.setWordWrap(True)
        self.advice.setTextFormat(Qt.TextFormat.PlainText)
        best = self.recommendation.entry
        self.advice.setText(
            (f"Recommended for this machine: {best.name}. " if best else "")
            + self.recommendation.reason
        )

        self.table = QTableWidget(len(self.entries), len(COLUMNS))
        self.table.setObjectName("catalogTable")
        self.table.setAccessibleName("Models that can be downloaded")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # One line a model, so that the whole catalog is in view; the note's whole text is
        # in its tooltip.
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_NOTE, QHeaderView.ResizeMode.Stretch)
        self._fill()
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda _i: self.download_selected())

        self.progress = QProgressBar()
        self.progress.setObjectName("downloadProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        self.progress_text = QLabel()
        self.progress_text.setObjectName("downloadText")
        self.message = QLabel()
        self.message.setObjectName("downloadMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setVisible(False)

        self.download_button = QPushButton("Download")
        self.download_button.setAccessibleName("Download the selected model")
        self.download_button.clicked.connect(self.download_selected)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.setAccessibleName("Cancel the download")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_download)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.download_button)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        row.addWidget(buttons)

        layout = QVBoxLayout(self)
        layout.addWidget(self.advice)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_text)
        layout.addWidget(self.message)
        layout.addLayout(row)
        self.resize(1080, 470)
        if best is not None:
            self.select(best.id)
        self._update_buttons()

    # -- table ----------------------------------------------------------------------------

    def _fill(self) -> None:
        best = self.recommendation.entry
        bold = QFont(self.font())
        bold.setBold(True)
        for row, entry in enumerate(self.entries):
            recommended = best is not None and entry.id == best.id
            cells = {
                COL_MODEL: entry.name + ("  ★ recommended" if recommended else ""),
                COL_SIZE: format_bytes(entry.size_bytes),
                COL_MEMORY: f"{entry.memory_gb:.1f} GB",
                COL_LICENCE: entry.licence,
                COL_NOTE: entry.note,
                COL_STATUS: "",
            }
            for column, text in cells.items():
                item = QTableWidgetItem(text)
                item.setData(ENTRY_ROLE, entry.id)
                if column == COL_MODEL:
                    item.setToolTip(f"{entry.repo}/{entry.file}\nChecked against {entry.page}")
                    if recommended:
                        item.setFont(bold)
                elif column == COL_NOTE:
                    item.setToolTip(entry.note)
                self.table.setItem(row, column, item)
            self._set_status(entry)

    def _row(self, entry_id: str) -> int | None:
        return next((i for i, e in enumerate(self.entries) if e.id == entry_id), None)

    def _set_status(self, entry: CatalogEntry, text: str | None = None) -> None:
        row = self._row(entry.id)
        if row is None:
            return
        if text is None:
            text = "In the models folder" if entry.installed() else ""
        self.table.item(row, COL_STATUS).setText(text)

    def select(self, entry_id: str) -> None:
        row = self._row(entry_id)
        if row is not None:
            self.table.selectRow(row)

    def selected_entry(self) -> CatalogEntry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows else None

    def _update_buttons(self) -> None:
        entry = self.selected_entry()
        busy = self._thread is not None
        self.download_button.setEnabled(entry is not None and not busy and not entry.installed())
        self.cancel_button.setEnabled(busy)

    # -- downloading ----------------------------------------------------------------------

    @property
    def downloading(self) -> bool:
        return self._thread is not None

    def download_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or self._thread is not None or entry.installed():
            return
        self._cancel = threading.Event()
        self.message.setVisible(False)
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self.progress_text.setText(f"Starting the download of {entry.name}…")
        self._set_status(entry, "Downloading…")
        cancel, relay, endpoint = self._cancel, self._relay, self._endpoint

        def run() -> None:
            # On its own thread: only the relay's signals touch Qt from here.
            try:
                path = download_model(
                    entry, endpoint=endpoint, on_progress=relay.progress.emit, cancel=cancel
                )
            except DownloadCancelled as exc:
                relay.failed.emit(entry, str(exc), True)
            except PersonaStudioError as exc:
                relay.failed.emit(entry, str(exc), False)
            except Exception as exc:  # noqa: BLE001 - a bug: said, logged, the app goes on
                log.error("Download of %s failed", entry.id, exc_info=exc)
                relay.failed.emit(entry, f"Internal error ({type(exc).__name__}).", False)
            else:
                relay.finished.emit(entry, path)

        self._thread = threading.Thread(target=run, name=f"download-{entry.id}", daemon=True)
        self._thread.start()
        self._update_buttons()

    def cancel_download(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.progress_text.setText("Cancelling…")

    def wait(self, timeout: float | None = None) -> bool:
        """Join the download thread (after cancel_download, when the window closes)."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _show_progress(self, progress: Progress) -> None:
        if progress.total > 0:
            self.progress.setValue(int(1000 * progress.done / progress.total))
        if progress.phase in ("checking", "verifying"):
            self.progress.setRange(0, 0)  # busy: no figure to show
        else:
            self.progress.setRange(0, 1000)
        if not (self._cancel is not None and self._cancel.is_set()):
            self.progress_text.setText(progress.describe())

    def _end(self) -> None:
        if self._thread is not None:
            self._thread.join()
        self._thread, self._cancel = None, None
        self.progress.setRange(0, 1000)
        self._update_buttons()

    def _finished(self, entry: CatalogEntry, _path) -> None:
        self._end()
        self.progress.setValue(1000)
        self.progress_text.setText(
            f"{entry.name} is in the models folder: pick it in any model list."
        )
        self._set_status(entry)
        self._update_buttons()
        self.downloaded.emit(entry.model_id)

    def _failed(self, entry: CatalogEntry, message: str, cancelled: bool) -> None:
        self._end()
        self.progress.setVisible(False)
        self._set_status(entry)
        self.progress_text.setText("")
        self.message.setText(message)
        color = muted_color() if cancelled else error_color()
        self.message.setStyleSheet(f"color: {color.name()};")
        self.message.setVisible(True)

    def done(self, result: int) -> None:  # noqa: D401 - Qt's name
        """Closing the dialog cancels a download in progress: nothing is left half-written."""
        if self._thread is not None:
            self.cancel_download()
        super().done(result)
