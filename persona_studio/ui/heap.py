"""Keep Python's cycle collector from freezing the window.

A full (generation 2) collection walks every tracked object while holding the GIL. With Qt,
SQLAlchemy, NumPy and llama.cpp's bindings loaded that is ~160,000 objects and 40-160 ms on
a small machine: long enough to see the window stop, whichever thread triggers it. Imports
and a model load create most of those objects in one burst, which is just what triggers such
a collection. So around those bursts the collector is paused, and what they created (modules,
classes, the model: all kept for the life of the process) is then moved out of its sight
with ``gc.freeze``; later collections only walk what came after.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_paused = 0  # blocks running now, on any thread: the collector is process-wide


@contextmanager
def long_lived() -> Iterator[None]:
    """Wrap code that creates objects kept for good (imports, opening, loading a model)."""
    global _paused
    with _lock:
        _paused += 1
        gc.disable()
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            # No collection first: that would be the very pause this avoids; the little
            # garbage frozen along is kept for good, a few kilobytes.
            gc.freeze()
            if _paused == 0:
                gc.enable()
