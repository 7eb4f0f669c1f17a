""" "Run it on another model": for a job that waits because its model cannot be reached.

The dialog only asks; the window changes the job (store.queue.change_model, off the GUI
thread) and, if asked to, remembers the choice for that model name (llm.availability's
Substitutes), so later jobs FORLLM queues for the same model run on the chosen one while the
named one cannot be reached.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from persona_studio.llm.availability import display_name


class RunElsewhereDialog(QDialog):
    def __init__(
        self,
        waiting,
        entries: list[tuple[str, str]],
        current: str,
        parent: QWidget | None = None,
    ) -> None:
        """``waiting``: the WaitingJob; ``entries``: (label, model id) of the models the
        pickers list as usable; ``current``: the one to preselect."""
        super().__init__(parent)
        self.setObjectName("runElsewhereDialog")
        self.waiting = waiting
        name = display_name(waiting.model_id)
        self.setWindowTitle(f"Run job #{waiting.request_id} on another model")
        intro = QLabel(
            f"Job #{waiting.request_id} is {waiting.message}.\nRun it on this model instead:"
        )
        intro.setWordWrap(True)
        self.combo = QComboBox()
        self.combo.setAccessibleName("Model to run the job on")
        for label, model_id in entries:
            if model_id and model_id != waiting.model_id:
                self.combo.addItem(label, model_id)
        index = self.combo.findData(current)
        self.combo.setCurrentIndex(max(0, index))
        self.remember = QCheckBox(
            f"Also run later jobs for {name} on this model while {name} cannot be reached"
        )
        self.remember.setAccessibleName("Remember this choice for the model name")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Run on this model")
        self.ok_button.setEnabled(self.combo.count() > 0)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.combo)
        layout.addWidget(self.remember)
        layout.addWidget(buttons)

    def model_id(self) -> str:
        return str(self.combo.currentData() or "")
