"""Section rewrite: how soon the model's first token reaches the preview after the click, with
the persona's prefix evaluated ahead of time (a prefill, as the window does while the writer
reads the persona) and without (the click evaluates the persona, as before the prefill).

1. engine: three personas the default model wrote (bench/results/quality_personas.md: the
   shortest, the median and the longest), a rewrite of their Speaking Style & Tone. Rounds
   alternate, each from an empty cache:
   - cold: the click (``rewrite_section``) evaluates the persona's prefix, then the request;
   - warm: ``prefill`` first (its time is the work moved off the click), then the click.
   Per click: the time to the section plan's opening words (shown before anything is
   evaluated) and to the model's first text. Each rewrite is stopped at that first text (the
   rest is generation, the same both ways). Also the prefix evaluated cold in one batch (as
   llama.cpp's ``generate`` did it before) against the canonical 64-token chunks a rewrite
   now uses, so the cost of reproducible candidates on a cold click is visible.
2. window_path: the click through ``WorkerThread.rewrite`` (the editor's path: a queue, a
   signal to the worker thread, the preview's batches back to the GUI thread): from
   ``rewrite()`` to the model's first text arriving on the GUI thread, after
   ``WorkerThread.prefill`` (warm) and after a rewrite of another persona (cold).

    .venv/bin/python bench/rewrite_latency.py [--rounds 3]

Prints figures, writes bench/results/rewrite_latency.json, and prints a JSON line last.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from persona_studio.engine import section_rewrite
from persona_studio.engine.section_rewrite import (
    Prefill,
    SectionRewriteRequest,
    prefill,
    prefix_tokens,
    rewrite_section,
)
from persona_studio.errors import GenerationCancelled
from persona_studio.llm.catalog import DEFAULT_MODEL_ID, BackendPool

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PERSONAS = RESULTS / "quality_personas.md"
SECTION = "Speaking Style & Tone"
SEED = 7


def personas(backend) -> dict[str, str]:
    """The shortest, the median and the longest of the stored personas (by prefix tokens)."""
    texts = [
        t.strip() for t in re.split(r"^<!--.*-->$", PERSONAS.read_text(), flags=re.M) if t.strip()
    ]
    texts = [t for t in texts if f"## {SECTION}:" in t]
    texts.sort(key=lambda t: len(prefix_tokens(backend, t)))
    return {"short": texts[0], "median": texts[len(texts) // 2], "long": texts[-1]}


def empty_cache(backend) -> None:
    backend.llama.reset()
    backend._canonical = []


def click(backend, text: str, seed: int) -> dict:
    """One rewrite, stopped at the model's first text: seconds to the opening words and to
    that first text, and what the click evaluated of the persona's prefix itself."""
    request = SectionRewriteRequest(text, SECTION, model_id=DEFAULT_MODEL_ID, seed=seed)
    opening = section_rewrite._opening(section_rewrite._setting(request), request)
    times: list[float] = []
    evaluated: list[Prefill] = []
    started = time.perf_counter()

    def on_text(_index: int, _piece: str) -> None:
        times.append(time.perf_counter() - started)
        if len(times) == (2 if opening else 1):
            request.cancel.cancel()  # the first model text: the rest is generation

    with contextlib.suppress(GenerationCancelled):
        rewrite_section(backend, request, on_text, on_prefill=evaluated.append)
    model_first = times[1] if opening else times[0]
    return {
        "opening_s": times[0] if opening else 0.0,
        "first_model_text_s": model_first,
        "prefix_evaluated": sum(p.evaluated for p in evaluated),
    }


def engine_figures(backend, texts: dict[str, str], rounds: int) -> dict:
    figures: dict = {}
    click(backend, texts["short"], SEED)  # warm-up: page the model in
    for name, text in texts.items():
        runs: dict[str, list[dict]] = {"cold": [], "warm": []}
        prefills: list[float] = []
        for number in range(rounds):
            for mode in ("cold", "warm"):
                empty_cache(backend)
                if mode == "warm":
                    done = prefill(backend, text)
                    prefills.append(done.seconds)
                runs[mode].append(click(backend, text, SEED + number))
        prefix = prefix_tokens(backend, text)
        one_batch, chunked = [], []
        for _ in range(rounds):
            empty_cache(backend)
            started = time.perf_counter()
            backend.llama.eval(prefix)  # what generate did with it: batches of n_batch
            one_batch.append(time.perf_counter() - started)
            empty_cache(backend)
            chunked.append(prefill(backend, text).seconds)
        entry = {
            "persona_tokens": backend.count_tokens(text),
            "prefix_tokens": len(prefix),
            "prefill_s": statistics.median(prefills),
            "prefix_one_batch_s": statistics.median(one_batch),
            "prefix_chunks_s": statistics.median(chunked),
        }
        for mode, samples in runs.items():
            entry[mode] = {
                key: statistics.median(s[key] for s in samples)
                for key in ("opening_s", "first_model_text_s", "prefix_evaluated")
            }
        entry["first_text_speedup"] = (
            entry["cold"]["first_model_text_s"] / entry["warm"]["first_model_text_s"]
        )
        figures[name] = entry
    return figures


