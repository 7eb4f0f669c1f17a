"""Personas to files and files to personas: the one entry point the CLI and the window use.

Import recognises a file by its content, not its name (a card saved as .txt, a Markdown
persona saved as .json by a browser still import), refuses anything over MAX_IMPORT_BYTES
before reading it, and turns every problem into an ImportFormatError whose message starts
with the file's name.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from persona_studio.core import safejson
from persona_studio.errors import ExportError, ExportTargetError, ImportFormatError
from persona_studio.export import jsonload
from persona_studio.export.cards import (
    card_json,
    card_png,
    card_v2,
    card_v3,
    looks_like_card,
    read_card,
    read_card_png,
)
from persona_studio.export.filenames import write_file, write_new_file
from persona_studio.export.limits import within_limits
from persona_studio.export.markdown import persona_name, read_text, render_text
from persona_studio.export.model import PersonaDocument
from persona_studio.export.modelfile import (
    base_model,
    looks_like_modelfile,
    read_modelfile,
    render_modelfile,
)
from persona_studio.export.png_chunks import SIGNATURE, PngError, read_chunks
from persona_studio.export.ps_json import is_ps_json, read_json, render_json

# A persona is a few KB and a card PNG well under 1 MB; 20 MB leaves room for big avatars.
MAX_IMPORT_BYTES = 20 * 1024 * 1024
# Names whose stem may name a persona whose text does not ('Archivist Quill.md').
_TEXT_SUFFIXES = {"md", "markdown", "txt", "text", "modelfile"}
MAX_FOLDER_FILES = 1000
_MAX_FOLDER_DEPTH = 8
# SQLite's files beside a database: never the target of an export either.
_DB_COMPANIONS = ("-journal", "-wal", "-shm")
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)


@dataclass(frozen=True)
class FileFormat:
    key: str
    suffix: str  # what a file named after the persona ends with
    label: str


FORMATS: dict[str, FileFormat] = {
    f.key: f
    for f in (
        FileFormat("md", ".md", "Markdown"),
        FileFormat("txt", ".txt", "Plain text"),
        FileFormat("json", ".persona.json", "Persona Studio JSON"),
        FileFormat("card-v2", ".card-v2.json", "Character card V2 (JSON)"),
        FileFormat("card-v3", ".card-v3.json", "Character card V3 (JSON)"),
        FileFormat("card-png", ".png", "Character card (PNG, V3 with a V2 copy)"),
        FileFormat("modelfile", ".Modelfile", "Ollama Modelfile"),
    )
}


def file_format(key: str) -> FileFormat:
    try:
        return FORMATS[key]
    except KeyError:
        raise ExportError(
            f"Unknown export format '{key}'; use one of: {', '.join(FORMATS)}."
        ) from None


def render(
    doc: PersonaDocument,
    fmt: str,
    *,
    now: datetime | None = None,
    base_png: bytes | None = None,
    from_model: str | None = None,
) -> bytes:
    """The file's bytes. ``base_png``: an image to put a card into (card-png);
    ``from_model``: the Modelfile's FROM, instead of the persona's own model."""
    key = file_format(fmt).key
    now = now or datetime.now(UTC)
    if key == "card-png":
        return card_png(doc, now=now, base=base_png)
    if key in ("md", "txt"):
        text = render_text(doc)
    elif key == "json":
        text = render_json(doc, now=now)
    elif key == "card-v2":
        text = card_json(card_v2(doc, now=now))
    elif key == "card-v3":
        text = card_json(card_v3(doc, now=now))
    else:
        text = render_modelfile(doc, from_model or base_model(doc.model))
    return text.encode("utf-8")


def export_persona(
    doc: PersonaDocument,
    fmt: str,
    out: str | Path,
    *,
    from_model: str | None = None,
    protect: Iterable[Path] = (),
) -> Path:
    """Write ``doc`` and return the path written.

    ``out`` an existing folder: a new file in it named after the persona (made safe, made
    unique). Otherwise the file itself, replaced if it is a regular file; a card PNG
    exported onto an existing PNG keeps that picture and replaces only the card in it. Never
    replaced (ExportTargetError, nothing written): any of the files in ``protect`` (the open
    database), and anything that is not a regular file: a device such as /dev/full, a fifo,
    a link (which would redirect the write elsewhere). Either way the file appears whole or
    not at all (see filenames.write_file).
    """
    info = file_format(fmt)
    target = Path(out).expanduser()
    if isinstance(out, str) and out.endswith(("/", os.sep)) and not target.is_dir():
        raise ExportTargetError(f"The folder {target} does not exist; create it or pick another.")
    if target.is_dir():  # a link to a folder counts: the person named it as one
        return write_new_file(
            target, doc.name, info.suffix, render(doc, fmt, from_model=from_model)
        )
    if not target.parent.is_dir():
        raise ExportTargetError(
            f"The folder {target.parent} does not exist; create it or pick another."
        )
    exists = check_target(target, protect)
    base = _existing_png(target) if info.key == "card-png" and exists else None
    return write_file(target, render(doc, fmt, base_png=base, from_model=from_model))


def check_target(target: Path, protect: Iterable[Path] = ()) -> bool:
    """Refuse (ExportTargetError) to replace ``target`` unless it is a regular file or
    nothing, and none of ``protect``; True when there is a file to replace."""
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise ExportError(f"Cannot check {target} ({exc.strerror}).") from exc
    if info is not None and stat.S_ISLNK(info.st_mode):
        raise ExportTargetError(
            f"{target} is a link (to {os.readlink(target)}); a file is never written through "
            "a link. Export to the file it points to, or choose another name."
        )
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise ExportTargetError(
            f"{target} is {_file_kind(info.st_mode)}, not a regular file, so it is not "
            "replaced; choose a file name (or a folder)."
        )
    for kept in protect:
        if _same_file(target, Path(kept), info):
            raise ExportTargetError(
                f"{target} is the database Persona Studio has open (or one of its files); "
                "writing the export there would destroy it. Choose another file name."
            )
    return info is not None


def _same_file(target: Path, kept: Path, info: os.stat_result | None) -> bool:
    kept = kept.absolute()
    companions = [kept, *(kept.with_name(kept.name + s) for s in _DB_COMPANIONS)]
    resolved = target.resolve()
    if any(resolved == c.resolve() for c in companions):
        return True
    if info is None:
        return False
    for path in companions:  # a hard link to it has a name of its own
        try:
            other = os.stat(path)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
            return True
    return False


def _file_kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a fifo (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a file"


def _existing_png(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise ExportError(
                f"{path} exists and is over {MAX_IMPORT_BYTES // 2**20} MB, too big for a card "
                "image. Choose another file name."
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ExportError(f"Cannot read {path} ({exc.strerror}).") from exc
    try:
        read_chunks(data)
    except PngError as exc:
        raise ExportError(
            f"{path} exists and a card cannot be put into it ({exc}). Choose another file "
            "name, or delete that file first."
        ) from None
    return data


@dataclass(frozen=True)
class ImportTarget:
    """A file to import: ``path``, found in (or named inside) the folder ``within``, which a
    link in it must not lead out of. ``error``: why a named path yields nothing to import."""

    path: Path
    within: Path
    error: ImportFormatError | None = None


def import_targets(paths: Iterable[str | Path]) -> list[ImportTarget]:
    """The files to import for what a person named or dropped: a file as it is, a folder
    as the persona files in it (and in its subfolders, hidden ones skipped; links to
    folders are not entered). At most MAX_FOLDER_FILES per folder."""
    targets: list[ImportTarget] = []
    for given in map(Path, paths):
        if not given.is_dir():
            targets.append(ImportTarget(given, given.absolute().parent))
            continue
        root = given.resolve()
        found = _folder_files(root)
        if len(found) > MAX_FOLDER_FILES:
            error = ImportFormatError(
                f"{safe_name(given)}: the folder holds more than {MAX_FOLDER_FILES:,} files; "
                "nothing in it was imported. Import it a part at a time."
            )
            targets.append(ImportTarget(given, root, error))
            continue
        if not found:
            error = ImportFormatError(f"{safe_name(given)}: the folder holds no files.")
            targets.append(ImportTarget(given, root, error))
        targets.extend(ImportTarget(path, root) for path in found)
    return targets


def _folder_files(root: Path) -> list[Path]:
    files: list[Path] = []
    stack = [(root, 0)]
    while stack and len(files) <= MAX_FOLDER_FILES:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                folder_here = entry.is_dir(follow_symlinks=False)
                linked_folder = not folder_here and entry.is_dir()
            except OSError:  # a link in a loop: listed, so that its refusal is reported
                folder_here = linked_folder = False
            if folder_here:
                if depth < _MAX_FOLDER_DEPTH:
                    subfolders.append((Path(entry.path), depth + 1))
            elif not linked_folder:  # a link to a folder is not entered
                files.append(Path(entry.path))
        stack.extend(reversed(subfolders))
    return files


def safe_name(path: Path) -> str:
    """A path's name as a message can carry it (file names may hold undecodable bytes)."""
    return safejson.replace_surrogates(path.name)[0]


