"""Imports of files nobody vouches for: a persona with its history is saved whole or not at
all (kill -9 included); broken characters, oversize fields and links out of a folder each
get a clear message for that file while the other files are imported; no traceback."""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from persona_studio.engine.request import MAX_NAME_CHARS
from persona_studio.errors import ImportFormatError
from persona_studio.export import import_bytes, import_file, import_targets
from persona_studio.export.limits import MAX_CARD_EXTRAS_CHARS, MAX_PERSONA_CHARS
from persona_studio.store import Store

from .helpers import make_png

TEXT = "## Persona Name: {name}\n## Core Identity:\nVersion {n} of a patient librarian.\n"


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "persona_studio", *argv],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _history_file(path: Path, name: str, versions: int) -> Path:
    persona = {
        "name": name,
        "prompt_instructions": TEXT.format(name=name, n=versions),
        "generation_source": "user_manual",
        "ratings": {"rating": 5, "note": "the best", "rated_at": "2025-01-02T03:04:05Z"},
        "versions": [
            {"version": n, "name": name, "prompt_instructions": TEXT.format(name=name, n=n)}
            for n in range(1, versions)
        ],
    }
    path.write_text(
        json.dumps({"format": "persona-studio", "version": 1, "persona": persona}),
        encoding="utf-8",
    )
    return path


def _state(db: Path, name: str) -> tuple[int, int, int]:
    """(personas called ``name``, their version rows, their ratings), read as FORLLM would."""
    conn = sqlite3.connect(db)
    try:
        ids = [
            r[0] for r in conn.execute("SELECT persona_id FROM personas WHERE name = ?", (name,))
        ]
        marks = ",".join("?" * len(ids)) or "NULL"
        versions = conn.execute(
            f"SELECT COUNT(*) FROM persona_versions WHERE persona_id IN ({marks})", ids
        ).fetchone()[0]
        rated = conn.execute(
            f"SELECT COUNT(*) FROM ps_ratings WHERE persona_id IN ({marks})", ids
        ).fetchone()[0]
        return len(ids), versions, rated
    finally:
        conn.close()


# -- one transaction per file ------------------------------------------------------------------

VERSIONS = 2001


@pytest.fixture
def migrated(forllm_db: Path) -> Path:
    Store.open(forllm_db).close()  # the import itself then writes one transaction only
    return forllm_db


