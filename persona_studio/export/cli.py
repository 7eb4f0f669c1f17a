"""``persona-studio export`` and ``persona-studio import``: the window's file jobs, headless.

    persona-studio export NAME --format FMT --out PATH [--db PATH] [--versions] [--from MODEL]
                         [--card-extras [--model ID]]
    persona-studio import FILE... [--db PATH]

``--card-extras`` (card and JSON formats) first has the model write the persona's card extras
(greeting, alternate greetings, example dialogue, scenario, tags) when it has none, and saves
them with it; extras it has already (written in the window, or imported) are exported as they
are. Export prints the path it wrote; it never replaces the open database, a device, a fifo or
a link (exit 2). Import takes files and folders (the persona files in them; links out of a
folder are not followed) and reports each file on a line of its own (stdout for an import,
stderr for a failure). It exits 0 if every file was imported, 2 if a file was refused as
unusable (the others are imported all the same), 1 if saving failed. Each file is saved in
one transaction, with its whole history, or not at all. Files are all read before the
database is opened, so a run in which every file is refused leaves the database exactly as
it was.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TextIO

from persona_studio.errors import PersonaStudioError, UserInputError
from persona_studio.export.io import (
    FORMATS,
    export_persona,
    import_file,
    import_targets,
    safe_name,
)
from persona_studio.export.model import PersonaDocument
from persona_studio.export.store_glue import load_document, save_document
from persona_studio.store import CardExtras, SavedPersona, Store, clean_tags

COMMANDS = ("export", "import")
CARD_FORMATS = ("card-v2", "card-v3", "card-png", "json")
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2  # as persona_studio.cli


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add the export and import subcommands to the top-level parser's subparsers."""
    export = subparsers.add_parser(
        "export",
        help="write a persona to a file",
        description="Write a persona as Markdown, text, JSON, a character card or a Modelfile.",
    )
    export.add_argument("name", metavar="NAME", help="the persona's name (any letter case)")
    export.add_argument(
        "--format",
        required=True,
        choices=list(FORMATS),
        dest="export_format",
        help="md, txt, json (Persona Studio), card-v2/card-v3 (JSON), card-png, modelfile",
    )
    export.add_argument(
        "--out",
        required=True,
        metavar="PATH",  # a str: a trailing '/' must still say "a folder"
        help="the file to write, or an existing folder to write a file named after the persona",
    )
    export.add_argument(
        "--db", type=Path, dest="sub_db", metavar="PATH", help="FORLLM database file"
    )
    export.add_argument(
        "--versions", action="store_true", help="with --format json: include every version"
    )
    export.add_argument(
        "--from",
        dest="from_model",
        metavar="MODEL",
        help="with --format modelfile: the base model (default: the persona's own model)",
    )
    export.add_argument(
        "--card-extras",
        action="store_true",
        help="with a card format or json: if the persona has no card extras (greeting, "
        "example dialogue, scenario, tags), have the model write them first and save them",
    )
    export.add_argument(
        "--model",
        dest="extras_model",
        metavar="ID",
        help="with --card-extras: the model that writes them (default: the one that made "
        "the persona, else the built-in one)",
    )
    imported = subparsers.add_parser(
        "import",
        help="import personas from files",
        description="Import personas from Persona Studio JSON, character cards (V1, V2, V3; "
        "JSON or PNG), Markdown or text with persona headings, and Modelfiles.",
    )
    imported.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="a persona file, or a folder of them"
    )
    imported.add_argument(
        "--db", type=Path, dest="sub_db", metavar="PATH", help="FORLLM database file"
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the export or import command parsed into ``args``; returns the exit code."""
    try:
        if args.command == "export":
            return _export(args, out, err)
        return _import(args, out, err)
    except PersonaStudioError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_INVALID if isinstance(exc, UserInputError) else EXIT_FAILED


def _db_path(args: argparse.Namespace) -> Path | None:
    return args.sub_db or getattr(args, "db", None)


def _open(args: argparse.Namespace, err: TextIO, *, create: bool) -> Store:
    store = Store.open(_db_path(args), create=create)
    if store.created:
        err.write(f"Created a new FORLLM database at {store.path}\n")
    if store.backup_path is not None:
        err.write(f"Before updating {store.path}, a backup was saved to {store.backup_path}\n")
    return store


def _export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.versions and args.export_format != "json":
        err.write(
            "error: --versions works with --format json only; the other formats hold one text.\n"
        )
        return EXIT_INVALID
    if args.from_model is not None and args.export_format != "modelfile":
        err.write("error: --from works with --format modelfile only.\n")
        return EXIT_INVALID
    if args.card_extras and args.export_format not in CARD_FORMATS:
        err.write(f"error: --card-extras works with --format {', '.join(CARD_FORMATS)} only.\n")
        return EXIT_INVALID
    if args.extras_model is not None and not args.card_extras:
        err.write("error: --model works with --card-extras only.\n")
        return EXIT_INVALID
    with _open(args, err, create=False) as store:
        if args.card_extras:
            _write_card_extras(store, args.name, args.extras_model, err)
        doc = load_document(store, args.name, with_versions=args.versions)
    path = export_persona(
        doc, args.export_format, args.out, from_model=args.from_model, protect=[store.path]
    )
    out.write(f"{path}\n")
    return EXIT_OK


def _write_card_extras(store: Store, name: str, model_id: str | None, err: TextIO) -> None:
    """The persona's card extras written by the model and saved, unless it has some."""
    from persona_studio.checks import model_for
    from persona_studio.engine.card_extras import EXTRAS_SECONDS, write_extras
    from persona_studio.llm.catalog import BackendPool

    persona = store.personas.get_by_name(name)
    if store.cards.get(persona.persona_id) is not None:
        err.write(f"{persona.name} has card extras already; they are exported as they are.\n")
        return
    model_id = model_id or model_for(store, persona.persona_id)
    err.write(f"Writing the card extras of {persona.name} with {model_id}…\n")
    pool = BackendPool()
    try:
        draft = write_extras(
            pool.get(model_id),
            persona.prompt_instructions,
            name=persona.name,
            deadline=time.monotonic() + EXTRAS_SECONDS,
        )
    finally:
        pool.close()
    for problem in draft.problems:
        err.write(f"note: {problem}\n")
    extras = CardExtras(
        first_mes=draft.first_mes,
        alternate_greetings=draft.alternate_greetings,
        mes_example=draft.mes_example,
        scenario=draft.scenario,
        tags=clean_tags(draft.tags),
        model=draft.model or model_id,
    )
    store.cards.save(persona.persona_id, extras)
    err.write(f"Card extras written in {draft.seconds:.1f} s and saved with {persona.name}.\n")


def _import(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    parsed: list[tuple[Path, list[PersonaDocument] | PersonaStudioError]] = []
    for target in import_targets(args.files):
        if target.error is not None:
            parsed.append((target.path, target.error))
            continue
        try:
            parsed.append((target.path, import_file(target.path, within=target.within)))
        except PersonaStudioError as exc:
            parsed.append((target.path, exc))
    refused = sum(isinstance(result, PersonaStudioError) for _, result in parsed)
    if refused == len(parsed):
        for _, error in parsed:
            err.write(f"failed: {error}\n")
        return EXIT_INVALID
    failed = 0
    with _open(args, err, create=True) as store:
        for path, result in parsed:
            if isinstance(result, PersonaStudioError):
                err.write(f"failed: {result}\n")
                continue
            for doc in result:
                try:
                    outcome = save_document(store, doc)
                except PersonaStudioError as exc:
                    err.write(f"failed: {safe_name(path)}: {exc}\n")
                    failed += 1
                    continue
                out.write(_report(path, outcome.saved, outcome.notes) + "\n")
    if failed:
        return EXIT_FAILED
    return EXIT_INVALID if refused else EXIT_OK


def _report(path: Path, saved: SavedPersona, notes: tuple[str, ...]) -> str:
    line = (
        f"imported: {safe_name(path)}: '{saved.name}' (#{saved.persona_id}, "
        f"version {saved.version})"
    )
    if saved.renamed:
        line += f"; the name '{saved.requested_name}' was taken"
    if notes:
        line += "; note: " + "; ".join(notes)
    return line
