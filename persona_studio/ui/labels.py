"""Words and colours shown for stored values (model ids, generation types, sources)."""

from __future__ import annotations

import re

from PySide6.QtGui import QColor, QGuiApplication

from persona_studio.core.request import (
    FROM_NAME_AND_DESCRIPTION,
    GENERAL_PURPOSE_ASSISTANT,
    SUBFORUM_EXPERT,
)
from persona_studio.errors import ModelError
from persona_studio.llm.catalog import ModelRef

SOURCE_TYPE_LABELS = {
    FROM_NAME_AND_DESCRIPTION: "details",
    SUBFORUM_EXPERT: "expert",
    GENERAL_PURPOSE_ASSISTANT: "assistant",
}


def source_label(generation_source: str | None) -> str:
    """Short, for a list column. FORLLM leaves generation_source NULL for hand-written
    personas."""
    if not generation_source or generation_source == "user_manual":
        return "Written by hand"
    if generation_source.startswith("llm_generated_"):
        kind = generation_source.removeprefix("llm_generated_")
        return f"Generated: {SOURCE_TYPE_LABELS.get(kind, kind.replace('_', ' '))}"
    return generation_source


def stage_label(stage: str | None) -> str:
    """A generation stage as the stream view and the queue name it ("Persona check")."""
    if not stage:
        return ""
    return "Persona check" if stage == "check" else stage.capitalize()


def model_label(model_id: str | None) -> str:
    """A short name for a model identifier: "llama3 (Ollama)", a GGUF file's stem."""
    if not model_id:
        return ""
    try:
        name, where = ModelRef.parse(model_id).label_parts()
    except ModelError:
        return model_id
    return f"{name} ({where})" if where else name


def dark_palette() -> bool:
    return QGuiApplication.palette().window().color().lightness() < 128


def error_color() -> QColor:
    """Red that stays readable on the current light or dark background."""
    return QColor("#ff8a80") if dark_palette() else QColor("#b71c1c")


def ok_color() -> QColor:
    """Green that stays readable on the current light or dark background."""
    return QColor("#a5d6a7") if dark_palette() else QColor("#1b5e20")


def muted_color() -> QColor:
    return QGuiApplication.palette().placeholderText().color()


def first_sentence(text: str | None) -> str:
    """The start of a message, for a status line; the whole of it goes in a tooltip or
    a panel."""
    text = " ".join((text or "").split())
    end = re.search(r"[.!?](\s|$)", text)
    return text[: end.start() + 1] if end else text


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
