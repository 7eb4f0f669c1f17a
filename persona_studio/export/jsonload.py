"""JSON from files nobody vouches for: parse errors and hostile nesting become one message.

A persona or a card is at most a few levels deep (a lorebook entry inside a list inside the
card); MAX_DEPTH leaves ample room for that and for tools' extensions, while keeping every
later step (copying, re-serialising on export) far from Python's recursion limit. The bounds
themselves are persona_studio.core.safejson's, shared with the queue's reading of FORLLM's rows.
"""

from __future__ import annotations

from typing import Any

from persona_studio.core import safejson
from persona_studio.errors import ImportFormatError

MAX_DEPTH = safejson.MAX_DEPTH
# The file was already refused above export.io.MAX_IMPORT_BYTES; this only guards callers
# that hand text in directly.
_MAX_CHARS = 64 * 1024 * 1024


def loads(text: str) -> Any:
    """Parse ``text``; ImportFormatError (without the file name) when it cannot be used."""
    try:
        return safejson.parse(text, max_chars=_MAX_CHARS, max_depth=MAX_DEPTH)
    except safejson.UnusableJSON as exc:
        reason = str(exc)
        if reason.startswith("is nested"):
            raise _too_deep() from None
        if reason.startswith("holds a number"):
            raise ImportFormatError(
                "it is not usable JSON (it holds a number thousands of digits long)."
            ) from None
        raise ImportFormatError(f"it {reason}.") from None


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