def _import_and_kill(db: Path, file: Path, ready) -> subprocess.CompletedProcess[bytes]:
    """Start an import and kill -9 it as soon as ``ready()`` says so (or it ends)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "persona_studio", "import", str(file), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and not ready():
        assert time.monotonic() < deadline, "the import never got going"
        time.sleep(0.0005)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_kill_9_mid_import_leaves_everything_or_nothing(migrated: Path, tmp_path: Path):
    file = _history_file(tmp_path / "many.persona.json", "Many", VERSIONS)
    journal = migrated.with_name(migrated.name + "-journal")

    # Killed while its transaction is open (the rollback journal exists): nothing at all.
    killed = _import_and_kill(migrated, file, journal.exists)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _state(migrated, "Many") in ((0, 0, 0), (1, VERSIONS, 1))

    # Killed as soon as the persona can be seen from another connection: by then all of
    # it, every version and the rating, is there (one import used to show version 1 first,
    # then add the others one transaction at a time).
    killed = _import_and_kill(migrated, file, lambda: _state(migrated, "Many")[0] > 0)
    count, versions, rated = _state(migrated, "Many")
    assert count == 1 and (versions, rated) == (VERSIONS, 1), killed.stderr
    with Store.open(migrated) as store:
        assert store.integrity_check() == "ok"
        persona = store.personas.get_by_name("Many")
        assert persona.version == VERSIONS and persona.rating == 5


# -- lone surrogates ---------------------------------------------------------------------------


def test_a_lone_surrogate_gets_a_message_and_the_other_files_are_imported(
    migrated: Path, tmp_path: Path
) -> None:
    good = tmp_path / "good.md"
    good.write_text("## Persona Name: Good One\nHelpful.\n", encoding="utf-8")
    card = {
        "spec": "chara_card_v2",
        "data": {"name": "Broken \ud83d Emoji", "description": "Cut \udc00 in half."},
    }
    card_json = tmp_path / "broken.json"
    card_json.write_text(json.dumps(card), encoding="utf-8")  # \\ud83d escapes, as JS writes
    card_png = tmp_path / "broken.png"
    card_png.write_bytes(
        make_png([("chara", base64.b64encode(json.dumps(card).encode()).decode())])
    )
    ps = tmp_path / "broken.persona.json"
    ps.write_text(
        json.dumps(
            {
                "format": "persona-studio",
                "version": 1,
                "persona": {
                    "name": "PS \ud800",
                    "prompt_instructions": "## Persona Name: PS\nText \udfff here.",
                    "input_details": {"k\ud800": ["\udc00"]},
                },
            }
        ),
        encoding="utf-8",
    )
    last = tmp_path / "last.md"
    last.write_text("## Persona Name: Last One\nStill imported.\n", encoding="utf-8")
    proc = _cli(
        "import", *(str(p) for p in (good, card_json, card_png, ps, last)), "--db", str(migrated)
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 5
    for line in lines[1:4]:
        assert "broken character(s) (lone UTF-16 surrogates" in line, line
    assert lines[0].startswith("imported: good.md: 'Good One'")
    assert lines[4].startswith("imported: last.md: 'Last One'")
    with Store.open(migrated) as store:
        assert store.personas.get_by_name("Broken \ufffd Emoji").prompt_instructions
        assert "Text \ufffd here." in store.personas.get_by_name("PS \ufffd").prompt_instructions


def test_an_undecodable_file_name_is_reported_without_a_traceback(
    migrated: Path, tmp_path: Path
) -> None:
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.md"))
    odd.write_text("## Persona Name: Cafe\nText.\n", encoding="utf-8")
    bad = Path(os.fsdecode(bytes(tmp_path) + b"/bad\xff.json"))
    bad.write_text("{oops", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "persona_studio", "import", str(odd), str(bad)]
        + ["--db", str(migrated)],
        capture_output=True,
        timeout=120,
    )
    assert b"Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2  # one file refused; the other imported
    assert proc.stdout.startswith(b"imported: caf\xef\xbf\xbd.md: 'Cafe'")
    assert proc.stderr.startswith(b"failed: bad\xef\xbf\xbd.json: it is not valid JSON")


# -- the forms' limits -------------------------------------------------------------------------


def test_oversize_fields_are_cut_to_the_forms_limits_with_a_note(
    migrated: Path, tmp_path: Path
) -> None:
    card = tmp_path / "huge.json"
    card.write_text(
        json.dumps(
            {
                "spec": "chara_card_v2",
                "data": {
                    "name": "N" * 5000,
                    "description": "d" * 14_000_000,
                    "first_mes": "g" * 2_000_000,
                },
            }
        ),
        encoding="utf-8",
    )
    assert card.stat().st_size > 15_000_000
    proc = _cli("import", str(card), "--db", str(migrated))
    assert proc.returncode == 0, proc.stderr
    assert f"its name was cut to {MAX_NAME_CHARS} characters (it had 5,000" in proc.stdout
    assert f"its text was cut to {MAX_PERSONA_CHARS:,} characters" in proc.stdout
    assert f"over the {MAX_CARD_EXTRAS_CHARS:,} allowed) were left out" in proc.stdout
    with Store.open(migrated) as store:
        persona = store.personas.get_by_name("N" * MAX_NAME_CHARS)
        assert len(persona.prompt_instructions) <= MAX_PERSONA_CHARS
        assert "imported_card" not in (persona.generation_input_details or {})


def test_generation_inputs_and_models_are_held_to_the_request_limits() -> None:
    payload = {
        "format": "persona-studio",
        "version": 1,
        "persona": {
            "name": "Inputs",
            "prompt_instructions": "## Persona Name: Inputs\nText.",
            "input_details": {"name_hint": "n" * 500, "description_hint": "d" * 9000},
            "model": "m" * 2000,
            "versions": [{"name": "v" * 300, "prompt_instructions": "x" * 200_000}],
        },
    }
    [doc] = import_bytes(json.dumps(payload).encode(), "inputs.json")
    assert len(doc.input_details["name_hint"]) == MAX_NAME_CHARS
    assert len(doc.input_details["description_hint"]) == 4000
    assert doc.model is None
    assert len(doc.versions[0].name) == MAX_NAME_CHARS
    assert len(doc.versions[0].prompt_instructions) == MAX_PERSONA_CHARS
    notes = " | ".join(doc.notes)
    assert "its generation input 'name_hint' was cut to 120" in notes
    assert "its model name (2,000 characters" in notes
    assert "1 of its past versions were cut" in notes


# -- links out of a folder ---------------------------------------------------------------------


@pytest.fixture
def dropped(tmp_path: Path) -> tuple[Path, Path]:
    """A folder as it might arrive in an archive: persona files, and links to a secret
    outside it (directly, through a linked folder, dangling), and one to a file inside."""
    secret = tmp_path / "secret" / "id_rsa.md"
    secret.parent.mkdir()
    secret.write_text("## Persona Name: Secret\nPRIVATE KEY MATERIAL\n", encoding="utf-8")
    folder = tmp_path / "dropped"
    (folder / "sub").mkdir(parents=True)
    (folder / "hank.md").write_text("## Persona Name: Hank\nHelpful.\n", encoding="utf-8")
    (folder / "sub" / "quill.md").write_text("## Persona Name: Quill\nWrites.\n", "utf-8")
    (folder / "passwd.md").symlink_to(secret)
    (folder / "sub" / "deeper.md").symlink_to("../../secret/id_rsa.md")
    (folder / "linked-dir").symlink_to(secret.parent, target_is_directory=True)
    (folder / "dangling.md").symlink_to(tmp_path / "nowhere.md")
    (folder / "alias.md").symlink_to(folder / "hank.md")  # inside: followed
    (folder / ".hidden.md").write_text("## Persona Name: Hidden\nx\n", encoding="utf-8")
    return folder, secret


def test_links_out_of_a_dropped_folder_are_not_followed(dropped, migrated: Path) -> None:
    folder, secret = dropped
    proc = _cli("import", str(folder), "--db", str(migrated))
    assert proc.returncode == 2, proc.stderr  # some files refused
    assert "PRIVATE KEY" not in proc.stdout + proc.stderr
    refused = proc.stderr
    assert "passwd.md: it is a link to " in refused and "links out of a folder" in refused
    assert "deeper.md: it is a link to " in refused
    assert "dangling.md: it is a link to " in refused
    imported = proc.stdout
    # In name order: the link inside the folder is followed like the file it points to.
    assert "imported: alias.md: 'Hank'" in imported
    assert "imported: hank.md: 'Hank (2)'" in imported
    assert "imported: quill.md: 'Quill'" in imported
    assert "Hidden" not in imported and "Secret" not in imported
    with Store.open(migrated) as store:
        assert not store.personas.list(search="PRIVATE")
        assert not [p for p in store.personas.list(search="Secret")]


def test_a_link_named_directly_follows_the_same_rule(dropped) -> None:
    folder, secret = dropped
    with pytest.raises(ImportFormatError, match="passwd.md: it is a link to .*outside"):
        import_file(folder / "passwd.md")
    [doc] = import_file(folder / "alias.md")
    assert doc.name == "Hank"
    # The window's drop goes through the same list of targets.
    names = sorted(t.path.name for t in import_targets([folder]))
    assert "linked-dir" not in names and ".hidden.md" not in names
    assert secret.name not in names


def test_a_folder_with_too_many_files_is_refused_whole(tmp_path: Path) -> None:
    from persona_studio.export.io import MAX_FOLDER_FILES

    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(MAX_FOLDER_FILES + 1):
        (folder / f"{n}.md").write_text(f"## Persona Name: P{n}\nx\n", encoding="utf-8")
    [target] = import_targets([folder])
    assert target.error is not None and "more than 1,000 files" in str(target.error)


def test_macros_cannot_blow_a_card_up(tmp_path: Path) -> None:
    """{{char}} is written out as the name: a 100,000-character name in a description of a
    million macros used to make gigabytes of text before any limit applied."""
    card = {
        "spec": "chara_card_v2",
        "data": {"name": "N" * 100_000, "description": "{{char}} " * 1_000_000},
    }
    started = time.perf_counter()
    [doc] = import_bytes(json.dumps(card).encode(), "macros.json")
    assert time.perf_counter() - started < 10
    assert len(doc.name) == MAX_NAME_CHARS
    assert len(doc.prompt_instructions) <= MAX_PERSONA_CHARS
