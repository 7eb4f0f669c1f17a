"""The model picker: the packaged default, GGUF files, and the models of each configured
OpenAI-compatible endpoint.

Asking the endpoints is network I/O (an unreachable host can take seconds to time out), so
the listing runs in an executor from a coroutine on the qasync loop; the picker is usable
with the default model meanwhile. Endpoints that do not answer are listed, greyed out, with
the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from persona_studio import paths
from persona_studio.llm.catalog import (
    DEFAULT_MODEL_ID,
    GGUF,
    OLLAMA_BASE_URL,
    ModelInfo,
    ModelRef,
    list_models,
)
from persona_studio.ui.current_model import CurrentModel
from persona_studio.ui.labels import first_sentence, model_label
from persona_studio.ui.tasks import TaskGroup

DEFAULT_LABEL = "SmolLM2 135M Instruct (built in)"
TIP = Qt.ItemDataRole.ToolTipRole


class ModelPicker(QWidget):
    changed = Signal(str)  # model id
    listed = Signal()  # the list of models changed (see entries)
    moreRequested = Signal()  # "More models…": open the catalog of downloadable models

    def __init__(
        self,
        endpoints: Callable[[], list[str]],
        parent: QWidget | None = None,
        *,
        quiet: Callable[[], set[str]] = set,
        offer_more: bool = False,
    ) -> None:
        """``endpoints``: the OpenAI-compatible servers to ask; ``quiet``: those of them the
        user never set up, listed as "not running" without an error when nothing answers."""
        super().__init__(parent)
        self._endpoints = endpoints
        self._quiet = quiet
        self._tasks = TaskGroup(self._listing_failed)
        self.combo = QComboBox()
        self.combo.setAccessibleName("Model")
        self.combo.setToolTip("The model that writes the persona")
        self.combo.setMinimumContentsLength(24)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.addItem(DEFAULT_LABEL, DEFAULT_MODEL_ID)
        self.combo.currentIndexChanged.connect(lambda _i: self.changed.emit(self.model_id()))
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setAccessibleName("Look for models again")
        self.refresh_button.setToolTip("Look again for GGUF files and endpoint models")
        self.refresh_button.clicked.connect(self.refresh)
        self.browse_button = QPushButton("GGUF file…")
        self.browse_button.setAccessibleName("Choose a GGUF model file")
        self.browse_button.clicked.connect(self._browse)
        self.more_button = QPushButton("More models…")
        self.more_button.setAccessibleName("Download a recommended model")
        self.more_button.setToolTip("Recommended models to download, and which fits this machine")
        self.more_button.clicked.connect(self.moreRequested)
        self.more_button.setVisible(offer_more)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("modelStatus")

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(self.refresh_button)
        row.addWidget(self.browse_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        # Below the row, not in it: the form is narrow, and the status is empty most of the
        # time, which leaves this line to the button.
        below = QHBoxLayout()
        below.setContentsMargins(0, 0, 0, 0)
        below.addWidget(self.status, 1)
        below.addWidget(self.more_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(below)

    # -- value ----------------------------------------------------------------------------

    def model_id(self) -> str:
        return str(self.combo.currentData() or DEFAULT_MODEL_ID)

    def set_model_id(self, model_id: str) -> None:
        """Select ``model_id``, adding it if it is not listed (a file chosen by path, a model
        remembered from an endpoint that is down today)."""
        index = self.combo.findData(model_id)
        added = index < 0
        if added:
            self.combo.addItem(model_label(model_id), model_id)
            index = self.combo.count() - 1
            self.combo.setItemData(index, model_id, TIP)
        self.combo.setCurrentIndex(index)
        if added:
            self.listed.emit()

    def entries(self) -> list[tuple[str, str]]:
        """(label, model id) of every model that can be used, as listed."""
        return [
            (self.combo.itemText(i), str(self.combo.itemData(i)))
            for i in range(self.combo.count())
            if self.combo.itemData(i)
        ]

    def bind(self, current: CurrentModel) -> None:
        """Make this picker the one that sets ``current``: its choice and its list become
        current's, and it follows a model chosen elsewhere."""
        current.set_model_id(self.model_id())
        current.set_entries(self.entries())
        self.changed.connect(current.set_model_id)
        self.listed.connect(lambda: current.set_entries(self.entries()))
        current.changed.connect(self.set_model_id)

    # -- listing --------------------------------------------------------------------------

    def refresh(self, select: str | None = None) -> None:
        """List the models again; then select ``select`` if given (a model just
        downloaded)."""
        self._tasks.start(self.refresh_async(select))

    async def refresh_async(self, select: str | None = None) -> None:
        self.status.setText("Looking for models…")
        self.refresh_button.setEnabled(False)
        try:
            loop = asyncio.get_running_loop()
            models = await loop.run_in_executor(None, list_models, self._endpoints())
        finally:
            self.refresh_button.setEnabled(True)
        self._fill(models)
        if select is not None and self.combo.findData(select) >= 0:
            self.set_model_id(select)

    def _fill(self, models: list[ModelInfo]) -> None:
        current = self.model_id()
        self.combo.blockSignals(True)
        self.combo.clear()
        problems: list[str] = []
        item_model = self.combo.model()
        quiet = self._quiet()
        for info in models:
            if info.available:
                label = DEFAULT_LABEL if info.model_id == DEFAULT_MODEL_ID else info.label
                if info.source == "server":
                    label = model_label(info.model_id)
                self.combo.addItem(label, info.model_id)
                self.combo.setItemData(self.combo.count() - 1, info.detail or info.model_id, TIP)
                continue
            silent = info.unreachable and info.label in quiet
            if silent:
                server = "Ollama" if info.label == OLLAMA_BASE_URL else info.label
                label = f"{server}: not running"
            else:
                label = f"{info.label}: not available"
            self.combo.addItem(label, None)
            index = self.combo.count() - 1
            self.combo.setItemData(index, info.detail, TIP)
            if isinstance(item_model, QStandardItemModel):
                item_model.item(index).setEnabled(False)
            if not silent:
                problems.append(first_sentence(info.detail) or f"{info.label} is not available.")
        self.combo.blockSignals(False)
        self.set_model_id(current)
        self.status.setText("\n".join(problems))
        self.status.setToolTip("\n\n".join(info.detail for info in models if not info.available))
        self.listed.emit()

    def _listing_failed(self, exc: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        self.status.setText(f"Could not list the models: {exc}")

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a GGUF model file", str(paths.models_dir()), "GGUF models (*.gguf)"
        )
        if path:
            self.set_model_id(ModelRef(GGUF, str(Path(path).resolve())).model_id)

    @property
    def tasks(self) -> TaskGroup:
        return self._tasks
