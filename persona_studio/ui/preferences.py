"""Preferences kept in QSettings, and the dialog that edits them.

QSettings (not the shared database) because these belong to this machine and this user:
window geometry, the last file opened, how the local model is run. FORLLM never sees them.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QByteArray, QSettings, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from persona_studio import paths
from persona_studio.llm.catalog import OLLAMA_BASE_URL, ModelSettings

THEMES = (("system", "Follow the system"), ("light", "Light"), ("dark", "Dark"))
# What the embedded backend uses when no context size is set (EmbeddedBackend's default).
DEFAULT_CONTEXT = 4096


class Preferences:
    """Typed access to the QSettings keys the application uses."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings or QSettings("persona-studio", "Persona Studio")

    def _get(self, key: str, default: object, kind: type) -> object:
        value = self.qsettings.value(key, default)
        if kind is int:
            try:
                return int(value)
            except (TypeError, ValueError):
                return default
        return value

    # -- models ----------------------------------------------------------------------------

    @property
    def endpoints(self) -> list[str]:
        value = self.qsettings.value("models/endpoints")
        if value is None:
            return [OLLAMA_BASE_URL]
        if isinstance(value, str):  # QSettings hands back a one-item list as a plain string
            value = [value] if value else []
        return [str(v) for v in value if str(v).strip()]

    @endpoints.setter
    def endpoints(self, urls: list[str]) -> None:
        self.qsettings.setValue("models/endpoints", list(urls))

    def unconfigured_endpoints(self) -> set[str]:
        """Endpoints asked without the user having set them up: Ollama's, by default. Where
        nothing answers there, the pickers say so quietly (no Ollama is a normal set-up),
        instead of showing an error before the user did anything."""
        if self.qsettings.value("models/endpoints") is None:
            return {OLLAMA_BASE_URL}
        return set()

    # QSettings keeps 0 for "automatic" (as the spin boxes show it); ModelSettings says None.
    @property
    def model_settings(self) -> ModelSettings:
        return ModelSettings(
            threads=max(0, int(self._get("models/threads", 0, int))) or None,
            context_size=max(0, int(self._get("models/context_size", 0, int))) or None,
        )

    @model_settings.setter
    def model_settings(self, value: ModelSettings) -> None:
        self.qsettings.setValue("models/threads", value.threads or 0)
        self.qsettings.setValue("models/context_size", value.context_size or 0)

    def usual_speed(self, model_id: str) -> float | None:
        """Tokens/s this machine usually makes with ``model_id`` (llm.threads.SpeedRecord);
        None until a job has run on it here."""
        value = self._speeds().get(model_id)
        return float(value) if isinstance(value, int | float) and value > 0 else None

    def set_usual_speed(self, model_id: str, tokens_per_s: float) -> None:
        speeds = self._speeds()
        speeds[model_id] = round(tokens_per_s, 2)
        # One JSON value: model ids hold '/' and ':', which QSettings would read as groups.
        self.qsettings.setValue("models/usual_speed", json.dumps(speeds))

    def _speeds(self) -> dict:
        try:
            value = json.loads(str(self.qsettings.value("models/usual_speed", "{}")))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def last_model(self) -> str:
        return str(self._get("models/last", "", str) or "")

    @last_model.setter
    def last_model(self, model_id: str) -> None:
        self.qsettings.setValue("models/last", model_id)

    # -- appearance and session --------------------------------------------------------------

    @property
    def theme(self) -> str:
        value = str(self._get("appearance/theme", "system", str))
        return value if value in dict(THEMES) else "system"

    @theme.setter
    def theme(self, value: str) -> None:
        self.qsettings.setValue("appearance/theme", value)

    @property
    def last_database(self) -> str:
        return str(self._get("database/last", "", str) or "")

    @last_database.setter
    def last_database(self, path: str) -> None:
        self.qsettings.setValue("database/last", path)

    @property
    def export_format(self) -> str:
        """The format personas dragged out of the list are written in (a FORMATS key)."""
        from persona_studio.ui.transfer import DEFAULT_FORMAT, formats

        value = str(self._get("export/format", DEFAULT_FORMAT, str) or DEFAULT_FORMAT)
        return value if value in formats() else DEFAULT_FORMAT

    @export_format.setter
    def export_format(self, key: str) -> None:
        self.qsettings.setValue("export/format", key)

    @property
    def try_panel_shown(self) -> bool:
        """Whether the editor shows its "Try it" chat panel (shown until hidden)."""
        return bool(self._get("editor/try_panel", True, bool))

    @try_panel_shown.setter
    def try_panel_shown(self, shown: bool) -> None:
        self.qsettings.setValue("editor/try_panel", shown)

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        geometry = self.qsettings.value("window/geometry")
        state = self.qsettings.value("window/state")
        return (
            geometry if isinstance(geometry, QByteArray) else None,
            state if isinstance(state, QByteArray) else None,
        )

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)

    def sync(self) -> None:
        self.qsettings.sync()


def apply_theme(theme: str) -> None:
    """Qt follows the system's light/dark setting by itself; only an explicit choice
    overrides it."""
    scheme = {
        "light": Qt.ColorScheme.Light,
        "dark": Qt.ColorScheme.Dark,
    }.get(theme, Qt.ColorScheme.Unknown)
    QGuiApplication.styleHints().setColorScheme(scheme)


