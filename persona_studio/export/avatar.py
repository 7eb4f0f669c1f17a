"""A generated avatar for card PNGs: the persona's initials on a colour derived from its name.

Written with zlib and struct only: a solid background plus a 5x7 bitmap font scaled up needs
no imaging library, and the same name always gives the same picture (the colour comes from a
hash of the name, not from a random generator), so re-exporting a persona does not change
its face. 400x600 is the portrait size SillyTavern shows cards at.
"""

from __future__ import annotations

import colorsys
import hashlib
import struct
import unicodedata
import zlib

from persona_studio.export.png_chunks import Chunk, encode_png

WIDTH, HEIGHT = 400, 600
_CELL = 24  # pixels per font dot: two letters span 11 cells = 264 px of the 400
_TEXT_RGB = (255, 255, 255)

# 5x7 glyphs, rows top to bottom, '#' = ink. Letters and digits cover initials of Latin names
# once accents are stripped; anything else (CJK, emoji) gets the colour without letters.
_FONT = {
    "A": ".###. #...# #...# ##### #...# #...# #...#",
    "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.",
    "D": "####. #...# #...# #...# #...# #...# ####.",
    "E": "##### #.... #.... ####. #.... #.... #####",
    "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####",
    "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.",
    "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
    "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.",
    "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.",
    "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
    "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####",
    "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.",
    "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.",
    "9": ".###. #...# #...# .#### ....# ...#. .##..",
}
_GLYPH_W, _GLYPH_H = 5, 7


def initials(name: str) -> str:
    """Up to two letters the font can draw: first and last word ('Homelab Hank' -> 'HH')."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = [w for w in (_first_drawable(word) for word in ascii_name.split()) if w]
    if not words:
        return ""
    return words[0] if len(words) == 1 else words[0] + words[-1]


def _first_drawable(word: str) -> str:
    return next((ch.upper() for ch in word if ch.upper() in _FONT), "")


def background(name: str) -> tuple[int, int, int]:
    """A colour from the name: any hue, with saturation and lightness fixed so that white
    initials stay readable on every one of them."""
    digest = hashlib.sha256(name.casefold().encode("utf-8")).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    red, green, blue = colorsys.hls_to_rgb(hue, 0.40, 0.55)
    return round(red * 255), round(green * 255), round(blue * 255)


def avatar_png(name: str) -> bytes:
    """The PNG bytes of ``name``'s avatar (8-bit RGB, WIDTH x HEIGHT)."""
    bg = bytes(background(name))
    ink = bytes(_TEXT_RGB)
    letters = initials(name)
    text_w = (len(letters) * (_GLYPH_W + 1) - 1) * _CELL if letters else 0
    left = (WIDTH - text_w) // 2
    top = (HEIGHT - _GLYPH_H * _CELL) // 2
    plain = b"\0" + bg * WIDTH  # filter byte 0 (None), then the pixels
    glyph_rows = []
    for row in range(_GLYPH_H):
        pixels = bytearray(bg * WIDTH)
        for index, letter in enumerate(letters):
            pattern = _FONT[letter].split()[row]
            for col, dot in enumerate(pattern):
                if dot == "#":
                    x = left + (index * (_GLYPH_W + 1) + col) * _CELL
                    pixels[x * 3 : (x + _CELL) * 3] = ink * _CELL
        glyph_rows.append(b"\0" + bytes(pixels))
    rows = [
        glyph_rows[(y - top) // _CELL] if top <= y < top + _GLYPH_H * _CELL else plain
        for y in range(HEIGHT)
    ]
    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)  # 8-bit RGB
    return encode_png(
        [
            Chunk(b"IHDR", header),
            Chunk(b"IDAT", zlib.compress(b"".join(rows), 9)),
            Chunk(b"IEND", b""),
        ]
    )
