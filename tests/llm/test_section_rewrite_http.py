"""Section rewrites through the HTTP backend, against the real OpenAI-compatible server: the
chat path (no continuation) cleans what the model replies and keeps the structure."""

from __future__ import annotations

import pytest

from persona_studio.engine.headings import check_structure, parse_persona
from persona_studio.engine.section_rewrite import (
    ADD,
    ALTERNATIVES,
    SectionRewriteRequest,
    accept,
    prefill,
    run_request,
)
from persona_studio.llm.catalog import BackendPool
from tests.engine.test_section_rewrite import ROSA
from tests.llm.conftest import SERVED_MODEL

pytestmark = pytest.mark.model


def test_rewrite_and_add_over_http_keep_the_structure(llama_server):
    model_id = f"openai:{SERVED_MODEL}@{llama_server}"
    pool = BackendPool()
    try:
        backend = pool.get(model_id)
        assert prefill(backend, ROSA) is None  # a server keeps nothing for us between requests
        rewrite = SectionRewriteRequest(
            ROSA,
            "Speaking Style & Tone",
            mode=ALTERNATIVES,
            candidates=2,
            model_id=model_id,
            seed=3,
        )
        add = SectionRewriteRequest(ROSA, "Favourite Sayings", mode=ADD, model_id=model_id, seed=3)
        for request in (rewrite, add):
            pieces: list[str] = []
            outcome = run_request(backend, request, lambda _i, p, out=pieces: out.append(p))
            assert pieces  # streamed
            if request is add and outcome.error:
                # The 135M model over a chat API often answers a new heading with the whole
                # profile again; none of that is taken, and the writer is told in words.
                assert "wrote nothing usable for 'Favourite Sayings'" in outcome.error
                continue
            assert outcome.error is None, outcome.error
            assert outcome.candidates and outcome.prefix_evaluated == 0
            for candidate in outcome.candidates:
                assert not parse_persona(candidate).sections
                new = accept(request, candidate)
                assert check_structure(new) == []
    finally:
        pool.close()
