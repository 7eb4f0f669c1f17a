"""JSON from files nobody vouches for: parse errors and hostile nesting become one message.

A persona or a card is at most a few levels deep (a lorebook entry inside a list inside the
card); MAX_DEPTH leaves ample room for that and for tools' extensions, while keeping every
later step (copying, re-serialising on export) far from Python's recursion limit.
"""

from __future__ import annotations

import json
from typing import Any

from persona_studio.errors import ImportFormatError

MAX_DEPTH = 64


def loads(text: str) -> Any:
    """Parse ``text``; ImportFormatError (without the file name) when it cannot be used."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep() from None
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            f"it is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
    except ValueError:  # the only other ValueError: an integer beyond Python's digit limit
        raise ImportFormatError(
            "it is not usable JSON (it holds a number thousands of digits long)."
        ) from None
    _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    # Iterative on purpose: the check must not itself hit the recursion limit.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def _too_deep() -> ImportFormatError:
    return ImportFormatError(
        f"its JSON is nested more than {MAX_DEPTH} levels deep, which no persona or character "
        "card is; the file is damaged or was not made by a character tool."
    )


def type_name(value: Any) -> str:
    """JSON's word for a value's type, for messages a person reads."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object"
