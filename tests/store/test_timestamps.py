"""Timestamps: written as FORLLM reads them, read back whatever their origin."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest

from persona_studio.store.timestamps import UtcTimestamp, from_db, now_text, to_db_text


def test_written_as_utc_text_without_t_or_zone() -> None:
    paris = timezone(timedelta(hours=2))
    assert to_db_text(datetime(2025, 8, 12, 11, 30, 15, 999_999, tzinfo=paris)) == (
        "2025-08-12 09:30:15"
    )
    assert to_db_text(datetime(2025, 8, 12, 9, 30, 15)) == "2025-08-12 09:30:15"  # naive = UTC
    assert len(now_text()) == 19 and "T" not in now_text()


def test_python_sqlite_converter_reads_what_we_write() -> None:
    conn = sqlite3.connect(":memory:", detect_types=sqlite3.PARSE_DECLTYPES)
    conn.execute("CREATE TABLE t (at TIMESTAMP)")
    conn.execute("INSERT INTO t VALUES (?)", (now_text(),))
    (value,) = conn.execute("SELECT at FROM t").fetchone()
    conn.close()
    assert isinstance(value, datetime)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2025-08-12 09:30:15", datetime(2025, 8, 12, 9, 30, 15, tzinfo=UTC)),
        ("2025-08-12 09:30:15.123456", datetime(2025, 8, 12, 9, 30, 15, 123456, tzinfo=UTC)),
        ("2025-08-12T11:30:15+02:00", datetime(2025, 8, 12, 9, 30, 15, tzinfo=UTC)),
        ("2025-08-12T09:30:15Z", datetime(2025, 8, 12, 9, 30, 15, tzinfo=UTC)),
        (b"2025-08-12 09:30:15", datetime(2025, 8, 12, 9, 30, 15, tzinfo=UTC)),
        (None, None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_read_leniently(stored: object, expected: datetime | None) -> None:
    assert from_db(stored) == expected


def test_column_type_binds_and_reads() -> None:
    column_type = UtcTimestamp()
    aware = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert column_type.process_bind_param(aware, None) == "2025-01-02 03:04:05"
    assert column_type.process_bind_param("2025-01-02T03:04:05Z", None) == "2025-01-02 03:04:05"
    assert column_type.process_bind_param(None, None) is None
    with pytest.raises(ValueError, match="Not a timestamp"):
        column_type.process_bind_param("soon", None)
    assert column_type.process_result_value("2025-01-02 03:04:05", None) == aware
