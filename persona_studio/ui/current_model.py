"""The window's current model: the one the Generate form queues jobs for, the editor measures
a persona's size in, and the Try it panel starts from.

The window owns it. The Generate form's model picker sets it when the writer picks a model and
follows it when it changes; everyone else reads it here, not from the picker's combo box. It
also holds the models on offer as the picker last listed them, for those who offer the same
choice (the Try it panel, "Run on another model…").
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from persona_studio.llm.catalog import DEFAULT_MODEL_ID


class CurrentModel(QObject):
    changed = Signal(str)  # the new model id
    listed = Signal()  # the models on offer changed (see entries)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model_id = DEFAULT_MODEL_ID
        self._entries: list[tuple[str, str]] = []

    def model_id(self) -> str:
        return self._model_id

    def set_model_id(self, model_id: str) -> None:
        if model_id != self._model_id:
            self._model_id = model_id
            self.changed.emit(model_id)

    def entries(self) -> list[tuple[str, str]]:
        """(label, model id) of every model on offer, as the picker lists them."""
        return list(self._entries)

    def set_entries(self, entries: list[tuple[str, str]]) -> None:
        self._entries = list(entries)
        self.listed.emit()
