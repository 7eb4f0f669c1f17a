"""Edit › Prompt templates…: the user's copy of a stage's template for a generation type.

Saving checks the text first (TemplateLibrary.save_user_template): an unknown or malformed
placeholder is shown here and nothing is written. The shipped files are never changed;
Restore shipped drops the user's copy. The worker's library reloads a changed copy before
its next job, so the next generation uses what was saved here.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.request import GENERATION_TYPES, generation_type_label
from persona_studio.engine.templates import STAGE_VARIABLES, STAGES, TemplateLibrary
from persona_studio.errors import TemplateError
from persona_studio.ui.labels import error_color


class TemplateEditorDialog(QDialog):
    def __init__(
        self, parent: QWidget | None = None, library: TemplateLibrary | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Prompt templates")
        self.library = library
        self._loaded = ""
        self.stage = QComboBox()
        self.stage.setAccessibleName("Stage")
        for stage in STAGES:
            self.stage.addItem(stage.capitalize(), stage)
        self.generation_type = QComboBox()
        self.generation_type.setAccessibleName("Generation type")
        for gtype in GENERATION_TYPES:
            self.generation_type.addItem(generation_type_label(gtype), gtype)
        self.info = QLabel()
        self.info.setObjectName("templateInfo")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.variables = QLabel()
        self.variables.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setAccessibleName("Template text")
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.text.setFont(font)
        self.error = QLabel()
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {error_color().name()};")
        self.error.setVisible(False)
        self.status = QLabel()
        self.save_button = QPushButton("Save")
        self.save_button.setAccessibleName("Save your copy of this template")
        self.revert_button = QPushButton("Revert")
        self.revert_button.setAccessibleName("Discard the edits")
        self.restore_button = QPushButton("Restore shipped")
        self.restore_button.setAccessibleName("Delete your copy and use the shipped template")
        self.restore_button.setToolTip(
            "Deletes your copy of this template; the shipped one is used from the next job."
        )
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        pick = QFormLayout()
        pick.addRow("Stage:", self.stage)
        pick.addRow("Generation type:", self.generation_type)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.restore_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(pick)
        layout.addWidget(self.info)
        layout.addWidget(self.variables)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.resize(820, 640)

        self.stage.currentIndexChanged.connect(self.show_template)
        self.generation_type.currentIndexChanged.connect(self.show_template)
        self.text.textChanged.connect(self._update_state)
        self.save_button.clicked.connect(self.save)
        self.revert_button.clicked.connect(self.show_template)
        self.restore_button.clicked.connect(self.restore)
        if self.library is None:
            try:
                self.library = TemplateLibrary()
            except TemplateError as exc:  # a broken user copy: say which, edit nothing
                self.library = None
                self._show_error(str(exc))
        self.show_template()

    # -- state ----------------------------------------------------------------------------

    def key(self) -> tuple[str, str]:
        return str(self.stage.currentData()), str(self.generation_type.currentData())

    def is_dirty(self) -> bool:
        return self.text.toPlainText() != self._loaded

    def _update_state(self) -> None:
        usable = self.library is not None
        dirty = self.is_dirty()
        source = self.library.get(*self.key()).source if usable else ""
        self.save_button.setEnabled(usable and dirty)
        self.revert_button.setEnabled(usable and dirty)
        self.restore_button.setEnabled(usable and source == "user")
        self.text.setEnabled(usable)
        # Save or revert before switching: the edits belong to the template shown.
        self.stage.setEnabled(usable and not dirty)
        self.generation_type.setEnabled(usable and not dirty)

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def show_template(self) -> None:
        """Show the template picked (dropping unsaved edits, as Revert)."""
        if self.library is None:
            self._update_state()
            return
        self._show_error("")
        stage, gtype = self.key()
        template = self.library.get(stage, gtype)
        self._loaded = template.text
        self.text.setPlainText(template.text)
        where = "your copy" if template.source == "user" else "shipped"
        self.info.setText(f"Source: {where} · version {template.version}\n{template.path}")
        self.variables.setText(
            "Placeholders: " + ", ".join("{{" + v + "}}" for v in sorted(STAGE_VARIABLES[stage]))
        )
        self._update_state()

    # -- actions --------------------------------------------------------------------------

    def save(self) -> bool:
        if self.library is None:
            return False
        try:
            template = self.library.save_user_template(*self.key(), self.text.toPlainText())
        except TemplateError as exc:
            self._show_error(str(exc))
            return False
        except OSError as exc:
            self._show_error(f"Your copy could not be written: {exc}")
            return False
        self.show_template()
        self.status.setText(f"Saved {template.version}; the next job uses it.")
        return True

    def restore(self) -> None:
        if self.library is None:
            return
        try:
            template = self.library.restore_shipped(*self.key())
        except (TemplateError, OSError) as exc:
            self._show_error(str(exc))
            return
        self.show_template()
        self.status.setText(f"Restored the shipped {template.version}.")

    def reject(self) -> None:
        if not self.is_dirty():
            super().reject()
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Unsaved template",
            "Discard your edits to this template?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("discardTemplate")

        def answered(_result: int) -> None:
            if box.clickedButton() is box.button(QMessageBox.StandardButton.Discard):
                self._loaded = self.text.toPlainText()
                super(TemplateEditorDialog, self).reject()

        box.finished.connect(answered)
        box.open()
