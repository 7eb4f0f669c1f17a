"""Fixtures for driving the real window under QT_QPA_PLATFORM=offscreen.

The window runs on a qasync event loop, as in the application; here the loop is created in
``already_running`` mode because pytest-qt spins Qt's event loop itself (qtbot.wait...), and
qasync then runs the window's coroutines on it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QSettings

from persona_studio.app import make_application
from persona_studio.core.events import JobFinished, JobStarted
from persona_studio.ui.main_window import MainWindow
from persona_studio.ui.preferences import Preferences

# The offscreen platform plugin says this whenever a window's size constraints change; it is
# a limit of that plugin (a real display does not print it), not a fault of ours.
OFFSCREEN_NOISE = "This plugin does not support propagateSizeHints"
GENERATION_TIMEOUT_MS = 180_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))


@pytest.fixture(autouse=True)
def _data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Models folder, logs and templates of a throwaway user; one model thread (the tests
    share two cores with whatever else runs)."""
    monkeypatch.setenv("PERSONA_STUDIO_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.setenv("PERSONA_STUDIO_THREADS", os.environ.get("PERSONA_STUDIO_THREADS", "1"))


def job_started(request_id: int | None = None) -> Callable[[object], bool]:
    """For ``waitSignal(worker.jobEvent, check_params_cb=...)``: that job's start (any job's
    without an id)."""
    return lambda event: isinstance(event, JobStarted) and request_id in (None, event.request_id)


def job_finished(request_id: int | None = None) -> Callable[[object], bool]:
    """For ``waitSignal(worker.jobEvent, check_params_cb=...)``: that job's end (any job's
    without an id); the JobFinished is the signal's argument."""
    return lambda event: isinstance(event, JobFinished) and request_id in (None, event.request_id)


def queue_form(qtbot, form) -> list[int]:
    """Click-equivalent of Generate on ``form``; the ids once the jobs are in the queue."""
    with qtbot.waitSignal(form.queued, timeout=10_000) as queued:
        assert form.generate()
    return queued.args[0]


@pytest.fixture(scope="session")
def qt_loop(qapp) -> Iterator[qasync.QEventLoop]:
    make_application([])
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    loop.stop()  # marks it stopped (Qt's own loop is not running here, so nothing quits)
    loop.close()  # joins the executor threads
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


@pytest.fixture
def prefs(tmp_path: Path) -> Preferences:
    return Preferences(QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def window(qtbot, qt_loop, prefs: Preferences, forllm_db: Path) -> Iterator[MainWindow]:
    """The main window on a fresh FORLLM-made file, database open, worker started."""
    main = MainWindow(prefs)
    main.show()
    main.open_database(forllm_db)
    qtbot.waitUntil(lambda: main.store is not None, timeout=20_000)
    yield main
    main.editor.clear()  # a test that left edits must not block on "save changes?"
    with qtbot.waitSignal(main.closed, timeout=20_000):
        main.close()
    assert main.pending_tasks() == 0
