"""Speed of the app's pipeline on a busy machine: the chosen thread default against today's.

Conditions, each with its competitors started once and kept running while it is measured:

- quiet: nothing else;
- busy loop: one CPU-bound process (a Python ``while True``);
- llama.cpp: one other llama.cpp generation of the same model, with one thread per core
  (what a second Persona Studio, or FORLLM's Ollama, does);
- two: the busy loop and the llama.cpp generation together.

Configurations, loaded side by side in this process and measured alternately within each
round (A, B, then B, A in the next round), so that noise hits both:

- today: one thread per core, fixed (the default before issue 15);
- chosen: the default now, ``ThreadGovernor`` (one thread per core while quiet, one thread
  while the machine is busy; see persona_studio/llm/threads.py).

Each measurement runs the app's pipeline (expansion then refinement, with every stage's
prompt evaluation) on one persona and stops after ``--tokens`` generated tokens or
``--seconds``, whichever comes first; the figure is tokens generated per second of the run.
Rounds are added until, for every condition, the median of the paired chosen/today ratios
and the ratio of the medians agree within 0.03 (bench/rounds.py), between ``--min-rounds``
and ``--max-rounds``. Targets: with one competitor, chosen >= 0.5x its quiet speed; quiet,
chosen >= 0.85x today's.

    flock /tmp/ps-model.lock .venv/bin/python bench/contention.py [--conditions quiet,busy]

The flock keeps other model processes (another engineer's benchmark, the test suite) from
adding contention nobody asked for; this script starts its own competitors.

Competitors run in sessions of their own by default, as other programs on a desktop do
(``--same-session`` for the harsher case where the scheduler counts threads).

Prints figures and writes bench/results/contention.json (contention_same_session.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rounds import PairedRatio, enough, spread

from persona_studio.core.events import JobTally, PipelineEvent, TextWritten
from persona_studio.engine.factory import build_pipeline
from persona_studio.engine.pipeline import PipelineConfig
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.llm.base import CancelToken
from persona_studio.llm.catalog import (
    DEFAULT_MODEL_ID,
    BackendPool,
    ModelSettings,
    packaged_model_path,
)
from persona_studio.llm.threads import default_threads

RESULTS = Path(__file__).resolve().parent / "results"
CONDITIONS = {
    "quiet": (),
    "busy loop": ("busy",),
    "llama.cpp": ("llama",),
    "two": ("busy", "llama"),
}
# A second llama.cpp generation, for ever: what another model process on the machine does.
LLAMA_COMPETITOR = """
import os, sys
from llama_cpp import Llama
threads = int(sys.argv[2])
llm = Llama(model_path=sys.argv[1], n_threads=threads, n_threads_batch=threads, n_ctx=2048,
            verbose=False)
prompt = llm.tokenize(b"<|im_start|>user\\nTell me a long story about the sea.<|im_end|>\\n"
                      b"<|im_start|>assistant\\n", special=True)
print("ready", flush=True)
while True:
    llm.reset()
    for i, _ in enumerate(llm.generate(prompt, temp=0.8, top_k=40)):
        if i >= 300:
            break
