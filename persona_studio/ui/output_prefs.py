"""Output preferences: which headings, in which order, and the tone and length hints.

``Persona Name`` is listed with the other seven defaults but fixed at the top, ticked: the
engine always writes it first, so letting it be unticked or moved would be a control that
does nothing.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from persona_studio.engine.headings import DEFAULT_HEADINGS, PERSONA_NAME, heading_key
from persona_studio.ui.field_errors import FieldErrors, error_label

SECTION_HEADINGS = tuple(h for h in DEFAULT_HEADINGS if h != PERSONA_NAME)
TONES = ("friendly", "formal", "casual", "witty", "warm", "professional", "calm", "enthusiastic")
LENGTHS = (("Balanced", ""), ("Concise", "concise"), ("Detailed", "detailed"))
CUSTOM_ROLE = Qt.ItemDataRole.UserRole + 1
NAME_ROLE = Qt.ItemDataRole.UserRole + 2


class HeadingsEditor(QWidget):
    """A checklist of headings: tick to include, drag or use the arrows to reorder, add your
    own."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName("headingsList")
        self.list.setAccessibleName("Headings to include, in order")
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.list.setMinimumHeight(150)
        self.up = QPushButton("Up")
        self.up.setAccessibleName("Move the selected heading up")
        self.down = QPushButton("Down")
        self.down.setAccessibleName("Move the selected heading down")
        self.remove = QPushButton("Remove")
        self.remove.setAccessibleName("Remove the selected custom heading")
        self.reset = QPushButton("Defaults")
        self.reset.setAccessibleName("Back to the eight default headings")
        self.up.clicked.connect(lambda: self._move(-1))
        self.down.clicked.connect(lambda: self._move(1))
        self.remove.clicked.connect(self._remove)
        self.reset.clicked.connect(lambda: self.set_headings([]))
        self.new_heading = QLineEdit()
        self.new_heading.setPlaceholderText("Add your own heading, e.g. Favourite Sayings")
        self.new_heading.setAccessibleName("New heading")
        self.add_button = QPushButton("Add")
        self.add_button.setAccessibleName("Add the heading")
        self.add_button.clicked.connect(self._add)
        self.new_heading.returnPressed.connect(self._add)
        self.error = error_label()

        side = QVBoxLayout()
        for button in (self.up, self.down, self.remove, self.reset):
            side.addWidget(button)
        side.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.list, 1)
        top.addLayout(side)
        add_row = QHBoxLayout()
        add_row.addWidget(self.new_heading, 1)
        add_row.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(add_row)
        layout.addWidget(self.error)
        self.list.currentRowChanged.connect(self._update_buttons)
        # A drag can drop a heading above the name; put the name back on top afterwards.
        self.list.model().rowsMoved.connect(lambda *_: QTimer.singleShot(0, self._name_first))
        self.set_headings([])

    def _item(self, heading: str, checked: bool, custom: bool) -> QListWidgetItem:
        item = QListWidgetItem(heading)
        item.setFlags(
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsUserCheckable
            | Qt.ItemFlag.ItemIsDragEnabled
        )
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        item.setData(CUSTOM_ROLE, custom)
        if custom:
            item.setToolTip("Your own heading")
        return item

    @staticmethod
    def _name_item() -> QListWidgetItem:
        item = QListWidgetItem(PERSONA_NAME)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        item.setCheckState(Qt.CheckState.Checked)
        item.setData(NAME_ROLE, True)
        item.setToolTip("Always first: the persona's name goes on this line.")
        return item

    def _name_first(self) -> None:
        for row in range(1, self.list.count()):
            if self.list.item(row).data(NAME_ROLE):
                current = self.list.currentItem()
                self.list.insertItem(0, self.list.takeItem(row))
                self.list.setCurrentItem(current)
                return

    def set_headings(self, headings: list[str]) -> None:
        """Tick ``headings`` in that order (empty: the defaults), the other defaults after
        them, unticked."""
        chosen = [h for h in headings if heading_key(h) != heading_key(PERSONA_NAME)]
        if not chosen:
            chosen = list(SECTION_HEADINGS)
        default_keys = {heading_key(h) for h in SECTION_HEADINGS}
        chosen_keys = {heading_key(h) for h in chosen}
        self.list.clear()
        self.list.addItem(self._name_item())
        for heading in chosen:
            self.list.addItem(self._item(heading, True, heading_key(heading) not in default_keys))
        for heading in SECTION_HEADINGS:
            if heading_key(heading) not in chosen_keys:
                self.list.addItem(self._item(heading, False, False))
        self.error.setVisible(False)
        self._update_buttons()

    def headings(self) -> list[str]:
        """The ticked headings in order; [] when that is exactly the default set (the engine
        then uses its defaults, and the stored request stays as FORLLM would write it)."""
        items = [self.list.item(i) for i in range(self.list.count())]
        ticked = [
            item.text()
            for item in items
            if not item.data(NAME_ROLE) and item.checkState() == Qt.CheckState.Checked
        ]
        return [] if tuple(ticked) == SECTION_HEADINGS else [PERSONA_NAME, *ticked]

    def _move(self, step: int) -> None:
        row = self.list.currentRow()
        target = row + step
        if row < 1 or not 1 <= target < self.list.count():  # row 0 is the name's
            return
        item = self.list.takeItem(row)
        self.list.insertItem(target, item)
        self.list.setCurrentRow(target)

    def _add(self) -> None:
        text = " ".join(self.new_heading.text().split()).strip(" #:")
        if not text:
            return
        existing = {heading_key(self.list.item(i).text()) for i in range(self.list.count())}
        if heading_key(text) in existing | {heading_key(PERSONA_NAME)}:
            self.error.setText(f"“{text}” is already in the list.")
            self.error.setVisible(True)
            return
        self.error.setVisible(False)
        self.list.addItem(self._item(text, True, True))
        self.list.setCurrentRow(self.list.count() - 1)
        self.new_heading.clear()

    def _remove(self) -> None:
        item = self.list.currentItem()
        if item is not None and item.data(CUSTOM_ROLE):
            self.list.takeItem(self.list.row(item))

    def _update_buttons(self, *_args) -> None:
        row = self.list.currentRow()
        item = self.list.currentItem()
        self.up.setEnabled(row > 1)
        self.down.setEnabled(1 <= row < self.list.count() - 1)
        self.remove.setEnabled(bool(item is not None and item.data(CUSTOM_ROLE)))


