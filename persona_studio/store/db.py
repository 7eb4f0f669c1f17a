"""Connections, transactions and SQLite errors turned into words.

Journal mode: we keep FORLLM's rollback journal ('delete') and never switch the file to WAL.
WAL is a property of the file, not of a connection: switching would change how FORLLM's
connections lock, leave -wal/-shm files beside the database that a user copying only
``forllm_data.db`` would lose, and fail on network shares. What WAL would buy (readers never
blocking the writer) matters little here because every transaction we run is a few
milliseconds long; polling for the lock at BEGIN plus busy_timeout absorbs the rest.

Locking: each thread checks its own pooled connection out, each process has its own engine.
pysqlite is put in autocommit mode and we emit BEGIN ourselves (the SQLAlchemy recipe), so a
read-then-write transaction starts with BEGIN IMMEDIATE: it takes the write lock up front
and can never hit the deferred-upgrade deadlock for which SQLite returns SQLITE_BUSY without
waiting. Foreign keys stay off, as FORLLM leaves them.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import sqlalchemy as sa
from sqlalchemy import event

from persona_studio.errors import InvalidDatabaseError, StoreError

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT_S = 10.0
# Lock waits are polled at BEGIN (see _poll_for_lock) and left to busy_timeout after it; these
# retries of the whole transaction cover an SQLITE_BUSY that SQLite returns without waiting
# (e.g. while another connection rolls back a hot journal).
_ATTEMPTS = 4
_BACKOFF_S = 0.05
_POLL_S = 0.001

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_CANTOPEN = 14
_SQLITE_FULL = 13
_SQLITE_NOTADB = 26
_SQLITE_READONLY_DIRECTORY = 1544

# A result row of any shape: sa.Row is generic over the types of its columns, and
# sa.Row[Any] is a row of one column. A string, as sa.Row is not subscripted so at run time.
AnyRow: TypeAlias = "sa.Row[*tuple[Any, ...]]"

_IMMEDIATE = "ps_immediate"


def _primary_code(exc: BaseException) -> tuple[int | None, int | None]:
    code = getattr(exc, "sqlite_errorcode", None)
    return (None, None) if code is None else (code & 0xFF, code)


def is_busy(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    primary, _ = _primary_code(orig)
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text


def translate(exc: BaseException, path: Path, busy_timeout_s: float) -> StoreError:
    """A StoreError a person can act on, for a sqlite3 / SQLAlchemy database error."""
    orig = getattr(exc, "orig", None) or exc
    primary, extended = _primary_code(orig)
    detail = str(orig)
    if is_busy(orig):
        return StoreError(
            f"{path} is locked by another program (FORLLM or another Persona Studio window) "
            f"and stayed locked for more than {busy_timeout_s:g} s. Try again in a moment; if "
            "it keeps happening, close the other program."
        )
    if primary == _SQLITE_READONLY:
        reason = (
            "its folder is read-only, and SQLite needs to write a journal file beside it"
            if extended == _SQLITE_READONLY_DIRECTORY
            else "the file is write-protected or on a read-only drive"
        )
        return StoreError(
            f"{path} is read-only: {reason}. Persona Studio can show what it holds but cannot "
            "save changes; fix the permissions or copy the file somewhere writable."
        )
    if primary == _SQLITE_NOTADB:
        return InvalidDatabaseError(
            f"{path} is not a SQLite database (or is encrypted). Choose FORLLM's "
            "forllm_data.db or a new file name."
        )
    if primary == _SQLITE_CORRUPT:
        return StoreError(
            f"{path} is damaged ({detail}). Restore it from a backup "
            "(Persona Studio keeps one as <name>.backup-<date>.db before changing a file)."
        )
    if primary == _SQLITE_CANTOPEN:
        return StoreError(
            f"{path} cannot be opened ({detail}): check that its folder exists and that you "
            "may read and write it."
        )
    if primary == _SQLITE_FULL:
        return StoreError(f"The disk holding {path} is full; free some space and try again.")
    if primary == _SQLITE_IOERR:
        return StoreError(f"Reading or writing {path} failed ({detail}); is the drive still there?")
    return StoreError(f"Database error on {path}: {detail}")


def driver_connection(conn: sa.Connection) -> sqlite3.Connection:
    """The sqlite3 connection under ``conn`` (an open connection always has one)."""
    driver = conn.connection.driver_connection
    assert driver is not None, "the connection is closed"
    return driver


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The primary key of the one row an INSERT added."""
    key = result.inserted_primary_key
    assert key is not None, "not the result of an INSERT of one row"
    return key[0]


