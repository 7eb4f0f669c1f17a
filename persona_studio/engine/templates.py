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
    """All templates of every stage and type, checked when the library is created.

    The user edits templates through ``save_user_template`` / ``restore_shipped`` (the
    window's template editor), possibly from another thread or process than the worker's;
    ``refresh`` (called by the pipeline before each job) picks up such changes, so the next
    job uses the edited template and records its new version.
    """

    def __init__(self, user_dir: Path | None = None, shipped_dir: Path | None = None) -> None:
        self.shipped_dir = shipped_dir or paths.shipped_prompts_dir()
        self.user_dir = user_dir if user_dir is not None else paths.user_prompts_dir()
        self._templates: dict[tuple[str, str], Template] = {}
        self._stamps: dict[tuple[str, str], tuple[float, int] | None] = {}
        for stage in STAGES:
            for generation_type in GENERATION_TYPES:
                self._reload(stage, generation_type)

    def _relative(self, stage: str, generation_type: str) -> Path:
        if stage not in STAGES or generation_type not in GENERATION_TYPES:
            raise TemplateError(f"There is no {stage} template for '{generation_type}'.")
        return Path(stage) / f"{generation_type}.txt"

    def _user_stamp(self, stage: str, generation_type: str) -> tuple[float, int] | None:
        try:
            stat = (self.user_dir / self._relative(stage, generation_type)).stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime, stat.st_size)

    def _reload(self, stage: str, generation_type: str) -> None:
        self._stamps[(stage, generation_type)] = self._user_stamp(stage, generation_type)
        self._templates[(stage, generation_type)] = self._load(stage, generation_type)

    def _load(self, stage: str, generation_type: str, *, shipped: bool = False) -> Template:
        relative = self._relative(stage, generation_type)
        user_path = self.user_dir / relative
        if user_path.is_file() and not shipped:
            path, source = user_path, "user"
        else:
            path, source = self.shipped_dir / relative, "shipped"
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

    def shipped(self, stage: str, generation_type: str) -> Template:
        """The template as shipped, whatever the user's copy says."""
        return self._load(stage, generation_type, shipped=True)

    def all(self) -> list[Template]:
        return list(self._templates.values())

    def refresh(self) -> list[Template]:
        """Reload the templates whose user copy appeared, changed or went away since they were
        loaded; returns those. A broken user copy raises TemplateError naming the file."""
        changed = []
        for key in self._templates:
            if self._user_stamp(*key) != self._stamps[key]:
                self._reload(*key)
                changed.append(self._templates[key])
        return changed

    def save_user_template(self, stage: str, generation_type: str, text: str) -> Template:
        """Check ``text``, then make it the user's copy (atomically: a crash leaves the old
        copy or the new one, never half of it). The shipped file is never touched."""
        relative = self._relative(stage, generation_type)
        target = self.user_dir / relative
        check_template(stage, generation_type, text, f"{relative} (your edit)")
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(target)
        self._reload(stage, generation_type)
        return self.get(stage, generation_type)

    def restore_shipped(self, stage: str, generation_type: str) -> Template:
        """Drop the user's copy, so the shipped template is used again."""
        (self.user_dir / self._relative(stage, generation_type)).unlink(missing_ok=True)
        self._reload(stage, generation_type)
        return self.get(stage, generation_type)

    def changes_since(self, versions: dict[str, str]) -> list[str]:
        """What differs between the template versions a persona recorded and today's, in
        words, so Regenerate can say so instead of silently behaving differently."""
        notes = []
        for stage, recorded in versions.items():
            name, _, _ = recorded.partition("@")
            _, _, generation_type = name.partition("/")
            if (stage, generation_type) not in self._templates:
                continue
            current = self.get(stage, generation_type)
            if current.version != recorded:
                notes.append(
                    f"The {stage} template has changed since this persona was made "
                    f"({recorded} then, {current.version} now, {current.source} copy)."
                )
        return notes
