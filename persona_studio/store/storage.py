"""``Store``: one FORLLM database file, opened, checked and migrated, with its views."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from persona_studio import paths
from persona_studio.errors import InvalidDatabaseError, StoreError
from persona_studio.store.card_extras import CardExtrasStore
from persona_studio.store.db import DEFAULT_BUSY_TIMEOUT_S, Database
from persona_studio.store.migrations import prepare
from persona_studio.store.personas import Personas
from persona_studio.store.queue import JobQueue
from persona_studio.store.subforums import Settings, Subforums
from persona_studio.store.template_versions import TemplateVersions

_SQLITE_HEADER = b"SQLite format 3\x00"


def _check_file(path: Path) -> None:
    """Refuse early what SQLite would only reject at the first query, or silently accept
    (SQLite happily treats a directory or a text file's name as something to create)."""
    if path.is_dir():
        raise InvalidDatabaseError(
            f"{path} is a folder; choose a database file (e.g. forllm_data.db)."
        )
    try:
        with path.open("rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"{path} cannot be read ({exc.strerror}).") from exc
    if header and header != _SQLITE_HEADER:
        raise InvalidDatabaseError(
            f"{path} is not a SQLite database. Choose FORLLM's forllm_data.db or a new file name."
        )


class Store:
    """The storage layer's single entry point. Thread-safe: every call runs in its own short
    transaction on a connection of its own; open one Store per process."""

    def __init__(self, db: Database, *, created: bool, backup_path: Path | None) -> None:
        self._db = db
        self.path = db.path
        self.created = created
        self.backup_path = backup_path
        self.queue = JobQueue(db)
        self.personas = Personas(db)
        self.subforums = Subforums(db)
        self.settings = Settings(db)
        self.templates = TemplateVersions(db)
        self.cards = CardExtrasStore(db)

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        create: bool = True,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> Store:
        """Open (and migrate) FORLLM's database; ``None`` means paths.default_db_path().

        A missing file is created with FORLLM's own schema unless ``create`` is False. An
        existing file is backed up next to itself before its first change
        (``store.backup_path``).
        """
        target = Path(path).expanduser() if path is not None else paths.default_db_path()
        target = target.absolute()
        if target.exists():
            _check_file(target)
        elif not create:
            raise InvalidDatabaseError(
                f"{target} does not exist. Check the path, or let it be created."
            )
        else:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"Cannot create the folder {target.parent} ({exc.strerror})."
                ) from exc
        db = Database(target, busy_timeout_s=busy_timeout_s)
        try:
            result = prepare(db)
        except BaseException:
            db.close()
            raise
        return cls(db, created=result.created, backup_path=result.backup_path)

    def data_version(self) -> int:
        """Changes whenever another connection or process (FORLLM included) has committed:
        poll it cheaply to know when to reload a view."""
        return self._db.data_version()

    def integrity_check(self) -> str:
        """SQLite's PRAGMA integrity_check: 'ok', or the problems it found, one per line."""
        return self._db.read(
            lambda conn: "\n".join(
                str(row[0]) for row in conn.exec_driver_sql("PRAGMA integrity_check")
            )
        )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