def import_file(path: str | Path, *, within: str | Path | None = None) -> list[PersonaDocument]:
    """The personas in the file at ``path`` (one per file today; a list so that files
    holding several can come without changing callers). A link is followed only if it leads
    to a file inside ``within`` (default: the folder the link is in): a file dropped from a
    folder, or named in it, never brings in a file from elsewhere (~/.ssh, /etc)."""
    path = Path(path)
    name = safe_name(path)
    folder = Path(within) if within is not None else path.absolute().parent
    try:
        link = stat.S_ISLNK(os.lstat(path).st_mode)
    except FileNotFoundError:
        raise ImportFormatError(f"{name}: there is no such file.") from None
    except OSError as exc:
        raise ImportFormatError(f"{name}: cannot be read ({exc.strerror}).") from None
    try:
        real = path.resolve()
    except (RuntimeError, OSError):  # a loop of links (RuntimeError on Python < 3.13)
        raise ImportFormatError(f"{name}: it is a link that leads round in a loop.") from None
    if link and not real.is_relative_to(folder.resolve()):
        raise ImportFormatError(
            f"{name}: it is a link to {safejson.replace_surrogates(str(real))[0]}, outside "
            "the folder it is in; links out of a folder are not followed. Import that file "
            "itself if you mean to."
        )
    try:
        info = real.stat()
    except FileNotFoundError:
        raise ImportFormatError(f"{name}: it is a link to a file that does not exist.") from None
    except OSError as exc:
        raise ImportFormatError(f"{name}: cannot be read ({exc.strerror}).") from None
    if not stat.S_ISREG(info.st_mode):
        raise ImportFormatError(f"{name}: it is a folder or a device, not a file.")
    if info.st_size > MAX_IMPORT_BYTES:
        raise _too_big(name, info.st_size)
    try:
        # O_NOFOLLOW: the name checked above cannot have become a link since; O_NONBLOCK:
        # nor a fifo that would block the read for ever.
        fd = os.open(real, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_BINARY)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise ImportFormatError(f"{name}: it is a folder or a device, not a file.")
            data = handle.read(MAX_IMPORT_BYTES + 1)  # the file may have grown since stat()
    except OSError as exc:
        raise ImportFormatError(f"{name}: cannot be read ({exc.strerror}).") from None
    if len(data) > MAX_IMPORT_BYTES:
        raise _too_big(name, len(data))
    return import_bytes(data, path.name)


