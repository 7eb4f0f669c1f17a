"""3,000 mutated versions of valid files fed to the importer: each is rejected with an
ImportFormatError or imported cleanly (and then exports and re-imports), none crashes or
hangs. Mutations: byte flips, truncations, inserted bytes, duplicated PNG chunks, corrupted
base64 in card chunks (with valid CRCs, so the decoder is reached), JSON key deletions and
type swaps, lone UTF-16 surrogates and oversize fields (in JSON files and inside PNG cards).
An imported persona always holds only text that can be stored and shown, within the forms'
limits. A second fuzz builds folders of files, links (in, out, dangling, looping), fifos and
subfolders, and imports them as a drop: nothing outside the folder is ever read. Fixed seeds:
failures reproduce."""

from __future__ import annotations

import base64
import json
import os
import random
import struct
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from persona_studio.core.safejson import walk_strings
from persona_studio.engine.request import MAX_NAME_CHARS
from persona_studio.errors import ImportFormatError
from persona_studio.export import (
    FORMATS,
    import_bytes,
    import_file,
    import_targets,
    render,
    save_document,
)
from persona_studio.export.limits import MAX_PERSONA_CHARS
from persona_studio.export.model import PersonaDocument

from .fixtures import V1_CARD, V2_CARD_WITH_BOOK, V3_CARD_WITH_ASSETS
from .helpers import PNG_SIGNATURE, b64_card, hank, make_png

SEED = 20251125
CASES = 3000
TIME_LIMIT_S = 20.0
SMALL_PNG = make_png([])  # a base image for card-png re-exports (skips avatar drawing)


def seed_files() -> list[bytes]:
    doc = hank()
    files = [render(doc, fmt, from_model="llama3") for fmt in FORMATS]
    files.append(json.dumps(V1_CARD).encode())
    files.append(json.dumps(V3_CARD_WITH_ASSETS).encode())
    files.append(make_png([("chara", b64_card(V2_CARD_WITH_BOOK))]))
    return files


# -- mutators ----------------------------------------------------------------------------------


