"""File names made from persona names, which anyone (an imported card, FORLLM) may have set.

The rules are the union of what Linux, macOS and Windows refuse or misread, so a file named
here can be copied anywhere: no path separators or reserved characters, no control or
bidirectional-override characters (which can disguise an extension), no leading dot (hidden
files, '..'), no trailing dot or space, no Windows device names, and a length well under
every file system's 255-byte limit. What remains of the name stays readable.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
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
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_TMPFILE = getattr(os, "O_TMPFILE", 0)  # Linux: a file with no name until it is linked
_PROC_FD = "/proc/self/fd"
_NO_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT}
_NO_LINK = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV}
TEMP_SUFFIX = ".persona-studio.tmp"
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


def create_exclusive(path: Path) -> int:
    """A file descriptor for writing a file this call created at ``path``: never an existing
    file, never through a link someone planted at that name (O_CREAT|O_EXCL|O_NOFOLLOW).
    FileExistsError when the name is taken (by anything, a dangling link included)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY
    return os.open(path, flags, 0o666)


class _Staged:
    """``data`` written and synced to disk in ``folder``, not yet under its final name.

    On Linux the file has no name at all until it is published (O_TMPFILE), so a process
    killed mid-write leaves nothing behind; elsewhere (or on a file system without it) it is
    a new hidden file with a random name, created exclusively, removed again on failure.
    Publishing is a link or a rename in the same folder: the final name never shows a
    partial file."""

    def __init__(self, folder: Path, data: bytes, *, unnamed: bool = True) -> None:
        self.folder = folder
        self.data = data
        self.temp: Path | None = None  # a name of ours to remove, if there is one
        unnamed_fd = self._open_unnamed() if unnamed else None
        fd = unnamed_fd if unnamed_fd is not None else self._open_named()
        self.fd: int | None = fd  # None once discarded
        self._write(fd)

    def _write(self, fd: int) -> None:
        try:
            view = memoryview(self.data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError as exc:
            self.discard()
            raise ExportError(_write_failed(self.folder, exc)) from exc

    def _named_after_all(self) -> None:
        """The unnamed file cannot be given a name here (no /proc, a file system that
        refuses): write a named temporary file instead."""
        self.discard()
        fd = self._open_named()
        self.fd = fd
        self._write(fd)

    def _open_unnamed(self) -> int | None:
        if not _O_TMPFILE or not os.path.isdir(_PROC_FD):
            return None
        try:
            return os.open(self.folder, _O_TMPFILE | os.O_WRONLY | _O_BINARY, 0o666)
        except OSError as exc:
            if exc.errno in _NO_TMPFILE:
                return None  # this file system cannot: a named temporary file will do
            raise ExportError(_write_failed(self.folder, exc)) from exc

    def _open_named(self) -> int:
        for _ in range(100):
            temp = self.folder / f".{secrets.token_hex(8)}{TEMP_SUFFIX}"
            try:
                fd = create_exclusive(temp)
            except FileExistsError:
                continue
            except OSError as exc:
                raise ExportError(_write_failed(self.folder, exc)) from exc
            self.temp = temp
            return fd
        raise ExportError(f"Cannot create a temporary file in {self.folder}.")

    def link_as(self, path: Path) -> bool:
        """Give the file the name ``path`` unless something has it (False then)."""
        if self.temp is None:
            assert self.fd is not None  # an unnamed file stays open until it is discarded
            try:
                _link_unnamed(self.fd, path)
            except FileExistsError:
                return False
            except OSError:
                self._named_after_all()
            else:
                self.discard()
                return True
        assert self.temp is not None  # named from the start, or by _named_after_all()
        try:
            os.link(self.temp, path, follow_symlinks=False)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise ExportError(_write_failed(path.parent, exc)) from exc
            # A file system without hard links: claim the name, then move the file onto it
            # (in the moment between, the name shows an empty file).
            try:
                os.close(create_exclusive(path))
            except FileExistsError:
                return False
            except OSError as exc2:
                raise ExportError(_write_failed(path.parent, exc2)) from exc2
            self._rename_to(path)
            return True
        self.discard()
        return True

    def replace(self, path: Path) -> None:
        """Put the file in place of ``path`` (a regular file or nothing), in one step."""
        if self.temp is None:  # an unnamed file needs a name of its own to be renamed
            assert self.fd is not None  # an unnamed file stays open until it is discarded
            for _ in range(100):
                temp = self.folder / f".{secrets.token_hex(8)}{TEMP_SUFFIX}"
                try:
                    _link_unnamed(self.fd, temp)
                except FileExistsError:
                    continue
                except OSError:
                    self._named_after_all()
                    break
                self.temp = temp
                break
            else:
                self.discard()
                raise ExportError(f"Cannot create a temporary file in {self.folder}.")
        self._rename_to(path)

    def _rename_to(self, path: Path) -> None:
        assert self.temp is not None
        try:
            os.replace(self.temp, path)
        except OSError as exc:
            self.discard()
            raise ExportError(_write_failed(path.parent, exc)) from exc
        self.temp = None
        self.discard()
        _sync_folder(path.parent)

    def discard(self) -> None:
        """Close the file and remove the temporary name, if one is ours still."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
        if self.temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.temp)
            self.temp = None


def _link_unnamed(fd: int, path: Path) -> None:
    """Give the O_TMPFILE file ``fd`` the name ``path``: linkat() following the /proc magic
    link (os.link only passes AT_SYMLINK_FOLLOW when a directory fd is given)."""
    folder = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.link(f"{_PROC_FD}/{fd}", path.name, src_dir_fd=folder, dst_dir_fd=folder)
    finally:
        os.close(folder)


def write_new_file(
    folder: Path, name: str, suffix: str, data: bytes, *, unnamed: bool = True
) -> Path:
    """Write ``data`` to a new file in ``folder`` named after ``name``; 'Name (2)' and so on
    when the name is taken. Never overwrites, never follows a link, never leaves the folder,
    and the file appears under its name only once it is complete. ``unnamed=False`` stages
    it in a named temporary file, as platforms without O_TMPFILE do."""
    stem = safe_stem(name)
    root = folder.resolve()
    staged = _Staged(root, data, unnamed=unnamed)
    try:
        for n in range(1, _MAX_VARIANTS):
            candidate = root / (f"{stem}{suffix}" if n == 1 else f"{stem} ({n}){suffix}")
            if candidate.parent != root:  # cannot happen with a safe stem; refuse, not trust
                raise ExportError(f"Refusing to write {candidate}: it is outside {root}.")
            if staged.link_as(candidate):
                _sync_folder(root)
                return candidate
        raise ExportError(f"{root} already holds {_MAX_VARIANTS} files named '{stem}'.")
    finally:
        staged.discard()


def write_file(path: Path, data: bytes, *, unnamed: bool = True) -> Path:
    """Replace ``path`` with ``data`` in one step (a complete, synced file in the same
    folder, renamed over it), so a failed or killed write leaves the old file, not half a
    new one, and no temporary file. The caller has checked that ``path`` may be replaced
    (a regular file or nothing: see export.io)."""
    target = path.absolute()
    staged = _Staged(target.parent, data, unnamed=unnamed)
    try:
        staged.replace(target)
    finally:
        staged.discard()
    return target


def _sync_folder(folder: Path) -> None:
    """Make a new name in ``folder`` durable (best effort: not every platform can)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_failed(where: Path, exc: OSError) -> str:
    return f"Cannot write a file in {where} ({exc.strerror or exc}); nothing was written there."