def _too_big(name: str, size: int) -> ImportFormatError:
    return ImportFormatError(
        f"{name}: it is {size / 2**20:,.1f} MB, far more than any persona or character card "
        f"(the limit is {MAX_IMPORT_BYTES // 2**20} MB), so it was not read."
    )


def import_bytes(data: bytes, name: str) -> list[PersonaDocument]:
    """The personas in ``data``, within the import limits (export/limits.py); ``name`` is
    the file's name, for messages and for text files that do not name their persona."""
    name = safejson.replace_surrogates(name)[0]
    try:
        return [within_limits(_read(data, Path(name).name))]
    except ImportFormatError as exc:
        # A message may quote the file's own text: nothing in it may be unprintable.
        raise ImportFormatError(f"{name}: {safejson.replace_surrogates(str(exc))[0]}") from None


def _text_file_stem(base: str) -> str | None:
    """'Quill.md' -> 'Quill'; 'Modelfile' -> ''; None when the name says nothing of text."""
    stem, dot, suffix = base.rpartition(".")
    if dot and suffix.lower() in _TEXT_SUFFIXES:
        return stem
    return "" if base.lower() == "modelfile" else None


def _read(data: bytes, file_name: str) -> PersonaDocument:
    if data.startswith(SIGNATURE):
        return read_card_png(data)
    if data.startswith(b"PK\x03\x04"):
        raise ImportFormatError(
            "it is a zip archive (perhaps a .charx card), which is not supported; export the "
            "character as a PNG or JSON card instead."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = "\0"
    if "\0" in text:
        raise ImportFormatError(
            "it is neither a PNG card nor a text file (JSON, Markdown, Modelfile) in UTF-8."
        )
    stem = _text_file_stem(file_name)
    start = text.lstrip()[:1]
    if start and start in "{[":
        try:
            return _read_json(jsonload.loads(text))
        except ImportFormatError:
            # Not JSON after all? Persona text may start with '{{char}}' or a '[link]'.
            if stem is None and not persona_name(text):
                raise
    fallback_name = file_name if stem is None else stem
    if looks_like_modelfile(text):
        return read_modelfile(text, fallback_name)
    return read_text(text, fallback_name)


def _read_json(value: Any) -> PersonaDocument:
    if isinstance(value, dict):
        if is_ps_json(value):
            return read_json(value)
        if looks_like_card(value):
            return read_card(value)
    raise ImportFormatError(
        f"it is JSON ({jsonload.type_name(value)}), but neither a character card (no 'spec', "
        "'data' or 'name') nor a Persona Studio persona (no \"format\": \"persona-studio\")."
    )
