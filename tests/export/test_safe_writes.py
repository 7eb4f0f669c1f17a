"""Exports never write through a link, never replace what is not a regular file the person
named (the open database, a device, a fifo, a link), and appear whole or not at all, even
when the process dies in the middle of writing."""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from persona_studio.errors import ExportError, ExportTargetError
from persona_studio.export import export_persona
from persona_studio.export.filenames import (
    TEMP_SUFFIX,
    create_exclusive,
    write_file,
    write_new_file,
)
from persona_studio.store import Store

from .helpers import hank


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- links planted where the temporary file goes -----------------------------------------------


def test_a_link_planted_at_the_temporary_name_is_not_written_through(tmp_path: Path) -> None:
    """The temporary file used to be '.<name>.<pid>.tmp', opened with O_CREAT|O_TRUNC: a link
    planted there sent the export into any file the user can write."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    target = tmp_path / "out.md"
    for name in (f".{target.name}.{os.getpid()}.tmp", f".{target.name}.tmp"):
        os.symlink(victim, tmp_path / name)
    export_persona(hank(), "md", target)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert target.read_text(encoding="utf-8").startswith("Always respond as Homelab Hank")
    assert all((tmp_path / n).is_symlink() for n in os.listdir(tmp_path) if n.startswith("."))


@pytest.mark.parametrize("dangling", [False, True])
def test_exclusive_create_never_follows_a_planted_link(tmp_path: Path, dangling: bool) -> None:
    victim = tmp_path / ("nowhere.txt" if dangling else "victim.txt")
    if not dangling:
        victim.write_text("precious", encoding="utf-8")
    planted = tmp_path / ".planted.tmp"
    os.symlink(victim, planted)
    with pytest.raises(FileExistsError):
        create_exclusive(planted)
    assert victim.exists() != dangling
    if not dangling:
        assert victim.read_text(encoding="utf-8") == "precious"


@pytest.mark.parametrize("unnamed", [True, False])
def test_both_ways_of_staging_leave_nothing_behind(tmp_path: Path, unnamed: bool) -> None:
    """The unnamed temporary file (Linux) and the named one (elsewhere) give the same
    result: the final file, nothing else."""
    target = tmp_path / "mine.md"
    target.write_text("old", encoding="utf-8")
    assert write_file(target, b"new", unnamed=unnamed) == target
    first = write_new_file(tmp_path, "Hank", ".md", b"one", unnamed=unnamed)
    second = write_new_file(tmp_path, "Hank", ".md", b"two", unnamed=unnamed)
    assert target.read_bytes() == b"new"
    assert (first.read_bytes(), second.read_bytes()) == (b"one", b"two")
    assert sorted(os.listdir(tmp_path)) == ["Hank (2).md", "Hank.md", "mine.md"]


# -- what --out must never replace -------------------------------------------------------------


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "persona_studio", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _export_to(out: Path | str, db: Path) -> subprocess.CompletedProcess[str]:
    return _cli("export", "Homelab Hank", "--format", "md", "--out", str(out), "--db", str(db))


@pytest.fixture
def migrated(forllm_db: Path) -> Path:
    Store.open(forllm_db).close()
    return forllm_db


def test_out_refuses_the_open_database(migrated: Path, tmp_path: Path) -> None:
    before = _digest(migrated)
    for out in (migrated, migrated.parent / ".." / migrated.parent.name / migrated.name):
        proc = _export_to(out, migrated)
        assert proc.returncode == 2, proc.stderr
        assert "is the database Persona Studio has open" in proc.stderr
    hard_link = tmp_path / "same-file.db"
    os.link(migrated, hard_link)
    proc = _export_to(hard_link, migrated)
    assert proc.returncode == 2 and "is the database Persona Studio has open" in proc.stderr
    assert _digest(migrated) == before
    with Store.open(migrated) as store:
        assert store.integrity_check() == "ok"


def test_out_refuses_what_is_not_a_regular_file(migrated: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    link = tmp_path / "link.md"
    link.symlink_to(victim)
    if os.geteuid() == 0:  # a device node of our own: as root, /dev/full itself was replaced
        device = tmp_path / "full"
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    else:
        device = Path("/dev/full")
    cases = {
        fifo: "is a fifo (named pipe), not a regular file",
        device: "is a device, not a regular file",
        link: "is a link (to ",
    }
    for out, words in cases.items():
        before = os.lstat(out)
        proc = _export_to(out, migrated)
        assert proc.returncode == 2, (out, proc.stderr)
        assert words in proc.stderr, proc.stderr
        after = os.lstat(out)
        assert (after.st_mode, after.st_ino, after.st_rdev) == (
            before.st_mode,
            before.st_ino,
            before.st_rdev,
        )
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not [n for n in os.listdir(tmp_path) if n.endswith(TEMP_SUFFIX)]


def test_out_replaces_a_regular_file_the_user_named(migrated: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine.md"
    mine.write_text("old", encoding="utf-8")
    proc = _export_to(mine, migrated)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(mine)
    assert "Homelab Hank" in mine.read_text(encoding="utf-8")


def test_protect_is_checked_in_process_too(tmp_path: Path) -> None:
    db = tmp_path / "forllm_data.db"
    db.write_bytes(b"SQLite format 3\x00")
    with pytest.raises(ExportTargetError, match="database Persona Studio has open"):
        export_persona(hank(), "md", db, protect=[db])
    with pytest.raises(ExportTargetError, match="database Persona Studio has open"):
        export_persona(hank(), "md", tmp_path / "forllm_data.db-journal", protect=[db])
    assert isinstance(ExportTargetError("x"), ExportError)


# -- killed mid-write --------------------------------------------------------------------------

# Runs the CLI and kill -9s the process at its first write of the export's bytes: a profile
# hook sees every call into C, and the first call to a function named "write" made from
# export/filenames.py is where the file's data starts to go out.
_KILL_AT_FIRST_WRITE = """
import os, signal, sys
def hook(frame, event, arg):
    if (
        event == "c_call"
        and getattr(arg, "__name__", "") == "write"
        and frame.f_code.co_filename.endswith(os.path.join("export", "filenames.py"))
    ):
        os.kill(os.getpid(), signal.SIGKILL)
sys.setprofile(hook)
from persona_studio.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _export_killed_mid_write(db: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _KILL_AT_FIRST_WRITE, "export", "Hank Again", "--format", "md"]
        + ["--out", str(out), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def long_persona(migrated: Path) -> Path:
    from persona_studio.store import NewPersona

    with Store.open(migrated) as store:
        store.personas.create(
            NewPersona("Hank Again", "## Persona Name: Hank Again\n" + "word " * 5000, None, None)
        )
    return migrated


def test_killed_mid_write_into_a_folder_leaves_no_file(long_persona: Path, tmp_path: Path):
    folder = tmp_path / "out"
    folder.mkdir()
    proc = _export_killed_mid_write(long_persona, folder)
    assert proc.returncode == -signal.SIGKILL, proc.stderr  # it did die mid-write
    assert os.listdir(folder) == []  # no 0-byte "Hank Again.md", no temporary file


def test_killed_mid_write_over_a_file_leaves_the_old_file(long_persona: Path, tmp_path: Path):
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "lou.md"
    target.write_text("the previous export", encoding="utf-8")
    proc = _export_killed_mid_write(long_persona, target)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert target.read_text(encoding="utf-8") == "the previous export"
    assert os.listdir(folder) == ["lou.md"]  # no '.lou.md.<pid>.tmp' left behind
