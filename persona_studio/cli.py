"""Command line: the same jobs as the window, headless.

    persona-studio                      open the window
    persona-studio generate --type TYPE ...   generate a persona (streams to stderr)
    persona-studio models               what can be used now
    persona-studio models --catalog     recommended models to download, and which fits here
    persona-studio models --download ID download one (progress on stderr, verified)
    persona-studio worker --db PATH     run queued persona jobs
    persona-studio export NAME --format F --out PATH    write a persona as a file
    persona-studio import FILE...       read persona files into the database
    persona-studio chat NAME [--ask Q]... [--probes]   talk to a persona (its text is the
                                        system prompt); interactive without --ask/--probes
    persona-studio check NAME [--model ID] [--baseline]   the persona check of its current
                                        text, kept with its version

Exit codes: 0 success, 1 the job failed (message on stderr), 2 invalid input.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from persona_studio.checks import figures
from persona_studio.core.events import (
    JobEvent,
    JobFinished,
    JobStarted,
    PipelineEvent,
    Retried,
    StageStarted,
    TextWritten,
    WaitingChanged,
)
from persona_studio.engine.factory import build_pipeline
from persona_studio.engine.pipeline import CHECK, GenerationResult
from persona_studio.engine.request import (
    GENERATION_TYPES,
    LENGTH_PREFERENCES,
    PersonaGenerationRequest,
    check_seed,
)
from persona_studio.errors import InvalidRequestError, PersonaStudioError, UserInputError
from persona_studio.export import cli as export_cli
from persona_studio.llm.catalog import DEFAULT_MODEL_ID, OLLAMA_BASE_URL, list_models
from persona_studio.store import Store
from persona_studio.worker import Worker

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


class StreamPrinter:
    """Writes streamed tokens to a terminal, each line labelled with its stage and the live
    tokens/s figure, so a long generation shows progress in plain text logs too."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._at_line_start = True
        self._stage = ""
        self._tps = 0.0

    def __call__(self, event: PipelineEvent) -> None:
        if isinstance(event, StageStarted):
            if not self._at_line_start:
                self.out.write("\n")
            self._stage = event.stage
            self._tps = 0.0
            self._at_line_start = True
            self.out.write(f"--- {event.stage} ---\n")
        elif isinstance(event, Retried):
            if not self._at_line_start:
                self.out.write("\n")
            self.out.write(f"[{event.stage}] {event.message}\n")
            self._at_line_start = True
        elif isinstance(event, TextWritten):
            self._tps = event.tokens_per_s
            for part in event.text.splitlines(keepends=True):
                if self._at_line_start and self._stage == CHECK:
                    self.out.write(f"[{self._stage}] ")
                elif self._at_line_start:
                    self.out.write(f"[{self._stage} {self._tps:5.1f} tok/s] ")
                self.out.write(part)
                self._at_line_start = part.endswith("\n")
        self.out.flush()

    def summary(self, result: GenerationResult) -> None:
        if not self._at_line_start:
            self.out.write("\n")
        for stage, stats in result.stages.items():
            if stage == CHECK:  # its text is the pipeline's (Q/A), not the model's tokens
                self.out.write(f"{stage}: {stats.seconds:.1f} s\n")
                continue
            self.out.write(
                f"{stage}: {stats.tokens} tokens in {stats.seconds:.1f} s "
                f"({stats.tokens_per_s:.1f} tok/s)\n"
            )
        if result.check is not None:
            attempts = (
                f" (best of {result.refinements} refinements)" if result.refinements > 1 else ""
            )
            self.out.write(f"persona check: {figures(result.check)}{attempts}\n")
        self.out.flush()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="persona-studio",
        description="Craft structured LLM personas for small local models.",
    )
    parser.add_argument(
        "--db", type=Path, help="FORLLM database file (default: one in your data folder)"
    )
    commands = parser.add_subparsers(dest="command")

    gen = commands.add_parser("generate", help="generate a persona")
    gen.add_argument("--type", required=True, choices=GENERATION_TYPES, dest="generation_type")
    gen.add_argument("--name", help="name hint")
    gen.add_argument("--description", help="description hint")
    gen.add_argument("--subforum-name")
    gen.add_argument("--subforum-description")
    gen.add_argument("--directives", help="additional directives")
    gen.add_argument(
        "--heading", action="append", default=[], help="a heading to use (repeat, in order)"
    )
    gen.add_argument("--tone")
    gen.add_argument("--length", choices=LENGTH_PREFERENCES)
    gen.add_argument("--override", help="use exactly this persona name")
    gen.add_argument("--model", help="model identifier (see 'persona-studio models')")
    gen.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    gen.add_argument("--db", type=Path, dest="sub_db", help="save into this FORLLM file")
    gen.add_argument(
        "--no-wait", action="store_true", help="with --db: only queue the job, print its id"
    )
    gen.add_argument("--seed", type=int, help="sampling seed, for repeatable output")
    gen.add_argument(
        "--critique",
        action="store_true",
        help="add a critique stage: the model reviews the brainstorm before refinement",
    )

    models = commands.add_parser("models", help="list the models that can be used now")
    models.add_argument(
        "--endpoint",
        action="append",
        default=[],
        help="OpenAI-compatible endpoint to ask (default: Ollama on localhost)",
    )
    models.add_argument("--json", action="store_true")
    models.add_argument(
        "--catalog",
        action="store_true",
        help="list the recommended models that can be downloaded, and which fits this machine",
    )
    models.add_argument(
        "--download",
        metavar="ID",
        help="download a catalog model (see --catalog) into the models folder, verified",
    )

    worker = commands.add_parser("worker", help="run queued persona jobs")
    worker.add_argument("--db", type=Path, dest="sub_db")
    worker.add_argument(
        "--once", action="store_true", help="exit when no pending persona job is left"
    )
    chat = commands.add_parser(
        "chat",
        help="talk to a persona: its text is the system prompt",
        description="Talk to a saved persona the way FORLLM uses it. With --ask or --probes "
        "the questions are answered in order and the command ends; without them, type "
        "questions (an empty line or end of input ends, /clear starts over).",
    )
    chat.add_argument("name", metavar="NAME", help="the persona's name (any letter case)")
    chat.add_argument("--db", type=Path, dest="sub_db", metavar="PATH")
    chat.add_argument("--model", help="model identifier (default: the built-in model)")
    chat.add_argument(
        "--ask", action="append", default=[], metavar="QUESTION", help="ask this (repeat)"
    )
    chat.add_argument(
        "--probes",
        action="store_true",
        help="ask who it is, what it will never talk about, and about its domain",
    )
    chat.add_argument("--seed", type=int, help="sampling seed, for repeatable replies")
    check = commands.add_parser(
        "check",
        help="the persona check: does the model hold the persona?",
        description="Ask the model that uses a saved persona the probe questions (who are "
        "you, your name, what you know, are you a real person) with the persona's current "
        "text as the system prompt, greedily, and score the answers: name hold, domain hit, "
        "breaks of character. The result is kept with the persona's current version.",
    )
    check.add_argument("name", metavar="NAME", help="the persona's name (any letter case)")
    check.add_argument("--db", type=Path, dest="sub_db", metavar="PATH")
    check.add_argument(
        "--model", help="model identifier (default: the model that made it, else the built-in)"
    )
    check.add_argument(
        "--baseline",
        action="store_true",
        help="ask the same questions without the persona too, and show the difference",
    )
    rewrite = commands.add_parser(
        "rewrite",
        help="write one section of a persona again with the model",
        description="Write one section of a saved persona again, with the rest of the "
        "persona as the model's context: the candidates are printed, numbered; nothing is "
        "saved unless --accept picks one, which is saved as a new version.",
    )
    rewrite.add_argument("name", metavar="NAME", help="the persona's name (any letter case)")
    rewrite.add_argument(
        "--section", required=True, metavar="HEADING", help='e.g. "Speaking Style & Tone"'
    )
    rewrite.add_argument(
        "--instruction",
        default="",
        metavar="TEXT",
        help='how to rewrite it: "shorter", "more formal", "in the first person", or any text',
    )
    rewrite.add_argument(
        "--alternatives", type=int, default=1, metavar="N", help="write N candidates (1-5)"
    )
    how = rewrite.add_mutually_exclusive_group()
    how.add_argument(
        "--continue",
        dest="continue_section",
        action="store_true",
        help="add to the section instead of rewriting it",
    )
    how.add_argument("--add", action="store_true", help="the section is new: the model fills it in")
    rewrite.add_argument(
        "--accept",
        type=int,
        metavar="N",
        help="save candidate N as a new version, whose note (in the version history) says "
        "what was rewritten and with which model",
    )
    rewrite.add_argument("--model", help="model identifier (default: the built-in model)")
    rewrite.add_argument("--seed", type=int, help="sampling seed, for repeatable candidates")
    rewrite.add_argument("--db", type=Path, dest="sub_db", metavar="PATH")
    export_cli.add_commands(commands)
    return parser


