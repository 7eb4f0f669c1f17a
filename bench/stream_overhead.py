"""Streaming overhead and the cost of the structure guarantee, measured side by side.

1. app_tps vs bare_tps: the app's streaming path (EmbeddedBackend.stream_chat: chat template,
   our token loop with detokenizing, stop-string holdback, cancel and deadline checks) against
   a bare ``Llama.generate`` loop that only detokenizes, on the same model, prompt and number
   of tokens. Target: ratio >= 0.95.
2. constrained_ratio: the refinement stage with the structure guarantee (the pipeline writes
   each heading, the model fills each section, KV prefix reused) against a bare token loop
   over the same refinement prompt, producing a document of the same length in tokens with
   no structure work at all. Both count the whole document: with the guarantee, the headings
   are evaluated as a batch instead of sampled one token at a time. Target: >= 0.90.
3. For reference, gbnf_ratio: the same refinement constrained by a whole-document GBNF
   grammar built from the headings, the approach we did not take.

Runs alternate (app, bare, app, bare, ...) so machine noise hits both; medians are reported.
Every run starts from an empty KV cache, so each pays its prompt evaluation once.

    .venv/bin/python bench/stream_overhead.py [--rounds 3] [--tokens 200]

Prints figures, writes bench/results/stream_overhead.json, and prints a JSON line last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from persona_studio.engine.factory import build_pipeline
from persona_studio.engine.pipeline import PipelineConfig
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.llm.base import SamplingParams
from persona_studio.llm.catalog import DEFAULT_MODEL_ID

RESULTS = Path(__file__).resolve().parent / "results"

MESSAGES = [
    {"role": "system", "content": "You are a helpful, creative writing assistant."},
    {
        "role": "user",
        "content": "Brainstorm at length about an AI persona: Captain Nemo, a brooding "
        "submarine captain and brilliant engineer. Cover his past, his personality, what he "
        "knows, how he speaks, and what he refuses to discuss.",
    },
]
SAMPLING = dict(temp=0.7, top_p=0.9, top_k=40, min_p=0.05, repeat_penalty=1.1)


def bare_loop(llama, tokens: list[int], n: int) -> float:
    """Tokens/s of a bare generate loop: sample, detokenize, count. Nothing else."""
    llama.reset()
    started = time.perf_counter()
    count = 0
    for token in llama.generate(tokens, **SAMPLING):
        llama.detokenize([token])
        count += 1
        if count >= n:
            break
    return count / (time.perf_counter() - started)


def app_stream(backend, n: int) -> tuple[float, int]:
    backend.llama.reset()
    params = SamplingParams(
        max_tokens=n, temperature=0.7, top_p=0.9, top_k=40, min_p=0.05, repeat_penalty=1.1
    )
    started = time.perf_counter()
    cont = backend.continuation(backend.chat_tokens(MESSAGES), params)
    for _ in cont:
        pass
    return cont.n_generated / (time.perf_counter() - started), cont.n_generated


def gbnf_for(headings: tuple[str, ...]) -> str:
    """A whole-document grammar: every heading, in order, each with at least one line."""
    rules = [
        'root ::= "## Persona Name: " name "\\n\\n" '
        + " ".join(f's{i} "\\n\\n"' for i in range(1, len(headings)))
    ]
    rules.append("name ::= [A-Za-z] [A-Za-z .'-]{1,40}")
    for i, heading in enumerate(headings[1:], start=1):
        rules.append(f's{i} ::= "## {heading}:\\n" line (("\\n" line){{0,4}})')
    rules.append("line ::= [^#\\n] [^\\n]{4,300}")
    return "\n".join(rules)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=200)
    args = parser.parse_args()

    pipeline, pool = build_pipeline(config=PipelineConfig(seed=7))
    backend = pool.get(DEFAULT_MODEL_ID)
    llama = backend.llama
    prompt = backend.chat_tokens(MESSAGES)
    print(f"model: {backend.model_path.name}, threads {backend.n_threads}", file=sys.stderr)

    app, bare = [], []
    for _ in range(args.rounds):
        tps, n = app_stream(backend, args.tokens)
        app.append(tps)
        bare.append(bare_loop(llama, prompt, n))
        print(
            f"  stream: app {app[-1]:6.1f} tok/s  bare {bare[-1]:6.1f} tok/s  ({n} tokens)",
            file=sys.stderr,
        )

    request = PersonaGenerationRequest.create(
        "from_name_and_description",
        {
            "name_hint": "Captain Nemo",
            "description_hint": "Brooding submarine captain, "
            "brilliant engineer, speaks in grand sentences.",
        },
        llm_model_for_generation=DEFAULT_MODEL_ID,
    )
    first = pipeline.run(request)
    if not first.ok:
        print(f"pipeline failed: {first.error_message}", file=sys.stderr)
        return 1
    refine_prompt = backend.chat_tokens(
        pipeline.refinement_messages(request, first.brainstorm, backend)
    )
    headings = request.output_preferences.headings
    from llama_cpp import LlamaGrammar

    grammar = LlamaGrammar.from_string(gbnf_for(headings), verbose=False)
    constrained, free, gbnf = [], [], []
    for _ in range(args.rounds):
        llama.reset()
        result = pipeline.run(request)
        stats = result.stages["refinement"]
        # The document's tokens: the model's and the headings the pipeline wrote itself. A
        # free run has to generate all of them, so both produce a document this long.
        document = stats.tokens + stats.own_tokens
        constrained.append(document / stats.seconds)
        free.append(bare_loop(llama, refine_prompt, document))
        llama.reset()
        started = time.perf_counter()
        count = 0
        for _token in llama.generate(refine_prompt, grammar=grammar, **SAMPLING):
            count += 1
            if count >= document:
                break
        gbnf.append(count / (time.perf_counter() - started))
        print(
            f"  refinement: structured {constrained[-1]:6.1f}  free {free[-1]:6.1f}  "
            f"gbnf {gbnf[-1]:6.1f} tok/s  ({stats.tokens} + {stats.own_tokens} tokens)",
            file=sys.stderr,
        )
    pool.close()

    figures = {
        "app_tps": round(statistics.median(app), 2),
        "bare_tps": round(statistics.median(bare), 2),
        "ratio": round(statistics.median(a / b for a, b in zip(app, bare, strict=True)), 3),
        "constrained_tps": round(statistics.median(constrained), 2),
        "unconstrained_tps": round(statistics.median(free), 2),
        "constrained_ratio": round(
            statistics.median(c / f for c, f in zip(constrained, free, strict=True)), 3
        ),
        "gbnf_ratio": round(statistics.median(g / f for g, f in zip(gbnf, free, strict=True)), 3),
        "rounds": args.rounds,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stream_overhead.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
