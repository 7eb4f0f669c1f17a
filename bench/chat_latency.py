"""Try it: how soon a persona starts answering, and what keeping the KV cache buys.

1. engine: a three-turn conversation (the three probe questions) with a generated persona
   on the default model. For each turn, the time to the first piece of the reply and the
   reply's tokens/s, with the KV cache kept between turns as the app does (llama.cpp then
   evaluates only the new turn) against a cache reset before every turn (the persona and
   the whole history evaluated again). Rounds alternate kept/reset; medians are reported.
2. window_path: the first question asked through WorkerThread.ask (the panel's path: a
   queue, a signal to the worker thread, replies batched every ~30 ms back to the GUI
   thread), model already loaded, from ask() to the first chatText signal and to
   chatFinished; next to it the engine's own time to first piece for the same request in
   the same state, so the difference is the cost of the thread hop and the batching.

    .venv/bin/python bench/chat_latency.py [--rounds 3]

Prints figures, writes bench/results/chat_latency.json, and prints a JSON line last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from persona_studio.engine.chat import CHAT_PARAMS, ChatRequest, answer, probes
from persona_studio.llm.catalog import DEFAULT_MODEL_ID, BackendPool

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# A persona the default model wrote (bench/results/quality_personas.md), 8 sections.
PERSONA = """## Persona Name: Captain Nemo
## Core Identity:
You are Captain Nemo, a brilliant and enigmatic submarine captain who defies the conventions
of his time. You built the Nautilus with your own hands and you trust the sea more than any
government on land.
## Key Personality Traits:
- Brooding, proud and fiercely independent.
- Generous to those who share your love of the ocean.
- Slow to trust, quick to judge.
## Knowledge Domain & Expertise:
You know a great deal about marine biology, naval engineering and the history of the seas.
## Speaking Style & Tone:
Speak in a grave, measured tone, with old-fashioned courtesy and few words.
## Interaction Guidelines & Behaviors:
- Answer as Nemo, in the first person, never as an assistant.
- Share stories of the deep when asked about the sea.
## Forbidden Actions & Topics:
- Never talk about your life on land before the Nautilus.
- Never reveal the Nautilus's secret harbour.
## Example Phrases:
- "The sea does not belong to tyrants."
- "Below the surface, there is peace."
"""
SEED = 7


def timed_answer(backend, request: ChatRequest):
    """The reply and the seconds until its first piece."""
    first: list[float] = []
    started = time.perf_counter()

    def on_text(*_args) -> None:
        if not first:
            first.append(time.perf_counter() - started)

    reply = answer(backend, request, on_text)
    if reply.error or not first:
        raise SystemExit(f"the model did not answer: {reply.error}")
    return reply, first[0]


def conversation(backend, *, keep_cache: bool) -> list[dict]:
    """Ask the three probes in one conversation; per turn: time to first piece, tok/s."""
    history: list[dict[str, str]] = []
    turns = []
    for number, question in enumerate(probes(PERSONA)):
        if not keep_cache:
            backend.llama.reset()
        history.append({"role": "user", "content": question})
        request = ChatRequest(
            number,
            DEFAULT_MODEL_ID,
            PERSONA,
            tuple(history),
            replace(CHAT_PARAMS, seed=SEED + number, max_tokens=120),
        )
        reply, first = timed_answer(backend, request)
        history.append({"role": "assistant", "content": reply.text})
        generating = reply.seconds - first
        turns.append(
            {
                "first_piece_s": first,
                "tokens": reply.tokens,
                "tokens_per_s": (reply.tokens - 1) / generating if generating > 0 else 0.0,
            }
        )
    return turns


def engine_figures(backend, rounds: int) -> dict:
    runs: dict[str, list[list[dict]]] = {"kept": [], "reset": []}
    conversation(backend, keep_cache=True)  # warm-up: page the model in
    for _ in range(rounds):
        for mode in ("kept", "reset"):
            backend.llama.reset()  # each conversation starts cold
            runs[mode].append(conversation(backend, keep_cache=mode == "kept"))
    figures: dict = {}
    for mode, conversations in runs.items():
        figures[mode] = [
            {
                "turn": turn + 1,
                "first_piece_s": statistics.median(c[turn]["first_piece_s"] for c in conversations),
                "tokens_per_s": statistics.median(c[turn]["tokens_per_s"] for c in conversations),
            }
            for turn in range(3)
        ]
    for turn in range(1, 3):
        kept = figures["kept"][turn]["first_piece_s"]
        reset = figures["reset"][turn]["first_piece_s"]
        figures[f"turn{turn + 1}_first_piece_speedup"] = reset / kept if kept else 0.0
    return figures


def window_path_figures(backend, rounds: int) -> dict:
    """ask() -> first chatText / chatFinished through the real WorkerThread."""
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from persona_studio.llm.catalog import ModelSettings
    from persona_studio.ui.worker_thread import WorkerThread

    _app = QCoreApplication.instance() or QCoreApplication([])  # signals need one
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
        worker.ready.connect(loop.quit)
        worker.start(db, ModelSettings())
        loop.exec()
        question = ({"role": "user", "content": probes(PERSONA)[0]},)
        params = replace(CHAT_PARAMS, seed=SEED, max_tokens=60)
        first_text: list[float] = []
        finished: list[float] = []
        started = [0.0]
        worker.chatText.connect(
            lambda *_: (
                first_text.append(time.perf_counter() - started[0])
                if len(first_text) < len(finished) + 1
                else None
            )
        )

        def done(_reply) -> None:
            finished.append(time.perf_counter() - started[0])
            loop.quit()

        worker.chatFinished.connect(done)
        samples_thread, samples_engine = [], []
        for number in range(rounds + 1):  # the first loads the model: not counted
            started[0] = time.perf_counter()
            worker.ask(ChatRequest(100 + number, DEFAULT_MODEL_ID, PERSONA, question, params))
            QTimer.singleShot(120_000, loop.quit)
            loop.exec()
            # The engine alone, same request, same state (its cache holding this prompt
            # from the round before, as the worker's does).
            _, engine_first = timed_answer(
                backend, ChatRequest(200 + number, DEFAULT_MODEL_ID, PERSONA, question, params)
            )
            if number > 0:
                samples_thread.append((first_text[-1], finished[-1]))
                samples_engine.append(engine_first)
        worker.stop()
    return {
        "ask_to_first_text_s": statistics.median(s[0] for s in samples_thread),
        "ask_to_finished_s": statistics.median(s[1] for s in samples_thread),
        "engine_first_piece_s": statistics.median(samples_engine),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pool = BackendPool()
    try:
        backend = pool.get(DEFAULT_MODEL_ID)
        persona_tokens = backend.count_tokens(PERSONA)
        engine = engine_figures(backend, args.rounds)
        window = window_path_figures(backend, args.rounds)
    finally:
        pool.close()
    result = {
        "model": DEFAULT_MODEL_ID,
        "persona_tokens": persona_tokens,
        "rounds": args.rounds,
        "engine": engine,
        "window_path": window,
    }
    print(f"persona: {persona_tokens} tokens; {args.rounds} rounds, medians")
    for mode in ("kept", "reset"):
        for turn in engine[mode]:
            print(
                f"  cache {mode:5} turn {turn['turn']}: first piece "
                f"{turn['first_piece_s'] * 1000:6.0f} ms, {turn['tokens_per_s']:5.1f} tok/s"
            )
    for turn in (2, 3):
        print(
            f"  turn {turn}: keeping the cache starts the reply "
            f"{engine[f'turn{turn}_first_piece_speedup']:.2f}x sooner"
        )
    print(
        f"window path: ask -> first text {window['ask_to_first_text_s'] * 1000:.0f} ms "
        f"(engine alone {window['engine_first_piece_s'] * 1000:.0f} ms), "
        f"ask -> finished {window['ask_to_finished_s']:.2f} s"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "chat_latency.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
