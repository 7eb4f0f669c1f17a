"""The generate form: the three generation types, the model, the output preferences.

Everything is validated by building the engine's PersonaGenerationRequest before anything is
queued; a validation error is shown next to the field it names. A batch of subforum experts
becomes N requests that differ on purpose: each gets its own focus line, and all are asked for
a name unlike those of the experts the subforum already has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QTabBar,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.request import (
    FROM_NAME_AND_DESCRIPTION,
    GENERAL_PURPOSE_ASSISTANT,
    SUBFORUM_EXPERT,
)
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.errors import InvalidRequestError, PersonaStudioError
from persona_studio.ui.current_model import CurrentModel
from persona_studio.ui.field_errors import FieldErrors, error_label
from persona_studio.ui.model_picker import ModelPicker
from persona_studio.ui.output_prefs import OutputPreferencesBox
from persona_studio.ui.preferences import Preferences
from persona_studio.ui.tasks import TaskGroup

if TYPE_CHECKING:  # for annotations only: importing the store loads SQLAlchemy
    from persona_studio.store import Store

MAX_BATCH = 10
MIN_WIDTH = 420  # narrower and the labels and text boxes get clipped
DEFAULT_FOCUSES = (
    "Focus on beginners' questions and first steps.",
    "Focus on troubleshooting and fixing what is broken.",
    "Focus on best practices and long-term maintenance.",
    "Focus on advanced techniques and unusual cases.",
    "Focus on tools, products and buying advice.",
    "Focus on safety, security and what can go wrong.",
    "Focus on the history and the reasons behind common practice.",
    "Focus on quick, practical answers for busy people.",
    "Focus on explaining the underlying concepts in depth.",
    "Focus on comparing options and their trade-offs.",
)
PERSONA_ROLE = Qt.ItemDataRole.UserRole + 1
TYPE_ORDER = (FROM_NAME_AND_DESCRIPTION, SUBFORUM_EXPERT, GENERAL_PURPOSE_ASSISTANT)


def _text_box(name: str, placeholder: str, height: int = 70) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setAccessibleName(name)
    box.setPlaceholderText(placeholder)
    box.setTabChangesFocus(True)
    box.setMinimumHeight(height)
    box.setMaximumHeight(height * 2)
    return box


def _page() -> tuple[QWidget, QFormLayout]:
    """A tab page whose rows stay at the top (the tabs are as tall as the tallest page)."""
    page = QWidget()
    outer = QVBoxLayout(page)
    form = QFormLayout()
    outer.addLayout(form)
    outer.addStretch(1)
    return page, form


def _line(name: str, placeholder: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setAccessibleName(name)
    edit.setPlaceholderText(placeholder)
    return edit


def batch_directives(global_directives: str, focus: str | None) -> str:
    """One expert's directives: what all share, and its own focus. (Names need no directive:
    the engine gives each persona a name unlike every name in the file.)"""
    parts = [global_directives.strip()]
    if focus:
        parts.append(focus.strip())
    return "\n".join(p for p in parts if p)


class GenerateForm(QWidget):
    queued = Signal(list)  # request ids, in queue order
    personaRequested = Signal(int)

    def __init__(
        self,
        prefs: Preferences,
        parent: QWidget | None = None,
        *,
        current_model: CurrentModel | None = None,
    ) -> None:
        """``current_model``: the window's, which this form's model picker sets."""
        super().__init__(parent)
        self.prefs = prefs
        self.current_model = current_model if current_model is not None else CurrentModel(self)
        self.store: Store | None = None
        self._experts: list = []
        self._loaded_description = ""
        self._shown: tuple = ()  # what the subforum widgets show, to skip needless rebuilds
        self.writes = TaskGroup()

        self.general_error = error_label()
        self.errors = FieldErrors(self.general_error)
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generateButton")
        self.generate_button.setToolTip("Queue the generation (Ctrl+Enter)")
        self.generate_button.setAccessibleName("Generate the persona")
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.generate)

        # A tab bar over a stack rather than a QTabWidget: a QTabWidget is as tall as its
        # tallest page, and the short pages would leave a gap that pushes the output
        # settings out of sight; a stack can ignore the pages not shown.
        self.tabs = QTabBar()
        self.tabs.setAccessibleName("Kind of persona")
        self.tabs.setExpanding(False)
        for label in ("Name && description", "Subforum expert", "General assistant"):
            self.tabs.addTab(label)
        self.stack = QStackedWidget()
        self.stack.setFrameShape(QStackedWidget.Shape.StyledPanel)
        self.stack.addWidget(self._details_page())
        self.stack.addWidget(self._subforum_page())
        self.stack.addWidget(self._assistant_page())
        self.tabs.currentChanged.connect(self._tab_changed)
        self._fit_tabs(0)

        self.model_picker = ModelPicker(
            lambda: self.prefs.endpoints,
            quiet=self.prefs.unconfigured_endpoints,
            offer_more=True,
        )
        if prefs.last_model:
            self.model_picker.set_model_id(prefs.last_model)
        self.model_picker.changed.connect(self._remember_model)
        self.model_picker.bind(self.current_model)
        self.output = OutputPreferencesBox()
        self.output.register_errors(self.errors)
        self.override = _line("Exact name", "Leave empty to let the model choose")

        common = QGroupBox("Output")
        common_form = QFormLayout(common)
        self.model_error = self.errors.add_row(
            common_form, "Model:", self.model_picker, "llm_model_for_generation", "Model"
        )
        common_form.addRow(self.output)
        self.override_error = self.errors.add_row(
            common_form, "Exact name:", self.override, "target_persona_name_override", "Name"
        )
        self.critique = QCheckBox("Review the brainstorm before writing (critique stage)")
        self.critique.setToolTip(
            "Adds a stage between the brainstorm and the persona: the model reviews its ideas "
            "for contradictions and gaps first. Slower, often more coherent."
        )
        common_form.addRow("", self.critique)

        self.result = QLabel()
        self.result.setWordWrap(True)

        content = QWidget()
        inner = QVBoxLayout(content)
        inner.addWidget(self.tabs)
        inner.addWidget(self.stack)
        inner.addWidget(common)
        inner.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(MIN_WIDTH)

        bottom = QHBoxLayout()
        bottom.addWidget(self.result, 1)
        bottom.addWidget(self.generate_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.general_error)
        layout.addLayout(bottom)

    # -- pages ----------------------------------------------------------------------------

    def _details_page(self) -> QWidget:
        page, form = _page()
        self.name_hint = _line("Name hint", "e.g. Captain Nemo")
        self.description = _text_box(
            "Description", "A few words or sentences: who they are, how they talk"
        )
        scope = FROM_NAME_AND_DESCRIPTION
        add = self.errors.add_row
        self.name_error = add(
            form, "Name:", self.name_hint, "input_details.name_hint", "The name", scope
        )
        self.description_error = add(
            form,
            "Description:",
            self.description,
            "input_details.description_hint",
            "The description",
            scope,
        )
        return page

    def _subforum_page(self) -> QWidget:
        page, form = _page()
        self.subforum = QComboBox()
        self.subforum.setAccessibleName("Subforum")
        self.subforum.currentIndexChanged.connect(self._subforum_changed)
        self.subforum_description = _text_box(
            "Subforum description", "What the subforum is about (saved in the forum file)"
        )
        self.subforum_description.textChanged.connect(self._description_edited)
        self.save_description = QPushButton("Save description")
        self.save_description.setAccessibleName("Save the subforum description")
        self.save_description.setEnabled(False)
        self.save_description.clicked.connect(self._save_description)
        self.description_status = QLabel()
        describe_row = QHBoxLayout()
        describe_row.addWidget(self.save_description)
        describe_row.addWidget(self.description_status, 1)
        self.directives = _text_box(
            "Directives for every expert", "e.g. Practical, beginner-friendly explanations"
        )
        self.expert_name = _line("Expert name hint", "Optional")
        self.count = QSpinBox()
        self.count.setRange(1, MAX_BATCH)
        self.count.setAccessibleName("Number of experts to generate")
        self.count.valueChanged.connect(self._count_changed)
        self.focuses = _text_box(
            "Focus of each expert", "One line per expert, so the experts differ", 90
        )
        self.experts = QListWidget()
        self.experts.setAccessibleName("Experts already in this subforum")
        self.experts.setMaximumHeight(110)
        self.experts.itemDoubleClicked.connect(self._open_expert)
        self.naming_note = QLabel()
        self.naming_note.setWordWrap(True)

        scope = SUBFORUM_EXPERT
        add = self.errors.add_row
        self.subforum_error = add(
            form,
            "Subforum:",
            self.subforum,
            ("input_details.subforum_name", "input_details.subforum_id"),
            "The subforum",
            scope,
        )
        self.subforum_description_error = add(
            form,
            "Its description:",
            self.subforum_description,
            "input_details.subforum_description",
            "The description",
            scope,
        )
        form.addRow("", describe_row)
        form.addRow("Existing experts:", self.experts)
        form.addRow("", self.naming_note)
        self.directives_error = add(
            form,
            "Directives:",
            self.directives,
            "input_details.additional_directives",
            "The directives",
            scope,
        )
        self.expert_name_error = add(
            form, "Name hint:", self.expert_name, "input_details.name_hint", "The name", scope
        )
        form.addRow("Experts to generate:", self.count)
        self.focuses_error = add(
            form, "Focus per expert:", self.focuses, "focuses", "The focus lines", scope
        )
        self._count_changed(1)
        return page

    def _assistant_page(self) -> QWidget:
        page, form = _page()
        intro = QLabel(
            "A friendly, reliable assistant for everyday questions. Everything below is optional."
        )
        intro.setWordWrap(True)
        self.assistant_name = _line("Assistant name hint", "Optional, e.g. Sam")
        self.assistant_description = _text_box("What the assistant should be good at", "Optional")
        self.assistant_directives = _text_box("Assistant directives", "Optional")
        form.addRow(intro)
        scope = GENERAL_PURPOSE_ASSISTANT
        add = self.errors.add_row
        self.assistant_name_error = add(
            form, "Name:", self.assistant_name, "input_details.name_hint", "The name", scope
        )
        self.assistant_description_error = add(
            form,
            "Good at:",
            self.assistant_description,
            "input_details.description_hint",
            "The description",
            scope,
        )
        self.assistant_directives_error = add(
            form,
            "Directives:",
            self.assistant_directives,
            "input_details.additional_directives",
            "The directives",
            scope,
        )
        return page

    # -- store ----------------------------------------------------------------------------

    def set_store(self, store: Store) -> None:
        self.store = store
        self.refresh()
        self.model_picker.refresh()

    def refresh_models(self, select: str | None = None) -> None:
        """List the models again (then select ``select``, a model just downloaded)."""
        self.model_picker.refresh(select)

    def refresh(self) -> None:
        """Reload the subforums and their experts, keeping the selection and any unsaved
        description the user is typing; nothing is rebuilt if nothing changed."""
        if self.store is None:
            return
        try:
            subforums = self.store.subforums.list()
        except PersonaStudioError as exc:
            self.errors.show_text("", str(exc))
            return
        current = self.subforum.currentData()
        names = [(s.subforum_id, s.name) for s in subforums]
        if names != [
            (self.subforum.itemData(i), self.subforum.itemText(i))
            for i in range(self.subforum.count())
        ]:
            self.subforum.blockSignals(True)
            self.subforum.clear()
            for subforum_id, name in names:
                self.subforum.addItem(name, subforum_id)
            index = self.subforum.findData(current)
            self.subforum.setCurrentIndex(index if index >= 0 else 0 if names else -1)
            self.subforum.blockSignals(False)
            if not names:
                self.subforum.setPlaceholderText(
                    "This file has no subforums yet (create one in FORLLM)"
                )
        self._subforum_changed(keep_edits=self.subforum.currentData() == current)

    def _subforum_changed(self, *_args, keep_edits: bool = False) -> None:
        subforum_id = self.subforum.currentData()
        subforum, experts = None, []
        if subforum_id is not None and self.store is not None:
            try:
                subforum = self.store.subforums.get(int(subforum_id))
                experts = self.store.personas.for_subforum(int(subforum_id))
            except PersonaStudioError as exc:
                self.errors.show_text("input_details.subforum_name", str(exc), SUBFORUM_EXPERT)
                return
        shown = (subforum, [(e.persona_id, e.name) for e in experts])
        if keep_edits and shown == self._shown:
            return
        self._shown = shown
        self._experts = experts
        self.experts.clear()
        for expert in experts:
            item = QListWidgetItem(expert.name)
            item.setData(PERSONA_ROLE, expert.persona_id)
            item.setToolTip("Double-click to open it in the editor")
            self.experts.addItem(item)
        if subforum is not None and not experts:
            placeholder = QListWidgetItem("No experts yet")
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.experts.addItem(placeholder)
        edited = self.subforum_description.toPlainText() != self._loaded_description
        if not (keep_edits and edited):
            self._set_description((subforum.description or "") if subforum else "")
        self._update_naming_note()

    def _set_description(self, text: str) -> None:
        self._loaded_description = text
        self.subforum_description.setPlainText(text)
        self.save_description.setEnabled(False)
        self.description_status.clear()

    def _description_edited(self) -> None:
        edited = self.subforum_description.toPlainText() != self._loaded_description
        self.save_description.setEnabled(edited and self.subforum.currentData() is not None)
        self.description_status.setText("Not saved yet" if edited else "")

    def _save_description(self) -> None:
        subforum_id = self.subforum.currentData()
        if subforum_id is None or self.store is None:
            return
        text = self.subforum_description.toPlainText()
        store = self.store
        self.save_description.setEnabled(False)
        self.description_status.setText("Saving…")

        def saved(_result: None) -> None:
            self._loaded_description = text
            self._description_edited()
            if self.subforum_description.toPlainText() == text:
                self.description_status.setText("Saved: FORLLM sees it too.")

        def failed(exc: PersonaStudioError) -> None:
            self._description_edited()
            self.errors.show_text("input_details.subforum_description", str(exc), SUBFORUM_EXPERT)

        self.writes.off_thread(
            lambda: store.subforums.set_description(int(subforum_id), text), saved, failed
        )

    def _open_expert(self, item: QListWidgetItem) -> None:
        persona_id = item.data(PERSONA_ROLE)
        if persona_id is not None:
            self.personaRequested.emit(int(persona_id))

    def _count_changed(self, count: int) -> None:
        batch = count > 1
        self.focuses.setEnabled(batch)
        self.expert_name.setEnabled(not batch)
        self.expert_name.setToolTip("" if not batch else "A batch lets each expert pick its name")
        lines = [line for line in self.focuses.toPlainText().splitlines() if line.strip()]
        if batch and len(lines) < count:
            extra = [f for f in DEFAULT_FOCUSES if f not in lines][: count - len(lines)]
            self.focuses.setPlainText("\n".join(lines + extra))
        self._update_generate_label()

    def _tab_changed(self, index: int) -> None:
        self.errors.clear()
        self._update_generate_label()
        self._fit_tabs(index)

    def _fit_tabs(self, index: int) -> None:
        self.stack.setCurrentIndex(index)
        for i in range(self.stack.count()):
            policy = QSizePolicy.Policy.Preferred if i == index else QSizePolicy.Policy.Ignored
            self.stack.widget(i).setSizePolicy(policy, policy)
        self.stack.updateGeometry()

    def _update_generate_label(self) -> None:
        count = self.count.value()
        batch = count > 1 and self.tabs.currentIndex() == TYPE_ORDER.index(SUBFORUM_EXPERT)
        self.generate_button.setText(f"Generate {count} experts" if batch else "Generate")

    def _update_naming_note(self) -> None:
        names = self.taken_names()
        self.naming_note.setText(
            "Each new expert gets a name unlike every persona's in the file, these included: "
            + ", ".join(names)
            + "."
            if names
            else ""
        )
        self.naming_note.setVisible(bool(names))

    def taken_names(self) -> list[str]:
        return [expert.name for expert in self._experts]

    def _remember_model(self, model_id: str) -> None:
        self.prefs.last_model = model_id

    # -- generating -----------------------------------------------------------------------

    @property
    def generation_type(self) -> str:
        return TYPE_ORDER[self.tabs.currentIndex()]

    def set_generation_type(self, generation_type: str) -> None:
        self.tabs.setCurrentIndex(TYPE_ORDER.index(generation_type))

    def build_requests(self) -> list[PersonaGenerationRequest]:
        """The validated requests the form describes; raises InvalidRequestError."""
        model = self.current_model.model_id()
        prefs = self.output.preferences()
        override = self.override.text()
        options = {"critique": True} if self.critique.isChecked() else None
        gtype = self.generation_type
        if gtype == FROM_NAME_AND_DESCRIPTION:
            details = {
                "name_hint": self.name_hint.text(),
                "description_hint": self.description.toPlainText(),
            }
            return [
                PersonaGenerationRequest.create(gtype, details, prefs, model, override, options)
            ]
        if gtype == GENERAL_PURPOSE_ASSISTANT:
            details = {
                "name_hint": self.assistant_name.text(),
                "description_hint": self.assistant_description.toPlainText(),
                "additional_directives": self.assistant_directives.toPlainText(),
            }
            return [
                PersonaGenerationRequest.create(gtype, details, prefs, model, override, options)
            ]
        return self._expert_requests(model, prefs, override, options)

    def _expert_requests(
        self, model: str, prefs: dict, override: str, options: dict | None = None
    ) -> list:
        subforum_id = self.subforum.currentData()
        if subforum_id is None:
            raise InvalidRequestError(
                "input_details.subforum_name", "pick a subforum (FORLLM creates them)."
            )
        count = self.count.value()
        focuses = [line.strip() for line in self.focuses.toPlainText().splitlines() if line.strip()]
        if count > 1 and len(focuses) < count:
            raise InvalidRequestError(
                "focuses",
                f"give one focus line per expert: {count} needed, {len(focuses)} given.",
            )
        base = {
            "subforum_id": int(subforum_id),
            "subforum_name": self.subforum.currentText(),
            "subforum_description": self.subforum_description.toPlainText(),
        }
        requests = []
        for i in range(count):
            details = dict(base)
            details["additional_directives"] = batch_directives(
                self.directives.toPlainText(), focuses[i] if count > 1 else None
            )
            if count == 1:
                details["name_hint"] = self.expert_name.text()
            requests.append(
                PersonaGenerationRequest.create(
                    SUBFORUM_EXPERT,
                    details,
                    prefs,
                    model,
                    override if count == 1 else "",
                    options,
                )
            )
        return requests

    def generate(self) -> bool:
        """Validate, then queue (off the GUI thread). True if the jobs are being queued;
        ``queued`` says with which ids once they are."""
        self.errors.clear()
        self.result.clear()
        if self.store is None:
            self.errors.show_text("", "No database is open (File > Open database…).")
            return False
        if not self.generate_button.isEnabled():  # the previous click is still being queued
            return False
        if not self.output.check(self.errors):
            return False
        try:
            requests = self.build_requests()
        except InvalidRequestError as exc:
            self.errors.show(exc, self.generation_type)
            return False
        items = [(r.to_params(), r.llm_model_for_generation) for r in requests]
        store = self.store
        self.generate_button.setEnabled(False)
        self.result.setText("Queueing…")
        self.writes.off_thread(
            lambda: store.queue.enqueue_many(items), self._queued, self._queue_failed
        )
        return True

    def _queued(self, ids: list[int]) -> None:
        self.generate_button.setEnabled(True)
        what = f"job #{ids[0]}" if len(ids) == 1 else f"{len(ids)} jobs (#{ids[0]}–#{ids[-1]})"
        self.result.setText(f"Queued {what}.")
        self.queued.emit(ids)

    def _queue_failed(self, exc: PersonaStudioError) -> None:
        self.generate_button.setEnabled(True)
        self.result.clear()
        self.errors.show_text("", f"Could not queue the job: {exc}")
