"""The whole pipeline through the HTTP backend, against a real OpenAI-compatible server.

A server cannot be made to continue a half-written turn, so this is the validate, retry
and repair path, on the same small model: the persona must come out whole anyway.
"""

import pytest

from persona_studio.engine.factory import build_pipeline
from persona_studio.engine.headings import check_structure
from persona_studio.engine.pipeline import PipelineConfig
from persona_studio.engine.request import PersonaGenerationRequest
from tests.llm.conftest import SERVED_MODEL

pytestmark = pytest.mark.model


def test_pipeline_over_http_produces_a_valid_persona(llama_server):
    pipeline, pool = build_pipeline(config=PipelineConfig(seed=3, max_retries=1))
    request = PersonaGenerationRequest.create(
        "from_name_and_description",
        {"name_hint": "Captain Nemo", "description_hint": "Brooding submarine captain"},
        {"length_preference": "concise"},
        llm_model_for_generation=f"openai:{SERVED_MODEL}@{llama_server}",
        target_persona_name_override="Captain Nemo",
    )
    events = []
    try:
        result = pipeline.run(request, on_event=events.append)
    finally:
        pool.close()
    assert result.ok, result.error_message
    assert result.structure_method in {"validated", "repaired"}
    assert result.model == f"openai:{SERVED_MODEL}@{llama_server}"
    assert result.prompt_instructions.startswith("## Persona Name: Captain Nemo\n")
    assert check_structure(result.prompt_instructions) == []
    assert {e.stage for e in events if e.kind == "token"} == {"expansion", "refinement"}
    assert result.stages["refinement"].tokens > 0