class Database:
    """One engine per process for one file, plus the transaction helpers the store uses."""

    def __init__(self, path: Path, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        self.engine = sa.create_engine(
            sa.engine.URL.create("sqlite", database=str(path)),
            # Connections move between threads only through the pool (one user at a time).
            connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
        )
        event.listen(self.engine, "connect", self._on_connect)
        event.listen(self.engine, "begin", self._on_begin)
        self._version_lock = threading.Lock()
        self._version_conn: sqlite3.Connection | None = None

    def _on_connect(self, dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")

    def _on_begin(self, conn: sa.Connection) -> None:
        dbapi_conn = driver_connection(conn)
        if conn.get_execution_options().get(_IMMEDIATE, False):
            self._poll_for_lock(dbapi_conn, "BEGIN IMMEDIATE")
            return
        dbapi_conn.execute("BEGIN")
        try:
            # Any read takes the shared lock for the whole transaction; take it here, polling.
            self._poll_for_lock(dbapi_conn, "PRAGMA schema_version")
        except BaseException:
            dbapi_conn.execute("ROLLBACK")
            raise

    def _poll_for_lock(self, dbapi_conn: sqlite3.Connection, statement: str) -> None:
        """Run ``statement`` (which takes a lock), polling every millisecond or so instead of
        relying on SQLite's busy handler. Its sleeps grow to 100 ms, and a program that
        commits in a tight loop (FORLLM's plain sqlite3 connections, each commit holding the
        file exclusively while it syncs) has taken the lock again every time it wakes up:
        measured against such a writer, a list view waited 2.8 s. Short random sleeps land in
        the gaps between its transactions. Later statements keep the busy handler."""
        deadline = time.monotonic() + self.busy_timeout_s
        dbapi_conn.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    dbapi_conn.execute(statement)
                    return
                except sqlite3.OperationalError as exc:
                    if not is_busy(exc) or time.monotonic() >= deadline:
                        raise
                time.sleep(random.uniform(0, _POLL_S))
        finally:
            dbapi_conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")

    def read(self, fn: Callable[[sa.Connection], T]) -> T:
        """Run ``fn`` in one deferred (read) transaction: a consistent view of the file."""
        return self._run(fn, immediate=False)

    def write(self, fn: Callable[[sa.Connection], T]) -> T:
        """Run ``fn`` in one BEGIN IMMEDIATE transaction, retried whole if the file is busy."""
        return self._run(fn, immediate=True)

    def _run(self, fn: Callable[[sa.Connection], T], *, immediate: bool) -> T:
        give_up = time.monotonic() + self.busy_timeout_s
        for attempt in range(_ATTEMPTS):
            try:
                with self.engine.connect() as conn:
                    conn.execution_options(**{_IMMEDIATE: immediate})
                    with conn.begin():
                        return fn(conn)
            except (sa.exc.DBAPIError, sqlite3.Error) as exc:
                # A lock held past the whole timeout is reported, not waited for again.
                retry = attempt + 1 < _ATTEMPTS and time.monotonic() < give_up
                if is_busy(exc) and retry:
                    delay = _BACKOFF_S * (2**attempt) * (1 + random.random())
                    log.info("%s busy, retrying in %.2f s", self.path, delay)
                    time.sleep(delay)
                    continue
                raise translate(exc, self.path, self.busy_timeout_s) from exc
        raise AssertionError("unreachable: the last attempt returns or raises")

    def data_version(self) -> int:
        """PRAGMA data_version on one long-lived connection that never writes: it changes
        exactly when some OTHER connection (thread, process, FORLLM) has committed."""
        with self._version_lock:
            try:
                if self._version_conn is None:
                    self._version_conn = sqlite3.connect(
                        self.path,
                        timeout=self.busy_timeout_s,
                        isolation_level=None,
                        check_same_thread=False,
                    )
                return int(self._version_conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error as exc:
                raise translate(exc, self.path, self.busy_timeout_s) from exc

    def close(self) -> None:
        with self._version_lock:
            if self._version_conn is not None:
                self._version_conn.close()
                self._version_conn = None
        self.engine.dispose()
