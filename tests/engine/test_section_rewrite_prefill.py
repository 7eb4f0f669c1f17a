"""The persona's prefix evaluated ahead of a section rewrite, on the real default model: it is
what every rewrite of the text starts with, a prefill evaluates only what the cache lacks of
it, and a request gives the same candidates whatever the cache held before (nothing, a
prefill, half a prefill, a Try it reply, a persona check). The persona check's own
reproducible answers are not disturbed by prefills in between."""

from __future__ import annotations

from dataclasses import replace

import pytest

from persona_studio.engine.persona_check import CHECK_PARAMS, answers
from persona_studio.engine.section_rewrite import (
    ALTERNATIVES,
    CONTINUE,
    REWRITE,
    SectionRewriteRequest,
    prefill,
    prefix_tokens,
    run_request,
)
from persona_studio.llm.base import CancelToken
from persona_studio.llm.catalog import DEFAULT_MODEL_ID, BackendPool
from persona_studio.llm.embedded import CANONICAL_CHUNK
from tests.engine.test_section_rewrite import ROSA

pytestmark = pytest.mark.model

STYLE = "Speaking Style & Tone"
QUESTIONS = ["Who are you?", "What is your name?"]


@pytest.fixture(scope="module")
def backend():
    pool = BackendPool()
    try:
        yield pool.get(DEFAULT_MODEL_ID)
    finally:
        pool.close()


def _empty_cache(backend) -> None:
    backend.llama.reset()
    backend._canonical = []  # nothing reusable: everything evaluated from scratch


def _ask(request: SectionRewriteRequest):
    """The same request again (a new id and Stop, the same text, section and seed)."""
    return replace(request, rewrite_id=request.rewrite_id + 1000, cancel=CancelToken())


def test_every_rewrite_of_a_text_starts_with_its_prefix(backend) -> None:
    prefix = prefix_tokens(backend, ROSA)
    # The persona's turns and the opening of the writer's turn, nothing of the request.
    rendered = backend.llama.detokenize(prefix, special=True).decode()
    assert ROSA.strip() in rendered and rendered.endswith("<|im_start|>user\n")
    assert "Write the section" not in rendered and "Continue the section" not in rendered
    for request in (
        SectionRewriteRequest(ROSA, STYLE, instruction="shorter", seed=3),
        SectionRewriteRequest(ROSA, "Core Identity", instruction="in the first person", seed=3),
        SectionRewriteRequest(ROSA, "Key Personality Traits", mode=CONTINUE, seed=3),
    ):
        outcome = run_request(backend, request)
        assert outcome.error is None, outcome.error
        # What the model was given (and wrote after) starts with the prefix.
        assert list(backend.llama._input_ids[: len(prefix)]) == prefix
        assert len(backend.llama._input_ids) > len(prefix)
    assert outcome.prefix_evaluated == 0  # the first request evaluated it for the others


def test_a_prefill_evaluates_only_what_the_cache_lacks(backend) -> None:
    _empty_cache(backend)
    first = prefill(backend, ROSA)
    assert first is not None and not first.stopped
    assert first.evaluated == first.tokens == len(prefix_tokens(backend, ROSA))
    again = prefill(backend, ROSA)
    assert again.evaluated == 0 and again.tokens == first.tokens
    # One word changed in the last section: the chunks before it are kept.
    edited = ROSA.replace("about gluten", "about wheat")
    new, old = prefix_tokens(backend, edited), prefix_tokens(backend, ROSA)
    same = next(i for i, (a, b) in enumerate(zip(new, old, strict=False)) if a != b)
    after_edit = prefill(backend, edited)
    assert after_edit.evaluated == len(new) - same // CANONICAL_CHUNK * CANONICAL_CHUNK
    assert after_edit.evaluated < len(new)
    # Asked to give way before the third chunk: two chunks done, kept for the next time.
    _empty_cache(backend)
    asked: list[int] = []
    halted = prefill(backend, ROSA, should_stop=lambda: asked.append(1) or len(asked) > 2)
    assert halted.stopped and halted.evaluated == 2 * CANONICAL_CHUNK
    rest = prefill(backend, ROSA)
    assert not rest.stopped and rest.evaluated == first.tokens - 2 * CANONICAL_CHUNK
    # Asked to give way at once: nothing is evaluated, nothing in the cache is touched.
    _empty_cache(backend)
    held = list(backend.llama._input_ids)
    assert prefill(backend, ROSA, should_stop=lambda: True).evaluated == 0
    assert list(backend.llama._input_ids) == held


def test_the_candidates_do_not_depend_on_what_the_cache_held(backend) -> None:
    request = SectionRewriteRequest(ROSA, STYLE, mode=ALTERNATIVES, candidates=2, seed=21)
    prefix = len(prefix_tokens(backend, ROSA))

    _empty_cache(backend)
    cold = run_request(backend, request)  # the click evaluates the persona
    assert cold.error is None and cold.candidates, cold.error
    assert cold.prefix_evaluated == prefix

    _empty_cache(backend)
    assert prefill(backend, ROSA).evaluated == prefix
    warm = run_request(backend, _ask(request))  # the click evaluates only the request
    assert warm.prefix_evaluated == 0
    assert warm.candidates == cold.candidates

    _empty_cache(backend)
    prefill(backend, ROSA, should_stop=iter([False, False, True]).__next__)  # 2 chunks
    half = run_request(backend, _ask(request))
    assert half.prefix_evaluated == prefix - 2 * CANONICAL_CHUNK
    assert half.candidates == cold.candidates

    # Other work after the prefill: a Try it reply, then a persona check of the same text.
    prefill(backend, ROSA)
    list(backend.stream_chat([{"role": "system", "content": ROSA}], CHECK_PARAMS))
    after_chat = run_request(backend, _ask(request))
    assert after_chat.candidates == cold.candidates
    list(answers(backend, ROSA, QUESTIONS))
    after_check = run_request(backend, _ask(request))
    assert after_check.candidates == cold.candidates


def test_the_persona_check_answers_the_same_after_prefills(backend) -> None:
    _empty_cache(backend)
    before = list(answers(backend, ROSA, QUESTIONS))
    prefill(backend, ROSA)
    between = list(answers(backend, ROSA, QUESTIONS))
    run_request(backend, SectionRewriteRequest(ROSA, STYLE, mode=REWRITE, seed=4))
    prefill(backend, ROSA.replace("about gluten", "about wheat"))
    after = list(answers(backend, ROSA, QUESTIONS))
    assert before == between == after
