"""How fast the store's views are on a large FORLLM database.

Builds, in a temporary folder, a file the way FORLLM makes one (tests/fixtures/
make_forllm_db.py, FORLLM's verbatim schema), fills it as years of FORLLM use might (10,000
personas of ~2 KB, some inactive, every generation_source; 100,000 llm_requests: respond
jobs with stored prompts and generate_persona jobs in every status), opens it through Store
(migration + backup included) and times what the window does most:

- list_personas:   first page of the persona list (200 rows by name) + the total count
- filter_personas: the same with a search text and a source filter
- queue_rows:      the rows the queue view loads (200 generate_persona jobs: the waiting
                   ones, then the newest finished)
- queue_history:   a page of finished jobs only (reported in the JSON file)

Each figure is the median of several runs after a warm-up. Prints a table, writes
bench/results/store_scale.json; the LAST line of stdout is a JSON object with
list_personas_ms, filter_personas_ms and queue_rows_ms (target: < 100 each).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from persona_studio.engine.headings import DEFAULT_HEADINGS  # noqa: E402
from persona_studio.store import Store  # noqa: E402

MAKE_FORLLM_DB = REPO / "tests" / "fixtures" / "make_forllm_db.py"
RESULTS = REPO / "bench" / "results" / "store_scale.json"
TARGET_MS = 100.0
PAGE = 200
SEARCH = "astronomy"  # appears in about 5% of the personas' texts
VOCABULARY = (
    "patient practical curious meticulous witty gentle blunt cheerful stoic skeptical warm "
    "network garden history music cooking finance chess poetry sailing robotics medicine law "
    "explain answer cite ask summarize compare question suggest refuse clarify encourage "
    "briefly carefully plainly kindly directly thoroughly calmly with examples step by step"
)
WORDS = VOCABULARY.split()
SECTIONS = DEFAULT_HEADINGS[1:]
SOURCES = (
    None,  # FORLLM's create_persona
    "user_manual",
    "llm_generated_from_name_and_description",
    "llm_generated_subforum_expert",
    "imported",
)


def _text(rng: random.Random, name: str) -> str:
    parts = [
        f"Always respond as {name}, using the style, tone and personality explained below."
        f"\n\n---\n\n## Persona Name: {name}"
    ]
    for section in SECTIONS:
        body = " ".join(rng.choices(WORDS, k=42))
        parts.append(f"## {section}:\n{body.capitalize()}.")
    if rng.random() < 0.05:
        parts.append(f"Loves {SEARCH} and stargazing.")
    return "\n".join(parts)


def _stamp(base: datetime, seconds: float) -> str:
    return (base + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


def build(path: Path, personas: int, requests: int, seed: int = 7) -> None:
    subprocess.run(
        [sys.executable, str(MAKE_FORLLM_DB), "--with-extras", "--out", str(path)],
        check=True,
        capture_output=True,
    )
    rng = random.Random(seed)
    base = datetime(2024, 1, 1)
    conn = sqlite3.connect(path)
    rows = []
    for i in range(personas):
        name = f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS).capitalize()} {i}"
        source = rng.choice(SOURCES)
        details = (
            json.dumps({"name_hint": name, "description_hint": " ".join(rng.choices(WORDS, k=12))})
            if source and source.startswith("llm_generated")
            else None
        )
        when = _stamp(base, i * 3000)
        rows.append((name, _text(rng, name), when, when, 1, 1, rng.random() > 0.1, source, details))
    conn.executemany(
        "INSERT INTO personas (name, prompt_instructions, created_at, updated_at, "
        "created_by_user, version, is_active, generation_source, generation_input_details) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.executemany(
        "INSERT INTO persona_versions (persona_id, name, prompt_instructions, updated_at, "
        "updated_by_user, version) SELECT persona_id, name, prompt_instructions, updated_at, 1, 1 "
        "FROM personas WHERE persona_id > ?",
        [(3,)],
    )
    prompt = "\n".join(" ".join(rng.choices(WORDS, k=20)) for _ in range(8))  # ~1 KB stored
    requests_rows = []
    for i in range(requests):
        when = _stamp(base, i * 300)
        if rng.random() < 0.7:
            status = rng.choices(["complete", "error", "pending"], [90, 9, 1])[0]
            kind = rng.choice([None, None, "respond_to_post_tag"])
            requests_rows.append((1, when, status, "llama3", "3", when, None, prompt, kind, None))
        else:
            # A few dozen waiting: the first page shows them and then the newest finished.
            status = rng.choices(["complete", "error", "pending"], [80, 19.8, 0.2])[0]
            params = json.dumps(
                {
                    "generation_type": "from_name_and_description",
                    "input_details": {
                        "name_hint": f"Persona {i}",
                        "description_hint": prompt[:200],
                    },
                    "output_preferences": {"length": "concise"},
                    "llm_model_for_generation": "llama3",
                    "target_persona_name_override": "",
                }
            )
            message = "Generation timed out." if status == "error" else None
            requests_rows.append(
                (
                    None,
                    when,
                    status,
                    "llama3",
                    None,
                    when,
                    message,
                    None,
                    "generate_persona",
                    params,
                )
            )
    conn.executemany(
        "INSERT INTO llm_requests (post_id_to_respond_to, requested_at, status, llm_model, "
        "llm_persona, processed_at, error_message, full_prompt_sent, request_type, "
        "request_params) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        requests_rows,
    )
    conn.commit()
    conn.close()


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 2) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--personas", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "forllm_data.db"
        began = time.perf_counter()
        build(path, args.personas, args.requests)
        build_s = time.perf_counter() - began
        size_mb = path.stat().st_size / 1e6

        began = time.perf_counter()
        store = Store.open(path)
        open_s = time.perf_counter() - began  # backup + migrations on an existing file
        began = time.perf_counter()
        Store.open(path).close()
        reopen_ms = (time.perf_counter() - began) * 1000

        def list_personas() -> None:
            assert len(store.personas.list(order_by="name", limit=PAGE)) == PAGE
            store.personas.count()

        def filter_personas() -> None:
            store.personas.list(search=SEARCH, source="llm_generated", limit=PAGE)
            store.personas.count(search=SEARCH, source="llm_generated")

        def queue_rows() -> None:
            assert len(store.queue.list(limit=PAGE)) == PAGE

        def queue_history() -> None:
            assert len(store.queue.list(statuses=["complete", "error"], limit=PAGE)) == PAGE

        figures = {}
        samples = {}
        for name, fn in (
            ("list_personas_ms", list_personas),
            ("filter_personas_ms", filter_personas),
            ("queue_rows_ms", queue_rows),
            ("queue_history_ms", queue_history),
        ):
            figures[name], samples[name] = median_ms(fn, args.runs)
        matches = store.personas.count(search=SEARCH, source="llm_generated")
        waiting = len(store.queue.list(statuses=["pending", "processing"]))
        store.close()

    result = {
        **{k: round(v, 2) for k, v in figures.items()},
        "target_ms": TARGET_MS,
        "all_under_target": all(v < TARGET_MS for v in figures.values()),
        "personas": args.personas,
        "llm_requests": args.requests,
        "page_rows": PAGE,
        "filter_matches": matches,
        "waiting_jobs_on_first_page": waiting,
        "runs": args.runs,
        "samples_ms": {k: [round(x, 2) for x in v] for k, v in samples.items()},
        "file_mb": round(size_mb, 1),
        "build_s": round(build_s, 1),
        "first_open_s": round(open_s, 2),
        "reopen_ms": round(reopen_ms, 1),
        "sqlite": sqlite3.sqlite_version,
        "python": platform.python_version(),
        "machine": platform.platform(),
    }
    print(f"database: {args.personas} personas, {args.requests} llm_requests, {size_mb:.0f} MB")
    print(f"first open (backup + migrations): {open_s:.2f} s; reopen: {reopen_ms:.0f} ms")
    for name, value in figures.items():
        print(f"{name:20s} median {value:7.2f} ms  (target < {TARGET_MS:.0f})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO)}")
    print(
        json.dumps(
            {k: result[k] for k in ("list_personas_ms", "filter_personas_ms", "queue_rows_ms")}
        )
    )


if __name__ == "__main__":
    main()
