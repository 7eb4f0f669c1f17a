"""Regenerate: the persona's stored request, editable, queued again.

By default the result becomes a new version of the same persona (history keeps the old text);
ticking "new persona" saves it separately. The replacement is asked for in the request params
under the request's own options (``persona_studio.replaces_persona_id`` in the params), which
FORLLM ignores and the worker reads when it saves the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.request import (
    FROM_NAME_AND_DESCRIPTION,
    GENERAL_PURPOSE_ASSISTANT,
    SUBFORUM_EXPERT,
    generation_type_label,
)
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.errors import InvalidRequestError, PersonaStudioError
from persona_studio.llm.catalog import DEFAULT_MODEL_ID
from persona_studio.ui.field_errors import FieldErrors, error_label
from persona_studio.ui.model_picker import ModelPicker
from persona_studio.ui.output_prefs import OutputPreferencesBox
from persona_studio.ui.preferences import Preferences
from persona_studio.ui.tasks import TaskGroup

if TYPE_CHECKING:  # for annotations only: importing the store loads SQLAlchemy
    from persona_studio.store import Store

# Which input boxes each type has: (input_details key, label, multi-line).
_INPUTS = {
    FROM_NAME_AND_DESCRIPTION: (
        ("name_hint", "Name hint", False),
        ("description_hint", "Description", True),
    ),
    SUBFORUM_EXPERT: (
        ("subforum_description", "Subforum description", True),
        ("additional_directives", "Directives", True),
        ("name_hint", "Name hint", False),
    ),
    GENERAL_PURPOSE_ASSISTANT: (
        ("name_hint", "Name hint", False),
        ("description_hint", "Good at", True),
        ("additional_directives", "Directives", True),
    ),
}


def stored_request(info: dict[str, Any] | None, persona) -> dict[str, Any]:
    """The request that made the persona, as far as the file remembers it.

    Ours keep the whole request; FORLLM's keep the type and input details; a hand-written
    persona has neither, so it starts as a name-and-description request for its name.
    """
    info = info or {}
    params = info.get("request_params")
    if isinstance(params, dict) and params.get("generation_type"):
        return dict(params)
    gtype = info.get("generation_type") or FROM_NAME_AND_DESCRIPTION
    details = info.get("input_details") if isinstance(info.get("input_details"), dict) else {}
    if not details and gtype == FROM_NAME_AND_DESCRIPTION:
        details = {"name_hint": persona.name}
    return {
        "generation_type": gtype,
        "input_details": dict(details),
        "output_preferences": info.get("output_preferences") or {},
        "llm_model_for_generation": info.get("model") or "",
    }


class RegenerateDialog(QDialog):
    def __init__(
        self,
        store: Store,
        persona_id: int,
        prefs: Preferences,
        parent: QWidget | None = None,
        writes: TaskGroup | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.persona_id = persona_id
        self.request_id: int | None = None
        self.writes = writes or TaskGroup()  # the caller's, so shutdown waits for it
        self.persona = store.personas.get(persona_id)
        self.params = stored_request(store.personas.generation_info(persona_id), self.persona)
        self.generation_type = self.params["generation_type"]
        details = dict(self.params.get("input_details") or {})
        self._details = details
        self._fill_subforum(details)
        self.setWindowTitle(f"Regenerate “{self.persona.name}”")

        self.general_error = error_label()
        self.errors = FieldErrors(self.general_error)
        form = QFormLayout()
        form.addRow("Kind:", QLabel(generation_type_label(self.generation_type)))
        if self.generation_type == SUBFORUM_EXPERT:
            form.addRow("Subforum:", QLabel(str(details.get("subforum_name") or "?")))
        self.inputs: dict[str, QLineEdit | QPlainTextEdit] = {}
        for key, label, multiline in _INPUTS.get(self.generation_type, ()):
            widget: QLineEdit | QPlainTextEdit
            if multiline:
                widget = QPlainTextEdit(str(details.get(key) or ""))
                widget.setTabChangesFocus(True)
                widget.setMaximumHeight(90)
            else:
                widget = QLineEdit(str(details.get(key) or ""))
            widget.setAccessibleName(label)
            self.inputs[key] = widget
            self.errors.add_row(form, f"{label}:", widget, f"input_details.{key}", label)

        self.model_picker = ModelPicker(lambda: prefs.endpoints, quiet=prefs.unconfigured_endpoints)
        self.model_picker.set_model_id(
            str(self.params.get("llm_model_for_generation") or DEFAULT_MODEL_ID)
        )
        self.model_error = self.errors.add_row(
            form, "Model:", self.model_picker, "llm_model_for_generation", "Model"
        )
        self.output = OutputPreferencesBox()
        self.output.set_preferences(self.params.get("output_preferences"))
        self.output.register_errors(self.errors)
        form.addRow(self.output)

        self.as_new = QCheckBox(f"Save as a new persona (keep “{self.persona.name}” as it is)")
        self.as_new.setAccessibleName("Save the result as a new persona")
        self.as_new.toggled.connect(self._as_new_toggled)
        self.override = QLineEdit(str(self.params.get("target_persona_name_override") or ""))
        self.override.setAccessibleName("Exact name of the new persona")
        self.override.setPlaceholderText("Leave empty to let the model choose")
        form.addRow(self.as_new)
        self.override_error = self.errors.add_row(
            form, "Exact name:", self.override, "target_persona_name_override", "Name"
        )
        self._as_new_toggled(False)

        content = QWidget()
        content.setLayout(form)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.queue_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.queue_button.setText("Queue")
        self.queue_button.setAccessibleName("Queue the regeneration")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Tweak what the persona was made from, then queue it. The result becomes a new "
            "version of this persona; its current text stays in the history."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.general_error)
        layout.addWidget(buttons)
        self.resize(640, 720)
        self.model_picker.refresh()

    def _fill_subforum(self, details: dict[str, Any]) -> None:
        """FORLLM stores only the subforum's id; show and send its name and description."""
        if self.generation_type != SUBFORUM_EXPERT or details.get("subforum_name"):
            return
        subforum_id = details.get("subforum_id")
        if subforum_id is None:
            return
        try:
            subforum = self.store.subforums.get(int(subforum_id))
        except (PersonaStudioError, ValueError, TypeError, OverflowError):
            return  # what the record holds is no subforum id (anyone may write the file)
        details["subforum_name"] = subforum.name
        if subforum.description and not details.get("subforum_description"):
            details["subforum_description"] = subforum.description

    def _as_new_toggled(self, checked: bool) -> None:
        # Into the same persona the name stays; only a new persona can be given one.
        self.override.setEnabled(checked)

    def _value(self, widget: QLineEdit | QPlainTextEdit) -> str:
        return widget.toPlainText() if isinstance(widget, QPlainTextEdit) else widget.text()

    def build_params(self) -> dict[str, Any]:
        """Validated request params; into this persona unless 'new persona' is ticked."""
        details = dict(self._details)
        for key, widget in self.inputs.items():
            details[key] = self._value(widget)
        new_persona = self.as_new.isChecked()
        request = PersonaGenerationRequest.create(
            self.generation_type,
            details,
            self.output.preferences(),
            self.model_picker.model_id(),
            self.override.text() if new_persona else "",
            app_options=None if new_persona else {"replaces_persona_id": self.persona_id},
        )
        return request.to_params()

    def accept(self) -> None:
        """Validate, queue off the GUI thread, close once queued (``request_id`` set)."""
        self.errors.clear()
        if not self.queue_button.isEnabled() or not self.output.check(self.errors):
            return
        try:
            params = self.build_params()
        except InvalidRequestError as exc:
            self.errors.show(exc)
            return
        store = self.store

        def queued(request_id: int) -> None:
            self.request_id = request_id
            self.model_picker.tasks.cancel_all()
            super(RegenerateDialog, self).accept()

        def failed(exc: PersonaStudioError) -> None:
            self.queue_button.setEnabled(True)
            self.errors.show_text("", f"Could not queue the job: {exc}")

        self.queue_button.setEnabled(False)
        self.writes.off_thread(
            lambda: store.queue.enqueue(params, params["llm_model_for_generation"]),
            queued,
            failed,
        )

    def reject(self) -> None:
        self.model_picker.tasks.cancel_all()
        super().reject()
