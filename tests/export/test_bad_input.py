"""Malformed and hostile files: one clear message each, nothing changed, no crash."""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from persona_studio.errors import ImportFormatError
from persona_studio.export import MAX_IMPORT_BYTES, export_persona, import_bytes, import_file
from persona_studio.export.cli import add_commands, run

from .fixtures import V2_CARD_WITH_BOOK
from .helpers import b64_card, hank, make_png

GOOD_V2 = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {"name": "Ok", "description": "Hi"},
}
PS = {"format": "persona-studio", "version": 1}


def _card(**data: Any) -> bytes:
    return json.dumps({"spec": "chara_card_v2", "spec_version": "2.0", "data": data}).encode()


def _ps(**persona: Any) -> bytes:
    return json.dumps(
        {**PS, "persona": {"name": "x", "prompt_instructions": "y", **persona}}
    ).encode()


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


# name: (content, words the message must contain); None: made from a good card PNG below.
BAD_FILES: dict[str, tuple[bytes | None, str]] = {
    "not-a-png.png": (b"GIF89a\x01\x00\x01\x00" + bytes(50), "neither a PNG card nor a text"),
    "card.charx": (b"PK\x03\x04" + bytes(40), "zip archive"),
    "truncated.png": (None, "truncated"),
    "bad-crc.png": (None, "checksum"),
    "bad-base64.png": (make_png([("chara", "not//base64!!")]), "not valid base64"),
    "no-card.png": (make_png([("Comment", "hello")]), "without a character card"),
    "base64-not-json.png": (
        make_png([("chara", base64.b64encode(b"{oops").decode())]),
        "not valid JSON",
    ),
    "base64-list.png": (make_png([("ccv3", b64_card([1, 2]))]), "is a list, not an object"),
    "wrong-shape.json": (b'{"hello": "world"}', "neither a character card"),
    "list.json": (b"[1, 2, 3]", "neither a character card"),
    "data-is-text.json": (b'{"spec": "chara_card_v2", "data": "Bob"}', "'data' is text"),
    "name-is-number.json": (_card(name=5), "'name' should be text"),
    "description-is-list.json": (_card(name="A", description=["x"]), "'description' should be"),
    "no-name.json": (_card(description="x"), "no name"),
    "package.json": (b'{"name": "left-pad", "version": "1.0.0"}', "no description"),
    "control-name.json": (_card(name="\x00\x01"), "no name"),
    "spec-is-number.json": (b'{"spec": 2, "data": {"name": "x"}}', "'spec' should be text"),
    "broken.json": (b'{"spec": "chara_card_v2", "data": {', "not valid JSON"),
    "deep.json": (_nested(5000), "nested more than"),
    "deep-list.json": (b"[" * 100_000 + b"]" * 100_000, "nested more than"),
    "medium-deep.json": (_card(name="x", extensions=json.loads(_nested(200))), "nested more"),
    "huge-int.json": (b'{"name": "x", "description": ' + b"9" * 5000 + b"}", "digits long"),
    "ps-newer.json": (json.dumps({**PS, "version": 9}).encode(), "newer Persona Studio"),
    "ps-no-text.json": (_ps(prompt_instructions=None), "'persona.prompt_instructions' is"),
    "ps-bad-versions.json": (_ps(versions="all"), "should be a list"),
    "ps-bad-date.json": (_ps(created_at="yesterday"), "not a date"),
    "empty.md": (b"", "empty"),
    "blank.txt": (b"  \n\t\n", "empty"),
    "latin1.txt": ("## Persona Name: Zoë".encode("latin-1"), "in UTF-8"),
    "Modelfile": (b'FROM llama3\nSYSTEM """You are helpful."""\n', "no '## Persona Name:'"),
}


