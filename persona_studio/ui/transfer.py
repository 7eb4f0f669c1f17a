"""Personas out of the window as files (drag, context menu) and files into it (drop).

Qt-free apart from the drag's QMimeData: the work is the export package's (export_persona,
import_file, save_document), run off the GUI thread wherever nothing waits for it. A drag is
the exception: a file manager takes file URLs, so the files are written when the drag starts,
into a fresh folder of their own under one temporary folder that lives as long as the app.

A character card carries the persona's saved card extras (greeting, alternate greetings,
example dialogue, scenario, tags), as ``persona-studio export`` does; an export never runs
the model. Where a persona has none, the export says so and where to write them (the
editor's Card tab), so a card without a greeting is never a surprise.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, QUrl

from persona_studio.errors import PersonaStudioError

if TYPE_CHECKING:  # for annotations only: importing the store loads SQLAlchemy
    from persona_studio.store import Store

DEFAULT_FORMAT = "md"
# With Alt held when a drag starts: the lossless format (or Markdown when that is the
# preferred one already).
ALTERNATE_FORMAT = "json"

_drag_root: tempfile.TemporaryDirectory[str] | None = None


def formats():
    """FORMATS (key -> FileFormat). The export package brings in the store (SQLAlchemy),
    which the GUI thread does not import before the window is up: imported when needed."""
    from persona_studio.export.io import FORMATS

    return FORMATS


def drag_format(preferred: str, alternate: bool) -> str:
    preferred = preferred if preferred in formats() else DEFAULT_FORMAT
    if not alternate:
        return preferred
    return ALTERNATE_FORMAT if preferred != ALTERNATE_FORMAT else DEFAULT_FORMAT


def drag_folder() -> Path:
    """A new, empty folder for one drag's files (so each file has the persona's own name)."""
    global _drag_root
    if _drag_root is None:
        _drag_root = tempfile.TemporaryDirectory(prefix="persona-studio-drag-")
    return Path(tempfile.mkdtemp(dir=_drag_root.name))


# The formats a card reader opens (our JSON carries the extras too, but is not a card).
CARD_FORMATS = ("card-v2", "card-v3", "card-png")
_NAMES_SHOWN = 3


@dataclass(frozen=True)
class Exported:
    """What an export wrote: the files, and the personas exported as cards without card
    extras (their names, in the order exported)."""

    paths: list[Path]
    without_extras: tuple[str, ...] = ()


def export_report(store: Store, persona_ids: Iterable[int], fmt: str, out: Path) -> Exported:
    """Export each persona to ``out`` (a folder: files named after the personas; a file
    path: only with one persona), each card with the persona's saved card extras. The open
    database is never the file replaced."""
    from persona_studio.export import document_from_persona, export_persona
    from persona_studio.export.store_glue import EXTRA_KEYS

    paths: list[Path] = []
    without: list[str] = []
    for pid in persona_ids:
        doc = document_from_persona(store, store.personas.get(pid))
        paths.append(export_persona(doc, fmt, out, protect=[store.path]))
        if fmt in CARD_FORMATS and not any(doc.card_fields.get(k) for k in EXTRA_KEYS):
            without.append(doc.name)
    return Exported(paths, tuple(without))


def export_personas(store: Store, persona_ids: Iterable[int], fmt: str, out: Path) -> list[Path]:
    """The files ``export_report`` wrote."""
    return export_report(store, persona_ids, fmt, out).paths


def _names(names: Iterable[str]) -> str:
    names = [f"“{n}”" for n in names]
    if len(names) > _NAMES_SHOWN:
        names = [*names[:_NAMES_SHOWN], f"{len(names) - _NAMES_SHOWN} more"]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def extras_hint(without_extras: Iterable[str], unsaved: Iterable[str] = ()) -> str:
    """What the writer should know about the card extras of the cards just exported: those
    with none (their cards have no greeting, and only what the text gives for the example
    dialogue and scenario), and those whose Card tab holds changes not saved yet. "" when
    there is nothing to say."""
    parts = []
    without = list(without_extras)
    if without:
        one = len(without) == 1
        parts.append(
            f"{_names(without)} {'has' if one else 'have'} no card extras, so "
            f"{'its card has' if one else 'their cards have'} no greeting and only what the "
            "text gives for the example dialogue and scenario. The editor's Card tab writes "
            "them (Write with the model); save, then export again."
        )
    pending = list(unsaved)
    if pending:
        parts.append(
            f"The Card tab of {_names(pending)} has changes that are not saved; the card holds "
            "the saved card extras (Ctrl+S saves the changes)."
        )
    return " ".join(parts)


def file_mime_data(paths: list[Path]) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def local_files(mime: QMimeData) -> list[Path]:
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


@dataclass(frozen=True)
class ImportResult:
    path: Path
    ok: bool
    message: str  # what was saved (and how it was renamed or repaired), or why not


def import_paths(store: Store, paths: Iterable[Path]) -> list[ImportResult]:
    """Import every file (a folder: the persona files in it; a link out of it is not
    followed); one file's failure does not stop the others."""
    from persona_studio.export import import_file, import_targets, save_document

    results: list[ImportResult] = []
    for target in import_targets(paths):
        path = target.path
        if target.error is not None:
            results.append(ImportResult(path, False, str(target.error)))
            continue
        try:
            docs = import_file(path, within=target.within)
            for doc in docs:
                outcome = save_document(store, doc)
                saved = outcome.saved
                text = f"imported as “{saved.name}”"
                if saved.renamed:
                    text += f" (“{saved.requested_name}” was taken)"
                if outcome.notes:
                    text += "; " + "; ".join(outcome.notes)
                results.append(ImportResult(path, True, text))
        except PersonaStudioError as exc:
            results.append(ImportResult(path, False, str(exc)))
    return results


def report_text(results: list[ImportResult]) -> str:
    from persona_studio.export import safe_name

    return "\n".join(f"{'✓' if r.ok else '✗'} {safe_name(r.path)}: {r.message}" for r in results)
