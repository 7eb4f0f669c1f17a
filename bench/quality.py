"""Persona quality on a model: structure, placeholder leaks, and how much each section says.

Runs a fixed set of varied requests (all three generation types, custom headings, tones,
lengths, overrides, and user text containing ``{{...}}``) through the real pipeline and
reports:

- validity_rate: personas passing the structure check (every requested heading once, in
  order, with content, ``## Persona Name:`` first). Target 100%.
- placeholder_leaks: ``{{...}}`` in a persona that the user did not type, or a template
  variable name showing up. Target 0.
- words per section: mean, and the smallest, per heading.
- hint_coverage: share of the content words the user typed (description, directives,
  subforum, tone) that the persona mentions: does it follow its hints?
- repetition: share of sentences that repeat an earlier one (small models loop).

    .venv/bin/python bench/quality.py [--model ID] [--limit N] [--seed S] [--critique]

The personas are written to bench/results/quality_personas.md for reading; figures to
bench/results/quality.json; a JSON line is printed last.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

from persona_studio.engine.factory import build_pipeline
from persona_studio.engine.headings import check_structure, heading_key, parse_persona
from persona_studio.engine.pipeline import PipelineConfig
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.engine.templates import STAGE_VARIABLES
from persona_studio.llm.catalog import DEFAULT_MODEL_ID

RESULTS = Path(__file__).resolve().parent / "results"

N, S, G = "from_name_and_description", "subforum_expert", "general_purpose_assistant"
REQUESTS: list[tuple[str, dict, dict, str]] = [
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
            "name_hint": "Zen Gardener",
            "description_hint": "Calm, speaks in short koans about patience",
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
        {"name_hint": "Miss Marple", "description_hint": "Gentle village sleuth"},
        {"tone_preference": "polite", "length_preference": "concise"},
        "",
    ),
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
    (G, {}, {}, ""),
    (G, {"name_hint": "Helper"}, {"tone_preference": "concise and direct"}, ""),
    (G, {"additional_directives": "Answer in plain English for beginners."}, {}, "Plain Paul"),
    (G, {"description_hint": "Patient tutor for teenagers"}, {"length_preference": "concise"}, ""),
    (G, {}, {"tone_preference": "playful", "length_preference": "detailed"}, ""),
]
TEMPLATE_WORDS = sorted(set().union(*STAGE_VARIABLES.values()))


STOPWORDS = set(
    [
        "about",
        "above",
        "after",
        "again",
        "also",
        "among",
        "and",
        "any",
        "are",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "can",
        "could",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "into",
        "its",
        "itself",
        "just",
        "more",
        "most",
        "much",
        "must",
        "not",
        "now",
        "off",
        "once",
        "only",
        "other",
        "our",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "too",
        "under",
        "until",
        "very",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)


def hint_words(request: PersonaGenerationRequest) -> set[str]:
    """Content words the user typed: a persona that follows its hints mentions them."""
    text = " ".join(
        [*map(str, request.input_details.values()), request.output_preferences.tone_preference]
    )
    words = {w.lower() for w in re.findall(r"[A-Za-z]{4,}", text)}
    return {w for w in words if w not in STOPWORDS and "hint" not in w}


def hint_coverage(text: str, words: set[str]) -> float | None:
    if not words:
        return None
    lowered = text.lower()
    return sum(1 for w in words if w in lowered) / len(words)


def repetition(text: str) -> float:
    """Share of sentences that repeat an earlier one: small models loop."""
    sentences = [
        re.sub(r"\W+", " ", s).strip().lower()
        for s in re.split(r"[.!?\n]+", text)
        if len(s.strip()) > 20
    ]
    if not sentences:
        return 0.0
    return 1 - len(set(sentences)) / len(sentences)


def leaks(text: str, user_text: str) -> list[str]:
    found = [m for m in re.findall(r"\{\{[^}]*\}\}", text) if m not in user_text]
    found += [w for w in TEMPLATE_WORDS if w in text and w not in user_text]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL_ID)
    parser.add_argument("--limit", type=int, default=len(REQUESTS))
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--tag", default="", help="suffix for the result file names")
    parser.add_argument(
        "--critique", action="store_true", help="run the critique stage between the others"
    )
    args = parser.parse_args()

    pipeline, pool = build_pipeline(config=PipelineConfig(seed=args.seed))
    valid = 0
    leak_count = 0
    words: dict[str, list[int]] = {}
    coverages: list[float] = []
    repeats: list[float] = []
    failures: list[str] = []
    personas: list[str] = []
    started = time.perf_counter()
    for index, (gtype, details, prefs, override) in enumerate(REQUESTS[: args.limit]):
        request = PersonaGenerationRequest.create(
            gtype,
            details,
            prefs,
            llm_model_for_generation=args.model,
            target_persona_name_override=override,
            app_options={"critique": True} if args.critique else None,
        )
        result = pipeline.run(request)
        if args.critique and "critique" not in result.stages and result.ok:
            raise SystemExit("the critique stage did not run")
        user_text = " ".join(
            [
                *map(str, request.input_details.values()),
                request.target_persona_name_override,
                *map(str, request.output_preferences.to_dict().values()),
            ]
        )
        label = f"{index + 1:2d}. {gtype} {request.display_name!r}"
        if not result.ok:
            failures.append(f"{label}: {result.error_message}")
            print(f"{label}: ERROR {result.error_message}", file=sys.stderr)
            continue
        problems = check_structure(result.prompt_instructions, request.output_preferences.headings)
        leaked = leaks(result.prompt_instructions, user_text)
        leak_count += len(leaked)
        if not problems:
            valid += 1
        coverage = hint_coverage(result.prompt_instructions, hint_words(request))
        if coverage is not None:
            coverages.append(coverage)
        repeats.append(repetition(result.prompt_instructions))
        for section in parse_persona(result.prompt_instructions).sections[1:]:
            words.setdefault(section.heading, []).append(len(section.content.split()))
        print(
            f"{label}: {'ok' if not problems else 'INVALID'} "
            f"{result.stages['refinement'].tokens_per_s:.0f} tok/s"
            + (f" leaks={leaked}" if leaked else ""),
            file=sys.stderr,
        )
        personas.append(f"<!-- {label} -->\n{result.prompt_instructions}")
    pool.close()
    total = min(args.limit, len(REQUESTS))
    figures = {
        "model": args.model,
        "critique": args.critique,
        "requests": total,
        "valid": valid,
        "validity_rate": round(valid / total, 3),
        "placeholder_leaks": leak_count,
        "errors": len(failures),
        "mean_words_per_section": round(statistics.mean(w for ws in words.values() for w in ws), 1)
        if words
        else 0,
        "hint_coverage": round(statistics.mean(coverages), 3) if coverages else None,
        "repetition": round(statistics.mean(repeats), 3) if repeats else None,
        "words_per_section": {
            h: {"mean": round(statistics.mean(ws), 1), "min": min(ws)}
            for h, ws in sorted(words.items(), key=lambda kv: heading_key(kv[0]))
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    suffix = f"_{args.tag}" if args.tag else ""
    (RESULTS / f"quality_personas{suffix}.md").write_text("\n\n".join(personas) + "\n")
    (RESULTS / f"quality{suffix}.json").write_text(json.dumps(figures, indent=2) + "\n")
    for line in failures:
        print(line, file=sys.stderr)
    print(json.dumps(figures))
    return 0 if valid == total and leak_count == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