def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] ^= rng.randint(1, 255)
    return bytes(out)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def insert_bytes(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    junk = rng.choice([b"\0", b"{", b'"""', b"\xff\xfe", rng.randbytes(rng.randint(1, 64))])
    return data[:at] + junk + data[at:]


def _chunks(data: bytes) -> list[bytes] | None:
    if not data.startswith(PNG_SIGNATURE):
        return None
    chunks, pos = [], 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append(data[pos : pos + 12 + length])
        pos += 12 + length
    return chunks


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def duplicate_chunk(rng: random.Random, data: bytes) -> bytes:
    chunks = _chunks(data)
    if not chunks:
        return data + data[: rng.randrange(1, len(data))]
    index = rng.randrange(len(chunks))
    chunks.insert(rng.randrange(len(chunks) + 1), chunks[index])
    return PNG_SIGNATURE + b"".join(chunks)


def _text_chunks(chunks: list[bytes]) -> list[int]:
    return [i for i, c in enumerate(chunks) if c[4:8] == b"tEXt"]


def corrupt_base64(rng: random.Random, data: bytes) -> bytes:
    chunks = _chunks(data)
    if not chunks or not _text_chunks(chunks):
        return flip_bytes(rng, data)
    index = rng.choice(_text_chunks(chunks))
    keyword, _, text = chunks[index][8:-4].partition(b"\0")
    text = bytearray(text)
    how = rng.randrange(4)
    if how == 0 and text:  # characters outside the alphabet
        for _ in range(rng.randint(1, 4)):
            text[rng.randrange(len(text))] = rng.choice(b"!@#$%^&*() \n")
    elif how == 1:  # padding gone or wrong
        text = text.rstrip(b"=") + rng.choice([b"", b"=", b"==="])
    elif how == 2 and text:  # valid base64 of damaged bytes
        try:
            raw = bytearray(base64.b64decode(bytes(text), validate=True))
        except ValueError:  # an earlier round broke it already
            raw = bytearray(rng.randbytes(len(text) // 2))
        if raw:
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        text = bytearray(base64.b64encode(bytes(raw)))
    else:  # cut short
        text = text[: rng.randrange(len(text) + 1)]
    chunks[index] = _chunk(b"tEXt", keyword + b"\0" + bytes(text))
    return PNG_SIGNATURE + b"".join(chunks)


_SWAPS: list[Any] = [
    None,
    0,
    -1.5,
    True,
    "",
    "x",
    [],
    {},
    ["a", 1],
    {"k": None},
    "\0",
    1e308,
    "## Persona Name:",
    [[[[]]]],
]


def _mutate_tree(
    rng: random.Random, tree: Any, new_value: Callable[[Any], Any] | None = None
) -> Any:
    """Change up to three slots of ``tree``: deleted, or given a swapped value (or
    ``new_value(old)``)."""
    slots: list[tuple[Any, Any]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            slots.append((node, key))
            if isinstance(value, dict | list):
                stack.append(value)
    if not slots:
        return rng.choice(_SWAPS)
    for _ in range(rng.randint(1, 3)):
        node, key = rng.choice(slots)
        try:
            if new_value is not None:
                node[key] = new_value(node[key])
            elif isinstance(node, dict) and rng.random() < 0.4:
                del node[key]
            else:
                node[key] = rng.choice(_SWAPS)
        except (KeyError, IndexError):
            pass  # an earlier mutation removed it
    return tree


def mutate_json(
    rng: random.Random, data: bytes, new_value: Callable[[Any], Any] | None = None
) -> bytes:
    chunks = _chunks(data)
    if chunks:  # the card inside a PNG, re-embedded with valid base64 and CRC
        texts = _text_chunks(chunks)
        if not texts:
            return flip_bytes(rng, data)
        index = rng.choice(texts)
        keyword, _, text = chunks[index][8:-4].partition(b"\0")
        try:  # an earlier round may have broken it already
            card = json.loads(base64.b64decode(text, validate=True))
        except ValueError:
            return flip_bytes(rng, data)
        card = _mutate_tree(rng, card, new_value)
        body = keyword + b"\0" + base64.b64encode(json.dumps(card).encode())
        chunks[index] = _chunk(b"tEXt", body)
        return PNG_SIGNATURE + b"".join(chunks)
    try:
        tree = json.loads(data)
    except ValueError:
        return flip_bytes(rng, data)
    return json.dumps(_mutate_tree(rng, tree, new_value)).encode()


_SURROGATES = ["\ud800", "\udfff", "\ud83d", "\udc00x"]


def inject_surrogates(rng: random.Random, data: bytes) -> bytes:
    """Text with a lone surrogate in it, written as a \\udXXX escape (json.dumps's
    ensure_ascii), the way a JavaScript tool that cut an emoji in half writes it."""

    def spoil(old: Any) -> Any:
        text = old if isinstance(old, str) else "text"
        at = rng.randrange(len(text) + 1)
        return text[:at] + rng.choice(_SURROGATES) + text[at:]

    return mutate_json(rng, data, spoil)


def oversize_field(rng: random.Random, data: bytes) -> bytes:
    """A field far over the forms' limits: a name of thousands of characters, a text of
    over 100,000."""

    def grow(old: Any) -> Any:
        text = old if isinstance(old, str) and old else "word "
        return text * (rng.choice([6_000, 30_000, 160_000]) // len(text) + 1)

    return mutate_json(rng, data, grow)


MUTATORS: list[Callable[[random.Random, bytes], bytes]] = [
    flip_bytes,
    truncate,
    insert_bytes,
    duplicate_chunk,
    corrupt_base64,
    mutate_json,
    inject_surrogates,
    oversize_field,
]


# -- the test ----------------------------------------------------------------------------------


def _storable(value: Any) -> None:
    """Every text in ``value`` (keys too) can be encoded: stored in SQLite, shown, printed."""
    for _path, text in walk_strings(value):
        text.encode("utf-8")


def _check_accepted(doc: PersonaDocument) -> None:
    assert isinstance(doc.name, str) and doc.name.strip()
    assert isinstance(doc.prompt_instructions, str) and doc.prompt_instructions.strip()
    assert len(doc.name) <= MAX_NAME_CHARS
    assert len(doc.prompt_instructions) <= MAX_PERSONA_CHARS
    for value in (doc.name, doc.prompt_instructions, doc.notes, doc.model, doc.versions):
        _storable(value if not isinstance(value, tuple) else [str(v) for v in value])
    for value in (doc.input_details, doc.extensions, doc.card_fields, doc.request_params):
        _storable(value)
    for entry in doc.versions:
        _storable([entry.name, entry.prompt_instructions])
    for fmt in FORMATS:
        blob = render(doc, fmt, from_model="llama3", base_png=SMALL_PNG)
        [again] = import_bytes(blob, f"re-export{FORMATS[fmt].suffix}")
        assert again.prompt_instructions.strip()
        if fmt == "json":
            assert again == replace(doc, notes=())
        elif fmt.startswith("card"):
            assert again.name == doc.name


@pytest.mark.timeout(120)
def test_fuzz_importer(store) -> None:
    rng = random.Random(SEED)
    files = seed_files()
    outcomes: Counter[str] = Counter()
    saved = 0
    started = time.perf_counter()
    for case in range(CASES):
        mutator = MUTATORS[case % len(MUTATORS)]
        data = files[rng.randrange(len(files))]
        for _ in range(rng.choice([1, 1, 2])):
            data = mutator(rng, data) if data else data
        try:
            docs = import_bytes(data, f"case-{case}")
        except ImportFormatError as exc:
            assert str(exc).startswith(f"case-{case}: ")
            str(exc).encode("utf-8")  # a message can always be shown
            outcomes[f"{mutator.__name__}: rejected"] += 1
            continue
        outcomes[f"{mutator.__name__}: imported"] += 1
        for doc in docs:
            _check_accepted(doc)
            if saved < 40:  # a sample goes all the way into the database
                outcome = save_document(store, doc)
                stored = store.personas.get(outcome.saved.persona_id)
                assert stored.prompt_instructions == doc.prompt_instructions
                saved += 1
    elapsed = time.perf_counter() - started
    print(f"\nfuzz: {CASES} cases in {elapsed:.1f} s; {dict(sorted(outcomes.items()))}")
    assert elapsed < TIME_LIMIT_S
    rejected = sum(n for k, n in outcomes.items() if k.endswith("rejected"))
    assert 0.2 * CASES < rejected < 0.9 * CASES  # both paths exercised


# -- folders dropped on the window -------------------------------------------------------------

FOLDER_CASES = 150
SECRET = "SECRET-OUTSIDE-THE-FOLDER"


def _random_folder(rng: random.Random, root: Path, outside: Path) -> None:
    """Files, subfolders, fifos and links of every kind under ``root``; ``outside`` holds
    a persona file and a folder that must never be read."""
    folders = [root]
    names = iter(f"e{n}" for n in range(10_000))
    for _ in range(rng.randint(1, 14)):
        here = rng.choice(folders)
        name = next(names)
        kind = rng.randrange(8)
        path = here / (name + rng.choice([".md", ".json", ".png", "", ".Modelfile"]))
        if kind == 0:
            path = here / name
            path.mkdir()
            folders.append(path)
        elif kind == 1:
            path.write_text(f"## Persona Name: In {name}\nInside.\n", encoding="utf-8")
        elif kind == 2:  # a link out: to the secret file, its folder, or something absent
            target = rng.choice([outside / "secret.md", outside, outside / "absent.md"])
            path.symlink_to(target, target_is_directory=target.is_dir())
        elif kind == 3:  # a relative link that climbs out
            depth = len(path.relative_to(root).parts)
            path.symlink_to(Path(*[".."] * depth, "..", outside.name, "secret.md"))
        elif kind == 4:  # a link inside the folder
            path.symlink_to(rng.choice(folders))
        elif kind == 5:  # links in a loop
            other = here / next(names)
            path.symlink_to(other)
            other.symlink_to(path)
        elif kind == 6:
            os.mkfifo(path)
        else:
            path.write_bytes(rng.randbytes(rng.randint(0, 200)))


def test_fuzz_dropped_folders_never_read_outside(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(f"## Persona Name: Leak\n{SECRET}\n", encoding="utf-8")
    started = time.perf_counter()
    imported = refused = 0
    for case in range(FOLDER_CASES):
        root = tmp_path / f"drop-{case}"
        root.mkdir()
        _random_folder(rng, root, outside)
        for target in import_targets([root]):
            if target.error is not None:
                refused += 1
                continue
            try:
                docs = import_file(target.path, within=target.within)
            except ImportFormatError as exc:
                assert SECRET not in str(exc)
                refused += 1
                continue
            for doc in docs:
                assert SECRET not in doc.prompt_instructions, target.path
                imported += 1
    elapsed = time.perf_counter() - started
    print(f"\nfolders: {FOLDER_CASES} in {elapsed:.1f} s; {imported} imported, {refused} refused")
    assert imported and refused
    assert elapsed < TIME_LIMIT_S
