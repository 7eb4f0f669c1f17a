"""Screenshots of the real window for the README, taken under Xvfb.

Runs the application on a FORLLM-made database (tests/fixtures/make_forllm_db.py), generates
a persona with the default model and captures the screen:

- docs/screenshots/main-window-generating.png: the Generate tab while the refinement stage
  streams, the queue below (FORLLM's own queued job waits for llama3: no Ollama here).
- docs/screenshots/editor.png: the generated persona in the editor after an edit.
- docs/screenshots/editor-history.png: the version history with the diff of that edit.
- docs/screenshots/try-it.png: the "Try it" panel after two probe questions.
- docs/screenshots/editor-check.png: the editor's Check tab after Check on the edited
  persona: each probe question, the model's answer and its verdict; the list's Check column.

    .venv/bin/python scripts/screenshots.py

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
OUT = ROOT / "docs" / "screenshots"
SCREEN = (1440, 900)
WINDOW = (1400, 860)


def capture(window, path: Path) -> None:
    """The whole screen on a real (X) display, so dialogs on top are in the picture; the
    window's own pixels on the offscreen platform."""
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.platformName() == "offscreen":
        window.grab().save(str(path))
    else:
        frame = window.frameGeometry()
        QGuiApplication.primaryScreen().grabWindow(
            0, frame.x(), frame.y(), frame.width(), frame.height()
        ).save(str(path))
    print(f"wrote {path.relative_to(ROOT)}")


def take(db_path: Path, settings_path: Path) -> None:
    import asyncio

    import qasync
    from PySide6.QtCore import QSettings, Qt

    from persona_studio.app import make_application
    from persona_studio.core.events import JobFinished
    from persona_studio.ui.main_window import GENERATE_TAB, MainWindow
    from persona_studio.ui.persona_list import COL_CHECK
    from persona_studio.ui.preferences import Preferences

    app = make_application([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(Preferences(QSettings(str(settings_path), QSettings.Format.IniFormat)))

    async def settle(seconds: float = 0.4) -> None:
        await asyncio.sleep(seconds)  # let layouts, repaints and the X server catch up

    async def run() -> None:
        window.move(0, 0)
        window.resize(*WINDOW)
        window.show()
        window.open_database(db_path)
        while window.store is None:
            await asyncio.sleep(0.05)
        finished = asyncio.Event()
        outcomes = []
        window.worker.jobEvent.connect(
            lambda event: (
                (outcomes.append(event), finished.set()) if isinstance(event, JobFinished) else None
            )
        )

        form = window.form
        window.tabs.setCurrentIndex(GENERATE_TAB)
        form.name_hint.setText("Captain Nemo")
        form.description.setPlainText(
            "Brooding submarine captain and brilliant engineer who distrusts governments"
        )
        form.output.tone.setCurrentText("grave")
        form.output.length.setCurrentIndex(form.output.length.findData("concise"))
        form.generate()
        while "Refinement" not in window.stream.stage_label.text():
            await asyncio.sleep(0.05)
        while len(window.stream.text.toPlainText().split("Stage 2")[-1]) < 700:
            await asyncio.sleep(0.05)
        window.queue.view.clearSelection()
        await settle()
        capture(window, OUT / "main-window-generating.png")

        while not any(o.persona_name for o in outcomes):
            finished.clear()
            await finished.wait()
        await settle(1.0)
        editor = window.editor
        text = editor.text.toPlainText().replace(
            "## Example Phrases:", '## Example Phrases:\n- "We dive at dawn."', 1
        )
        editor.text.setPlainText(text)
        editor.save()
        while editor.persona.version < 2:
            await asyncio.sleep(0.05)
        await settle()
        capture(window, OUT / "editor.png")

        dialog = window.open_history(editor.persona_id)
        dialog.move(220, 120)
        dialog.compare(1, 2)
        await settle()
        capture(window, OUT / "editor-history.png")
        dialog.close()
        await settle()

        panel = editor.try_panel
        answered = asyncio.Event()
        window.worker.chatFinished.connect(lambda _reply: answered.set())
        for button in (panel.probe_buttons[0], panel.probe_buttons[2]):
            answered.clear()
            button.click()
            await answered.wait()
        await settle()
        capture(window, OUT / "try-it.png")

        checked = asyncio.Event()
        window.worker.checkFinished.connect(lambda _outcome: checked.set())
        editor.run_check()
        await checked.wait()
        # Room for the answers and the list's Check column: the queue and Try it out of the
        # way, the list wider, the check tab taller, the list sorted by check score.
        window.queue_dock.hide()
        editor.try_button.setChecked(False)
        window.personas.parentWidget().setSizes([720, 680])
        editor.text_split.setSizes([300, 430])
        window.personas.view.sortByColumn(COL_CHECK, Qt.SortOrder.DescendingOrder)
        await settle(1.0)  # the list picks up the kept check
        capture(window, OUT / "editor-check.png")
        window.close()

    closed = asyncio.Event()
    window.closed.connect(closed.set)

    async def main() -> None:
        await run()
        await closed.wait()

    with loop:
        loop.run_until_complete(main())


def main() -> int:
    if "--inside" in sys.argv:
        take(Path(sys.argv[2]), Path(sys.argv[3]))
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("PERSONA_STUDIO_THREADS", "1")
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