def _materialise(name: str, tmp_path: Path) -> Path:
    content = BAD_FILES[name][0]
    path = tmp_path / name
    if content is None:
        good = export_persona(hank(), "card-png", tmp_path / "good.png").read_bytes()
        if name == "truncated.png":
            content = good[: len(good) // 2]
        else:  # flip one byte inside the ccv3 text, leaving its CRC stale
            at = good.index(b"ccv3\0") + 20
            content = good[:at] + bytes([good[at] ^ 0x20]) + good[at + 1 :]
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_one_clear_message(name: str, tmp_path: Path) -> None:
    path = _materialise(name, tmp_path)
    with pytest.raises(ImportFormatError) as caught:
        import_file(path)
    message = str(caught.value)
    assert message.startswith(f"{name}: ")
    assert BAD_FILES[name][1] in message
    assert "\n" not in message and "Traceback" not in message and len(message) < 400


def test_repaired_card_fields_are_reported() -> None:
    data = dict(
        V2_CARD_WITH_BOOK["data"],
        character_book=None,
        alternate_greetings="Hello!",
        tags="a, b",
        extensions=None,
    )
    card = json.dumps({"spec": "chara_card_v2", "spec_version": "2.0", "data": data})
    [doc] = import_bytes(card.encode(), "lenient.json")
    assert "character_book" not in doc.card_fields
    assert doc.card_fields["alternate_greetings"] == ["Hello!"]
    assert doc.card_fields["tags"] == ["a", "b"]
    assert doc.extensions == {}
    joined = " | ".join(doc.notes)
    assert "'character_book' was null" in joined
    assert "'alternate_greetings' was a single text" in joined


def test_200_mb_file_is_refused_without_reading_it(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "huge.png"
    with path.open("wb") as handle:  # sparse: costs no disk
        handle.truncate(200 * 2**20)
    opened: list[str] = []
    real_open = Path.open

    def spy(self: Path, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", spy)
    with pytest.raises(ImportFormatError, match=r"huge.png: it is 200.0 MB.*limit is 20 MB"):
        import_file(path)
    assert opened == []
    assert MAX_IMPORT_BYTES == 20 * 2**20


def test_devices_folders_and_fifos_are_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path, Path("/dev/zero")):
        with pytest.raises(ImportFormatError, match="not a file"):
            import_file(path)
    with pytest.raises(ImportFormatError, match="no such file"):
        import_file(tmp_path / "missing.json")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_import_of_bad_files_changes_nothing(forllm_db: Path, tmp_path: Path) -> None:
    bad = [_materialise(name, tmp_path) for name in BAD_FILES]
    before = _digest(forllm_db)
    out, err = io.StringIO(), io.StringIO()
    args = _args(["import", *map(str, bad), "--db", str(forllm_db)])
    assert run(args, out, err) == 2  # invalid input, as the README's exit codes say
    assert out.getvalue() == ""
    lines = err.getvalue().splitlines()
    assert len(lines) == len(BAD_FILES) and all(line.startswith("failed: ") for line in lines)
    assert _digest(forllm_db) == before  # not even opened
    assert not list(forllm_db.parent.glob("*.backup-*"))


def test_cli_mixed_import_saves_only_the_good_ones(store, forllm_db: Path, tmp_path: Path) -> None:
    good = tmp_path / "ok.json"
    good.write_text(json.dumps(GOOD_V2), encoding="utf-8")
    bad = _materialise("truncated.png", tmp_path)
    count = store.personas.count(include_inactive=True)
    out, err = io.StringIO(), io.StringIO()
    assert run(_args(["import", str(bad), str(good), "--db", str(forllm_db)]), out, err) == 2
    assert out.getvalue().startswith("imported: ok.json: 'Ok'")
    assert err.getvalue().startswith("failed: truncated.png: the PNG is truncated")
    assert store.personas.count(include_inactive=True) == count + 1


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path)
    add_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_reports_repairs_on_the_import_line(forllm_db: Path, tmp_path: Path) -> None:
    data = dict(V2_CARD_WITH_BOOK["data"], character_book=None, alternate_greetings="Hello!")
    path = tmp_path / "tom.json"
    path.write_text(json.dumps({"spec": "chara_card_v2", "data": data}), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert run(_args(["import", str(path), "--db", str(forllm_db)]), out, err) == 0
    [line] = out.getvalue().splitlines()
    assert line.startswith("imported: tom.json: 'Old Tom'")
    assert "note: its 'alternate_greetings' was a single text" in line
    assert "its 'character_book' was null" in line
