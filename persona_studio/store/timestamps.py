"""Timestamps in the one text form FORLLM can read back.

FORLLM opens the file with ``detect_types=PARSE_DECLTYPES``, so Python's sqlite3 converts
every TIMESTAMP column with its built-in converter, which accepts only
``YYYY-MM-DD HH:MM:SS`` with an optional ``.ffffff``; a ``T`` separator or a time-zone suffix
makes FORLLM's reads raise. FORLLM also compares these columns as text (``created_at > ?``),
so we always write UTC (what SQLite's CURRENT_TIMESTAMP gives) without microseconds.
Reading is lenient: NULL, microseconds and even ISO variants written by other tools are
accepted, and values come back as aware UTC datetimes so the UI can show local time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.types import TypeDecorator, UserDefinedType

DB_FORMAT = "%Y-%m-%d %H:%M:%S"


def now_utc() -> datetime:
    # Whole seconds: what we hand back must equal what a later read of the row gives.
    return datetime.now(UTC).replace(microsecond=0)


def to_db_text(value: datetime) -> str:
    """``value`` as FORLLM's TIMESTAMP text; a naive datetime is taken to be UTC already."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime(DB_FORMAT)


def now_text() -> str:
    return to_db_text(now_utc())


def from_db(value: Any) -> datetime | None:
    """Parse what a TIMESTAMP column holds; ``None`` for NULL or text nobody could parse
    (anyone may write the file: bytes, numbers, years that overflow a time zone shift)."""
    if value is None:
        return None
    try:
        if isinstance(value, datetime):
            parsed = value
        else:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


class _TimestampText(UserDefinedType[str]):
    """Declared as TIMESTAMP, like FORLLM's columns, with no conversion of its own."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "TIMESTAMP"


class UtcTimestamp(TypeDecorator[datetime]):
    """SQLAlchemy column type that writes :data:`DB_FORMAT` text and reads aware UTC."""

    impl = _TimestampText
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return to_db_text(value)
        parsed = from_db(value)
        if parsed is None:
            raise ValueError(f"Not a timestamp: {value!r}")
        return to_db_text(parsed)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        return from_db(value)
