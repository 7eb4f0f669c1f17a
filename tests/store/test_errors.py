"""Bad files, read-only files and locked files give a StoreError a person can act on."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from persona_studio import paths
from persona_studio.errors import StoreError
from persona_studio.store import NewPersona, Store

REPO = Path(__file__).resolve().parents[2]

# Run in a child process so that, when the suite runs as root, the child can drop the
# capabilities that let root write to anything (a 0444 file is read-only for everyone else).
_READ_ONLY_PROBE = """
import json, sys
from persona_studio.errors import StoreError
from persona_studio.store import NewPersona, Store
result = {}
try:
    store = Store.open(sys.argv[1])
except StoreError as exc:
    result["open_error"] = str(exc)
else:
    result["names"] = [p.name for p in store.personas.list()]
    result["jobs"] = len(store.queue.list())
    result["integrity"] = store.integrity_check()
    result["data_version"] = store.data_version()
    for label, write in (
        ("create", lambda: store.personas.create(NewPersona("X", "x", None, None))),
        ("enqueue", lambda: store.queue.enqueue({}, "m")),
    ):
        try:
            write()
        except StoreError as exc:
            result[label] = str(exc)
    store.close()
print(json.dumps(result))
"""


def _as_unprivileged(path: Path) -> dict[str, object]:
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: no way to make a file read-only")
        prefix = [
            setpriv,
            "--bounding-set",
            "-dac_override,-dac_read_search,-fowner",
            "--inh-caps=-all",
        ]
    done = subprocess.run(
        [*prefix, sys.executable, "-c", _READ_ONLY_PROBE, str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_read_only_file_reads_but_refuses_writes_clearly(forllm_db: Path) -> None:
    Store.open(forllm_db).close()
    forllm_db.chmod(0o444)
    try:
        result = _as_unprivileged(forllm_db)
    finally:
        forllm_db.chmod(0o644)
    assert result["names"] == ["Archivist Quill", "fallback", "Homelab Hank"]
    assert result["jobs"] == 1 and result["integrity"] == "ok"
    for label in ("create", "enqueue"):
        message = str(result[label])
        assert message.startswith(f"{forllm_db} is read-only: the file is write-protected")
        assert "database is locked" not in message


def test_read_only_folder_reads_but_refuses_writes_clearly(forllm_db: Path) -> None:
    Store.open(forllm_db).close()
    folder = forllm_db.parent
    folder.chmod(0o555)
    try:
        result = _as_unprivileged(forllm_db)
    finally:
        folder.chmod(0o755)
    assert result["names"] == ["Archivist Quill", "fallback", "Homelab Hank"]
    assert str(result["create"]).startswith(f"{forllm_db} is read-only: its folder is read-only")


def test_read_only_file_that_needs_migrating_fails_at_open(forllm_db: Path) -> None:
    forllm_db.chmod(0o444)
    try:
        result = _as_unprivileged(forllm_db)
    finally:
        forllm_db.chmod(0o644)
    assert str(result["open_error"]).startswith(f"{forllm_db} is read-only")


def test_not_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n")
    with pytest.raises(StoreError, match="is not a SQLite database"):
        Store.open(path)
    assert path.read_text() == "these are my notes, not a database\n"


def test_a_damaged_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    with pytest.raises(StoreError, match=f"{path} is (not a SQLite database|damaged)"):
        Store.open(path)


def test_missing_file_with_create_false(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "nowhere.db", create=False)
    assert not (tmp_path / "nowhere.db").exists()


def test_a_folder_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder"):
        Store.open(tmp_path)


def test_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "data"))
    with Store.open() as store:
        assert store.path == tmp_path / "data" / "forllm_data.db" and store.created


def test_a_file_locked_too_long_says_so(forllm_db: Path) -> None:
    Store.open(forllm_db).close()
    holder = sqlite3.connect(forllm_db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="is locked by another program") as opening:
            Store.open(forllm_db, busy_timeout_s=0.2)
        assert "database is locked" not in str(opening.value)
        holder.execute("COMMIT")
        holder.execute("BEGIN IMMEDIATE")  # a writer elsewhere: we can read, not write
        with Store.open(forllm_db, busy_timeout_s=0.2) as store:
            assert len(store.personas.list()) == 3
            with pytest.raises(StoreError, match="is locked by another program"):
                store.queue.enqueue({}, "m")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_short_lock_is_waited_out(store: Store) -> None:
    holder = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    try:
        store.personas.create(NewPersona("Patient", "Waits.", None, None))
    finally:
        release.join()
        holder.close()
    assert time.monotonic() - started >= 0.4
    assert store.personas.get_by_name("Patient").name == "Patient"
