"""Screenshots of a section rewrite in the real window, taken under Xvfb like
scripts/screenshots.py (whose capture and set-up it uses), on FORLLM's "Homelab Hank" with
the default model:

- docs/screenshots/rewrite-preview.png: "Rewrite … shorter" while the tokens stream into
  the preview (the persona's text behind it unchanged).
- docs/screenshots/rewrite-alternatives.png: three alternatives side by side, each with its
  "Use" button.
- docs/screenshots/compare.png: Compare, Homelab Hank and Archivist Quill asked "Who are
  you?" with one seed.

    .venv/bin/python scripts/screenshot_rewrite.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import screenshots
from screenshots import OUT, WINDOW, capture

HANK = 3
QUILL = 2
SECTION = "Key Personality Traits"


def take(db_path: Path, settings_path: Path) -> None:
    import asyncio

    import qasync
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QGuiApplication

    from persona_studio.app import make_application
    from persona_studio.engine.section_rewrite import ALTERNATIVES, REWRITE
    from persona_studio.ui.main_window import MainWindow
    from persona_studio.ui.preferences import Preferences

    app = make_application([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(Preferences(QSettings(str(settings_path), QSettings.Format.IniFormat)))

    def shoot(dialog, name: str) -> None:
        # On a real display the dialog is on the window; offscreen it is its own picture.
        if QGuiApplication.platformName() == "offscreen":
            dialog.grab().save(str(OUT / name))
            print(f"wrote docs/screenshots/{name}")
        else:
            capture(window, OUT / name)

    async def run() -> None:
        window.move(0, 0)
        window.resize(*WINDOW)
        window.show()
        window.open_database(db_path)
        while window.store is None:
            await asyncio.sleep(0.05)
        window.queue_dock.hide()
        window.show_persona(HANK)
        while window.editor.persona_id != HANK:
            await asyncio.sleep(0.05)
        editor = window.editor
        done = asyncio.Event()
        window.worker.rewriteFinished.connect(lambda _outcome: done.set())
        streamed: list[str] = []
        window.worker.rewriteText.connect(lambda _rid, _i, text: streamed.append(text))

        dialog = editor.rewriter.open(REWRITE, SECTION, instruction="shorter")
        dialog.move(380, 260)
        while len("".join(streamed)) < 40 and not done.is_set():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        shoot(dialog, "rewrite-preview.png")
        await done.wait()
        dialog.reject()
        await asyncio.sleep(0.3)

        done.clear()
        dialog = editor.rewriter.open(ALTERNATIVES, SECTION)
        dialog.move(150, 240)
        await done.wait()
        await asyncio.sleep(0.4)
        shoot(dialog, "rewrite-alternatives.png")
        dialog.reject()
        await asyncio.sleep(0.2)

        compare = window.open_compare()
        compare.move(200, 150)
        compare.choose(0, HANK)
        compare.choose(1, QUILL)
        compare.question.setText("Who are you?")
        compare.ask()
        while compare.pending or compare.questions:
            await asyncio.sleep(0.05)
        compare.rating.setCurrentIndex(compare.rating.findData(4))
        await asyncio.sleep(0.4)
        shoot(compare, "compare.png")
        compare.reject()
        await asyncio.sleep(0.2)
        window.close()

    closed = asyncio.Event()
    window.closed.connect(closed.set)

    async def main() -> None:
        await run()
        await closed.wait()

    with loop:
        loop.run_until_complete(main())


if __name__ == "__main__":
    if "--inside" in sys.argv:
        take(Path(sys.argv[2]), Path(sys.argv[3]))
        raise SystemExit(0)
    screenshots.take = take  # the same Xvfb set-up and FORLLM file, these pictures
    screenshots.__file__ = __file__
    raise SystemExit(screenshots.main())
