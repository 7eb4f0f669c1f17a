"""Validation messages shown next to the field they are about.

``InvalidRequestError.field`` names the field in the request's own terms
(``input_details.description_hint``, ``output_preferences.desired_headings[2]``); a form maps
those names to its widgets once and this class does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from persona_studio.errors import InvalidRequestError
from persona_studio.ui.labels import error_color


def error_label() -> QLabel:
    label = QLabel()
    label.setObjectName("fieldError")
    label.setWordWrap(True)
    label.setVisible(False)
    label.setStyleSheet(f"color: {error_color().name()};")
    return label


def plain_message(exc: InvalidRequestError, subject: str) -> str:
    """'input_details.name_hint: is 300 characters long…' -> 'Name is 300 characters long…'."""
    text = str(exc)
    prefix = f"{exc.field}: "
    if text.startswith(prefix):
        text = text[len(prefix) :]
    if text.split(" ", 1)[0] in ("is", "has", "must"):
        return f"{subject} {text}"
    return text[:1].upper() + text[1:]


@dataclass
class _Field:
    subject: str
    label: QLabel
    focus: QWidget


class FieldErrors:
    """Fields may be registered under a ``scope`` (a form page): the same request field
    (``input_details.name_hint``) can then have a box on each page."""

    def __init__(self, fallback: QLabel) -> None:
        self._fields: dict[tuple[str | None, str], _Field] = {}
        self._fallback = fallback

    def add(
        self, field: str, subject: str, label: QLabel, focus: QWidget, scope: str | None = None
    ) -> None:
        self._fields[(scope, field)] = _Field(subject, label, focus)

    def add_row(
        self,
        form: QFormLayout,
        caption: str,
        widget: QWidget,
        fields: str | tuple[str, ...],
        subject: str,
        scope: str | None = None,
    ) -> QLabel:
        """Add ``widget`` to ``form`` under ``caption``, with the label that shows its
        messages on the row below, registered for the request field(s) it edits; returns
        that label."""
        label = error_label()
        form.addRow(caption, widget)
        form.addRow("", label)
        for field in (fields,) if isinstance(fields, str) else fields:
            self.add(field, subject, label, widget, scope)
        return label

    def clear(self) -> None:
        for entry in self._fields.values():
            entry.label.setVisible(False)
        self._fallback.setVisible(False)

    def _find(self, field: str, scope: str | None) -> _Field | None:
        """The entry for ``field`` (longest registered prefix), this scope's first."""
        for wanted in (scope, None):
            names = [f for (s, f) in self._fields if s == wanted and field.startswith(f)]
            if names:
                return self._fields[(wanted, max(names, key=len))]
        return None

    def show(self, exc: InvalidRequestError, scope: str | None = None) -> QLabel:
        """Show ``exc`` next to its field; returns the label used."""
        self.clear()
        entry = self._find(exc.field, scope) if exc.field else None
        if entry is None:
            self._fallback.setText(str(exc))
            self._fallback.setVisible(True)
            return self._fallback
        entry.label.setText(plain_message(exc, entry.subject))
        entry.label.setVisible(True)
        entry.focus.setFocus()
        return entry.label

    def show_text(self, field: str, text: str, scope: str | None = None) -> QLabel:
        """A message the form found itself (not from the request's validation)."""
        self.clear()
        entry = self._find(field, scope) if field else None
        label = entry.label if entry else self._fallback
        label.setText(text)
        label.setVisible(True)
        if entry:
            entry.focus.setFocus()
        return label
