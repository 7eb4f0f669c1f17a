"""Screenshots of issue 15's window parts, taken under Xvfb, with no model loaded:

- docs/screenshots/waiting-job.png: FORLLM's job for ``llama3`` with no Ollama running,
  waiting (not failed), selected, with "Run on another model…" and "Try again".
- docs/screenshots/models-download.png: the Models dialog, its recommendation for this
  machine, and a download in progress (from a hub on 127.0.0.1, tests/hub_server.py, that
  serves the built-in model under a catalog entry's name, slowly enough to be seen).

    .venv/bin/python scripts/screenshots_models.py

Without a display it re-runs itself under ``xvfb-run`` (apt-get install xvfb); if that is
missing it falls back to the offscreen platform and grabs the window's own pixels.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"
SCREEN = (1440, 900)
WINDOW = (1400, 860)


def take(db_path: Path, settings_path: Path) -> None:
    import asyncio

    import qasync
    from PySide6.QtCore import QSettings

    from persona_studio.app import make_application
    from persona_studio.llm.model_catalog import find_entry
    from persona_studio.ui.main_window import MainWindow
    from persona_studio.ui.preferences import Preferences
    from scripts.screenshots import capture
    from tests.hub_server import FakeHub, HubFile, builtin_gguf

    app = make_application([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(Preferences(QSettings(str(settings_path), QSettings.Format.IniFormat)))
    hub = FakeHub().start()
    entry = find_entry("qwen2.5-1.5b")
    hub.add(entry.repo, entry.file, HubFile(builtin_gguf().read_bytes(), chunk_delay=0.08))
    window.hub_endpoint = hub.hub_url

    async def settle(seconds: float = 0.5) -> None:
        await asyncio.sleep(seconds)  # let layouts, repaints and the X server catch up

    async def run() -> None:
        window.move(0, 0)
        window.resize(*WINDOW)
        window.show()
        window.open_database(db_path)
        while window.store is None:
            await asyncio.sleep(0.05)
        (job,) = [j for j in window.store.queue.list() if j.status.value == "pending"]
        while window.queue.model.waiting_for(job) is None:
            await asyncio.sleep(0.1)
            job = window.store.queue.get(job.request_id)
        window.queue.select_request(job.request_id)
        await settle(1.5)  # the model picker's endpoint listing too
        capture(window, OUT / "waiting-job.png")

        dialog = window.open_model_manager()
        dialog.move(160, 110)
        dialog.select(entry.id)
        dialog.download_selected()
        while "left" not in dialog.progress_text.text() or dialog.progress.value() < 350:
            await asyncio.sleep(0.05)
        await settle(0.3)
        capture(window, OUT / "models-download.png")
        dialog.cancel_download()
        while dialog.downloading:
            await asyncio.sleep(0.05)
        dialog.close()
        window.close()

    closed = asyncio.Event()
    window.closed.connect(closed.set)

    async def main() -> None:
        await run()
        await closed.wait()

    with loop:
        loop.run_until_complete(main())
    hub.stop()


def main() -> int:
    if "--inside" in sys.argv:
        take(Path(sys.argv[2]), Path(sys.argv[3]))
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        env["PERSONA_STUDIO_DATA_DIR"] = tmp
        db = Path(tmp) / "forllm_data.db"
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "tests" / "fixtures" / "make_forllm_db.py"),
                "--with-extras",
                "--out",
                str(db),
            ],
            check=True,
            capture_output=True,
        )
        command = [sys.executable, __file__, "--inside", str(db), str(Path(tmp) / "prefs.ini")]
        if not env.get("DISPLAY") and shutil.which("xvfb-run"):
            width, height = SCREEN
            command = ["xvfb-run", "-a", "-s", f"-screen 0 {width}x{height}x24", *command]
            env["QT_QPA_PLATFORM"] = "xcb"
        elif not env.get("DISPLAY"):
            env["QT_QPA_PLATFORM"] = "offscreen"
        return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    raise SystemExit(main())