class OutputPreferencesBox(QWidget):
    """Headings, tone and length: the ``output_preferences`` of a request."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headings = HeadingsEditor()
        self.tone = QComboBox()
        self.tone.setEditable(True)
        self.tone.setAccessibleName("Tone")
        self.tone.addItem("")
        self.tone.addItems(TONES)
        self.tone.lineEdit().setPlaceholderText("No preference (type your own or pick one)")
        self.tone_error = error_label()
        self.length = QComboBox()
        self.length.setAccessibleName("Length")
        for label, value in LENGTHS:
            self.length.addItem(label, value)
        self.length_error = error_label()
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Headings:", self.headings)
        form.addRow("Tone:", self.tone)
        form.addRow("", self.tone_error)
        form.addRow("Length:", self.length)
        form.addRow("", self.length_error)

    def register_errors(self, errors: FieldErrors) -> None:
        errors.add(
            "output_preferences.desired_headings",
            "Headings",
            self.headings.error,
            self.headings.list,
        )
        errors.add("output_preferences.tone_preference", "Tone", self.tone_error, self.tone)
        errors.add("output_preferences.length_preference", "Length", self.length_error, self.length)

    def check(self, errors: FieldErrors) -> bool:
        """What the request's validation cannot know: a persona needs at least one section."""
        if self.headings.headings() == [PERSONA_NAME]:
            errors.show_text(
                "output_preferences.desired_headings",
                "Tick at least one heading: a persona needs sections under its name.",
            )
            return False
        return True

    def preferences(self) -> dict[str, Any]:
        return {
            "desired_headings": self.headings.headings(),
            "tone_preference": self.tone.currentText().strip(),
            "length_preference": self.length.currentData() or "",
        }

    def set_preferences(self, prefs: dict[str, Any] | None) -> None:
        prefs = prefs or {}
        headings = prefs.get("desired_headings")
        self.headings.set_headings(list(headings) if isinstance(headings, list) else [])
        self.tone.setCurrentText(str(prefs.get("tone_preference") or ""))
        index = self.length.findData(str(prefs.get("length_preference") or ""))
        self.length.setCurrentIndex(max(0, index))