def window_path_figures(texts: dict[str, str], rounds: int) -> dict:
    """WorkerThread.rewrite() -> the model's first text on the GUI thread, warm and cold."""
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from persona_studio.llm.catalog import ModelSettings
    from persona_studio.ui.worker_thread import WorkerThread

    _app = QCoreApplication.instance() or QCoreApplication([])  # signals need one
    text, other = texts["median"], texts["short"]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "forllm_data.db"
        subprocess.run(
            [sys.executable, str(ROOT / "tests" / "fixtures" / "make_forllm_db.py"), "--out", db],
            check=True,
            capture_output=True,
        )
        worker = WorkerThread()
        worker.set_paused(True)  # FORLLM's queued job must not run in between
        loop = QEventLoop()
        guard = QTimer()  # a run that never answers ends the wait, not the bench
        guard.setSingleShot(True)
        guard.timeout.connect(loop.quit)
        worker.ready.connect(loop.quit)
        worker.start(db, ModelSettings())
        loop.exec()
        state: dict = {}

        def text_arrived(rewrite_id: int, _index: int, _text: str) -> None:
            if rewrite_id != state.get("id"):
                return
            state["pieces"] += 1
            if state["pieces"] == state["model_piece"]:
                state["first"] = time.perf_counter() - state["started"]
                worker.stop_rewrite(rewrite_id)

        worker.rewriteText.connect(text_arrived)
        worker.rewriteFinished.connect(lambda _outcome: loop.quit())
        worker.prefillFinished.connect(lambda _done: loop.quit())

        def rewrite(of: str, seed: int) -> tuple[float, int]:
            request = SectionRewriteRequest(of, SECTION, model_id=DEFAULT_MODEL_ID, seed=seed)
            opening = section_rewrite._opening(section_rewrite._setting(request), request)
            state.update(
                id=request.rewrite_id, pieces=0, model_piece=2 if opening else 1, first=None
            )
            outcome: list = []
            worker.rewriteFinished.connect(outcome.append)
            state["started"] = time.perf_counter()
            worker.rewrite(request)
            guard.start(120_000)
            loop.exec()
            worker.rewriteFinished.disconnect(outcome.append)
            return state["first"], outcome[0].prefix_evaluated if outcome else -1

        rewrite(other, SEED)  # loads the model: not counted
        samples: dict[str, list[tuple[float, int]]] = {"cold": [], "warm": []}
        for number in range(rounds):
            rewrite(other, SEED)  # another persona's prefix in the cache
            samples["cold"].append(rewrite(text, SEED + number))
            rewrite(other, SEED)
            worker.prefill(text, DEFAULT_MODEL_ID)
            guard.start(120_000)
            loop.exec()
            samples["warm"].append(rewrite(text, SEED + number))
        worker.stop()
    return {
        mode: {
            "click_to_first_model_text_s": statistics.median(s[0] for s in runs),
            "prefix_evaluated": statistics.median(s[1] for s in runs),
        }
        for mode, runs in samples.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pool = BackendPool()
    try:
        backend = pool.get(DEFAULT_MODEL_ID)
        texts = personas(backend)
        engine = engine_figures(backend, texts, args.rounds)
    finally:
        pool.close()
    window = window_path_figures(texts, args.rounds)
    result = {
        "model": DEFAULT_MODEL_ID,
        "section": SECTION,
        "rounds": args.rounds,
        "engine": engine,
        "window_path": window,
    }
    print(
        f"rewrite of '{SECTION}', {args.rounds} rounds, medians; first model text after the click"
    )
    print(f"{'persona':>8} {'tokens':>6} {'prefix':>6} {'cold':>8} {'warm':>8} {'prefill':>8}")
    for name, entry in engine.items():
        print(
            f"{name:>8} {entry['persona_tokens']:>6} {entry['prefix_tokens']:>6} "
            f"{entry['cold']['first_model_text_s'] * 1000:>6.0f}ms "
            f"{entry['warm']['first_model_text_s'] * 1000:>6.0f}ms "
            f"{entry['prefill_s'] * 1000:>6.0f}ms"
            f"   ({entry['first_text_speedup']:.1f}x; prefix cold in one batch "
            f"{entry['prefix_one_batch_s'] * 1000:.0f} ms, in 64-token chunks "
            f"{entry['prefix_chunks_s'] * 1000:.0f} ms)"
        )
    print(
        "window path (median persona): click -> first model text "
        f"cold {window['cold']['click_to_first_model_text_s'] * 1000:.0f} ms, "
        f"warm {window['warm']['click_to_first_model_text_s'] * 1000:.0f} ms"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rewrite_latency.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
