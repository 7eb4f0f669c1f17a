"""PersonaDocument: one persona as the file formats see it, free of Qt and of the database.

Every exporter takes one and every importer returns one, so a format never needs to know
where a persona came from (the store, a drop onto the window, another file) or where it goes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from persona_studio.engine.request import GENERATION_TYPES
from persona_studio.errors import ImportFormatError

USER_MANUAL = "user_manual"
_GENERATED_PREFIX = "llm_generated_"
# What a generation type may look like; anything else in a file is not trusted as one.
_GENERATION_TYPE = re.compile(r"[a-z0-9_]{1,64}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class VersionEntry:
    """One past text of a persona, oldest first in :attr:`PersonaDocument.versions`."""

    version: int
    name: str
    prompt_instructions: str
    updated_at: datetime | None = None


@dataclass(frozen=True)
class PersonaDocument:
    """A persona plus what is known about how it was made.

    ``generation_source`` uses the store's words (``user_manual``,
    ``llm_generated_<type>``); None when a file did not say. ``extensions`` and
    ``card_fields`` carry what a character card held that a persona has no place for (the
    card's ``extensions`` object, greetings, a lorebook, unknown future fields), so a card
    that goes through Persona Studio comes out with them intact. ``notes`` says what an
    importer had to repair, for the person who imported the file.
    """

    name: str
    prompt_instructions: str
    generation_source: str | None = None
    input_details: dict[str, Any] | None = None
    output_preferences: dict[str, Any] | None = None
    template_versions: dict[str, Any] | None = None
    model: str | None = None
    request_params: dict[str, Any] | None = None
    stats: dict[str, Any] | None = None
    # {"rating", "note", "rated_at"} from store.personas.rating(); a list of such is read too.
    ratings: list[Any] | dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int | None = None
    versions: tuple[VersionEntry, ...] = ()
    extensions: dict[str, Any] = field(default_factory=dict)
    card_fields: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def generation_type(self) -> str | None:
        """The store's ``generation_type`` (None: written by hand or unknown)."""
        return generation_type_of(self.generation_source)


def generation_type_of(source: str | None) -> str | None:
    if source and source.startswith(_GENERATED_PREFIX):
        kind = source.removeprefix(_GENERATED_PREFIX)
        if _GENERATION_TYPE.fullmatch(kind):
            return kind
    return None


def clean_source(value: Any) -> str | None:
    """A generation_source read from a file: one this version can regenerate from, else None
    (a file must not plant a type that later makes 'Regenerate' fail)."""
    if value == USER_MANUAL:
        return value
    if isinstance(value, str) and generation_type_of(value) in GENERATION_TYPES:
        return value
    return None


def clean_name(value: str) -> str:
    """A name from a file on one line: control characters dropped, spaces collapsed."""
    return " ".join(_CONTROL.sub("", value).split())


def clean_text(value: str) -> str:
    """Persona text from a file: Unix newlines, no NULs or other control characters (they
    only confuse a model and SQLite tools), otherwise exactly as written."""
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def require_persona(name: str, text: str) -> None:
    """What every importer checks last: a persona needs a name and some text."""
    if not name:
        raise ImportFormatError("it gives the persona no name.")
    if not text.strip():
        raise ImportFormatError("it holds no persona text.")
