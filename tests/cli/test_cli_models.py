"""``persona-studio models``: the catalog, downloads from a hub on 127.0.0.1 (HF_ENDPOINT, as
a user points the library at a mirror), and Ollama absent by default said quietly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from persona_studio.llm.model_catalog import find_entry
from tests.hub_server import FakeHub, HubFile, builtin_gguf

ENTRY = find_entry("qwen2.5-1.5b")


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    server = FakeHub().start()
    yield server
    server.stop()


@pytest.fixture
def env(tmp_path: Path, hub: FakeHub) -> dict[str, str]:
    return dict(
        os.environ,
        PERSONA_STUDIO_DATA_DIR=str(tmp_path / "data"),
        HF_ENDPOINT=hub.hub_url,
        HF_HOME=str(tmp_path / "hf-home"),
    )


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "persona_studio", "models", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_catalog_lists_the_models_and_recommends_one(env):
    proc = run(env, "--catalog")
    assert proc.returncode == 0, proc.stderr
    assert "qwen2.5-1.5b\tQwen2.5 1.5B Instruct (" in proc.stdout
    assert "needs 1.3 GB of memory, Apache-2.0" in proc.stdout
    assert "GB of memory" in proc.stdout.splitlines()[-1]


def test_download_shows_progress_verifies_and_the_model_is_listed(env, hub, tmp_path):
    hub.add(ENTRY.repo, ENTRY.file, HubFile(builtin_gguf().read_bytes()))
    proc = run(env, "--download", ENTRY.id)
    assert proc.returncode == 0, proc.stderr
    target = tmp_path / "data" / "models" / ENTRY.file
    assert proc.stdout == f"gguf:{ENTRY.file}\t{target}\n"
    assert " of " in proc.stderr and "Downloaded and verified" in proc.stderr
    listed = run(env, "--endpoint", "http://127.0.0.1:9/v1")
    assert f"gguf:{ENTRY.file}\t" in listed.stdout


def test_download_refuses_unknown_ids_and_corrupted_files(env, hub, tmp_path):
    proc = run(env, "--download", "gpt-5")
    assert proc.returncode == 2
    assert "'gpt-5' is not in the model catalog" in proc.stderr
    hub.add(ENTRY.repo, ENTRY.file, HubFile(builtin_gguf().read_bytes(), corrupt=True))
    proc = run(env, "--download", ENTRY.id)
    assert proc.returncode == 1
    assert "does not match the hub's checksum" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list((tmp_path / "data" / "models").glob("*.gguf"))


def test_ctrl_c_cancels_and_leaves_nothing(env, hub, tmp_path):
    hub.add(ENTRY.repo, ENTRY.file, HubFile(builtin_gguf().read_bytes(), chunk_delay=0.05))
    process = subprocess.Popen(
        [sys.executable, "-m", "persona_studio", "models", "--download", ENTRY.id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while not hub.gets() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # a few MB in
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "nothing was added" in err
    models = tmp_path / "data" / "models"
    # No model file and no partial one anywhere (the library's own bookkeeping may stay).
    assert [p for p in models.rglob("*") if p.name.endswith((".gguf", ".incomplete"))] == []


def test_default_listing_says_quietly_that_ollama_is_not_running(env):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        if sock.connect_ex(("127.0.0.1", 11434)) == 0:
            pytest.skip("something listens on Ollama's port here")
    proc = run(env)
    assert proc.returncode == 0
    assert "# Ollama (http://localhost:11434/v1): not running" in proc.stdout
    assert "Cannot reach" not in proc.stdout