def request_from_args(args: argparse.Namespace) -> PersonaGenerationRequest:
    details = {
        key: value
        for key, value in (
            ("name_hint", args.name),
            ("description_hint", args.description),
            ("subforum_name", args.subforum_name),
            ("subforum_description", args.subforum_description),
            ("additional_directives", args.directives),
        )
        if value is not None
    }
    options: dict[str, object] = {}
    if args.critique:
        options["critique"] = True
    if args.seed is not None:
        # Kept with the job: a job queued with --no-wait runs with it too, whichever worker
        # takes it (FORLLM ignores this key).
        options["seed"] = check_seed(args.seed, "--seed")
    return PersonaGenerationRequest.create(
        args.generation_type,
        details,
        {
            "desired_headings": args.heading,
            "tone_preference": args.tone,
            "length_preference": args.length,
        },
        llm_model_for_generation=args.model or DEFAULT_MODEL_ID,
        target_persona_name_override=args.override,
        app_options=options or None,
    )


def _db_path(args: argparse.Namespace) -> Path | None:
    return getattr(args, "sub_db", None) or args.db


def cmd_generate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    request = request_from_args(args)
    db_path = _db_path(args)
    if db_path is not None or args.no_wait:
        return generate_into_store(
            request,
            db_path,
            no_wait=args.no_wait,
            as_json=args.json,
            seed=args.seed,
            out=out,
            err=err,
        )
    pipeline, pool = build_pipeline(seed=args.seed)
    try:
        printer = StreamPrinter(err)
        result = pipeline.run(request, on_event=printer)
        printer.summary(result)
    finally:
        pool.close()
    return print_result(result, as_json=args.json, out=out, err=err)


