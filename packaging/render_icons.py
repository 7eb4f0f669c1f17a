"""Render resources/icons/persona-studio.svg to the PNG sizes desktops and AppStream want.

    .venv/bin/python packaging/render_icons.py

Uses Qt's own SVG renderer (QtSvg ships in PySide6-Essentials), so no extra tool is needed
and the PNGs match what the window itself would draw from the SVG. Run it again after
editing the SVG; the PNGs are committed so that a build never depends on rendering.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ICON_DIR = Path(__file__).resolve().parent.parent / "resources" / "icons"
SVG = ICON_DIR / "persona-studio.svg"
SIZES = (64, 128, 256)


def main() -> int:
    # No display is needed to paint into an image; offscreen also works on a headless CI box.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        print(f"cannot render {SVG}", file=sys.stderr)
        return 1
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        out = ICON_DIR / f"persona-studio-{size}.png"
        if not image.save(str(out), "PNG"):
            print(f"cannot write {out}", file=sys.stderr)
            return 1
        print(out.relative_to(ICON_DIR.parent.parent))
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
