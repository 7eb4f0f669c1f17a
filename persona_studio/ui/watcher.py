"""Notices when the database file changed under us (FORLLM, another window, our worker).

SQLite's ``PRAGMA data_version`` (``Store.data_version``) changes when any other connection
has committed; reading it costs microseconds, so polling it twice a second from a coroutine on
the qasync loop keeps the views current without a file-system watcher (which would also fire
for our own journal writes and not at all on some network drives).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from persona_studio.errors import StoreError
from persona_studio.ui.tasks import TaskGroup

if TYPE_CHECKING:  # for annotations only: importing the store loads SQLAlchemy
    from persona_studio.store import Store

POLL_SECONDS = 0.5


class StoreWatcher(QObject):
    """Emits ``changed`` after a commit by anyone; ``failed`` with words if the file went away."""

    changed = Signal()
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None, interval: float = POLL_SECONDS) -> None:
        super().__init__(parent)
        self.interval = interval
        self._tasks = TaskGroup(lambda exc: self.failed.emit(str(exc)))

    def start(self, store: Store) -> None:
        """Watch ``store`` (a persona_studio.store.Store) until ``stop``."""
        self.stop()
        self._tasks.start(self._watch(store))

    def stop(self) -> None:
        self._tasks.cancel_all()

    @property
    def tasks(self) -> TaskGroup:
        return self._tasks

    async def _watch(self, store: Store) -> None:
        last: int | None = None
        reported = False
        while True:
            try:
                version = store.data_version()
            except StoreError as exc:
                if not reported:  # say it once, keep trying: a network drive may come back
                    self.failed.emit(str(exc))
                    reported = True
            else:
                reported = False
                if last is not None and version != last:
                    self.changed.emit()
                last = version
            await asyncio.sleep(self.interval)