def print_result(
    result: GenerationResult, *, as_json: bool, out: TextIO, err: TextIO, extra: dict | None = None
) -> int:
    if as_json:
        payload = result.to_dict()
        payload.update(extra or {})
        out.write(json.dumps(payload, ensure_ascii=False) + "\n")
    elif result.ok:
        out.write(result.prompt_instructions)
    if not result.ok:
        err.write(f"error: {result.error_message}\n")
        return EXIT_FAILED
    return EXIT_OK


class DownloadPrinter:
    """Download progress on stderr: one line rewritten in place on a terminal, a line per
    tenth of the file in a log."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.tty = err.isatty()
        self._last_tenth = -1
        self._last_write = 0.0
        self._phase = ""

    def __call__(self, progress) -> None:
        text = progress.describe()
        if progress.phase != "downloading":
            if self._phase == "downloading" and self.tty:
                self.err.write("\n")
            self._phase = progress.phase
            self.err.write(text + "\n")
        elif self.tty:
            now = time.monotonic()
            if now - self._last_write >= 0.2 or progress.done >= progress.total:
                self._last_write = now
                self.err.write("\r" + text.ljust(60))
            self._phase = progress.phase
        else:
            tenth = progress.done * 10 // max(1, progress.total)
            if tenth != self._last_tenth:
                self._last_tenth = tenth
                self.err.write(text + "\n")
            self._phase = progress.phase
        self.err.flush()


def cmd_catalog(args: argparse.Namespace, out: TextIO) -> int:
    import os

    from persona_studio.llm.model_catalog import load_catalog, machine_memory_bytes, recommend

    entries = load_catalog()
    advice = recommend(entries, machine_memory_bytes(), os.cpu_count())
    if args.json:
        rows = [
            {**entry.__dict__, "installed": entry.installed(), "model_id": entry.model_id}
            for entry in entries
        ]
        best = advice.entry.id if advice.entry else None
        out.write(json.dumps({"models": rows, "recommended": best, "why": advice.reason}) + "\n")
        return EXIT_OK
    for entry in entries:
        mark = "installed" if entry.installed() else f"{entry.size_bytes / 1e9:.2f} GB"
        star = " *" if advice.entry is not None and entry.id == advice.entry.id else ""
        out.write(
            f"{entry.id}\t{entry.name} ({mark}, needs {entry.memory_gb:.1f} GB of memory, "
            f"{entry.licence}){star}\n\t{entry.note}\n"
        )
    out.write(f"* {advice.reason}\n" if advice.entry else f"{advice.reason}\n")
    return EXIT_OK


def cmd_download(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from persona_studio.llm.download import DownloadCancelled, download_model
    from persona_studio.llm.model_catalog import find_entry

    entry = find_entry(args.download)
    err.write(f"Downloading {entry.name} ({entry.repo}, {entry.file}, {entry.licence})\n")
    try:
        path = download_model(entry, on_progress=DownloadPrinter(err))
    except (KeyboardInterrupt, DownloadCancelled):
        # The library deletes its partial file on the way out; nothing was published.
        err.write("\nDownload cancelled (Ctrl-C); nothing was added to the models folder.\n")
        return 130
    out.write(f"{entry.model_id}\t{path}\n")
    return EXIT_OK


def cmd_models(args: argparse.Namespace, out: TextIO, err: TextIO | None = None) -> int:
    if args.download:
        return cmd_download(args, out, err or sys.stderr)
    if args.catalog:
        return cmd_catalog(args, out)
    models = list_models(args.endpoint or [OLLAMA_BASE_URL])
    if args.json:
        out.write(json.dumps([m.__dict__ for m in models], ensure_ascii=False) + "\n")
        return EXIT_OK
    for info in models:
        if info.available:
            out.write(f"{info.model_id}\t{info.label} ({info.source})\n")
        elif info.unreachable and not args.endpoint and info.label == OLLAMA_BASE_URL:
            # Asked by default, never set up: no Ollama is a normal set-up, not an error.
            out.write(f"# Ollama ({OLLAMA_BASE_URL}): not running\n")
        else:
            out.write(f"# unavailable: {info.label}: {info.detail}\n")
    return EXIT_OK


def cmd_worker(args: argparse.Namespace, err: TextIO) -> int:
    return run_worker_cli(_db_path(args), once=args.once, err=err)


def open_store(db_path: Path | None, err: TextIO) -> Store:
    store = Store.open(db_path)
    if store.created:
        err.write(f"Created a new FORLLM database at {store.path}\n")
    if store.backup_path is not None:
        err.write(f"Before updating {store.path}, a backup was saved to {store.backup_path}\n")
    return store


def generate_into_store(
    request: PersonaGenerationRequest,
    db_path: Path | None,
    *,
    no_wait: bool,
    as_json: bool,
    seed: int | None,
    out: TextIO,
    err: TextIO,
) -> int:
    store = open_store(db_path, err)
    try:
        rid = store.queue.enqueue(request.to_params(), request.llm_model_for_generation)
        if no_wait:
            err.write(f"Queued persona job {rid} in {store.path}\n")
            out.write(f"{rid}\n")
            return EXIT_OK
        printer = StreamPrinter(err)
        finished: list[JobFinished] = []

        def listen(event: JobEvent) -> None:
            if isinstance(event, WaitingChanged | JobStarted) or event.request_id != rid:
                return
            if isinstance(event, JobFinished):
                finished.append(event)
            else:
                printer(event)

        pipeline, pool = build_pipeline(seed=seed)
        worker = Worker(store, pipeline, listener=listen, on_interrupt="cancel")
        try:
            worker.run(until_request=rid)
        except KeyboardInterrupt:
            if worker.interrupted is not None:
                err.write(f"\nJob {rid} was cancelled (Ctrl-C); it will not run again.\n")
            else:
                err.write(
                    f"\nInterrupted; job {rid} is left to the queue's recovery (the next "
                    "worker on this machine takes it up).\n"
                )
            raise
        finally:
            pool.close()
        if not finished:
            err.write(f"error: job {rid} was not run (another worker may have taken it)\n")
            return EXIT_FAILED
        outcome = finished[0]
        result = outcome.result
        if not isinstance(result, GenerationResult):  # the job could not run at all
            err.write(f"error: {outcome.error}\n")
            return EXIT_FAILED
        printer.summary(result)
        extra: dict = {"request_id": rid, "db": str(store.path)}
        if outcome.persona_id is not None:
            extra.update(persona_id=outcome.persona_id, persona_name=outcome.persona_name)
            result.persona_name = outcome.persona_name
            if outcome.renamed:
                err.write(
                    f"A persona named '{outcome.requested_name}' already exists; "
                    f"saved as '{outcome.persona_name}'.\n"
                )
            err.write(f"Saved persona '{outcome.persona_name}' (#{outcome.persona_id}).\n")
        elif result.ok:  # generated, but saving failed: report that
            result.status, result.error_message = "error", outcome.error
        return print_result(result, as_json=as_json, out=out, err=err, extra=extra)
    finally:
        store.close()


def run_worker_cli(db_path: Path | None, *, once: bool, err: TextIO) -> int:
    from persona_studio.llm.availability import ModelAvailability

    store = open_store(db_path, err)
    stop = threading.Event()
    reported: dict[int, object] = {}  # jobs said to be waiting for their model

    def report(event: JobEvent) -> None:
        stamp = time.strftime("%H:%M:%S")
        match event:
            case JobStarted():
                err.write(
                    f"{stamp} job {event.request_id}: started "
                    f"({event.generation_type}, {event.name})\n"
                )
            case StageStarted():
                err.write(f"{stamp} job {event.request_id}: {event.stage}\n")
            case WaitingChanged():
                waiting = {job.request_id: job for job in event.jobs}
                for rid in sorted(waiting.keys() - reported.keys()):
                    err.write(f"{stamp} job {rid}: {waiting[rid].message}\n")
                reported.clear()
                reported.update(waiting)
            case JobFinished(persona_id=None):
                err.write(f"{stamp} job {event.request_id}: error: {event.error}\n")
            case JobFinished():
                err.write(
                    f"{stamp} job {event.request_id}: complete, persona "
                    f"'{event.persona_name}' (#{event.persona_id})\n"
                )
        err.flush()

    pipeline, pool = build_pipeline()
    # Jobs FORLLM queued for a model that is not running here (llama3 without Ollama) wait,
    # said once on stderr, instead of failing.
    worker = Worker(store, pipeline, listener=report, availability=ModelAvailability())
    recovered = worker.recover()
    if recovered:
        err.write(f"Recovered {len(recovered)} job(s) left running by a stopped worker.\n")
    err.write(f"Worker {worker.owner} on {store.path}\n")
    try:
        count = worker.run(stop, once=once)
        err.write(f"{count} job(s) processed.\n")
        if worker.waiting:
            err.write(
                f"{len(worker.waiting)} job(s) left waiting for their model; they run once it "
                "can be reached.\n"
            )
    except KeyboardInterrupt:
        if worker.interrupted is not None:
            err.write(
                f"\nStopped (Ctrl-C); job {worker.interrupted[0]} went back to the queue and "
                "waits for the next worker.\n"
            )
        else:
            err.write("\nStopped (Ctrl-C).\n")
    finally:
        pool.close()
        store.close()
    return 0


def _reply_printer(out: TextIO):
    """Writes a streamed reply as it comes, without the model's leading blank."""
    started = False

    def show(piece: str, _tokens: int, _rate: float) -> None:
        nonlocal started
        if not started:
            piece, started = piece.lstrip(), True
        out.write(piece)
        out.flush()

    return show


