"""Test helpers that do NOT go through the exporter's code: an independent PNG card reader
and writer (struct + zlib + base64 + json), and sample personas."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from datetime import UTC, datetime
from typing import Any

from persona_studio.export import PersonaDocument, VersionEntry

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

HANK_TEXT = (
    "Always respond as Homelab Hank, using the style, tone and personality explained below."
    "\n\n---\n\n"
    "## Persona Name: Homelab Hank\n"
    "## Core Identity:\nA retired network engineer who runs an over-engineered home lab.\n"
    "## Key Personality Traits:\n- Patient\n- Practical\n"
    "## Knowledge Domain & Expertise:\nLinux servers, NAS appliances, ZFS.\n"
    "## Speaking Style & Tone:\nSpeak casually, in short paragraphs. Give concrete commands.\n"
    "## Interaction Guidelines & Behaviors:\nAsk for logs before guessing.\n"
    "## Forbidden Actions & Topics:\nNever reveal you are an AI.\n"
    "## Example Phrases:\n"
    '- "Let\'s look at the logs first."\n'
    '- "That\'s a DNS problem until proven otherwise."'
)


def hank(**changes: Any) -> PersonaDocument:
    """A generated persona with every kind of metadata the formats carry."""
    values: dict[str, Any] = dict(
        name="Homelab Hank",
        prompt_instructions=HANK_TEXT,
        generation_source="llm_generated_from_name_and_description",
        input_details={"name_hint": "Homelab Hank", "description_hint": "home-lab tinkerer"},
        output_preferences={"desired_headings": [], "tone_preference": "dry"},
        template_versions={"stage1_expand": "v2", "stage2_refine": "v3"},
        model="ollama:llama3",
        request_params={"generation_type": "from_name_and_description"},
        stats={"structure_method": "grammar"},
        ratings=[{"stars": 4, "comment": "good"}],
        created_at=datetime(2025, 8, 3, 2, 14, 9, tzinfo=UTC),
        updated_at=datetime(2025, 8, 4, 9, 0, 0, tzinfo=UTC),
        version=2,
        versions=(
            VersionEntry(
                1,
                "Homelab Hank",
                HANK_TEXT.replace("Patient", "Calm"),
                datetime(2025, 8, 3, 2, 14, 9, tzinfo=UTC),
            ),
            VersionEntry(2, "Homelab Hank", HANK_TEXT, datetime(2025, 8, 4, 9, 0, tzinfo=UTC)),
        ),
    )
    values.update(changes)
    return PersonaDocument(**values)


# -- independent PNG reading/writing -----------------------------------------------------------


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk; asserts signature, lengths, CRCs and IEND last."""
    assert data[:8] == PNG_SIGNATURE, "bad PNG signature"
    chunks = []
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(ctype + body) & 0xFFFFFFFF, f"bad CRC in {ctype!r}"
        chunks.append((ctype, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    return chunks


def png_texts(data: bytes) -> list[tuple[str, str]]:
    return [
        (kw.decode("latin-1"), text.decode("latin-1"))
        for ctype, body in png_chunks(data)
        if ctype == b"tEXt"
        for kw, _, text in [body.partition(b"\0")]
    ]


def card_from_png(data: bytes, keyword: str) -> dict[str, Any]:
    texts = [text for kw, text in png_texts(data) if kw == keyword]
    assert len(texts) == 1, f"expected exactly one {keyword!r} chunk, found {len(texts)}"
    return json.loads(base64.b64decode(texts[0], validate=True).decode("utf-8"))


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def make_png(texts: list[tuple[str, str]], width: int = 2, height: int = 2) -> bytes:
    """A small red RGB PNG with the given tEXt chunks, written without the exporter."""
    raw = b"".join(b"\0" + b"\xff\x00\x00" * width for _ in range(height))
    chunks = [_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))]
    chunks += [
        _chunk(b"tEXt", kw.encode("latin-1") + b"\0" + t.encode("latin-1")) for kw, t in texts
    ]
    chunks += [_chunk(b"IDAT", zlib.compress(raw)), _chunk(b"IEND", b"")]
    return PNG_SIGNATURE + b"".join(chunks)


def b64_card(card: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(card).encode("utf-8")).decode("ascii")


def image_size(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, raw scanlines) decoded independently: proves the image is whole."""
    chunks = png_chunks(data)
    width, height = struct.unpack(">II", chunks[0][1][:8])
    raw = zlib.decompress(b"".join(body for ctype, body in chunks if ctype == b"IDAT"))
    return width, height, raw
