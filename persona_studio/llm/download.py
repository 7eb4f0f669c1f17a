"""Downloading a catalog model into the models folder, through ``huggingface_hub``.

The library does what the ecosystem expects: the hub's endpoints (``HF_ENDPOINT`` for a
mirror), ETags, the user's cache (a model downloaded before by another tool is copied, not
fetched again), offline mode (``HF_HUB_OFFLINE``), and a transfer that resumes with a Range
request when the connection drops mid-file. Around it this module adds what a desktop app
needs:

1. Before anything is fetched: the hub's size and SHA-256 for the file (a HEAD request), and
   a check that the models folder's disk has room for it (refused with the figures if not).
2. The transfer goes into a hidden staging folder inside the models folder
   (``.downloads/``), never to a name the app would load; progress (bytes, speed, time left)
   goes to a callback, which is also where Cancel is noticed.
3. The staged file is verified: its size, its SHA-256 against the hub's (LFS files carry
   it as their ETag) and the GGUF signature. Only then is it renamed into the models folder,
   in one step on the same disk, so every model picker sees either the whole file or none.

A cancel or a failure leaves nothing in the models folder: ``huggingface_hub`` deletes its
partial file, and a file that fails verification is deleted here.

Qt-free: ``persona-studio models --download ID`` and the window's Models dialog both call
``download_model``; the window runs it on a thread of its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from persona_studio import paths
from persona_studio.errors import PersonaStudioError
from persona_studio.llm.model_catalog import CatalogEntry

# The Xet transfer protocol runs in a native extension whose progress and interruption this
# module cannot observe the same way; the plain HTTP path (what the hub also serves every
# file through) is the one whose cancel, resume and verification are tested here. Anyone
# who wants Xet sets HF_HUB_DISABLE_XET=0 themselves.
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")

# The library hands on bytes in pieces of this size; its default (10 MB) means one progress
# update, and one chance to notice Cancel, per 10 MB: ten seconds apart on a slow line.
CHUNK_BYTES = 1024 * 1024
# A partial file nothing has written to for this long belongs to a download that died with
# its process (the library deletes its own on any failure it sees).
STALE_PARTIAL_S = 600
STAGING_DIR = ".downloads"
# Room to leave on the disk beyond the file itself: a full disk breaks the database and the
# system's own writes, not just the download.
DISK_MARGIN_BYTES = 200 * 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_HASH_CHUNK = 4 * 1024 * 1024
# Speed is averaged over this many seconds: smooth enough to read, quick enough to follow.
_SPEED_WINDOW_S = 3.0


class DownloadError(PersonaStudioError):
    """The model could not be downloaded (hub unreachable, not enough disk, a file that does
    not match what the hub says); the message says what to do. Nothing was added."""


class DownloadCancelled(PersonaStudioError):
    """The user cancelled the download; nothing was added to the models folder."""

    def __init__(self, message: str = "Download cancelled; nothing was added.") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Progress:
    """What a progress bar shows. ``phase``: "checking", "downloading", "verifying",
    "done"."""

    phase: str
    done: int = 0
    total: int = 0
    bytes_per_s: float = 0.0

    @property
    def seconds_left(self) -> float | None:
        if self.phase != "downloading" or self.bytes_per_s <= 0 or self.total <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.bytes_per_s)

    def describe(self) -> str:
        """ "412 MB of 986 MB · 21.3 MB/s · 27 s left"."""
        if self.phase == "checking":
            return "Asking the hub for the file's size and checksum…"
        if self.phase == "verifying":
            return f"Verifying {format_bytes(self.total)} (SHA-256)…"
        if self.phase == "done":
            return f"Downloaded and verified, {format_bytes(self.total)}."
        text = f"{format_bytes(self.done)} of {format_bytes(self.total)}"
        if self.bytes_per_s > 0:
            text += f" · {format_bytes(self.bytes_per_s)}/s"
        left = self.seconds_left
        if left is not None:
            text += f" · {format_seconds(left)} left"
        return text


def format_bytes(count: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return (
                f"{count / size:.1f} {unit}" if count < 100 * size else f"{count / size:.0f} {unit}"
            )
    return f"{int(count)} B"


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class _Reporter:
    """Turns the library's byte counts into Progress (with a moving speed) and raises
    DownloadCancelled from inside the transfer when ``cancel`` is set: the library then
    deletes its partial file itself."""

    def __init__(
        self, total: int, on_progress: Callable[[Progress], None], cancel: threading.Event
    ) -> None:
        self.total = total
        self.done = 0
        self._on_progress = on_progress
        self._cancel = cancel
        self._samples: list[tuple[float, int]] = []
        self._last_report = 0.0

    def bar_class(self) -> type:
        reporter = self

        class Bar:
            """Stands where the library puts its tqdm bar (it accepts any class with this
            shape: a context manager with ``update``)."""

            def __init__(self, *, initial: int = 0, **_kwargs) -> None:
                reporter.start(initial)

            def __enter__(self):
                return self

            def __exit__(self, *_exc) -> None:
                return None

            def update(self, count: int = 1) -> None:
                reporter.add(count)

            def close(self) -> None:
                pass

        return Bar

    def start(self, initial: int) -> None:
        self.done = initial
        self._samples = [(time.monotonic(), initial)]
        self.check()

    def add(self, count: int) -> None:
        self.done += count
        self.check()
        now = time.monotonic()
        if now - self._last_report >= 0.1 or self.done >= self.total:
            self._last_report = now
            self._samples.append((now, self.done))
            while len(self._samples) > 2 and now - self._samples[0][0] > _SPEED_WINDOW_S:
                self._samples.pop(0)
            (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
            speed = (d1 - d0) / (t1 - t0) if t1 > t0 else 0.0
            self._on_progress(Progress("downloading", self.done, self.total, speed))

    def check(self) -> None:
        if self._cancel.is_set():
            raise DownloadCancelled()


def staging_dir(models_dir: Path) -> Path:
    return models_dir / STAGING_DIR


def download_model(
    entry: CatalogEntry,
    *,
    models_dir: Path | None = None,
    endpoint: str | None = None,
    cache_dir: Path | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    disk_usage: Callable[[Path], shutil._ntuple_diskusage] = shutil.disk_usage,
) -> Path:
    """Download ``entry``'s file into the models folder and return its path there.

    ``endpoint``: the hub (None: ``HF_ENDPOINT`` or huggingface.co); ``cache_dir``: the
    library's cache (None: the user's). Raises DownloadCancelled, DownloadError.
    """
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url

    constants.DOWNLOAD_CHUNK_SIZE = CHUNK_BYTES
    folder = models_dir or paths.models_dir()
    target = folder / entry.file
    report = on_progress or (lambda _p: None)
    cancel = cancel or threading.Event()
    if target.is_file():
        size = target.stat().st_size
        report(Progress("done", size, size))
        return target

    report(Progress("checking"))
    url = hf_hub_url(entry.repo, entry.file, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, timeout=20)
    except Exception as exc:  # noqa: BLE001 - every library/network failure, in words
        raise DownloadError(_hub_message(exc, entry, endpoint)) from None
    if meta.size is None or meta.commit_hash is None:
        raise DownloadError(
            f"The hub did not say how big {entry.file} is, so it was not downloaded. Try "
            "again later."
        )
    expected_sha = (meta.etag or "").lower()
    if not _SHA256.match(expected_sha):
        expected_sha = ""  # a small file in git itself: the hub gives no SHA-256 for it
    check_disk_space(folder, meta.size, entry, disk_usage)

    staging = staging_dir(folder)
    staging.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(staging)
    reporter = _Reporter(meta.size, report, cancel)
    try:
        # Pinned to the commit the metadata came from: the file verified is the file that
        # was measured, even if the repository changes meanwhile.
        staged = Path(
            hf_hub_download(
                entry.repo,
                entry.file,
                revision=meta.commit_hash,
                local_dir=staging,
                cache_dir=cache_dir,
                endpoint=endpoint,
                tqdm_class=reporter.bar_class(),
            )
        )
    except (DownloadCancelled, DownloadError):
        raise
    except Exception as exc:  # noqa: BLE001
        raise DownloadError(_hub_message(exc, entry, endpoint)) from None

    try:
        reporter.check()
        report(Progress("verifying", meta.size, meta.size))
        _verify(staged, meta.size, expected_sha, entry, cancel)
        os.replace(staged, target)
    except BaseException:
        _discard(staged, staging, entry.file)
        raise
    _discard(None, staging, entry.file)
    report(Progress("done", meta.size, meta.size))
    return target


def check_disk_space(
    folder: Path,
    size: int,
    entry: CatalogEntry,
    disk_usage: Callable[[Path], shutil._ntuple_diskusage] = shutil.disk_usage,
) -> None:
    """Refuse, before anything is fetched, a file the models folder's disk has no room for
    (with a margin the system needs)."""
    free = disk_usage(folder).free
    needed = size + DISK_MARGIN_BYTES
    if free < needed:
        raise DownloadError(
            f"Not enough free disk space for {entry.name}: the file is {format_bytes(size)} "
            f"and {format_bytes(free)} is free on the disk of {folder} (keeping "
            f"{format_bytes(DISK_MARGIN_BYTES)} for the system). Free "
            f"{format_bytes(needed - free)} or choose a smaller model. Nothing was downloaded."
        )


def _verify(
    path: Path, size: int, sha256: str, entry: CatalogEntry, cancel: threading.Event
) -> None:
    actual = path.stat().st_size
    if actual != size:
        raise DownloadError(
            f"The downloaded {entry.file} is {actual:,} bytes where the hub says {size:,}; it "
            "was deleted. Try again."
        )
    if sha256:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                if cancel.is_set():
                    raise DownloadCancelled()
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise DownloadError(
                f"The downloaded {entry.file} does not match the hub's checksum (SHA-256 "
                f"{digest.hexdigest()[:12]}… instead of {sha256[:12]}…): it was damaged on "
                "the way and was deleted. Try again; if it happens again, the mirror "
                "(HF_ENDPOINT) or a proxy may be serving a bad copy."
            )
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise DownloadError(
                f"The downloaded {entry.file} is not a GGUF model file; it was deleted."
            )


def _remove_stale_partials(staging: Path) -> None:
    """Partial files left by a download whose process was killed (the library cannot delete
    those): never loaded by anything, but they take disk space."""
    now = time.time()
    for partial in staging.rglob("*.incomplete"):
        with contextlib.suppress(OSError):
            if now - partial.stat().st_mtime > STALE_PARTIAL_S:
                partial.unlink()


def _discard(staged: Path | None, staging: Path, file: str) -> None:
    """Remove what the download left for ``file`` in the staging folder: the file (if it
    was not published) and the library's metadata about it."""
    for leftover in (
        staged,
        staging / ".cache" / "huggingface" / "download" / f"{file}.metadata",
        staging / ".cache" / "huggingface" / "download" / f"{file}.lock",
    ):
        if leftover is not None:
            with contextlib.suppress(OSError):
                leftover.unlink()


