"""The desktop application: QApplication, the qasync event loop, the main window.

``persona-studio`` with no sub-command (and ``python -m persona_studio``) lands here through
``cli.main``. Start-up does as little as possible before the window is shown: the database
opens on an executor thread and the model loads on the worker thread when a job needs it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from persona_studio import paths
from persona_studio.errors import PersonaStudioError

log = logging.getLogger("persona_studio")
LOG_NAME = "persona-studio.log"
GIL_SWITCH_INTERVAL_S = 0.001


class ErrorReporter(QObject):
    """The last line of defence: an exception nobody caught is logged and shown in plain
    words, and the window keeps running. Hooks may fire on any thread; the dialog is always
    shown on the GUI thread (queued signal)."""

    report = Signal(str)

    def __init__(self, log_path: Path) -> None:
        super().__init__()
        self.log_path = log_path
        self._showing = False
        self.report.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        sys.excepthook = self.excepthook
        threading.excepthook = self._thread_hook

    def excepthook(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("Uncaught exception", exc_info=(exc_type, exc, tb))
        if isinstance(exc, PersonaStudioError):
            text = str(exc)
        else:
            text = (
                "Something went wrong inside Persona Studio, and what you were doing may not "
                "have finished. The window keeps running; your saved personas are safe.\n\n"
                f"The details were written to {self.log_path}."
            )
        self.report.emit(text)

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        self.excepthook(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)

    def asyncio_handler(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        exc = context.get("exception")
        if exc is None:
            log.error("Event loop: %s", context.get("message"))
            return
        self.excepthook(type(exc), exc, exc.__traceback__)

    def _show(self, text: str) -> None:
        if self._showing:  # one at a time: a failing timer must not stack up dialogs
            return
        self._showing = True
        box = QMessageBox(QMessageBox.Icon.Critical, "Unexpected error", text)
        box.finished.connect(self._closed)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _closed(self, _result: int) -> None:
        self._showing = False


def setup_logging() -> Path:
    path = paths.data_dir() / LOG_NAME
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def make_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("Persona Studio")
    app.setOrganizationName("persona-studio")
    app.setDesktopFileName("persona-studio")
    # The event loop ends when the main window says it has shut down, not when Qt sees the
    # last window close: the worker thread must be stopped first.
    app.setQuitOnLastWindowClosed(False)
    # While the worker thread runs Python (the token loop, the sampler's set-up), the GUI
    # thread waits for the GIL up to the switch interval at every acquisition, and a repaint
    # acquires it many times. 1 ms instead of 5 keeps those waits short; the worker loses
    # nothing measurable (most of its time is in llama.cpp, which releases the GIL).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    return app


def run_app(db_path: Path | None = None) -> int:
    """Show the window on ``db_path`` (else the last file used, else the default) and run
    until it is closed."""
    import qasync

    from persona_studio.ui.main_window import MainWindow
    from persona_studio.ui.preferences import Preferences, apply_theme

    app = make_application()
    reporter = ErrorReporter(setup_logging())
    reporter.install()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(reporter.asyncio_handler)

    prefs = Preferences()
    apply_theme(prefs.theme)
    window = MainWindow(prefs)
    # Ctrl+C in the terminal, or a session ending: close as the window's Quit does (the
    # running job is cancelled and returns to the queue's history, the file is closed).
    # Python runs the handler at its next bytecode; the watcher's poll guarantees one soon.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: window.close())

    async def main() -> None:
        closed = asyncio.Event()
        window.closed.connect(closed.set)
        window.show()
        if db_path is not None:
            window.open_database(db_path)
        elif prefs.last_database and Path(prefs.last_database).exists():
            window.open_database(Path(prefs.last_database), fallback_to_default=True)
        else:
            window.open_database(None)
        await closed.wait()  # emitted once the window has stopped everything it started

    with loop:
        loop.run_until_complete(main())
    return 0
