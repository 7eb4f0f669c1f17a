"""Plain sqlite3 access for tests: what FORLLM (or any other program) sees in the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def sql(path: Path, statement: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on its own connection and commit it."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(statement, args).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()
