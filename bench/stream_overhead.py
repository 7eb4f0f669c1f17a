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

Runs alternate (app, bare, then bare, app in the next round) so machine noise hits both.
Rounds are added until, for each pair, the median of the paired ratios and the ratio of the
medians agree within 0.03 (bench/rounds.py): three rounds once gave 0.983 beside medians
whose ratio was 0.87. Both figures are printed with their spread. Every run starts from an
empty KV cache, so each pays its prompt evaluation once.

    flock /tmp/ps-model.lock .venv/bin/python bench/stream_overhead.py \
        [--min-rounds 5] [--max-rounds 30] [--tokens 200]

Prints figures, writes bench/results/stream_overhead.json, and prints a JSON line last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from rounds import PairedRatio, enough, spread

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
    parser.add_argument("--min-rounds", type=int, default=5)
    parser.add_argument("--max-rounds", type=int, default=30)
    parser.add_argument("--tokens", type=int, default=200)
    args = parser.parse_args()

    pipeline, pool = build_pipeline(config=PipelineConfig(seed=7))
    backend = pool.get(DEFAULT_MODEL_ID)
    llama = backend.llama
    prompt = backend.chat_tokens(MESSAGES)
    print(f"model: {backend.model_path.name}, threads {backend.n_threads}", file=sys.stderr)

    app: list[float] = []
    bare: list[float] = []
    while True:
        if len(app) % 2 == 0:
            tps, n = app_stream(backend, args.tokens)
            app.append(tps)
            bare.append(bare_loop(llama, prompt, n))
        else:
            bare_first = bare_loop(llama, prompt, args.tokens)
            tps, n = app_stream(backend, args.tokens)
            app.append(tps)
            bare.append(bare_first if n == args.tokens else bare_loop(llama, prompt, n))
        print(
            f"  stream: app {app[-1]:6.1f} tok/s  bare {bare[-1]:6.1f} tok/s  ({n} tokens)",
            file=sys.stderr,
        )
        if enough(
            [PairedRatio(tuple(app), tuple(bare))], len(app), args.min_rounds, args.max_rounds
        ):
            break
    stream_pair = PairedRatio(tuple(app), tuple(bare))
    print(f"stream: app {spread(app)}  bare {spread(bare)} tok/s", file=sys.stderr)
    print(f"  app/bare: {stream_pair.describe()}", file=sys.stderr)

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
    constrained: list[float] = []
    free: list[float] = []
    gbnf: list[float] = []
    while True:
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
        pairs = [
            PairedRatio(tuple(constrained), tuple(free)),
            PairedRatio(tuple(gbnf), tuple(free)),
        ]
        if enough(pairs, len(free), args.min_rounds, args.max_rounds):
            break
    pool.close()
    constrained_pair, gbnf_pair = pairs
    print(
        f"refinement: structured {spread(constrained)}  free {spread(free)}  gbnf "
        f"{spread(gbnf)} tok/s",
        file=sys.stderr,
    )
    print(f"  structured/free: {constrained_pair.describe()}", file=sys.stderr)
    print(f"  gbnf/free: {gbnf_pair.describe()}", file=sys.stderr)

    figures = {
        "app_tps": round(statistics.median(app), 2),
        "bare_tps": round(statistics.median(bare), 2),
        # The median of the paired ratios; "ratio_of_medians" beside it agrees within 0.03
        # (or the rounds ran out, which "agree" says).
        "ratio": round(stream_pair.median_of_ratios, 3),
        "ratio_of_medians": round(stream_pair.ratio_of_medians, 3),
        "ratio_detail": stream_pair.to_dict(),
        "constrained_tps": round(statistics.median(constrained), 2),
        "unconstrained_tps": round(statistics.median(free), 2),
        "constrained_ratio": round(constrained_pair.median_of_ratios, 3),
        "constrained_ratio_of_medians": round(constrained_pair.ratio_of_medians, 3),
        "constrained_detail": constrained_pair.to_dict(),
        "gbnf_ratio": round(gbnf_pair.median_of_ratios, 3),
        "gbnf_ratio_of_medians": round(gbnf_pair.ratio_of_medians, 3),
        "gbnf_detail": gbnf_pair.to_dict(),
        "agree": all(p.agrees() for p in (stream_pair, constrained_pair, gbnf_pair)),
        "threads": backend.threads_now,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stream_overhead.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
