"""JSON and text that anyone may have written: a FORLLM row, a dropped file, another program.

Python's own tools fail on such input in ways no caller expects: ``json.loads`` recurses once
per nesting level (a row nested 100,000 deep raises RecursionError, and copying or printing a
value a few thousand deep does too); it accepts integers of up to 4,300 digits, which SQLite
cannot bind (OverflowError); and a ``"\\ud800"`` escape gives a string with a lone UTF-16
surrogate, which cannot be encoded as UTF-8 (UnicodeEncodeError wherever it is written or
shown). Everything here is iterative, bounded in size and depth, and says what was wrong in
words. Qt-free and dependency-free: the engine, the store, the exporters and the window use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 64  # a request or a persona file is a few levels deep; a lorebook perhaps ten
SQLITE_INT_MIN, SQLITE_INT_MAX = -(2**63), 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


class UnusableJSON(ValueError):
    """The text is not JSON this application can use; ``str(exc)`` says why, in words
    meant to follow "it" or a field's name ("is nested more than 64 levels deep")."""


def parse(text: Any, *, max_chars: int, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value in ``text`` (str, or UTF-8 bytes as SQLite returns a BLOB), checked
    to be at most ``max_chars`` long and ``max_depth`` deep. UnusableJSON otherwise."""
    if isinstance(text, bytes | bytearray | memoryview):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise UnusableJSON("is binary data, not JSON text") from None
    if not isinstance(text, str):
        raise UnusableJSON(f"is {_sql_type(text)}, not JSON text")
    if len(text) > max_chars:
        raise UnusableJSON(f"is {len(text):,} characters long, more than the {max_chars:,} allowed")
    try:
        value = json.loads(text)
    except RecursionError:
        raise too_deep(max_depth) from None
    except json.JSONDecodeError as exc:
        raise UnusableJSON(
            f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError:  # the only other one: an integer beyond Python's digit limit
        raise UnusableJSON("holds a number thousands of digits long") from None
    check_depth(value, max_depth)
    return value


def object_or_none(text: Any, *, max_chars: int) -> dict[str, Any] | None:
    """The JSON object in ``text``, or None for anything else (not JSON, too big, too deep,
    not an object): for views that show what they can of a column anyone may write."""
    try:
        value = parse(text, max_chars=max_chars)
    except UnusableJSON:
        return None
    return value if isinstance(value, dict) else None


def too_deep(max_depth: int = MAX_DEPTH) -> UnusableJSON:
    return UnusableJSON(f"is nested more than {max_depth} levels deep")


def check_depth(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """UnusableJSON if ``value`` nests lists/objects more than ``max_depth`` deep. Iterative:
    the check cannot itself hit the recursion limit."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise too_deep(max_depth)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1) for child in item)


def walk_strings(value: Any) -> Iterator[tuple[str, str]]:
    """(path, text) for every string in ``value``, keys included ('a.b[2]', '' for the top).
    Iterative; call check_depth first on anything untrusted."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            yield path, item
        elif isinstance(item, dict):
            for key, child in item.items():
                here = f"{path}.{key}" if path else str(key)
                if isinstance(key, str):
                    yield here, key
                stack.append((child, here))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone UTF-16 surrogate (which UTF-8 cannot encode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def first_surrogate(value: Any) -> str | None:
    """The path of the first string in ``value`` (keys included) with a lone surrogate."""
    for path, text in walk_strings(value):
        if has_surrogate(text):
            return path or "(the value itself)"
    return None


def replace_surrogates(text: str) -> tuple[str, int]:
    """``text`` with each lone surrogate replaced by U+FFFD, and how many there were."""
    if not has_surrogate(text):
        return text, 0
    return _SURROGATE.subn("\ufffd", text)


def printable(text: Any, limit: int = 200) -> str:
    """``text`` made safe to show or print: surrogates replaced, cut to ``limit``
    characters. Non-text values are shown as what they are."""
    if not isinstance(text, str):
        text = _sql_type(text) if not isinstance(text, int | float) else str(text)
    text = replace_surrogates(text)[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fits_sqlite_int(value: int) -> bool:
    return SQLITE_INT_MIN <= value <= SQLITE_INT_MAX


def _sql_type(value: Any) -> str:
    if value is None:
        return "empty (NULL)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"
