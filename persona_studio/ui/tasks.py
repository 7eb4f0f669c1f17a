"""Background work for the GUI thread: coroutines on the qasync loop, and blocking store
calls on an executor thread, neither of which can fail silently.

A task whose exception nobody retrieves is only reported when it is garbage-collected, if at
all; a TaskGroup keeps a reference to each task (so it is not collected mid-flight) and hands
unexpected exceptions to the error reporter. Store writes go through ``off_thread``: a write
waits for SQLite's lock (FORLLM or the worker may hold it) and for the disk to flush, which is
tens of milliseconds on a good day; the GUI thread must not wait with it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from persona_studio.errors import PersonaStudioError

log = logging.getLogger(__name__)
T = TypeVar("T")


def report_unexpected(exc: BaseException) -> None:
    """A bug: to the application's error reporter (sys.excepthook), like any uncaught one."""
    sys.excepthook(type(exc), exc, exc.__traceback__)


class TaskGroup:
    """The tasks one widget started; ``cancel_all`` or ``wait`` when it goes away."""

    def __init__(self, on_error: Callable[[BaseException], None] = report_unexpected) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_error = on_error

    def start(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def off_thread(
        self,
        call: Callable[[], T],
        done: Callable[[T], None] | None = None,
        failed: Callable[[PersonaStudioError], None] | None = None,
    ) -> asyncio.Task[Any]:
        """Run ``call`` on an executor thread; then, back on the GUI thread, ``done(result)``
        or, for a failure meant for the user, ``failed(error)``."""

        async def run() -> None:
            try:
                result = await asyncio.get_running_loop().run_in_executor(None, call)
            except PersonaStudioError as exc:
                if failed is None:
                    raise
                failed(exc)
                return
            if done is not None:
                done(result)

        return self.start(run())

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("Background task failed", exc_info=exc)
            self._on_error(exc)

    def cancel_all(self) -> None:
        """Ask every task to stop; each leaves the group when it has (see ``wait``)."""
        for task in list(self._tasks):
            task.cancel()

    async def wait(self) -> None:
        """Until every task has finished (a cancelled task needs one more loop turn)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._tasks)