def cmd_chat(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """Answer questions as the persona: the reply streams to ``out`` after the persona's
    name; questions come from --ask/--probes or, one per line, from ``stdin``."""
    from dataclasses import replace

    from persona_studio.engine.chat import CHAT_PARAMS, ChatRequest, answer, probes
    from persona_studio.llm.catalog import BackendPool

    with Store.open(_db_path(args), create=False) as store:
        persona = store.personas.get_by_name(args.name)
    questions = [*(probes(persona.prompt_instructions) if args.probes else ()), *args.ask]
    interactive = not questions
    model_id = args.model or DEFAULT_MODEL_ID
    history: list[dict[str, str]] = []
    failed = False
    pool = BackendPool()
    try:
        backend = pool.get(model_id)
        if interactive:
            err.write(
                f"Talking to {persona.name} ({model_id}). An empty line or end of input "
                "ends; /clear starts over.\n"
            )
        for number in itertools.count():
            if interactive:
                err.write("You: ")
                err.flush()
                line = stdin.readline()
                question = line.strip()
                if not question:
                    break
                if question == "/clear":
                    history.clear()
                    err.write("(conversation cleared)\n")
                    continue
            elif number < len(questions):
                question = questions[number]
                out.write(f"You: {question}\n")
            else:
                break
            try:
                request = ChatRequest(
                    number,
                    model_id,
                    persona.prompt_instructions,
                    (*history, {"role": "user", "content": question}),
                    # One seed per turn: the same seed on every turn makes a small model
                    # repeat its previous answer word for word.
                    replace(CHAT_PARAMS, seed=None if args.seed is None else args.seed + number),
                )
            except InvalidRequestError as exc:
                if not interactive:
                    raise
                err.write(f"error: {exc}\n")  # a question too long: ask another
                continue
            out.write(f"{persona.name}: ")
            out.flush()
            reply = answer(backend, request, _reply_printer(out))
            out.write("\n\n")
            if reply.error is not None:
                err.write(f"error: {reply.error}\n")
                failed = True
                continue
            history.extend(request.history[-1:])
            history.append({"role": "assistant", "content": reply.text})
            note = (
                f" (the oldest {reply.dropped} messages no longer fit the context window)"
                if reply.dropped
                else ""
            )
            err.write(
                f"[{reply.tokens} tokens in {reply.seconds:.1f} s, "
                f"{reply.tokens_per_s:.1f} tok/s{note}]\n"
            )
    finally:
        pool.close()
    return EXIT_FAILED if failed else EXIT_OK


def _answer_lines(answer, *, name: str) -> str:
    from persona_studio.checks import verdict

    passed, why = verdict(answer, name=name)
    reply = " ".join(answer.answer.split()) or "(no answer)"
    return f"Q: {answer.question}\nA: {reply}\n   [{'pass' if passed else 'FAIL'}] {why}\n"


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The persona check of a saved persona's current text: each question, its answer and
    verdict on ``out`` as they come, then the figures; kept with the current version."""
    from persona_studio.checks import (
        baseline_figures,
        check_stored_persona,
        model_for,
        new_check,
    )
    from persona_studio.engine.headings import parse_persona
    from persona_studio.llm.catalog import BackendPool

    with Store.open(_db_path(args), create=False) as store:
        persona = store.personas.get_by_name(args.name)  # unknown: exits 1, as chat does
        text = persona.prompt_instructions
        name = parse_persona(text).name or persona.name  # the name the check looks for
        model_id = args.model or model_for(store, persona.persona_id)
        err.write(
            f"Checking {persona.name} (version {persona.version}) with {model_id}: the model "
            "answers as the persona, greedily.\n"
        )

        def show(answer) -> None:
            out.write(_answer_lines(answer, name=name))
            out.flush()

        pool = BackendPool()
        try:
            result = check_stored_persona(
                store,
                pool.get(model_id),
                persona.persona_id,
                persona.name,
                text,
                baseline=args.baseline,
                on_answer=show,
            )
        finally:
            pool.close()
        if result.baseline:
            out.write("\nWithout the persona (baseline):\n")
            for answer in result.baseline:
                out.write(_answer_lines(answer, name=name))
        if result.may_be_ai:
            out.write("\n(The persona is an AI or an assistant: saying so is no break.)\n")
        out.write(f"\nWith the persona: {figures(result)}\n")
        if result.baseline:
            out.write(f"Without it:       {baseline_figures(result)}\n")
        out.write("Passed.\n" if result.passed else "Not passed.\n")
        out.flush()
        saved = store.personas.save_check_if_current(persona.persona_id, text, new_check(result))
        if saved is None:
            err.write(
                f"{persona.name} changed while it was checked; the result was not kept. "
                "Run the check again.\n"
            )
        else:
            err.write(f"Kept with version {saved.version} of {persona.name}.\n")
    return EXIT_OK


def cmd_rewrite(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """One section of a saved persona written again: the model's text streams on ``err``,
    the cleaned candidates go to ``out`` numbered; ``--accept N`` saves candidate N as a
    new version (only if the persona did not change meanwhile)."""
    from persona_studio.engine.section_rewrite import (
        ADD,
        CONTINUE,
        REWRITE,
        SectionRewriteRequest,
        accept,
        rewrite_section,
        version_note,
    )
    from persona_studio.llm.catalog import BackendPool

    mode = ADD if args.add else CONTINUE if args.continue_section else REWRITE
    with Store.open(_db_path(args), create=False) as store:
        persona = store.personas.get_by_name(args.name)
        text = persona.prompt_instructions
        options: dict[str, object] = {}
        if args.seed is not None:
            options["seed"] = check_seed(args.seed, "--seed")
        request = SectionRewriteRequest(
            text,
            args.section,
            mode=mode,
            instruction=args.instruction,
            candidates=args.alternatives,
            model_id=args.model or DEFAULT_MODEL_ID,
            **options,
        )
        if args.accept is not None and not 1 <= args.accept <= request.candidates:
            raise UserInputError(
                f"--accept {args.accept}: pick one of the {request.candidates} candidate(s)."
            )
        err.write(f"{request.what} of {persona.name} with {request.model_id}…\n")
        shown = [-1]

        def stream(index: int, piece: str) -> None:
            if index != shown[0]:
                shown[0] = index
                err.write(f"\n[candidate {index + 1}] ")
            err.write(piece)
            err.flush()

        pool = BackendPool()
        try:
            candidates = rewrite_section(pool.get(request.model_id), request, stream)
        finally:
            pool.close()
        err.write("\n")
        for number, candidate in enumerate(candidates, 1):
            out.write(f"--- {number} ---\n{candidate}\n")
        out.flush()
        if args.accept is None:
            return EXIT_OK
        if args.accept > len(candidates):
            err.write(
                f"error: only {len(candidates)} usable candidate(s) came out; nothing saved.\n"
            )
            return EXIT_FAILED
        new_text = accept(request, candidates[args.accept - 1])
        if store.personas.get(persona.persona_id).prompt_instructions != text:
            err.write(f"error: {persona.name} changed meanwhile; nothing saved. Run it again.\n")
            return EXIT_FAILED
        # The window keeps the same note with a version saved after a rewrite.
        note = version_note(request, request.model_id)
        saved = store.personas.save_edit(persona.persona_id, new_text, note=note)
        err.write(f"Saved as version {saved.version}: {saved.note}.\n")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out, err = sys.stdout, sys.stderr
    started = time.perf_counter()
    try:
        if args.command == "generate":
            return cmd_generate(args, out, err)
        if args.command == "models":
            return cmd_models(args, out, err)
        if args.command == "worker":
            return cmd_worker(args, err)
        if args.command == "chat":
            return cmd_chat(args, sys.stdin, out, err)
        if args.command == "check":
            return cmd_check(args, out, err)
        if args.command == "rewrite":
            return cmd_rewrite(args, out, err)
        if args.command in export_cli.COMMANDS:
            return export_cli.run(args, out, err)
        from persona_studio.app import run_app

        return run_app(db_path=args.db)
    except UserInputError as exc:  # a field, a file or a database path that cannot be used
        err.write(f"error: {exc}\n")
        return EXIT_INVALID
    except PersonaStudioError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.write(f"\ninterrupted after {time.perf_counter() - started:.1f} s\n")
        return 130
