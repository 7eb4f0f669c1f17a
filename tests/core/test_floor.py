"""core/ is the floor every layer may import: plain data and rules, no I/O, no Qt, nothing
from the layers above it (safejson, parsing text within bounds, is part of it)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import persona_studio

PACKAGE = Path(persona_studio.__file__).parent
FLOOR = sorted((PACKAGE / "core").glob("*.py"))
OURS_ALLOWED = ("persona_studio.core",)
# Modules that do I/O, talk to a database, a network, a process or a model, or draw.
FORBIDDEN = {
    "PySide6",
    "qasync",
    "sqlite3",
    "sqlalchemy",
    "sqlmodel",
    "io",
    "os",
    "pathlib",
    "shutil",
    "tempfile",
    "glob",
    "socket",
    "subprocess",
    "asyncio",
    "urllib",
    "http",
    "httpx",
    "openai",
    "llama_cpp",
    "huggingface_hub",
    "platformdirs",
    "logging",
}
FORBIDDEN_CALLS = {"open", "print", "input"}


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports, by its absolute name."""
    package = "persona_studio.core" if path.parent.name == "core" else "persona_studio"
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x, from ..engine import y
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *filter(None, [base])])
            # "from persona_studio.core import safejson" imports the module persona_studio.core.safejson.
            names = [f"{base}.{alias.name}" for alias in node.names]
            found += names if base == "persona_studio" else [base]
    return found


def test_the_floor_imports_nothing_above_it_and_no_io() -> None:
    problems = []
    for path in FLOOR:
        for module in _imports(path):
            top = module.split(".")[0]
            if top == "persona_studio" and not module.startswith(OURS_ALLOWED):
                problems.append(f"{path.name} imports {module}")
            if top in FORBIDDEN:
                problems.append(f"{path.name} imports {module}")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in FORBIDDEN_CALLS
            ):
                problems.append(f"{path.name} calls {node.func.id}() (line {node.lineno})")
    assert problems == []


def test_importing_the_floor_loads_nothing_else_of_ours_nor_qt_nor_a_database() -> None:
    modules = [f"persona_studio.core.{path.stem}" for path in FLOOR if path.parent.name == "core"]
    probe = (
        f"import json, sys; import {', '.join(modules)}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('persona_studio.', "
        "'PySide6', 'qasync', 'sqlite3', '_sqlite3', 'sqlalchemy', 'sqlmodel', 'httpx', "
        "'openai', 'llama_cpp')))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    assert [m for m in loaded if not m.startswith(OURS_ALLOWED)] == []
