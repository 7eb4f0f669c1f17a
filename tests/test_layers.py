"""The layer rules of persona_studio, read from its imports, and ARCHITECTURE.md against the code.

The imports are read with ``ast`` by scripts/architecture.py, which also holds the table of
the layers (``LAYERS``: top to bottom, what each unit may import) and its few listed
exceptions. Every import counts, type-only ones (``if TYPE_CHECKING:``) and those inside
functions included: see that script's docstring for why. A unit is a package directly under
persona_studio (``engine/``) or a module there (``worker.py``); no check names a file, so
they hold for whatever the tree holds (a new unit needs a row in LAYERS, a new file a row in
ARCHITECTURE.md's file table).

Each check is a function of the code that returns its violations, one line each ("which file
imports what, against which rule"); the tests run them on persona_studio, and on a small
package written for the purpose to show that they find what they should.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_architecture():
    spec = importlib.util.spec_from_file_location(
        "persona_studio_architecture", ROOT / "scripts" / "architecture.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


arch = _load_architecture()
Code = arch.Code

WINDOW = ("ui/", "app.py")
QT = {"PySide6", "shiboken6", "PySide2", "shiboken2", "PyQt5", "PyQt6", "qasync", "pytestqt"}
# The window runs no SQL and calls no model itself: it asks store/, llm/ and the worker.
SQL = {"sqlite3", "sqlmodel", "sqlalchemy"}
MODEL_CALLS = {"llama_cpp", "openai", "httpx", "huggingface_hub"}
# core/ is plain data and rules: no Qt, no database, no files, processes or network.
# (logging, time and datetime are allowed.)
IO = {
    *SQL,
    *MODEL_CALLS,
    "os",
    "io",
    "pathlib",
    "shutil",
    "tempfile",
    "glob",
    "fileinput",
    "mmap",
    "platformdirs",
    "subprocess",
    "multiprocessing",
    "signal",
    "socket",
    "ssl",
    "select",
    "selectors",
    "asyncio",
    "http",
    "urllib",
    "requests",
}
IO_BUILTINS = {"open", "print", "input"}
ARCHITECTURE = "python3 scripts/architecture.py"


def _allowed(unit: str) -> str:
    """What LAYERS lets ``unit`` import, in words."""
    layer = arch.LAYERS.get(unit)
    if layer is None:
        return f"{unit} has no row"
    named = list(layer.may_import) + ([] if unit in arch.FLOOR else ["the floor"])
    if not named:
        return f"{unit} may import nothing of persona_studio"
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    return f"{unit} may import only {listed}"


# -- the checks -------------------------------------------------------------------------------


def units_without_a_row(code: Code) -> list[str]:
    return [
        f"{unit} is not in scripts/architecture.py's LAYERS: add a row saying what it may import"
        for unit in code.units
        if unit not in arch.LAYERS
    ]


def table_problems() -> list[str]:
    """LAYERS itself: downwards only, the floor at the bottom, every name a row."""
    names = list(arch.LAYERS)
    found = []
    for unit, layer in arch.LAYERS.items():
        for target in layer.may_import:
            if target not in arch.LAYERS:
                found.append(f"{unit} may import {target}, which has no row")
            elif names.index(target) <= names.index(unit):
                found.append(f"{unit} may import {target}, which is not below it in LAYERS")
    floor = [names.index(unit) for unit in arch.FLOOR if unit in arch.LAYERS]
    rest = [names.index(unit) for unit in names if unit not in arch.FLOOR]
    if len(floor) != len(arch.FLOOR) or (rest and floor and max(rest) > min(floor)):
        found.append("the FLOOR units must each have a row, below every other row")
    for path, target in arch.EXCEPTIONS:
        source = arch.unit_of_path(path)
        # An exception upwards must not close a loop through what LAYERS allows.
        if source in names and target in names and _reachable(target, source):
            found.append(f"the exception {path} -> {target} closes a cycle")
    return found


def _reachable(start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        unit = todo.pop()
        if unit == goal:
            return True
        if unit in seen:
            continue
        seen.add(unit)
        todo += [t for t in arch.LAYERS if t != unit and arch.may_import(unit, t)]
    return False


def layer_violations(code: Code) -> list[str]:
    """Imports between units that LAYERS does not allow and EXCEPTIONS does not list."""
    found = []
    for imp in code.imports:
        if not imp.internal:
            continue
        if imp.target is None:
            found.append(f"{imp.describe()}, which is no module of persona_studio")
        elif arch.may_import(imp.source, imp.target):
            continue
        elif (imp.path, imp.target) not in arch.EXCEPTIONS:
            found.append(
                f"{imp.describe()}: {_allowed(imp.source)} (LAYERS in scripts/architecture.py)"
            )
    return found


def stale_exceptions(code: Code) -> list[str]:
    used = {
        (imp.path, imp.target)
        for imp in code.imports
        if imp.target is not None and not arch.may_import(imp.source, imp.target)
    }
    return [
        f"persona_studio/{path} no longer imports {target} against LAYERS: take the exception "
        "out of EXCEPTIONS in scripts/architecture.py"
        for path, target in arch.EXCEPTIONS
        if (path, target) not in used
    ]


def _external(code: Code, sources: Iterable[str], modules: set[str], rule: str) -> list[str]:
    sources = set(sources)
    return [
        f"{imp.describe()}: {rule}"
        for imp in code.imports
        if not imp.internal and imp.source in sources and imp.top in modules
    ]


def qt_outside_the_window(code: Code) -> list[str]:
    others = [unit for unit in code.units if unit not in WINDOW]
    return _external(code, others, QT, "only ui/ and app.py may import Qt")


def sql_or_model_calls_in_the_window(code: Code) -> list[str]:
    return _external(
        code,
        WINDOW,
        SQL | MODEL_CALLS,
        "the window runs no SQL and no model call itself (store/, llm/ and the worker do)",
    )


def core_problems(code: Code, package: Path = arch.PACKAGE) -> list[str]:
    found = [
        f"{imp.describe()}: core/ imports nothing from persona_studio"
        for imp in code.imports
        if imp.source == "core/" and imp.internal and imp.target != "core/"
    ]
    found += _external(code, ["core/"], QT | IO, "core/ does no I/O and imports no Qt")
    for path in code.files:
        if arch.unit_of_path(path) != "core/":
            continue
        tree = ast.parse((package / path).read_text(encoding="utf-8"))
        found += [
            f"persona_studio/{path}:{node.lineno} calls {node.func.id}(): core/ does no I/O"
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in IO_BUILTINS
        ]
    return found


def cycles(code: Code) -> list[str]:
    """Each cycle of imports between units, with one import for each of its steps."""
    edges = code.edges()
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
    found = []
    for component in _strongly_connected(graph):
        if len(component) < 2:
            continue
        loop = _loop_through(sorted(component)[0], graph, component)
        steps = [edges[a, b][0].describe() for a, b in zip(loop, loop[1:], strict=False)]
        found.append(f"{' -> '.join(loop)}: " + "; ".join(steps))
    return found


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    result: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            result.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def _loop_through(start: str, graph: dict[str, set[str]], within: set[str]) -> list[str]:
    """The shortest path start -> ... -> start inside one strongly connected component."""
    paths = {start: [start]}
    todo = [start]
    while todo:
        node = todo.pop(0)
        for nxt in sorted(graph.get(node, ()) & within):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                todo.append(nxt)
    raise AssertionError(f"no loop through {start}")


def _report(found: list[str]) -> str:
    return "\n" + "\n".join(found)


# -- persona_studio ---------------------------------------------------------------------------

CODE = arch.read_code()


def test_the_layer_table_points_downwards() -> None:
    found = table_problems()
    assert not found, _report(found)


def test_every_unit_has_a_row_in_the_layer_table() -> None:
    found = units_without_a_row(CODE)
    assert not found, _report(found)


def test_imports_point_downwards_through_the_layers() -> None:
    found = layer_violations(CODE)
    assert not found, _report(found)


def test_every_listed_exception_is_still_there() -> None:
    found = stale_exceptions(CODE)
    assert not found, _report(found)


def test_only_the_window_imports_qt() -> None:
    found = qt_outside_the_window(CODE)
    assert not found, _report(found)


def test_the_window_imports_no_database_and_no_model_library() -> None:
    found = sql_or_model_calls_in_the_window(CODE)
    assert not found, _report(found)


def test_core_imports_nothing_of_ours_and_does_no_io() -> None:
    found = core_problems(CODE)
    assert not found, _report(found)


def test_no_import_cycle_between_units() -> None:
    found = cycles(CODE)
    assert not found, _report(found)


def test_architecture_md_diagram_is_the_codes() -> None:
    text = arch.ARCHITECTURE_MD.read_text(encoding="utf-8")
    shown = arch.diagram_in(text)
    assert shown is not None, f"ARCHITECTURE.md lost {arch.MARKER}: put it back above the diagram"
    drawn = arch.render_diagram(CODE)
    if shown != drawn:
        diff = difflib.unified_diff(
            shown.splitlines(True), drawn.splitlines(True), "ARCHITECTURE.md", "the code"
        )
        pytest.fail(
            f"ARCHITECTURE.md's layer diagram is not what the code gives: run {ARCHITECTURE} "
            f"--write\n{''.join(diff)}"
        )


def test_architecture_md_file_table_names_every_file() -> None:
    named = arch.table_files(arch.ARCHITECTURE_MD.read_text(encoding="utf-8"))
    found = [f"no row for persona_studio/{path}" for path in CODE.files if path not in named]
    gone = [path for path in named if path not in CODE.files]
    found += [f"a row for persona_studio/{path}, which does not exist" for path in gone]
    heading = "ARCHITECTURE.md's file table (a row per file, saying what it is for):"
    assert not found, heading + _report(found)


# -- the checks find what they should ---------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> Path:
    package = root / "persona_studio"
    for path, text in files.items():
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text(text, encoding="utf-8")
    return package


def test_every_kind_of_import_is_read(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "__init__.py": "",
            "errors.py": "",
            "paths.py": "",
            "engine/__init__.py": "from .pipeline import run\n",
            "engine/pipeline.py": (
                "from __future__ import annotations\n"
                "from typing import TYPE_CHECKING\n"
                "from persona_studio import paths\n"
                "from .. import errors\n"
                "if TYPE_CHECKING:\n"
                "    from persona_studio.store import Store\n"
                "else:\n"
                "    import json\n"
                "def run():\n"
                "    import importlib\n"
                "    importlib.import_module('persona_studio.llm.base')\n"
                "    from PySide6.QtCore import QObject\n"
            ),
            "store/__init__.py": "class Store: ...\n",
            "llm/__init__.py": "",
            "llm/base.py": "",
        },
    )
    code = arch.read_code(package)
    assert code.units == ["__init__.py", "engine/", "errors.py", "llm/", "paths.py", "store/"]
    read = {
        (imp.path, imp.line): (imp.module, imp.target, imp.in_function, imp.type_only)
        for imp in code.imports
    }
    pipeline = "engine/pipeline.py"
    assert read == {
        ("engine/__init__.py", 1): ("persona_studio.engine.pipeline", "engine/", False, False),
        (pipeline, 2): ("typing", None, False, False),
        (pipeline, 3): ("persona_studio.paths", "paths.py", False, False),
        (pipeline, 4): ("persona_studio.errors", "errors.py", False, False),
        (pipeline, 6): ("persona_studio.store", "store/", False, True),
        (pipeline, 8): ("json", None, False, False),
        (pipeline, 10): ("importlib", None, True, False),
        (pipeline, 11): ("persona_studio.llm.base", "llm/", True, False),
        (pipeline, 12): ("PySide6.QtCore", None, True, False),
    }
    assert set(code.edges()) == {
        ("engine/", "paths.py"),
        ("engine/", "errors.py"),
        ("engine/", "store/"),
        ("engine/", "llm/"),
    }


def test_the_checks_name_the_file_the_import_and_the_rule(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "__init__.py": "",
            "core/__init__.py": "import pathlib\nfrom persona_studio import errors\nprint(1)\n",
            "errors.py": "",
            "engine/__init__.py": "def f():\n    from persona_studio.store import x\n",
            "store/__init__.py": "from persona_studio.engine import f\nimport PySide6\n",
            "ui/__init__.py": "import sqlite3\nimport persona_studio.gone\n",
            "extra.py": "",
        },
    )
    code = arch.read_code(package)
    assert units_without_a_row(code) == [
        "extra.py is not in scripts/architecture.py's LAYERS: add a row saying what it may import"
    ]
    assert layer_violations(code) == [
        "persona_studio/core/__init__.py:2 imports persona_studio.errors: core/ may import "
        "nothing of persona_studio (LAYERS in scripts/architecture.py)",
        "persona_studio/engine/__init__.py:2 imports persona_studio.store (inside a function): "
        "engine/ may import only llm/ and the floor (LAYERS in scripts/architecture.py)",
        "persona_studio/store/__init__.py:1 imports persona_studio.engine: "
        "store/ may import only the floor (LAYERS in scripts/architecture.py)",
        "persona_studio/ui/__init__.py:2 imports persona_studio.gone, which is no module of "
        "persona_studio",
    ]
    assert qt_outside_the_window(code) == [
        "persona_studio/store/__init__.py:2 imports PySide6: only ui/ and app.py may import Qt"
    ]
    assert sql_or_model_calls_in_the_window(code) == [
        "persona_studio/ui/__init__.py:1 imports sqlite3: the window runs no SQL and no model "
        "call itself (store/, llm/ and the worker do)"
    ]
    assert core_problems(code, package) == [
        "persona_studio/core/__init__.py:2 imports persona_studio.errors: core/ imports nothing "
        "from persona_studio",
        "persona_studio/core/__init__.py:1 imports pathlib: core/ does no I/O and imports no Qt",
        "persona_studio/core/__init__.py:3 calls print(): core/ does no I/O",
    ]
    assert cycles(code) == [
        "engine/ -> store/ -> engine/: persona_studio/engine/__init__.py:2 imports "
        "persona_studio.store (inside a function); persona_studio/store/__init__.py:1 imports "
        "persona_studio.engine"
    ]
    # Nothing in this package is one of the listed exceptions.
    assert len(stale_exceptions(code)) == len(arch.EXCEPTIONS)
