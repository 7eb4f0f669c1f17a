"""FORLLM's own persona generator, run on our model, for comparison.

FORLLM (boilthesea/forllm) generates personas in ``forllm_server/persona_generator.py``:
two prompts from ``forllm_server/persona_prompt_templates/{expansion,refinement}/<type>.txt``,
each filled in with ``str.replace`` and sent to Ollama's ``/api/generate`` as one user turn,
default options (temperature 0.8). The name is the override, else the name hint, else what
the model wrote after ``## Persona Name:``, else "<subforum> Expert", else "Generated
Persona"; the text is prefixed with "Always respond as <name>, ...". This module does the
same on any of our backends. FORLLM's templates are not ours to ship: pass the folder of a
FORLLM checkout (``git clone https://github.com/boilthesea/forllm``, then
``forllm_server/persona_prompt_templates``).

FORLLM knows two generation types. A general-purpose assistant is asked of it the way a
FORLLM user would: "from name and description", the description saying what is wanted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from persona_studio.core.request import GENERAL_PURPOSE_ASSISTANT, SUBFORUM_EXPERT
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.llm.base import LLMBackend, SamplingParams

# Ollama's /api/generate defaults (temperature 0.8, top_k 40, top_p 0.9, repeat_penalty 1.1).
# num_predict is unlimited there: Ollama runs on until the model ends its turn, up to ten
# times the context (ollama/ollama#3918), shifting the context as it fills; the context is
# 2,048 tokens by default before Ollama 0.6.7, 4,096 or more since. Here a stage ends after
# 2,048 tokens, so a run that never ends costs a minute, not ten: FORLLM's time is a lower
# bound of what Ollama takes. Runs before s37 stopped at 700 tokens (STAGE_TOKENS_BEFORE_S37),
# where 14 of 34 of FORLLM's personas were still being written (Sherlock's went on to
# 3,149 tokens when let run).
OLLAMA_DEFAULTS = SamplingParams(
    max_tokens=2048, temperature=0.8, top_p=0.9, top_k=40, min_p=0.0, repeat_penalty=1.1
)
STAGE_TOKENS_BEFORE_S37 = 700
DEFAULT_HEADINGS_STR = (
    "## Persona Name:,## Core Identity:,## Key Personality Traits:,"
    "## Knowledge Domain & Expertise:,## Speaking Style & Tone:,"
    "## Interaction Guidelines & Behaviors:,## Forbidden Actions & Topics:,## Example Phrases:"
)


@dataclass
class ForllmResult:
    persona_name: str
    prompt_instructions: str
    seconds: float
    tokens: int
    error: str = ""
    # Tokens written in each stage (expansion, refinement), and the seconds each took.
    stage_tokens: tuple[int, ...] = ()
    stage_seconds: tuple[float, ...] = ()


class ForllmGenerator:
    def __init__(self, templates_dir: Path, max_tokens: int = OLLAMA_DEFAULTS.max_tokens) -> None:
        """``max_tokens``: where a stage is stopped (STAGE_TOKENS_BEFORE_S37 gives the
        figures of runs before s37)."""
        self.dir = Path(templates_dir)
        self.params = replace(OLLAMA_DEFAULTS, max_tokens=max_tokens)
        for stage in ("expansion", "refinement"):
            for kind in ("from_name_and_description", "subforum_expert"):
                if not (self.dir / stage / f"{kind}.txt").is_file():
                    raise SystemExit(
                        f"{self.dir} is not FORLLM's persona_prompt_templates folder "
                        f"({stage}/{kind}.txt is missing)."
                    )

    def _template(self, stage: str, kind: str) -> str:
        return (self.dir / stage / f"{kind}.txt").read_text(encoding="utf-8")

    def run(
        self, request: PersonaGenerationRequest, backend: LLMBackend, seed: int | None
    ) -> ForllmResult:
        started = time.perf_counter()
        details = request.input_details
        kind = request.generation_type
        name_hint = str(details.get("name_hint", "") or "")
        description_hint = str(details.get("description_hint", "") or "")
        directives = str(details.get("additional_directives", "") or "")
        if kind == GENERAL_PURPOSE_ASSISTANT:
            kind = "from_name_and_description"
            wanted = description_hint or "A friendly, reliable general-purpose assistant"
            description_hint = f"{wanted}. {directives}".strip()
        subforum_name = str(details.get("subforum_name", "") or "")
        subforum_description = str(details.get("subforum_description", "") or "")
        prefs = request.output_preferences
        stages: list[_Stage] = []

        expansion = self._template("expansion", kind)
        if kind == SUBFORUM_EXPERT:
            expansion = expansion.replace("{{subforum_name}}", subforum_name)
            expansion = expansion.replace("{{subforum_description}}", subforum_description)
            expansion = expansion.replace("{{additional_directives}}", directives)
        else:
            expansion = expansion.replace("{{name_hint}}", name_hint)
            expansion = expansion.replace("{{description_hint}}", description_hint)
        stages.append(_generate(backend, expansion, replace(self.params, seed=seed)))
        brainstorm = stages[-1].text

        refinement = self._template("refinement", kind)
        headings = list(prefs.desired_headings)
        headings_str = ", ".join(headings) if headings else DEFAULT_HEADINGS_STR
        refinement = refinement.replace("{{brainstormed_text_from_stage_1}}", brainstorm)
        refinement = refinement.replace("{{name_hint}}", name_hint)
        refinement = refinement.replace("{{description_hint}}", description_hint)
        if kind == SUBFORUM_EXPERT:
            refinement = refinement.replace("{{subforum_name}}", subforum_name)
            refinement = refinement.replace("{{subforum_description}}", subforum_description)
            refinement = refinement.replace("{{additional_directives}}", directives)
        refinement = refinement.replace("{{desired_headings_list_or_default}}", headings_str)
        refinement = refinement.replace(
            "{{target_persona_name_override}}", request.target_persona_name_override
        )
        refinement = refinement.replace("{{tone_preference}}", prefs.tone_preference)
        refinement = refinement.replace("{{length_preference}}", prefs.length_preference)
        stages.append(
            _generate(
                backend, refinement, replace(self.params, seed=None if seed is None else seed + 1)
            )
        )
        final = stages[-1].text

        name = request.target_persona_name_override or name_hint
        parsed_name = False
        if not name and "## Persona Name:" in final:
            after = final.split("## Persona Name:", 1)[1].split("##", 1)[0].strip()
            name = after.splitlines()[0].strip() if after else ""
            parsed_name = bool(name)
        if not name and kind == SUBFORUM_EXPERT and subforum_name:
            name = f"{subforum_name} Expert"
        name = (name or "Generated Persona").strip()
        body = final
        if parsed_name:
            # FORLLM drops its own "## Persona Name:" line when it parsed the name from it.
            lines = final.splitlines()
            for index, line in enumerate(lines):
                if line.strip().startswith("## Persona Name:"):
                    rest = [x for x in lines[index + 1 :]]
                    while rest and not rest[0].strip():
                        rest.pop(0)
                    body = "\n".join(rest)
                    break
        text = (
            f"Always respond as {name}, using the style, tone and personality explained "
            f"below.\n\n---\n\n{body.strip()}"
        )
        return ForllmResult(
            name,
            text,
            time.perf_counter() - started,
            sum(s.tokens for s in stages),
            stage_tokens=tuple(s.tokens for s in stages),
            stage_seconds=tuple(s.seconds for s in stages),
        )


@dataclass
class _Stage:
    text: str
    tokens: int  # pieces streamed: one per token, but for a held-back stop string
    seconds: float


def _generate(backend: LLMBackend, prompt: str, params: SamplingParams) -> _Stage:
    started = time.perf_counter()
    pieces = list(backend.stream_chat([{"role": "user", "content": prompt}], params))
    return _Stage("".join(pieces), len(pieces), time.perf_counter() - started)
