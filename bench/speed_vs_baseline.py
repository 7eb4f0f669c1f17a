"""Seconds per persona: this pipeline against an earlier version of it, side by side.

Issue 11 bounds what the quality work may cost: a default persona on the embedded model in
at most twice the time of the pipeline before it. This runs the same requests through both,
alternating (old, new, old, new ...) so a busy moment of this noisy machine falls on both,
each in a fresh process that loads the model before the clock starts, and prints the median
seconds per persona of each and their ratio.

    git worktree add --detach ../baseline <commit>
    .venv/bin/python bench/speed_vs_baseline.py --baseline-src ../baseline [--rounds 2]

Figures go to bench/results/speed_vs_baseline.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

# Default settings (no tone, no length), one of each type with and without a name: what a
# new user asks for.
REQUESTS = [
    ("from_name_and_description", {"description_hint": "a patient sourdough baker who explains fermentation to beginners"}),
    ("from_name_and_description", {"name_hint": "Captain Nemo", "description_hint": "Brooding submarine captain and engineer"}),
    ("subforum_expert", {"subforum_name": "Home Lab", "subforum_description": "Servers, NAS boxes and networking at home", "additional_directives": "Focus on ZFS and backups."}),
    ("subforum_expert", {"subforum_name": "Aquascaping", "subforum_description": "Planted aquariums, hardscape and fish"}),
    ("general_purpose_assistant", {}),
    ("general_purpose_assistant", {"description_hint": "Patient tutor for teenagers"}),
]  # fmt: skip

# Runs in the child: the persona_studio on sys.path first is the version measured.
CHILD = """
import json, sys, time
from persona_studio.engine.factory import build_pipeline
from persona_studio.engine.pipeline import PipelineConfig
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.llm.catalog import DEFAULT_MODEL_ID
gtype, details, seed = json.loads(sys.argv[1])
pipeline, pool = build_pipeline(config=PipelineConfig(seed=seed))
pool.get(DEFAULT_MODEL_ID)  # load before the clock starts
request = PersonaGenerationRequest.create(gtype, details, llm_model_for_generation=DEFAULT_MODEL_ID)
started = time.perf_counter()
result = pipeline.run(request)
print(json.dumps({"seconds": time.perf_counter() - started, "ok": result.ok}))
"""


def run(src: Path, request: tuple[str, dict], seed: int) -> float | None:
    """Seconds for one persona in a fresh process, or None when the pipeline failed it."""
    env = dict(os.environ, PYTHONPATH=str(src))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps([*request, seed])],
        env=env,
        cwd=src,
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["seconds"] if data["ok"] else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline-src", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"baseline": [], "current": []}
    pairs: list[float] = []
    failed: list[str] = []  # "baseline: subforum_expert #4": a pair that cannot be compared
    for round_ in range(args.rounds):
        for index, request in enumerate(REQUESTS):
            seed = args.seed + round_ * 100 + index
            old = run(args.baseline_src.resolve(), request, seed)
            new = run(ROOT, request, seed)
            if old is None or new is None:
                side = "baseline" if old is None else "current"
                failed.append(f"{side}: {request[0]} #{index + 1}")
                print(f"{request[0]:28s} failed in the {side} version; pair skipped",
                      file=sys.stderr)  # fmt: skip
                continue
            times["baseline"].append(old)
            times["current"].append(new)
            pairs.append(new / old)
            print(f"{request[0]:28s} baseline {old:5.1f}s  current {new:5.1f}s  x{new / old:.2f}",
                  file=sys.stderr)  # fmt: skip
    if not pairs:
        print(f"no persona succeeded in both versions: {failed}", file=sys.stderr)
        return 1
    figures = {
        "baseline_median_s": round(statistics.median(times["baseline"]), 2),
        "current_median_s": round(statistics.median(times["current"]), 2),
        "ratio_of_medians": round(
            statistics.median(times["current"]) / statistics.median(times["baseline"]), 3
        ),
        "median_paired_ratio": round(statistics.median(pairs), 3),
        "paired_ratios": [round(r, 3) for r in pairs],
        "runs": len(pairs),
        "failed": failed,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "speed_vs_baseline.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
