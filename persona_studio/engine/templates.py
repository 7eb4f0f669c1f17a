"""Prompt templates: loading, checking, one-pass rendering, and versions.

Templates are text files with ``{{variable}}`` placeholders, at
``prompts/<stage>/<generation_type>.txt``. A user's copy at the same relative path in their
data dir (``paths.user_prompts_dir()``) takes precedence over the shipped one.

Rendering is one pass over the template: each placeholder is replaced by its value and the
values are never scanned again, so a user who types ``{{name_hint}}`` into a description gets
those characters in the prompt, literally. A template naming a variable its stage does not
provide fails when it is loaded (TemplateError), before any model time is spent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from persona_studio import paths
from persona_studio.engine.request import GENERATION_TYPES
from persona_studio.errors import TemplateError

EXPANSION = "expansion"
CRITIQUE = "critique"
REFINEMENT = "refinement"
STAGES = (EXPANSION, CRITIQUE, REFINEMENT)

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

_INPUT_VARIABLES = frozenset(
    {
        "name_hint",
        "description_hint",
        "subforum_name",
        "subforum_description",
        "additional_directives",
        "target_persona_name_override",
        "tone_preference",
        "length_preference",
        "persona_label",
        "tone_line",
        "word_target",
    }
)
_REVIEW_VARIABLES = _INPUT_VARIABLES | {
    "brainstormed_text",
    "original_input_details_summary",
    "persona_name_or_hint",
    "desired_headings_list_or_default",
    "heading_guidance",
    "length_instruction",
    "tone_instruction",
}
STAGE_VARIABLES: dict[str, frozenset[str]] = {
    EXPANSION: _INPUT_VARIABLES,
    CRITIQUE: _REVIEW_VARIABLES,
    REFINEMENT: _REVIEW_VARIABLES | {"critique_notes"},
}


@dataclass(frozen=True)
class Template:
    stage: str
    generation_type: str
    text: str
    source: str  # "shipped" or "user"
    path: Path

    @property
    def name(self) -> str:
        return f"{self.stage}/{self.generation_type}"

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:12]

    @property
    def version(self) -> str:
        """Name plus content hash: equal versions mean identical prompts."""
        return f"{self.name}@{self.content_hash}"

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(PLACEHOLDER.findall(self.text))

    def render(self, values: Mapping[str, str]) -> str:
        missing = self.variables - values.keys()
        if missing:
            raise TemplateError(
                f"Template {self.name} needs {', '.join(sorted(missing))}, which this stage "
                "did not provide."
            )
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], self.text)


def check_template(stage: str, generation_type: str, text: str, origin: str) -> None:
    """Raise TemplateError if ``text`` is not a usable template for ``stage``."""
    if not text.strip():
        raise TemplateError(f"Template {origin} is empty.")
    unknown = set(PLACEHOLDER.findall(text)) - STAGE_VARIABLES[stage]
    if unknown:
        raise TemplateError(
            f"Template {origin} uses unknown variable(s) {', '.join(sorted(unknown))}. "
            f"Known for {stage}: {', '.join(sorted(STAGE_VARIABLES[stage]))}."
        )
    # '{{' that does not form a placeholder is almost always a typo ({{name_hint} or {{ }}).
    leftover = PLACEHOLDER.sub("", text)
    if "{{" in leftover or "}}" in leftover:
        raise TemplateError(
            f"Template {origin} has a '{{{{' or '}}}}' that is not a valid placeholder; "
            "write placeholders as {{variable_name}}."
        )


class TemplateLibrary:
    """All templates of every stage and type, checked when the library is created."""

    def __init__(self, user_dir: Path | None = None, shipped_dir: Path | None = None) -> None:
        self.shipped_dir = shipped_dir or paths.shipped_prompts_dir()
        self.user_dir = user_dir if user_dir is not None else paths.user_prompts_dir()
        self._templates: dict[tuple[str, str], Template] = {}
        for stage in STAGES:
            for generation_type in GENERATION_TYPES:
                self._templates[(stage, generation_type)] = self._load(stage, generation_type)

    def _load(self, stage: str, generation_type: str) -> Template:
        relative = Path(stage) / f"{generation_type}.txt"
        user_path = self.user_dir / relative
        path, source = (
            (user_path, "user")
            if user_path.is_file()
            else (
                self.shipped_dir / relative,
                "shipped",
            )
        )
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TemplateError(f"Template {relative} is missing (looked in {path}).") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"Template {path} cannot be read: {exc}.") from None
        origin = f"{relative} ({source} copy at {path})"
        check_template(stage, generation_type, text, origin)
        return Template(stage, generation_type, text, source, path)

    def get(self, stage: str, generation_type: str) -> Template:
        try:
            return self._templates[(stage, generation_type)]
        except KeyError:
            raise TemplateError(f"There is no {stage} template for '{generation_type}'.") from None

    def all(self) -> list[Template]:
        return list(self._templates.values())
