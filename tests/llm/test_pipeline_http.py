"""The whole pipeline through the HTTP backend, against a real OpenAI-compatible server.

A server cannot be made to continue a half-written turn, so this is the validate, retry
and repair path, on the same small model: the persona must come out whole anyway.
"""

import pytest

from persona_studio.core.events import TextWritten
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
    assert {e.stage for e in events if isinstance(e, TextWritten)} == {
        "expansion",
        "refinement",
        "check",
    }
    assert result.stages["refinement"].tokens > 0
    # The brief and the check hold over HTTP too: the user's words open the Core Identity,
    # and the server's model answered the probes with the persona as its system prompt.
    assert "You are Captain Nemo, a brooding submarine captain." in result.prompt_instructions
    assert result.check is not None and len(result.check.answers) == 4
    assert all(a.answer for a in result.check.answers)


def test_chat_over_http_streams_and_stops(llama_server):
    """The Try it chat on a model served over HTTP: the persona is the system prompt, the
    reply streams, and Stop ends it between two pieces with what was said kept."""
    from persona_studio.engine.chat import ChatRequest, answer
    from persona_studio.llm.catalog import BackendPool

    model_id = f"openai:{SERVED_MODEL}@{llama_server}"
    persona = "## Persona Name: Captain Nemo\n## Core Identity:\nYou command the Nautilus."
    pool = BackendPool()
    try:
        backend = pool.get(model_id)
        pieces: list[str] = []
        request = ChatRequest(1, model_id, persona, ({"role": "user", "content": "Who are you?"},))
        reply = answer(backend, request, lambda piece, *_: pieces.append(piece))
        assert reply.error is None, reply.error
        assert len(pieces) > 1 and reply.text == "".join(pieces).strip()

        long = ChatRequest(
            2, model_id, persona, ({"role": "user", "content": "Tell me a long story."},)
        )

        def stop_at_three(_piece: str, tokens: int, _rate: float) -> None:
            if tokens == 3:
                long.cancel.cancel()

        stopped = answer(backend, long, stop_at_three)
        assert stopped.cancelled and stopped.error is None and stopped.tokens == 3
    finally:
        pool.close()
