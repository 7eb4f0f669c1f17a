"""Ollama Modelfiles, read back with a port of Ollama's own parser (parser/parser.go,
ParseFile: the state machine for names, values, comments and triple quotes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona_studio.errors import ExportError
from persona_studio.export import export_persona, import_bytes, import_file, render
from persona_studio.export.modelfile import base_model
from persona_studio.llm.catalog import packaged_model_path

from .helpers import HANK_TEXT, hank

_NIL, _NAME, _VALUE, _COMMENT = range(4)


def ollama_parse(text: str) -> list[tuple[str, str]]:
    """(command, argument) pairs as Ollama reads them (PARAMETER/MESSAGE left out)."""

    def unquote(s: str) -> tuple[str, bool]:
        if s[:3] == '"""':
            return (s[3:-3], True) if len(s) >= 6 and s[-3:] == '"""' else ("", False)
        if s[:1] == '"':
            return (s[1:-1], True) if len(s) >= 2 and s[-1] == '"' else ("", False)
        return s, True

    def step(r: str, state: int) -> tuple[int, str | None]:
        space, newline = r in " \t", r in "\r\n"
        if state == _NIL:
            return (
                (_COMMENT, None) if r == "#" else (_NIL, None) if space or newline else (_NAME, r)
            )
        if state == _NAME:
            if r.isascii() and r.isalpha():
                return _NAME, r
            assert space, "invalid command"
            return _VALUE, None
        if state == _VALUE:
            return (_NIL, r) if space or newline else (_VALUE, r)
        return (_NIL, None) if newline else (_COMMENT, None)

    commands: list[tuple[str, str]] = []
    name, state, buf = "", _NIL, []
    for ch in text:
        nxt, r = step(ch, state)
        if nxt != state:
            if state == _NAME:
                name = "".join(buf).lower()
            elif state == _VALUE:
                value, ok = unquote("".join(buf).strip())
                if not ok or r in (" ", "\t"):
                    buf.append(r)
                    continue
                commands.append((name, value))
            buf, state = [], nxt
        if r is not None and r.isprintable():
            buf.append(r)
    if state == _VALUE:
        value, ok = unquote("".join(buf).strip())
        assert ok, "unterminated value"
        commands.append((name, value))
    return commands


def test_ollama_reads_the_persona_text(tmp_path: Path) -> None:
    path = export_persona(hank(), "modelfile", tmp_path)
    assert path.name == "Homelab Hank.Modelfile"
    commands = ollama_parse(path.read_text(encoding="utf-8"))
    assert commands == [("from", "llama3"), ("system", HANK_TEXT)]


def test_triple_quotes_cannot_end_the_system_text_early() -> None:
    text = (
        '## Persona Name: Quoter\n## Core Identity:\nWrites """docstrings""" and says ""hi"".'
        '\nEnds a line with """\n"""\nSpaces after """  \n## Example Phrases:\n- "Quote me."'
    )
    modelfile = render(hank(prompt_instructions=text, name="Quoter"), "modelfile").decode()
    commands = ollama_parse(modelfile)
    # Ollama reads all of it: quotes inside a line as they are; a line that ends with them
    # gets one braille blank (U+2800) after them, which keeps the value open.
    blank = "\u2800"
    expected = (
        '## Persona Name: Quoter\n## Core Identity:\nWrites """docstrings""" and says ""hi"".'
        f'\nEnds a line with """{blank}\n"""{blank}\nSpaces after """{blank}  \n'
        '## Example Phrases:\n- "Quote me."'
    )
    assert commands[-1] == ("system", expected)
    # ... and our importer gives back exactly the text that was exported.
    [doc] = import_bytes(modelfile.encode(), "Modelfile")
    assert doc.prompt_instructions == text


@pytest.mark.parametrize(
    "text",
    [
        'x\n"""',  # ends with quotes: the closing quotes follow them
        'x"""\n',  # the final newline kept
        '"""\n',
        'x"""\u2800\ny',  # a blank of the text's own after quotes: kept, not taken off
        'x""\u200b"\ny',  # quotes Ollama sees as three (it drops the zero-width space)
        "\n\nleading and trailing newlines\n\n",
    ],
)
def test_modelfile_round_trip_is_exact(text: str) -> None:
    body = f"## Persona Name: Edgy\n{text}"
    modelfile = render(hank(prompt_instructions=body, name="Edgy"), "modelfile").decode()
    assert ollama_parse(modelfile)[-1][0] == "system"  # Ollama reads it to the end
    [doc] = import_bytes(modelfile.encode(), "Modelfile")
    assert doc.prompt_instructions == body


def test_import_reads_what_ollama_reads(tmp_path: Path) -> None:
    path = tmp_path / "Modelfile"
    path.write_text(
        f'# a comment\nFROM llama3\nPARAMETER temperature 0.7\nSYSTEM """{HANK_TEXT}"""  \n',
        encoding="utf-8",
    )
    [doc] = import_file(path)
    assert (doc.name, doc.prompt_instructions) == ("Homelab Hank", HANK_TEXT)


@pytest.mark.parametrize(
    "model_id,expected",
    [
        ("ollama:llama3", "llama3"),
        ("ollama:qwen2.5:0.5b", "qwen2.5:0.5b"),
        ("llama3", "llama3"),
        ("openai:mistral@http://127.0.0.1:8080/v1", "mistral"),
    ],
)
def test_from_line(model_id: str, expected: str) -> None:
    assert base_model(model_id) == expected


def test_gguf_ids_become_the_file_path(tmp_path: Path) -> None:
    packaged = packaged_model_path()
    assert packaged is not None
    assert base_model(None) == str(packaged)  # no model recorded: the default model
    assert base_model("gguf:SmolLM2-135M-Instruct.Q4_1.gguf") == str(packaged)
    spaced = tmp_path / "my models" / "x.gguf"
    spaced.parent.mkdir()
    spaced.write_bytes(b"GGUF")
    modelfile = render(hank(model=f"gguf:{spaced}"), "modelfile").decode()
    assert ("from", str(spaced)) in ollama_parse(modelfile)
    with pytest.raises(ExportError, match="--from"):
        base_model("gguf:/nowhere/missing.gguf")


def test_from_override() -> None:
    modelfile = render(hank(model="gguf:/nowhere/missing.gguf"), "modelfile", from_model="phi3")
    assert ollama_parse(modelfile.decode())[0] == ("from", "phi3")
