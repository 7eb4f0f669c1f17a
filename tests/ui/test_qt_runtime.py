"""The Qt binding itself: PySide6 6.12.0 on Python 3.11 drops a reference to ``True`` on
every ``Signal.emit()`` from Python (Python 3.12+ makes bools immortal, hiding it there).
A streaming window emits thousands of signals, so the interpreter aborts within minutes
("Fatal Python error: bool_dealloc"). This fails fast on such a build."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(int)


def test_signal_emit_keeps_bool_references(qtbot) -> None:
    emitter = _Emitter()
    received: list[int] = []
    emitter.fired.connect(received.append)
    before = sys.getrefcount(True)
    for i in range(50):
        emitter.fired.emit(i)
    assert len(received) == 50
    assert sys.getrefcount(True) >= before - 5, (
        "This PySide6 build loses a reference to True per emit(); use another version "
        "(6.12.0 does this on Python 3.11, 6.11.3 does not)."
    )
