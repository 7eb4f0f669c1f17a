"""The layers of persona_studio as intended (``LAYERS``), the imports as they are (read from
the code with ``ast``), and ARCHITECTURE.md's layer diagram drawn from the second.

    python3 scripts/architecture.py            print the diagram (the mermaid block)
    python3 scripts/architecture.py --write    put it in ARCHITECTURE.md
    python3 scripts/architecture.py --edges    every import from one unit into another

Standard library only. tests/test_layers.py reads the same code with the same functions: the
layer rules against ``LAYERS``, the diagram in ARCHITECTURE.md against ``render_diagram``,
and the file table against the files.

A *unit* is a package directly under persona_studio (``engine/``) or a module there
(``worker.py``; ``__init__.py`` is the package's own module). Every import counts, wherever
it is: at the top of a module, inside a function (the lazy imports that keep Qt or
SQLAlchemy out of a process until needed), under ``if TYPE_CHECKING:``, in a ``try``, and
``importlib.import_module``/``__import__`` with a literal name. A type-only import counts
like any other: a module that names another layer's types in its signatures depends on that
layer (a change there breaks it, a type checker follows it), and ``TYPE_CHECKING`` is how a
cycle is usually hidden, which is what the rules are there to show.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "persona_studio"
ARCHITECTURE_MD = ROOT / "ARCHITECTURE.md"
TOP = "persona_studio"

# -- the layers as intended -------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    label: str  # a few words for the diagram
    may_import: tuple[str, ...] = ()  # the units above the floor it may import


# The floor: any unit may import these; they import only what their own row says.
FLOOR = ("paths.py", "errors.py", "core/", "__init__.py")

# Top to bottom: a unit may import only units below it. A unit of the code that is not named
# here fails tests/test_layers.py until it gets a row saying what it may import.
LAYERS: dict[str, Layer] = {
    "__main__.py": Layer("python -m persona_studio", ("cli.py",)),
    # The entry point (`persona-studio`): with no sub-command it opens the window, importing
    # app.py inside a function so the headless commands never load Qt.
    "cli.py": Layer(
        "generate · models · worker · chat · check · rewrite",
        ("app.py", "worker.py", "checks.py", "export/", "engine/", "llm/", "store/"),
    ),
    "app.py": Layer("QApplication, qasync loop, wiring", ("ui/",)),
    # The window: plain calls into the layers below (never SQL, never a model call: see
    # tests/test_layers.py), the worker QThread runs worker.py over the llm/ BackendPool.
    "ui/": Layer(
        "widgets, item models, worker QThread",
        ("worker.py", "checks.py", "export/", "engine/", "llm/", "store/"),
    ),
    "worker.py": Layer(
        "claim → pipeline → save → mark", ("checks.py", "engine/", "llm/", "store/")
    ),
    "checks.py": Layer("the check of a stored persona", ("engine/", "llm/", "store/")),
    # llm/: a Modelfile's FROM line is the model identifier's spelling (llm/catalog.py).
    "export/": Layer(
        "md, txt, JSON, cards V1-V3, Modelfile; export · import", ("engine/", "llm/", "store/")
    ),
    "engine/": Layer("request, templates, pipeline, brief, names, polish, check, chat", ("llm/",)),
    "llm/": Layer("embedded llama.cpp · OpenAI-compatible HTTP · catalog"),
    "store/": Layer("FORLLM tables + ps_* tables, queue, personas"),
    "paths.py": Layer("data, model and template folders", ("errors.py", "core/")),
    "errors.py": Layer("user-facing exceptions", ("core/",)),
    "core/": Layer("facts every layer shares; no I/O"),
    "__init__.py": Layer("the version"),
}

# Imports that break LAYERS and are allowed for now, each with why and what would end it, by
# (file under persona_studio/, the unit it imports). One that is no longer there fails the
# test until it is taken out of here.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("export/cli.py", "checks.py"): (
        "`export --card-extras` has the model write the card extras: command work "
        "(checks.model_for, engine.card_extras.write_extras, llm.catalog.BackendPool) inside "
        "export/; it ends when that step moves to cli.py, or model_for to the store or core/"
    ),
}


def may_import(source: str, target: str) -> bool:
    """Whether LAYERS lets ``source`` import ``target`` (a unit may always import itself)."""
    if source == target:
        return True
    layer = LAYERS.get(source)
    if layer is None:
        return False
    if target in layer.may_import:
        return True
    return source not in FLOOR and target in FLOOR


# -- the imports as they are ------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    path: str  # the importing file, relative to persona_studio/ ("engine/pipeline.py")
    line: int
    module: str  # the module imported, absolute ("persona_studio.llm.catalog", "PySide6.QtCore")
    source: str  # the importing unit ("engine/")
    target: str | None  # the imported unit; None outside persona_studio or for no such module
    in_function: bool
    type_only: bool

    @property
    def internal(self) -> bool:
        return self.module == TOP or self.module.startswith(TOP + ".")

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    def describe(self) -> str:
        how = ["inside a function"] if self.in_function else []
        how += ["type-only"] if self.type_only else []
        where = f" ({', '.join(how)})" if how else ""
        return f"persona_studio/{self.path}:{self.line} imports {self.module}{where}"


@dataclass(frozen=True)
class Code:
    files: tuple[str, ...]  # every .py file, relative to persona_studio/
    imports: tuple[Import, ...]

    @property
    def units(self) -> list[str]:
        return sorted({unit_of_path(path) for path in self.files})

    def edges(self) -> dict[tuple[str, str], list[Import]]:
        """Imports from one unit into another, by (source, target)."""
        found: dict[tuple[str, str], list[Import]] = defaultdict(list)
        for imp in self.imports:
            if imp.target is not None and imp.target != imp.source:
                found[imp.source, imp.target].append(imp)
        return dict(found)


def unit_of_path(path: str) -> str:
    head, sep, _ = path.partition("/")
    return head + "/" if sep else head


def read_code(package: Path = PACKAGE) -> Code:
    files = sorted(
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if "__pycache__" not in p.parts
    )
    modules = {_module_name(path): path for path in files}
    imports: list[Import] = []
    for path in files:
        source = (package / path).read_text(encoding="utf-8")
        reader = _Reader(path, _module_name(path), modules)
        reader.visit(ast.parse(source, filename=str(package / path)))
        imports.extend(reader.found)
    return Code(files=tuple(files), imports=tuple(imports))


def _module_name(path: str) -> str:
    parts = [TOP, *path.removesuffix(".py").split("/")]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _unit_of_module(module: str, modules: dict[str, str]) -> str | None:
    """The unit a module of persona_studio belongs to; None for one that does not exist."""
    path = modules.get(module)
    return None if path is None else unit_of_path(path)


class _Reader(ast.NodeVisitor):
    def __init__(self, path: str, module: str, modules: dict[str, str]) -> None:
        self.path = path
        self.package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
        self.modules = modules
        self.functions = 0
        self.type_checking = 0
        self.found: list[Import] = []

    def _add(self, node: ast.AST, module: str) -> None:
        internal = module == TOP or module.startswith(TOP + ".")
        self.found.append(
            Import(
                path=self.path,
                line=node.lineno,  # type: ignore[attr-defined]
                module=module,
                source=unit_of_path(self.path),
                target=_unit_of_module(module, self.modules) if internal else None,
                in_function=self.functions > 0,
                type_only=self.type_checking > 0,
            )
        )

    def _function(self, node: ast.AST) -> None:
        self.functions += 1
        self.generic_visit(node)
        self.functions -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.visit(node.test)
            self.type_checking += 1
            for child in node.body:
                self.visit(child)
            self.type_checking -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            module = ".".join([*base, node.module] if node.module else base)
        else:
            module = node.module or ""
        if module == "__future__":
            return
        for alias in node.names:
            # `from persona_studio import paths` imports the module persona_studio.paths.
            name = f"{module}.{alias.name}"
            self._add(node, name if alias.name != "*" and name in self.modules else module)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if (
            name in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            self._add(node, node.args[0].value)
        self.generic_visit(node)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


# -- the diagram ------------------------------------------------------------------------------

MARKER = "<!-- scripts/architecture.py draws the diagram below: run it with --write -->"


def _order(unit: str) -> tuple[int, str]:
    names = list(LAYERS)
    return (names.index(unit), unit) if unit in names else (len(names), unit)


def _node_id(unit: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", unit.removesuffix("/").removesuffix(".py")) or "root"


def _label(unit: str, importers: list[str]) -> str:
    layer = LAYERS.get(unit)
    text = unit + (f"<br/>{layer.label}" if layer else "")
    if unit in FLOOR:
        if importers:
            lines = [", ".join(importers[i : i + 4]) for i in range(0, len(importers), 4)]
            text += "<br/>imported by " + ",<br/>".join(lines)
        else:
            text += "<br/>imported by none yet"
    return f'{_node_id(unit)}["{text}"]'


def render_diagram(code: Code) -> str:
    """The mermaid block of ARCHITECTURE.md's Layers section, fences included.

    Every unit is a node; every import from one unit into another above the floor is an
    arrow (dotted where it is one of EXCEPTIONS, labelled where LAYERS does not allow it).
    The floor is drawn as a group whose units list who above it imports them, instead of an
    arrow from nearly every node."""
    edges = code.edges()
    units = sorted(code.units, key=_order)
    importers: dict[str, list[str]] = defaultdict(list)
    for source, target in sorted(edges, key=lambda e: _order(e[0])):
        if source not in FLOOR:  # within the floor, an arrow
            importers[target].append(source)
    excepted = {(unit_of_path(path), target) for path, target in EXCEPTIONS}
    lines = ["```mermaid", "flowchart TD"]
    lines += [f"    {_label(u, [])}" for u in units if u not in FLOOR]
    lines.append('    subgraph floor["the floor: any layer may import it"]')
    lines += [f"        {_label(u, importers[u])}" for u in units if u in FLOOR]
    lines.append("    end")
    for source, target in sorted(edges, key=lambda e: (_order(e[0]), _order(e[1]))):
        if target in FLOOR and source not in FLOOR:
            continue
        arrow = "-->"
        if not may_import(source, target):
            arrow = "-.->" if (source, target) in excepted else "-- not allowed -->"
        lines.append(f"    {_node_id(source)} {arrow} {_node_id(target)}")
    lines.append("```")
    return "\n".join(lines) + "\n"


def diagram_in(text: str) -> str | None:
    """The mermaid block that follows MARKER in ARCHITECTURE.md's text, fences included."""
    _, found, after = text.partition(MARKER + "\n")
    if not found or not after.startswith("```mermaid\n"):
        return None
    end = after.find("\n```\n")
    return None if end < 0 else after[: end + 5]