def _hub_message(exc: BaseException, entry: CatalogEntry, endpoint: str | None) -> str:
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    hub = endpoint or constants.ENDPOINT
    where = f"{entry.repo}/{entry.file}"
    if isinstance(exc, OfflineModeIsEnabled) or constants.HF_HUB_OFFLINE:
        return (
            f"{entry.name} is not downloaded: offline mode is on (HF_HUB_OFFLINE). Turn it "
            "off to download, or put the GGUF file in the models folder yourself."
        )
    if isinstance(exc, GatedRepoError):
        return (
            f"{where} needs you to accept its licence on {hub} first (a gated repository). "
            "Accept it there and log in (hf auth login), then try again."
        )
    if isinstance(exc, RepositoryNotFoundError | RemoteEntryNotFoundError | RevisionNotFoundError):
        return (
            f"{where} is not on {hub} (the repository or file may have been renamed). "
            "Update Persona Studio, or download the file yourself into the models folder."
        )
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        return f"The hub at {hub} refused {where} (HTTP {status}). Try again later."
    if type(exc).__name__ == "RemoteProtocolError" or (
        isinstance(exc, OSError) and "Consistency check failed" in str(exc)
    ):
        return (
            f"The download of {entry.file} from {hub} kept ending early (fewer bytes than "
            "the hub announced, even after resuming); the partial file was deleted. Try "
            "again later."
        )
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{entry.file} could not be written ({exc.strerror}); nothing was added."
    name = type(exc).__name__
    if "Connect" in name or "Timeout" in name or "Network" in name or "Protocol" in name:
        return (
            f"Cannot reach the model hub at {hub} ({exc}). Check the connection (or "
            "HF_ENDPOINT, for a mirror) and try again."
        )
    return f"{entry.file} could not be downloaded from {hub}: {exc}"
