"""PNG chunks: just enough of the format to carry a character card (standard library only).

Character cards live in tEXt chunks (``chara`` for V2, ``ccv3`` for V3) whose text is the
card's JSON, UTF-8, base64-encoded. Reading never decompresses the image data, so a
decompression bomb in IDAT costs nothing; writing copies the image chunks byte for byte.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_TYPES = (b"tEXt", b"zTXt", b"iTXt")
_MAX_CHUNK_LENGTH = 2**31 - 1  # the PNG spec's limit


class PngError(ValueError):
    """The bytes are not a well-formed PNG; the message says how, in plain words."""


@dataclass(frozen=True)
class Chunk:
    type: bytes
    data: bytes

    @property
    def keyword(self) -> str:
        """The keyword of a text chunk (tEXt, zTXt and iTXt all start with it)."""
        return self.data.partition(b"\0")[0].decode("latin-1")

    def encode(self) -> bytes:
        crc = zlib.crc32(self.type + self.data)
        return struct.pack(">I", len(self.data)) + self.type + self.data + struct.pack(">I", crc)


def read_chunks(data: bytes) -> list[Chunk]:
    """Every chunk up to IEND, each checked for length, type and CRC."""
    if not data.startswith(SIGNATURE):
        raise PngError("it is not a PNG image (it does not start with PNG's signature)")
    chunks: list[Chunk] = []
    pos = len(SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise PngError("the PNG is truncated (it stops before its end marker, IEND)")
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        if length > _MAX_CHUNK_LENGTH or not ctype.isalpha():
            raise PngError(f"the PNG is damaged (a bad chunk header at byte {pos})")
        end = pos + 12 + length
        if end > len(data):
            name = ctype.decode("ascii")
            raise PngError(f"the PNG is truncated (it stops inside its {name} chunk)")
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(ctype + body) != crc:
            name = ctype.decode("ascii")
            raise PngError(f"the PNG is damaged (the checksum of its {name} chunk is wrong)")
        if not chunks and ctype != b"IHDR":
            raise PngError("the PNG is damaged (it does not start with an IHDR chunk)")
        chunks.append(Chunk(ctype, body))
        pos = end
        if ctype == b"IEND":
            return chunks


def text_chunk(keyword: str, text: str) -> Chunk:
    """A tEXt chunk; both parts must be Latin-1, as the PNG spec says (base64 always is)."""
    return Chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1"))


def find_text(chunks: Iterable[Chunk], keyword: str) -> str | None:
    """The text of the first tEXt chunk named ``keyword`` (case-insensitive, as SillyTavern
    matches it), or None."""
    wanted = keyword.lower()
    for chunk in chunks:
        if chunk.type == b"tEXt" and chunk.keyword.lower() == wanted:
            return chunk.data.partition(b"\0")[2].decode("latin-1")
    return None


def replace_text(png: bytes, texts: dict[str, str]) -> bytes:
    """``png`` with one tEXt chunk per entry of ``texts``, in that order, put right after
    IHDR, so they are the image's first text chunks whatever text it held before (a reader
    that takes the first text chunk, as Agnai does, finds the first of ``texts``).

    Any older text chunk (of any of the three text types) with one of those keywords, in
    any letter case, goes first: a file exported into again never holds two chunks of one
    keyword, which readers would each resolve their own way.
    """
    gone = {key.lower() for key in texts}
    kept = [c for c in read_chunks(png) if not (c.type in TEXT_TYPES and c.keyword.lower() in gone)]
    new = [text_chunk(key, value) for key, value in texts.items()]
    return encode_png([kept[0], *new, *kept[1:]])  # kept[0] is IHDR


def encode_png(chunks: Iterable[Chunk]) -> bytes:
    return SIGNATURE + b"".join(c.encode() for c in chunks)
