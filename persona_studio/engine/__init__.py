"""The generation engine: requests, templates, the two-stage pipeline. No Qt, no database."""

from persona_studio.engine.headings import DEFAULT_HEADINGS, check_structure, parse_persona
from persona_studio.engine.pipeline import (
    GenerationResult,
    PersonaPipeline,
    PipelineConfig,
    PipelineEvent,
)
from persona_studio.engine.request import GENERATION_TYPES, PersonaGenerationRequest
from persona_studio.engine.templates import TemplateLibrary

__all__ = [
    "DEFAULT_HEADINGS",
    "GENERATION_TYPES",
    "GenerationResult",
    "PersonaGenerationRequest",
    "PersonaPipeline",
    "PipelineConfig",
    "PipelineEvent",
    "TemplateLibrary",
    "check_structure",
    "parse_persona",
]
