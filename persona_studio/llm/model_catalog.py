"""The catalog of recommended GGUF models (``resources/models.json``) and "which model for
my machine".

The entries are data, not code: the file says for each model its repository and file on the
Hugging Face hub, size, memory needed, licence and what it is good for, and which public page
each was checked against. This module reads and checks the file, says which entries are in
the models folder already, and recommends the largest one that fits this machine's memory.
Qt-free: the CLI and the window's Models dialog both use it.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from persona_studio import paths
from persona_studio.errors import PersonaStudioError, UserInputError
from persona_studio.llm.catalog import GGUF, ModelRef

CATALOG_FILE = "models.json"
# The share of the machine's memory a model may take: the rest is for the system, the
# window, a browser and FORLLM. A model that takes more makes the whole machine swap.
MEMORY_SHARE = 0.5
_GB = 1_000_000_000


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    name: str
    repo: str
    file: str
    size_bytes: int
    memory_gb: float
    licence: str
    note: str
    page: str

    @property
    def model_id(self) -> str:
        """The identifier pickers use once the file is in the models folder."""
        return ModelRef(GGUF, self.file).model_id

    def installed(self, models_dir: Path | None = None) -> bool:
        return ((models_dir or paths.models_dir()) / self.file).is_file()


def catalog_path() -> Path:
    return paths.resources_dir() / CATALOG_FILE


def load_catalog(path: Path | None = None) -> list[CatalogEntry]:
    """The entries, smallest first; PersonaStudioError naming the file if it is damaged (it
    ships with the application: a damaged one means a damaged installation)."""
    source = path or catalog_path()
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
        entries = [_entry(item) for item in data["models"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PersonaStudioError(
            f"The model catalog {source} cannot be read ({exc}). Reinstall Persona Studio."
        ) from None
    ids = [e.id for e in entries]
    if len(set(ids)) != len(ids):
        raise PersonaStudioError(f"The model catalog {source} names a model twice.")
    return sorted(entries, key=lambda e: (e.memory_gb, e.size_bytes))


def _entry(item: dict) -> CatalogEntry:
    entry = CatalogEntry(
        id=str(item["id"]),
        name=str(item["name"]),
        repo=str(item["repo"]),
        file=str(item["file"]),
        size_bytes=int(item["size_bytes"]),
        memory_gb=float(item["memory_gb"]),
        licence=str(item["licence"]),
        note=str(item["note"]),
        page=str(item["page"]),
    )
    # The file name becomes a path in the models folder: a plain name, nothing else.
    if Path(entry.file).name != entry.file or not entry.file.endswith(".gguf"):
        raise ValueError(f"{entry.id}: file must be a plain *.gguf name, not {entry.file!r}")
    if entry.repo.count("/") != 1 or entry.size_bytes <= 0 or entry.memory_gb <= 0:
        raise ValueError(f"{entry.id}: repository, size or memory is not valid")
    return entry


def find_entry(model: str, entries: list[CatalogEntry] | None = None) -> CatalogEntry:
    """The entry named ``model`` (its id, or its file name); UserInputError listing the ids
    if there is none."""
    entries = load_catalog() if entries is None else entries
    wanted = model.strip().lower()
    for entry in entries:
        if wanted in (entry.id.lower(), entry.file.lower()):
            return entry
    raise UserInputError(
        f"'{model}' is not in the model catalog. Choose one of: "
        + ", ".join(e.id for e in entries)
        + " (persona-studio models --catalog lists them)."
    )


def machine_memory_bytes() -> int | None:
    """Physical memory of this machine, or None where it cannot be told."""
    try:
        if sys.platform == "win32":
            return _windows_memory()
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return int(pages) * int(page_size) if pages > 0 and page_size > 0 else None
    except (ValueError, OSError, AttributeError):
        return None


def _windows_memory() -> int | None:
    class MemoryStatus(ctypes.Structure):
        _fields_ = [
            ("length", ctypes.c_ulong),
            ("load", ctypes.c_ulong),
            ("total_phys", ctypes.c_ulonglong),
            ("avail_phys", ctypes.c_ulonglong),
            ("total_page", ctypes.c_ulonglong),
            ("avail_page", ctypes.c_ulonglong),
            ("total_virtual", ctypes.c_ulonglong),
            ("avail_virtual", ctypes.c_ulonglong),
            ("avail_extended", ctypes.c_ulonglong),
        ]

    status = MemoryStatus()
    status.length = ctypes.sizeof(MemoryStatus)
    ok = ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status))  # type: ignore[attr-defined]
    return int(status.total_phys) if ok else None


@dataclass(frozen=True)
class Recommendation:
    entry: CatalogEntry | None
    reason: str


def recommend(
    entries: list[CatalogEntry], memory_bytes: int | None, cores: int | None = None
) -> Recommendation:
    """The largest entry whose memory need fits MEMORY_SHARE of ``memory_bytes``, and why,
    in words."""
    if not entries:
        return Recommendation(None, "The model catalog is empty.")
    if not memory_bytes:
        smallest = entries[0]
        return Recommendation(
            smallest,
            f"This machine's memory could not be read, so the smallest model is suggested: "
            f"{smallest.name} needs about {smallest.memory_gb:.1f} GB.",
        )
    total_gb = memory_bytes / _GB
    budget = total_gb * MEMORY_SHARE
    fitting = [e for e in entries if e.memory_gb <= budget]
    if not fitting:
        smallest = entries[0]
        return Recommendation(
            None,
            f"This machine has {total_gb:.1f} GB of memory; even the smallest model in the "
            f"catalog, {smallest.name}, needs about {smallest.memory_gb:.1f} GB, more than "
            f"half of it. Keep the built-in model.",
        )
    best = max(fitting, key=lambda e: (e.memory_gb, e.size_bytes))
    reason = (
        f"This machine has {total_gb:.1f} GB of memory. {best.name} needs about "
        f"{best.memory_gb:.1f} GB, within half of it (the rest stays free for the system, "
        f"FORLLM and your browser); it is the largest model in the catalog that fits."
    )
    if cores is not None and cores <= 4 and best.memory_gb > 1.5:
        reason += (
            f" With {cores} processor cores it writes several times more slowly than the "
            "built-in model; a smaller one is quicker for drafts."
        )
    return Recommendation(best, reason)
