"""What a generation gives back: the persona, how it was made, and how it went."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from persona_studio.engine.persona_check import CheckResult
from persona_studio.engine.stages import StageStats
from persona_studio.engine.templates import Template


@dataclass
class GenerationResult:
    persona_name: str = ""
    prompt_instructions: str = ""
    status: str = "error"
    error_message: str | None = None
    brainstorm: str = ""
    critique: str = ""
    stages: dict[str, StageStats] = field(default_factory=dict)
    template_versions: dict[str, str] = field(default_factory=dict)
    # The templates themselves, so the text that made a persona can be kept with it.
    templates: dict[str, Template] = field(default_factory=dict)
    model: str = ""
    structure_method: str = ""  # "sections", "validated" or "repaired"
    cancelled: bool = False
    check: CheckResult | None = None  # the kept attempt's persona check
    refinements: int = 0  # refinements written (more than one when the check asked)

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def to_dict(self) -> dict[str, Any]:
        """The design's four keys, then the extras."""
        return {
            "persona_name": self.persona_name,
            "prompt_instructions": self.prompt_instructions,
            "status": self.status,
            "error_message": self.error_message,
            "brainstorm": self.brainstorm,
            "critique": self.critique,
            "stages": {name: stats.to_dict() for name, stats in self.stages.items()},
            "template_versions": dict(self.template_versions),
            "model": self.model,
            "structure_method": self.structure_method,
            "check": self.check.to_dict() if self.check else None,
            "refinements": self.refinements,
        }
