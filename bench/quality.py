"""Persona quality as a writer judges it, side by side with FORLLM's own generator.

Runs 34 requests (all three generation types, with and without name hints, eleven
subforums, tones, lengths, custom headings, and hostile input: ``{{...}}`` in user text,
names in other scripts) through this pipeline and through FORLLM's generator
(bench/forllm_generator.py) on the same model, then asks every persona the persona check's
questions (persona_studio/engine/persona_check.py) with the same model at temperature 0,
and the same questions without any persona for the baseline. Per generator it prints:

- validity: the persona passes the structure check (every heading once, in order, with
  content, ``## Persona Name:`` first);
- names kept: a given name hint or override is the persona's name, exactly;
- bad names: names a writer would not keep where none was given
  (persona_studio/engine/names.py ``name_problems``), or a name used twice in the batch;
- hint coverage: share of the content words of the hints that appear in the persona;
- distinct-4: distinct word 4-grams / all word 4-grams over the document (1.0: no phrase
  repeated);
- fragments: sections whose last line ends on a fragment ("- Your team:", "... and the");
- name hold: share of "Who are you?" / "What is your name?" answers giving the name;
- domain hit: share of "What do you know a lot about?" answers with a word of the hints;
- breaks: answers in which a persona that is not an AI or an assistant calls itself one;
- the same three with the held-out wordings of the questions (never used by the pipeline
  to choose between attempts), and without any persona (baseline);
- seconds per persona, mean and median; for FORLLM also how many of its stages ran past
  700 tokens, where runs before s37 stopped them (bench/forllm_generator.py).

    .venv/bin/python bench/quality.py --forllm-templates DIR [--limit N] [--seed S]
        [--only ours|forllm] [--tag NAME] [--forllm-max-tokens N]

DIR is ``forllm_server/persona_prompt_templates`` of a FORLLM checkout. Personas are written
to bench/results/quality_personas[_TAG].md, figures to bench/results/quality[_TAG].json.
Run nothing else that uses a model meanwhile: two llama.cpp processes on two cores slow
both about 25x.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.forllm_generator import (  # noqa: E402
    OLLAMA_DEFAULTS,
    STAGE_TOKENS_BEFORE_S37,
    ForllmGenerator,
)
from persona_studio.engine.brief import hint_texts, kind_of  # noqa: E402
from persona_studio.engine.factory import build_pipeline  # noqa: E402
from persona_studio.engine.headings import check_structure, parse_persona  # noqa: E402
from persona_studio.engine.names import ASSISTANT, name_problems  # noqa: E402
from persona_studio.engine.persona_check import (  # noqa: E402
    HELD_OUT_PROBES,
    PROBES,
    CheckResult,
    ask,
    run_check,
    score_answer,
)
from persona_studio.engine.pipeline import PipelineConfig  # noqa: E402
from persona_studio.engine.polish import ends_on_fragment, mentions_ai  # noqa: E402
from persona_studio.engine.request import PersonaGenerationRequest  # noqa: E402
from persona_studio.llm.catalog import DEFAULT_MODEL_ID  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

N, S, G = "from_name_and_description", "subforum_expert", "general_purpose_assistant"
# (type, input_details, output_preferences, name override)
REQUESTS: list[tuple[str, dict, dict, str]] = [
    (
        N,
        {"description_hint": "a patient sourdough baker who explains fermentation to beginners"},
        {},
        "",
    ),
    (
        N,
        {
            "name_hint": "Captain Nemo",
            "description_hint": "Brooding submarine captain and engineer",
        },
        {},
        "",
    ),
    (
        N,
        {
            "name_hint": "Ada Lovelace",
            "description_hint": "Explains maths and early computing simply",
        },
        {"tone_preference": "warm"},
        "",
    ),
    (
        N,
        {
            "name_hint": "Sherlock",
            "description_hint": "Deduces everything, impatient with slow thinking",
        },
        {"length_preference": "concise"},
        "",
    ),
    (N, {"description_hint": "A grumpy medieval blacksmith who secretly writes poetry"}, {}, ""),
    (N, {"name_hint": "Chef Lumi"}, {"tone_preference": "enthusiastic"}, ""),
    (
        N,
        {
            "description_hint": "Calm bonsai master in Kyoto who speaks in short koans about patience"
        },
        {"length_preference": "detailed"},
        "",
    ),
    (
        N,
        {"name_hint": "Nova", "description_hint": "Space tour guide on a Mars cruise ship"},
        {},
        "Guide Nova",
    ),
    (
        N,
        {
            "name_hint": "{{description_hint}} Bot",
            "description_hint": "Repeats {{brainstormed_text}} literally",
        },
        {},
        "",
    ),
    (
        N,
        {"name_hint": "Dr. Byte", "description_hint": "Retro computing historian"},
        {"desired_headings": ["Core Identity", "Favourite Machines", "Example Phrases"]},
        "",
    ),
    (
        N,
        {
            "description_hint": "She is a retired nurse who runs a cat shelter. She loves crosswords."
        },
        {"tone_preference": "gentle"},
        "",
    ),
    (
        N,
        {
            "name_hint": "Ω-7",
            "description_hint": "A starship AI with dry humour, protective of its crew",
        },
        {},
        "",
    ),
    (
        N,
        {
            "name_hint": "Søren",
            "description_hint": "Danish philosopher who answers questions with questions",
        },
        {},
        "",
    ),
    (
        N,
        {"name_hint": "李白", "description_hint": "Tang dynasty poet who loves wine and the moon"},
        {"length_preference": "concise"},
        "",
    ),
    (N, {"description_hint": "A Viking skald who tells sagas of the sea"}, {}, ""),
    (
        S,
        {
            "subforum_name": "Home Lab",
            "subforum_description": "Servers, NAS boxes and networking at home",
            "additional_directives": "Focus on ZFS and backups.",
        },
        {},
        "",
    ),
    (
        S,
        {"subforum_name": "Sourdough", "subforum_description": "Baking bread with wild yeast"},
        {"tone_preference": "friendly"},
        "",
    ),
    (
        S,
        {
            "subforum_name": "Aquascaping",
            "subforum_description": "Planted aquariums, hardscape and fish",
        },
        {},
        "",
    ),
    (
        S,
        {
            "subforum_name": "Retro Gaming",
            "subforum_description": "Consoles and games from the 80s and 90s",
            "name_hint": "Pixel Pete",
        },
        {},
        "",
    ),
    (
        S,
        {"subforum_name": "Birdwatching", "subforum_description": "Spotting and identifying birds"},
        {"length_preference": "concise"},
        "Warbler Wendy",
    ),
    (
        S,
        {
            "subforum_name": "Personal Finance",
            "subforum_description": "Budgeting, saving and investing basics",
            "additional_directives": "Never give specific stock picks.",
        },
        {"tone_preference": "calm"},
        "",
    ),
    (
        S,
        {
            "subforum_name": "Woodworking",
            "subforum_description": "Hand tools, joinery and finishing",
        },
        {"desired_headings": ["Core Identity", "Knowledge Domain & Expertise", "Safety Rules"]},
        "",
    ),
    (
        S,
        {
            "subforum_name": "Python Help",
            "subforum_description": "Questions about Python programming",
        },
        {"length_preference": "detailed"},
        "",
    ),
    (
        S,
        {
            "subforum_name": "Urban Gardening",
            "subforum_description": "Balcony vegetables, compost and small spaces",
            "additional_directives": "Recommend organic methods. Avoid pesticides.",
        },
        {},
        "",
    ),
    (
        S,
        {
            "subforum_name": "Rust Programming",
            "subforum_description": "Ownership, borrowing, cargo and async Rust",
        },
        {},
        "",
    ),
    (
        S,
        {
            "subforum_name": "{{subforum_name}}",
            "subforum_description": "A test of {{additional_directives}} in names",
        },
        {},
        "",
    ),
    (
        S,
        {
            "subforum_name": "Vintage Cameras",
            "subforum_description": "Film cameras, lenses and darkroom printing",
            "additional_directives": "Explain things for beginners. Never recommend a brand.",
        },
        {"tone_preference": "enthusiastic"},
        "",
    ),
    (G, {}, {}, ""),
    (G, {"name_hint": "Helper"}, {"tone_preference": "concise and direct"}, ""),
    (G, {"additional_directives": "Answer in plain English for beginners."}, {}, "Plain Paul"),
    (G, {"description_hint": "Patient tutor for teenagers"}, {"length_preference": "concise"}, ""),
    (G, {}, {"tone_preference": "playful", "length_preference": "detailed"}, ""),
    (
        G,
        {
            "description_hint": "Helps small business owners with email and planning",
            "additional_directives": "Keep answers short. Never invent facts.",
        },
        {},
        "",
    ),
    (
        G,
        {"description_hint": "A cooking helper for busy parents"},
        {"tone_preference": "cheerful"},
        "",
    ),
]

STOPWORDS = {
    "about", "above", "after", "again", "also", "among", "and", "any", "are", "because",
    "been", "before", "being", "below", "between", "both", "but", "can", "could", "does",
    "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has",
    "have", "having", "her", "here", "hers", "him", "his", "how", "into", "its", "itself",
    "just", "more", "most", "much", "must", "not", "now", "off", "once", "only", "other",
    "our", "out", "over", "own", "same", "she", "should", "some", "such", "than", "that",
    "the", "their", "them", "then", "there", "these", "they", "this", "those", "through",
    "too", "under", "until", "very", "was", "were", "what", "when", "where", "which",
    "while", "who", "whom", "why", "will", "with", "would", "you", "your", "loves",
}  # fmt: skip


def hint_words(request: PersonaGenerationRequest, *, tone: bool = True) -> set[str]:
    """Content words the user typed about the persona (not its name): a persona that follows
    its hints mentions them. The tone counts for coverage, not as a domain."""
    text = " ".join(
        [*hint_texts(request), request.output_preferences.tone_preference if tone else ""]
    )
    words = {w.lower() for w in re.findall(r"[^\W\d_]{4,}", text)}
    words |= {w.lower() for w in re.findall(r"\b[A-Z]{2,}\b", text)}  # ZFS, NAS
    return {w for w in words if w not in STOPWORDS and "hint" not in w and "_" not in w}


def stem(word: str) -> str:
    word = word.casefold()
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:6]


def hint_coverage(text: str, words: set[str]) -> float | None:
    if not words:
        return None
    lowered = text.casefold()
    return sum(1 for w in words if stem(w) in lowered) / len(words)


def distinct_4(text: str) -> float:
    words = re.findall(r"[^\W_]+(?:'[^\W_]+)?", text.casefold())
    grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
    return len(set(grams)) / len(grams) if grams else 1.0


def fragments(text: str) -> int:
    """Sections whose last line ends on a fragment."""
    count = 0
    for section in parse_persona(text).sections[1:]:
        lines = [line for line in section.content.splitlines() if line.strip()]
        if lines and ends_on_fragment(re.sub(r"^\s*[-*•]\s*", "", lines[-1])):
            count += 1
    return count


def check_persona(backend, text, name, words, may_be_ai, probes) -> CheckResult:
    return run_check(backend, text, name=name, words=words, may_be_ai=may_be_ai, probes=probes)


def figures_of(checks: list[CheckResult], *, baseline: bool = False) -> dict[str, float | None]:
    def answers_of(check: CheckResult):
        return check.baseline if baseline else check.answers

    named = [a.holds_name for c in checks for a in answers_of(c) if a.holds_name is not None]
    domain = [a.in_domain for c in checks for a in answers_of(c) if a.in_domain is not None]
    judged = [a.breaks for c in checks if not c.may_be_ai for a in answers_of(c)]
    return {
        "name_hold": round(sum(named) / len(named), 3) if named else None,
        "domain_hit": round(sum(domain) / len(domain), 3) if domain else None,
        "breaks": sum(judged),
        "break_rate": round(sum(judged) / len(judged), 3) if judged else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL_ID)
    parser.add_argument("--limit", type=int, default=len(REQUESTS))
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--tag", default="", help="suffix for the result file names")
    parser.add_argument("--only", choices=("ours", "forllm"), default=None)
    parser.add_argument(
        "--forllm-templates",
        type=Path,
        default=None,
        help="forllm_server/persona_prompt_templates of a FORLLM checkout",
    )
    parser.add_argument(
        "--forllm-max-tokens",
        type=int,
        default=OLLAMA_DEFAULTS.max_tokens,
        help="where FORLLM's stages stop (700: as in runs before s37)",
    )
    args = parser.parse_args()
    generators = ["ours", "forllm"] if args.only is None else [args.only]
    if "forllm" in generators and args.forllm_templates is None:
        print("No --forllm-templates: FORLLM's generator is left out.", file=sys.stderr)
        generators.remove("forllm")
    forllm = (
        ForllmGenerator(args.forllm_templates, args.forllm_max_tokens)
        if "forllm" in generators
        else None
    )

    pipeline, pool = build_pipeline(config=PipelineConfig(seed=args.seed))
    backend = pool.get(args.model)
    requests = [
        PersonaGenerationRequest.create(
            gtype, details, prefs, llm_model_for_generation=args.model,
            target_persona_name_override=override,
        )
        for gtype, details, prefs, override in REQUESTS[: args.limit]
    ]  # fmt: skip
    # Without a persona the answers do not depend on the request: ask once, score per request.
    bare = {q: ask(backend, None, q) for _, q in (*PROBES, *HELD_OUT_PROBES)}

    per: dict[str, dict] = {
        g: {"rows": [], "checks": [], "held": [], "texts": []} for g in generators
    }
    for index, request in enumerate(requests):
        words = hint_words(request)
        given = request.given_name
        subforum = request.detail("subforum_name")
        may_be_ai = kind_of(request) == ASSISTANT or any(
            mentions_ai(t) for t in hint_texts(request)
        )
        for generator in generators:
            started = time.perf_counter()
            if generator == "ours":
                taken = [r["name"] for r in per[generator]["rows"]]
                result = pipeline.run(request, avoid_names=taken)
                ok, name, text = result.ok, result.persona_name, result.prompt_instructions
                error = result.error_message or ""
            else:
                assert forllm is not None
                made = forllm.run(request, backend, args.seed + index)
                ok, name, text, error = True, made.persona_name, made.prompt_instructions, ""
            seconds = time.perf_counter() - started
            rows = per[generator]["rows"]
            row: dict = {"index": index + 1, "type": request.generation_type, "seconds": seconds}
            if generator == "forllm":
                row["stage_tokens"] = list(made.stage_tokens)
                row["stage_seconds"] = [round(x, 2) for x in made.stage_seconds]
            row["name"] = name
            if not ok:
                row["error"] = error
                rows.append(row)
                print(f"{index + 1:2d} {generator}: ERROR {error}", file=sys.stderr)
                continue
            headings = request.output_preferences.headings
            row["valid"] = not check_structure(text, headings)
            if given:
                row["name_kept"] = name == given
            else:
                problems = name_problems(name, subforum_name=subforum, hints=hint_texts(request))
                if any(name == r["name"] for r in rows):
                    problems.append("used twice in the batch")
                row["bad_name"] = problems
            row["coverage"] = hint_coverage(text, words)
            row["distinct_4"] = distinct_4(text)
            row["fragments"] = fragments(text)
            check_words = sorted(hint_words(request, tone=False))
            check = check_persona(backend, text, name, check_words, may_be_ai, PROBES)
            held = check_persona(backend, text, name, check_words, may_be_ai, HELD_OUT_PROBES)
            base = tuple(
                score_answer(k, q, bare[q], name=name, words=check_words, may_be_ai=may_be_ai)
                for k, q in PROBES
            )
            check = CheckResult(check.model, name, check.answers, base, may_be_ai, check.words)
            row["check"] = check.to_dict()
            rows.append(row)
            per[generator]["checks"].append(check)
            per[generator]["held"].append(held)
            per[generator]["texts"].append(
                f"<!-- {index + 1:2d}. {generator} {request.display_name!r} -->\n{text}"
            )
            print(
                f"{index + 1:2d} {generator:6s} {seconds:5.1f}s {name!r:32s} "
                f"valid={row['valid']} cov={row['coverage'] if row['coverage'] is None else round(row['coverage'], 2)} "
                f"d4={row['distinct_4']:.3f} {check.summary()}",
                file=sys.stderr,
            )
    pool.close()

    summary: dict[str, dict] = {}
    for generator in generators:
        rows = per[generator]["rows"]
        done = [r for r in rows if "error" not in r]
        kept = [r["name_kept"] for r in done if "name_kept" in r]
        bad = [bool(r["bad_name"]) for r in done if "bad_name" in r]
        coverages = [r["coverage"] for r in done if r["coverage"] is not None]
        summary[generator] = {
            "personas": len(rows),
            "errors": len(rows) - len(done),
            "validity": round(sum(r["valid"] for r in done) / len(rows), 3) if rows else None,
            "names_kept": f"{sum(kept)}/{len(kept)}",
            "bad_names": sum(bad),
            "bad_name_list": [r["name"] for r in done if r.get("bad_name")],
            "hint_coverage": round(statistics.mean(coverages), 3) if coverages else None,
            "distinct_4": round(statistics.mean(r["distinct_4"] for r in done), 3)
            if done
            else None,
            "fragments": sum(r["fragments"] for r in done),
            "check": figures_of(per[generator]["checks"]),
            "check_held_out": figures_of(per[generator]["held"]),
            "check_baseline": figures_of(per[generator]["checks"], baseline=True),
            "seconds_per_persona": round(statistics.mean(r["seconds"] for r in rows), 1)
            if rows
            else None,
            "seconds_median": round(statistics.median(r["seconds"] for r in rows), 1)
            if rows
            else None,
        }
        if generator == "forllm" and rows:
            summary[generator]["stages_past_700"] = sum(
                n > STAGE_TOKENS_BEFORE_S37 for r in rows for n in r["stage_tokens"]
            )
    RESULTS.mkdir(exist_ok=True)
    suffix = f"_{args.tag}" if args.tag else ""
    personas = [t for g in generators for t in per[g]["texts"]]
    (RESULTS / f"quality_personas{suffix}.md").write_text("\n\n".join(personas) + "\n")
    out = {
        "model": args.model,
        "seed": args.seed,
        "requests": len(requests),
        "forllm_max_tokens": args.forllm_max_tokens if forllm is not None else None,
        "summary": summary,
        "rows": {g: per[g]["rows"] for g in generators},
    }
    (RESULTS / f"quality{suffix}.json").write_text(
        json.dumps(out, indent=1, ensure_ascii=False) + "\n"
    )
    print_table(summary)
    print(
        json.dumps(
            {g: {k: v for k, v in s.items() if k != "bad_name_list"} for g, s in summary.items()}
        )
    )
    return 0


def print_table(summary: dict[str, dict]) -> None:
    generators = list(summary)
    lines = [
        ("validity", "validity"),
        ("names kept", "names_kept"),
        ("bad names", "bad_names"),
        ("hint coverage", "hint_coverage"),
        ("distinct-4", "distinct_4"),
        ("fragments", "fragments"),
        ("name hold", ("check", "name_hold")),
        ("domain hit", ("check", "domain_hit")),
        ("breaks", ("check", "breaks")),
        ("name hold (held-out)", ("check_held_out", "name_hold")),
        ("domain hit (held-out)", ("check_held_out", "domain_hit")),
        ("breaks (held-out)", ("check_held_out", "breaks")),
        ("name hold (no persona)", ("check_baseline", "name_hold")),
        ("domain hit (no persona)", ("check_baseline", "domain_hit")),
        ("breaks (no persona)", ("check_baseline", "breaks")),
        ("seconds per persona", "seconds_per_persona"),
        ("seconds (median)", "seconds_median"),
        ("stages past 700 tokens", "stages_past_700"),
    ]
    print(f"{'':26s}" + "".join(f"{g:>12s}" for g in generators), file=sys.stderr)
    for label, key in lines:
        cells = []
        for g in generators:
            value = (
                summary[g][key[0]][key[1]] if isinstance(key, tuple) else summary[g].get(key, "-")
            )
            cells.append(f"{value!s:>12s}")
        print(f"{label:26s}" + "".join(cells), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