"""


def start_competitor(kind: str, own_session: bool) -> subprocess.Popen:
    """``own_session``: in a session of its own, as a browser, Ollama's service or another
    window is: Linux's scheduler (autogroup, cgroups) then shares the processor between
    sessions, not between threads. Without it the competitor shares this session, and every
    thread counts alike: the harsher case."""
    if kind == "busy":
        return subprocess.Popen(
            [sys.executable, "-c", "while True: pass"], start_new_session=own_session
        )
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            LLAMA_COMPETITOR,
            str(packaged_model_path()),
            str(os.cpu_count() or 2),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=own_session,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def request() -> PersonaGenerationRequest:
    return PersonaGenerationRequest.create(
        "from_name_and_description",
        {
            "name_hint": "Captain Nemo",
            "description_hint": "Brooding submarine captain, brilliant engineer.",
        },
        {"length_preference": "concise"},
        llm_model_for_generation=DEFAULT_MODEL_ID,
    )


def measure(pipeline, tokens: int, seconds: float) -> float:
    """Tokens/s of one pipeline run, stopped after ``tokens`` tokens or ``seconds``."""
    tally = JobTally()
    cancel = CancelToken()
    started = time.perf_counter()

    def on_event(event: PipelineEvent) -> None:
        if isinstance(tally.add(event), TextWritten) and (
            tally.tokens >= tokens or time.perf_counter() - started > seconds
        ):
            cancel.cancel()

    pipeline.run(request(), on_event=on_event, cancel=cancel)
    elapsed = time.perf_counter() - started
    return tally.tokens / elapsed if elapsed > 0 else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--min-rounds", type=int, default=5)
    parser.add_argument("--max-rounds", type=int, default=15)
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument(
        "--same-session",
        action="store_true",
        help="run the competitors in this session (the scheduler then counts threads, not "
        "programs): the harsher case",
    )
    args = parser.parse_args()
    wanted = [c.strip() for c in args.conditions.split(",") if c.strip()]

    full = default_threads()
    today_pipeline, today_pool = build_pipeline(
        pool=BackendPool(ModelSettings(threads=full)), config=PipelineConfig(seed=3)
    )
    chosen_pipeline, chosen_pool = build_pipeline(config=PipelineConfig(seed=3))
    today_pool.get(DEFAULT_MODEL_ID)
    # Two pools would share one model file but not one llama.cpp context: each keeps its own.
    chosen_backend = chosen_pool.get(DEFAULT_MODEL_ID)
    assert chosen_backend.governor is not None, "PERSONA_STUDIO_THREADS is set: unset it"
    print(
        f"{os.cpu_count()} cores; today: {full} threads fixed; chosen: governed; competitors "
        f"in {'this session' if args.same_session else 'their own sessions'}",
        flush=True,
    )

    figures: dict[str, dict] = {}
    for name in wanted:
        competitors = [start_competitor(kind, not args.same_session) for kind in CONDITIONS[name]]
        time.sleep(2.0 if competitors else 0.0)
        today: list[float] = []
        chosen: list[float] = []
        try:
            rounds = 0
            while True:
                order = [("today", today_pipeline), ("chosen", chosen_pipeline)]
                if rounds % 2:
                    order.reverse()
                for label, pipeline in order:
                    rate = measure(pipeline, args.tokens, args.seconds)
                    (today if label == "today" else chosen).append(rate)
                rounds += 1
                pair = PairedRatio(tuple(chosen), tuple(today))
                print(
                    f"  {name}: round {rounds}: today {today[-1]:6.1f}  chosen "
                    f"{chosen[-1]:6.1f} tok/s  (chosen at {chosen_backend.threads_now} "
                    "threads now)",
                    flush=True,
                )
                if enough([pair], rounds, args.min_rounds, args.max_rounds):
                    break
        finally:
            for process in competitors:
                process.kill()
                process.wait()
        figures[name] = {
            "today_tps": round(statistics.median(today), 2),
            "chosen_tps": round(statistics.median(chosen), 2),
            "today_runs": [round(x, 2) for x in today],
            "chosen_runs": [round(x, 2) for x in chosen],
            "chosen_over_today": PairedRatio(tuple(chosen), tuple(today)).to_dict(),
        }
        print(
            f"{name:10s} today {spread(today)}  chosen {spread(chosen)} tok/s\n"
            f"{'':10s} chosen/today: {PairedRatio(tuple(chosen), tuple(today)).describe()}",
            flush=True,
        )
    today_pool.close()
    chosen_pool.close()

    if "quiet" in figures:
        quiet = figures["quiet"]
        for row in figures.values():
            # Different conditions run at different times: no pairing, a ratio of medians.
            row["today_vs_quiet"] = round(row["today_tps"] / quiet["today_tps"], 3)
            row["chosen_vs_quiet"] = round(row["chosen_tps"] / quiet["chosen_tps"], 3)
        verdicts = {
            "quiet: chosen >= 0.85x today": quiet["chosen_over_today"]["median_of_ratios"] >= 0.85,
            **{
                f"{name}: chosen >= 0.5x its quiet": figures[name]["chosen_vs_quiet"] >= 0.5
                for name in ("busy loop", "llama.cpp")
                if name in figures
            },
        }
        figures["targets"] = verdicts
        print(
            "\nvs quiet (ratio of medians): "
            + ", ".join(
                f"{n}: today {r['today_vs_quiet']:.2f} chosen {r['chosen_vs_quiet']:.2f}"
                for n, r in figures.items()
                if n != "targets"
            )
        )
        for target, met in verdicts.items():
            print(f"  {'met' if met else 'MISSED'}: {target}")
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "cores": os.cpu_count(),
        "threads_full": full,
        "competitors": "same session" if args.same_session else "own sessions",
        "tokens": args.tokens,
        "seconds": args.seconds,
        **figures,
    }
    name = "contention_same_session.json" if args.same_session else "contention.json"
    (RESULTS / name).write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