class PreferencesDialog(QDialog):
    """Edits a Preferences object; the caller applies what changed after ``exec``."""

    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.prefs = prefs
        form = QFormLayout()

        folder = paths.models_dir()
        folder_row = QHBoxLayout()
        folder_label = QLabel(str(folder))
        folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        folder_label.setToolTip("Every .gguf file in this folder is offered as a model.")
        open_folder = QPushButton("Open folder")
        open_folder.setAccessibleName("Open the models folder")
        open_folder.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        )
        folder_row.addWidget(folder_label, 1)
        folder_row.addWidget(open_folder)
        form.addRow("Models folder:", folder_row)

        self.endpoints = QListWidget()
        self.endpoints.setAccessibleName("OpenAI-compatible endpoints")
        self.endpoints.setToolTip(
            "Servers speaking the OpenAI chat API (Ollama, llama.cpp server, vLLM). "
            "Double-click a line to edit it."
        )
        for url in prefs.endpoints:
            self._add_endpoint_item(url)
        self.endpoint_edit = QLineEdit()
        self.endpoint_edit.setPlaceholderText("http://host:port/v1")
        self.endpoint_edit.setAccessibleName("New endpoint address")
        add = QPushButton("Add")
        add.setAccessibleName("Add endpoint")
        add.clicked.connect(self._add_endpoint)
        self.endpoint_edit.returnPressed.connect(self._add_endpoint)
        remove = QPushButton("Remove")
        remove.setAccessibleName("Remove the selected endpoint")
        remove.clicked.connect(self._remove_endpoint)
        self.endpoint_error = QLabel()
        self.endpoint_error.setObjectName("fieldError")
        self.endpoint_error.setVisible(False)
        endpoint_box = QVBoxLayout()
        endpoint_box.addWidget(self.endpoints)
        row = QHBoxLayout()
        row.addWidget(self.endpoint_edit, 1)
        row.addWidget(add)
        row.addWidget(remove)
        endpoint_box.addLayout(row)
        endpoint_box.addWidget(self.endpoint_error)
        form.addRow("Endpoints:", endpoint_box)

        settings = prefs.model_settings
        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("Automatic")
        self.threads.setValue(settings.threads or 0)
        self.threads.setAccessibleName("Threads for local models")
        self.threads.setToolTip(
            "Automatic: one per core while the processor is free, one while other programs "
            "use it (llama.cpp's threads collapse when they share cores). A number here is "
            "used as it is."
        )
        form.addRow("Threads:", self.threads)
        self.context = QSpinBox()
        self.context.setRange(0, 131072)
        self.context.setSingleStep(1024)
        self.context.setSpecialValueText(f"Model default ({DEFAULT_CONTEXT:,})")
        self.context.setValue(settings.context_size or 0)
        self.context.setAccessibleName("Context size for local models")
        form.addRow("Context size (tokens):", self.context)

        self.theme = QComboBox()
        self.theme.setAccessibleName("Theme")
        for key, label in THEMES:
            self.theme.addItem(label, key)
        self.theme.setCurrentIndex(self.theme.findData(prefs.theme))
        form.addRow("Theme:", self.theme)

        from persona_studio.ui.transfer import formats

        self.export_format = QComboBox()
        self.export_format.setAccessibleName("Format of dragged personas")
        self.export_format.setToolTip(
            "Personas dragged from the list onto a folder are written in this format; hold "
            "Alt when the drag starts for Persona Studio JSON (or Markdown, if JSON is chosen "
            "here). The list's context menu exports in any format."
        )
        for key, info in formats().items():
            self.export_format.addItem(info.label, key)
        self.export_format.setCurrentIndex(self.export_format.findData(prefs.export_format))
        form.addRow("Drag personas out as:", self.export_format)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        note = QLabel("Threads and context size apply from the next model load.")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(560, 420)

    def _add_endpoint_item(self, url: str) -> None:
        item = QListWidgetItem(url)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        self.endpoints.addItem(item)

    def _add_endpoint(self) -> None:
        url = self.endpoint_edit.text().strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            self.endpoint_error.setText("An endpoint starts with http:// or https://.")
            self.endpoint_error.setVisible(True)
            return
        self.endpoint_error.setVisible(False)
        self._add_endpoint_item(url)
        self.endpoint_edit.clear()

    def _remove_endpoint(self) -> None:
        for item in self.endpoints.selectedItems():
            self.endpoints.takeItem(self.endpoints.row(item))

    def endpoint_urls(self) -> list[str]:
        urls = (self.endpoints.item(i).text().strip() for i in range(self.endpoints.count()))
        return [u.rstrip("/") for u in urls if u]

    def accept(self) -> None:
        # Written only when changed: a visit to change the theme does not turn the default
        # Ollama endpoint into one the user set up (see Preferences.unconfigured_endpoints).
        if self.endpoint_urls() != self.prefs.endpoints:
            self.prefs.endpoints = self.endpoint_urls()
        self.prefs.model_settings = ModelSettings(
            self.threads.value() or None, self.context.value() or None
        )
        self.prefs.theme = str(self.theme.currentData())
        self.prefs.export_format = str(self.export_format.currentData())
        self.prefs.sync()
        super().accept()
