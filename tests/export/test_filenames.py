"""Hostile persona names never write outside the chosen folder, and stay readable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from persona_studio.errors import ExportError
from persona_studio.export import export_persona
from persona_studio.export.filenames import safe_stem

from .helpers import hank

HOSTILE = {
    "../../x": "x",
    "a/b\\c": "a_b_c",
    "x\x00y": "x_y",
    "L" * 300: None,  # cut, see below
    "CON": "CON_",
    "con.txt": "con.txt_",
    "COM1": "COM1_",
    "lpt9 ": "lpt9_",
    ".": "persona",
    "..": "persona",
    "": "persona",
    "   ": "persona",
    "trailing dots...": "trailing dots",
    ".hidden": "hidden",
    "emoji 🦊 fox": "emoji 🦊 fox",
    "evil\u202egnp.exe": "evilgnp.exe",  # a right-to-left override would disguise the suffix
    'what? <no> "quotes" | pipes*': "what_no_quotes_pipes",
    "C:\\Windows\\system32": "C_Windows_system32",
    "/etc/passwd": "etc_passwd",
    "line\nbreak\ttab": "line break tab",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_names_stay_in_the_folder(name: str, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    doc = hank(name=name)
    for fmt in ("md", "card-png"):
        path = export_persona(doc, fmt, folder)
        assert path.resolve().parent == folder.resolve()
        assert path.exists() and path.is_file()
        assert len(path.name.encode("utf-8")) < 255
    assert sorted(p.parent for p in tmp_path.rglob("*") if p.is_file()) == [folder] * 2
    expected = HOSTILE[name]
    if expected is not None:
        assert safe_stem(name) == expected
    else:
        assert safe_stem(name) == "L" * 120


def test_existing_files_are_never_overwritten(tmp_path: Path) -> None:
    first = export_persona(hank(), "md", tmp_path)
    first.write_text("hand-edited", encoding="utf-8")
    second = export_persona(hank(), "md", tmp_path)
    third = export_persona(hank(), "md", tmp_path)
    assert [p.name for p in (first, second, third)] == [
        "Homelab Hank.md",
        "Homelab Hank (2).md",
        "Homelab Hank (3).md",
    ]
    assert first.read_text(encoding="utf-8") == "hand-edited"


def test_symlink_in_the_folder_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text("keep", encoding="utf-8")
    folder = tmp_path / "out"
    folder.mkdir()
    os.symlink(outside, folder / "Homelab Hank.md")
    path = export_persona(hank(), "md", folder)
    assert path.name == "Homelab Hank (2).md"
    assert outside.read_text(encoding="utf-8") == "keep"


def test_explicit_file_path_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "mine.md"
    target.write_text("old", encoding="utf-8")
    assert export_persona(hank(), "md", target) == target
    assert target.read_text(encoding="utf-8").startswith("Always respond as Homelab Hank")
    assert [p.name for p in tmp_path.iterdir()] == ["mine.md"]  # no temporary file left


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="does not exist"):
        export_persona(hank(), "md", tmp_path / "nope" / "x.md")
    # A trailing slash means a folder, even where a file of that name could be written.
    with pytest.raises(ExportError, match="does not exist"):
        export_persona(hank(), "md", f"{tmp_path / 'exports'}/")
    assert list(tmp_path.iterdir()) == []
