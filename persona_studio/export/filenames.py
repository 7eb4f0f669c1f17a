"""File names made from persona names, which anyone (an imported card, FORLLM) may have set.

The rules are the union of what Linux, macOS and Windows refuse or misread, so a file named
here can be copied anywhere: no path separators or reserved characters, no control or
bidirectional-override characters (which can disguise an extension), no leading dot (hidden
files, '..'), no trailing dot or space, no Windows device names, and a length well under
every file system's 255-byte limit. What remains of the name stays readable.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from persona_studio.errors import ExportError

FALLBACK_STEM = "persona"
# Room for ' (9999)', a suffix such as '.card-v3.json' and file systems that count bytes.
MAX_STEM_BYTES = 120
_MAX_VARIANTS = 10_000

_WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    "CONIN$",
    "CONOUT$",
    *(f"COM{n}" for n in "123456789¹²³"),
    *(f"LPT{n}" for n in "123456789¹²³"),
}
_FORBIDDEN = set('<>:"/\\|?*')
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows would otherwise translate newlines
_RUNS = re.compile(r"[_\s]*_[_\s]*|\s+")


def safe_stem(name: str) -> str:
    """A readable file name stem for ``name`` that is safe on every desktop file system."""
    text = unicodedata.normalize("NFC", name)
    chars = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cf":  # zero-width and bidi controls: invisible, so just drop them
            continue
        if ch.isspace():
            chars.append(" ")
        else:
            chars.append("_" if ch in _FORBIDDEN or category[0] == "C" else ch)
    stem = _RUNS.sub(lambda m: "_" if "_" in m.group() else " ", "".join(chars))
    stem = _trim(_cut(_trim(stem), MAX_STEM_BYTES))
    if not stem:
        return FALLBACK_STEM
    if stem.split(".")[0].rstrip().upper() in _WINDOWS_RESERVED:
        stem += "_"
    return stem


def safe_filename(name: str, suffix: str) -> str:
    return safe_stem(name) + suffix


def _trim(text: str) -> str:
    # Leading dots hide a file (and '..' is the parent folder); Windows drops trailing ones.
    return text.strip(" ._")


def _cut(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", "ignore")


def write_new_file(folder: Path, name: str, suffix: str, data: bytes) -> Path:
    """Write ``data`` to a new file in ``folder`` named after ``name``; 'Name (2)' and so on
    when the name is taken. Never overwrites (exclusive create), never leaves the folder."""
    stem = safe_stem(name)
    root = folder.resolve()
    for n in range(1, _MAX_VARIANTS):
        candidate = root / (f"{stem}{suffix}" if n == 1 else f"{stem} ({n}){suffix}")
        if candidate.parent != root:  # cannot happen with a safe stem; refuse rather than trust
            raise ExportError(f"Refusing to write {candidate}: it is outside {root}.")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise ExportError(f"Cannot create a file in {root} ({exc.strerror}).") from exc
        _write_all(fd, candidate, data)
        return candidate
    raise ExportError(f"{root} already holds {_MAX_VARIANTS} files named '{stem}'.")


def write_file(path: Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` in one step (temporary file + rename), so a failed
    write leaves the old file, not half a new one."""
    target = path.absolute()
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_BINARY, 0o666)
    except OSError as exc:
        raise ExportError(f"Cannot write {target} ({exc.strerror}).") from exc
    _write_all(fd, temp, data)
    try:
        os.replace(temp, target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ExportError(f"Cannot write {target} ({exc.strerror}).") from exc
    return target


def _write_all(fd: int, path: Path, data: bytes) -> None:
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise ExportError(f"Writing {path} failed ({exc.strerror}).") from exc
