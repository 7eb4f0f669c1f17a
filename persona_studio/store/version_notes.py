"""Version notes (ps_version_notes): what a saved version says of how it was made, such as
"Rewrote 'Speaking Style & Tone' (shorter) with gguf:SmolLM2-135M-Instruct.Q4_1.gguf".

FORLLM's ``persona_versions`` has no column for it and is FORLLM's to define, so the note
lives in a table of ours, one row per version, keyed by ``persona_versions.version_id``
(AUTOINCREMENT there: an id is never handed out twice). The row also names the persona and
the version number, and a note is read only where the version row still says the same, so a
note can never be shown against a text it was not written for.

A version with several changes before one save has them all, in order, in one note
(``join_notes``). Writing checks the note (InvalidInputError); reading is lenient, as
everywhere in the store, because any program may write the file: a note that is not text
reads as none, bytes as UTF-8 with replacement characters.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from persona_studio.errors import InvalidInputError
from persona_studio.store.timestamps import now_utc, to_db_text

# A note of a few dozen accepted changes, each with an instruction of up to a few hundred
# characters, fits; a note bigger than this was not written by Persona Studio.
MAX_NOTE_CHARS = 20_000
SEPARATOR = "; "


def _more(count: int) -> str:
    return f"{SEPARATOR}and {count} more change{'s' if count != 1 else ''}" if count else ""


def join_notes(notes: Iterable[str]) -> str:
    """The notes of the changes saved in one version, in order, as one note of at most
    MAX_NOTE_CHARS ('...; and 3 more changes' where they would not all fit)."""
    parts = [" ".join(n.split()) for n in notes if isinstance(n, str) and n.strip()]
    joined = SEPARATOR.join(parts)
    if len(joined) <= MAX_NOTE_CHARS:
        return joined
    kept: list[str] = []
    for part in parts:
        left = len(parts) - len(kept) - 1
        if len(SEPARATOR.join([*kept, part])) + len(_more(left)) > MAX_NOTE_CHARS:
            break
        kept.append(part)
    rest = len(parts) - len(kept)
    if not kept:  # the first note alone is over the limit: cut it
        rest -= 1
        room = MAX_NOTE_CHARS - len(_more(rest)) - 1
        kept.append(parts[0][:room].rstrip() + "…")
    return SEPARATOR.join(kept) + _more(rest)


def check_note(note: Any) -> str | None:
    """``note`` as it is stored (surrounding blanks removed; None for no note), or
    InvalidInputError saying why it cannot be."""
    if note is None:
        return None
    if not isinstance(note, str):
        raise InvalidInputError(f"A version's note is text, not {type(note).__name__}.")
    text = note.strip()
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidInputError(
            f"A version's note has {len(text):,} characters; the limit is {MAX_NOTE_CHARS:,}."
        )
    return text or None


def write_note(
    conn: sa.Connection,
    version_id: int,
    persona_id: int,
    version: int,
    note: str,
    *,
    when: datetime | None = None,
) -> None:
    """Keep ``note`` (already checked) with that persona_versions row, inside the caller's
    transaction (the one that inserted the row)."""
    conn.exec_driver_sql(
        "INSERT OR REPLACE INTO ps_version_notes (version_id, persona_id, version, note, "
        "created_at) VALUES (?, ?, ?, ?, ?)",
        (version_id, persona_id, version, note, to_db_text(when or now_utc())),
    )


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return ""
    text = value.strip()
    return text if len(text) <= MAX_NOTE_CHARS else text[: MAX_NOTE_CHARS - 1] + "…"


def read_notes(conn: sa.Connection, persona_id: int) -> dict[int, str]:
    """version_id -> note, for the persona's versions that have one."""
    rows = conn.exec_driver_sql(
        "SELECT n.version_id, n.note FROM ps_version_notes n "
        "JOIN persona_versions v ON v.version_id = n.version_id "
        "AND v.persona_id = n.persona_id AND v.version = n.version "
        "WHERE n.persona_id = ?",
        (persona_id,),
    )
    notes = {}
    for version_id, value in rows:
        text = _text(value)
        if text and isinstance(version_id, int):
            notes[version_id] = text
    return notes


def delete_notes(conn: sa.Connection, persona_id: int) -> None:
    conn.exec_driver_sql("DELETE FROM ps_version_notes WHERE persona_id = ?", (persona_id,))