def with_diagram(text: str, diagram: str) -> str:
    old = diagram_in(text)
    if old is None:
        raise SystemExit(f"{ARCHITECTURE_MD.name}: no ```mermaid block right after {MARKER}")
    return text.replace(MARKER + "\n" + old, MARKER + "\n" + diagram, 1)


# -- the file table ---------------------------------------------------------------------------

FILES_HEADING = "## Files and what each is responsible for"


def table_files(text: str) -> list[str]:
    """The files the first column of ARCHITECTURE.md's file table names, relative to
    persona_studio/. In a cell, `store/db.py`, `queue.py` names store/db.py and
    store/queue.py (a bare name is in the folder of the name before it), and `engine/`
    names the package itself, engine/__init__.py."""
    _, _, section = text.partition("\n" + FILES_HEADING + "\n")
    section = section.split("\n## ", 1)[0]
    named: list[str] = []
    for row in section.splitlines():
        cells = row.split("|")
        if not row.startswith("|") or len(cells) < 3 or set(cells[1].strip()) <= {"-", ""}:
            continue
        folder = ""
        for name in re.findall(r"`([^`]+)`", cells[1]):
            if not (name.endswith(".py") or name.endswith("/")):
                continue
            if "/" in name.rstrip("/"):
                folder = name.rstrip("/").rpartition("/")[0] + "/"
                path = name
            elif name.endswith("/"):
                folder = ""
                path = name
            else:
                path = folder + name
            named.append(path + "__init__.py" if path.endswith("/") else path)
    return named


# -- the command ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="put the diagram in ARCHITECTURE.md")
    parser.add_argument("--edges", action="store_true", help="list the imports between units")
    args = parser.parse_args(argv)
    code = read_code()
    if args.edges:
        for (source, target), found in sorted(code.edges().items()):
            mark = "" if may_import(source, target) else "   NOT IN LAYERS"
            print(f"{source} -> {target}{mark}")
            for imp in found:
                print(f"    {imp.describe()}")
        return 0
    diagram = render_diagram(code)
    if not args.write:
        sys.stdout.write(diagram)
        return 0
    text = ARCHITECTURE_MD.read_text(encoding="utf-8")
    new = with_diagram(text, diagram)
    if new == text:
        print(f"{ARCHITECTURE_MD.name}: the diagram is up to date")
    else:
        ARCHITECTURE_MD.write_text(new, encoding="utf-8")
        old = diagram_in(text) or ""
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), diagram.splitlines(True)))
        print(f"{ARCHITECTURE_MD.name}: diagram written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
