"""Downloading catalog models through huggingface_hub, from a hub on 127.0.0.1 that serves
the built-in GGUF under another name (tests/hub_server.py), plus damaged and misbehaving
variants. Real HTTP, real files, the real library; nothing is mocked."""

from __future__ import annotations

import hashlib
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from persona_studio.errors import UserInputError
from persona_studio.llm.catalog import list_models
from persona_studio.llm.download import (
    DownloadCancelled,
    DownloadError,
    Progress,
    download_model,
)
from persona_studio.llm.model_catalog import (
    CatalogEntry,
    find_entry,
    load_catalog,
    recommend,
)
from tests.hub_server import FakeHub, HubFile, builtin_gguf

REPO = "test-org/Tiny-Persona-Writer-GGUF"
FILE = "tiny-persona-writer.Q4_1.gguf"


@pytest.fixture(scope="module")
def gguf_bytes() -> bytes:
    return builtin_gguf().read_bytes()


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    server = FakeHub().start()
    yield server
    server.stop()


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The models folder of a throwaway data folder: the one every model picker lists."""
    from persona_studio import paths

    monkeypatch.setenv("PERSONA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    return paths.models_dir()


def entry(file: str = FILE, repo: str = REPO) -> CatalogEntry:
    return CatalogEntry(
        id="tiny",
        name="Tiny Persona Writer",
        repo=repo,
        file=file,
        size_bytes=98_000_000,
        memory_gb=0.3,
        licence="Apache-2.0",
        note="The built-in model, served under another name.",
        page="http://127.0.0.1/",
    )


def fetch(hub: FakeHub, models_dir: Path, tmp_path: Path, item: CatalogEntry, **kwargs) -> Path:
    return download_model(
        item,
        models_dir=models_dir,
        endpoint=hub.hub_url,
        cache_dir=tmp_path / "hf-cache",
        **kwargs,
    )


def leftovers(models_dir: Path) -> list[str]:
    """Every file under the models folder that is not a published model's metadata: what a
    cancelled or failed download must not leave."""
    return sorted(
        str(p.relative_to(models_dir))
        for p in models_dir.rglob("*")
        if p.is_file() and not p.name.endswith((".metadata", ".lock", ".gitignore", "CACHEDIR.TAG"))
    )


def test_a_download_completes_is_verified_and_is_listed(hub, models_dir, tmp_path, gguf_bytes):
    hub.add(REPO, FILE, HubFile(gguf_bytes))
    seen: list[Progress] = []
    path = fetch(hub, models_dir, tmp_path, entry(), on_progress=seen.append)
    assert path == models_dir / FILE
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(gguf_bytes).hexdigest()
    assert leftovers(models_dir) == [FILE]
    phases = [p.phase for p in seen]
    assert phases[0] == "checking" and phases[-1] == "done"
    assert "downloading" in phases and "verifying" in phases
    downloading = [p for p in seen if p.phase == "downloading"]
    assert downloading[-1].done == downloading[-1].total == len(gguf_bytes)
    assert all(a.done <= b.done for a, b in zip(downloading, downloading[1:], strict=False))
    assert " of " in downloading[-1].describe()
    # Through the hub's redirect to its CDN, as huggingface.co serves LFS files.
    assert [m for m, *_ in hub.log] == ["HEAD", "HEAD", "GET"]
    # Every model picker lists what is in the models folder.
    models = list_models([], server_lister=lambda _url: [])
    assert any(m.model_id == f"gguf:{FILE}" and m.available for m in models)
    # Asked again: already there, nothing fetched.
    before = len(hub.log)
    assert fetch(hub, models_dir, tmp_path, entry()) == path
    assert len(hub.log) == before


def test_an_interrupted_transfer_resumes_where_it_stopped(hub, models_dir, tmp_path, gguf_bytes):
    dropped_at = 30 * 1024 * 1024
    hub.add(REPO, FILE, HubFile(gguf_bytes, drop_after=dropped_at))
    path = fetch(hub, models_dir, tmp_path, entry())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(gguf_bytes).hexdigest()
    gets = hub.gets()
    assert len(gets) == 2, gets
    assert gets[0][2] == ""  # the first transfer from the start
    resumed_from = int(gets[1][2].removeprefix("bytes=").split("-")[0])
    assert 0 < resumed_from <= dropped_at  # the second only asks for the rest
    assert leftovers(models_dir) == [FILE]


def test_cancel_leaves_nothing_and_a_new_download_completes(hub, models_dir, tmp_path, gguf_bytes):
    hub.add(REPO, FILE, HubFile(gguf_bytes))
    cancel = threading.Event()

    def progress(p: Progress) -> None:
        if p.phase == "downloading" and p.done > 10 * 1024 * 1024:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        fetch(hub, models_dir, tmp_path, entry(), on_progress=progress, cancel=cancel)
    assert leftovers(models_dir) == []
    assert not any(models_dir.glob("*.gguf"))
    path = fetch(hub, models_dir, tmp_path, entry())
    assert path.stat().st_size == len(gguf_bytes)


def test_a_corrupted_file_is_refused_and_deleted(hub, models_dir, tmp_path, gguf_bytes):
    hub.add(REPO, FILE, HubFile(gguf_bytes, corrupt=True))
    with pytest.raises(DownloadError, match="does not match the hub's checksum"):
        fetch(hub, models_dir, tmp_path, entry())
    assert leftovers(models_dir) == []
    assert all(not m.model_id.endswith(FILE) for m in list_models([], server_lister=list))


def test_a_truncated_file_is_refused_and_nothing_is_left(hub, models_dir, tmp_path, gguf_bytes):
    hub.add(REPO, FILE, HubFile(gguf_bytes, truncated=len(gguf_bytes) // 2))
    with pytest.raises(DownloadError) as caught:
        fetch(hub, models_dir, tmp_path, entry())
    assert "kept ending early" in str(caught.value), caught.value
    assert leftovers(models_dir) == []


def test_a_file_bigger_than_the_free_disk_is_refused_before_it_starts(
    hub, models_dir, tmp_path, gguf_bytes
):
    free = shutil.disk_usage(models_dir).free
    hub.add(REPO, FILE, HubFile(gguf_bytes, announce_size=free + 1))
    with pytest.raises(DownloadError, match="Not enough free disk space") as caught:
        fetch(hub, models_dir, tmp_path, entry())
    assert "Nothing was downloaded" in str(caught.value)
    assert hub.gets() == []  # refused before a single byte was asked for
    assert leftovers(models_dir) == []


def test_a_missing_repository_and_an_unreachable_hub_are_said_in_words(hub, models_dir, tmp_path):
    with pytest.raises(DownloadError, match="is not on"):
        fetch(hub, models_dir, tmp_path, entry(repo="test-org/Nothing-Here"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(DownloadError, match="Cannot reach the model hub"):
        download_model(entry(), models_dir=models_dir, endpoint=closed, cache_dir=tmp_path)
    assert leftovers(models_dir) == []


def test_the_shipped_catalog_is_valid_and_recommends_by_memory():
    entries = load_catalog()
    assert len(entries) >= 6
    assert len({e.file for e in entries}) == len(entries)
    assert all(e.page.startswith("https://huggingface.co/") for e in entries)
    assert find_entry("qwen2.5-1.5b", entries).file == "Qwen2.5-1.5B-Instruct-Q4_K_M.gguf"
    with pytest.raises(UserInputError, match="not in the model catalog"):
        find_entry("gpt-5", entries)
    gb = 1_000_000_000
    big = recommend(entries, 32 * gb, cores=8)
    assert big.entry == max(entries, key=lambda e: e.memory_gb)
    assert "32.0 GB" in big.reason and "largest" in big.reason
    small = recommend(entries, 2 * gb)
    assert small.entry is not None and small.entry.memory_gb <= 1.0
    assert recommend(entries, 1 * gb).entry is None
    assert "built-in" in recommend(entries, 1 * gb).reason
    slow = recommend(entries, 16 * gb, cores=2)
    assert "2 processor cores" in slow.reason


@pytest.mark.model
def test_a_downloaded_model_loads_and_generates(hub, models_dir, tmp_path, gguf_bytes):
    from persona_studio.llm.base import SamplingParams
    from persona_studio.llm.catalog import BackendPool

    hub.add(REPO, FILE, HubFile(gguf_bytes))
    fetch(hub, models_dir, tmp_path, entry())
    pool = BackendPool()
    try:
        backend = pool.get(f"gguf:{FILE}")
        text = "".join(
            backend.stream_chat(
                [{"role": "user", "content": "Say hello."}],
                SamplingParams(max_tokens=12, temperature=0.0, seed=1),
            )
        )
    finally:
        pool.close()
    assert text.strip()
