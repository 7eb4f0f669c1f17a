"""Personas out of the window as files (drag, context menu) and files into it (drop).

Qt-free apart from the drag's QMimeData: the work is the export package's (export_persona,
import_file, save_document), run off the GUI thread wherever nothing waits for it. A drag is
the exception: a file manager takes file URLs, so the files are written when the drag starts,
into a fresh folder of their own under one temporary folder that lives as long as the app.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QMimeData, QUrl

from persona_studio.errors import PersonaStudioError

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


def export_personas(store, persona_ids: Iterable[int], fmt: str, out: Path) -> list[Path]:
    """Export each persona to ``out`` (a folder: files named after the personas; a file
    path: only with one persona). The open database is never the file replaced."""
    from persona_studio.export import document_from_persona, export_persona

    return [
        export_persona(
            document_from_persona(store, store.personas.get(pid)), fmt, out, protect=[store.path]
        )
        for pid in persona_ids
    ]


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


def import_paths(store, paths: Iterable[Path]) -> list[ImportResult]:
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
