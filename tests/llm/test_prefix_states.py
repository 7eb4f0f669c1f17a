"""Saved cache states on the real default model (llm/prefix_states.py): work the cache held
before other work replaced it is restored, not evaluated again, and what follows computes
as it would have."""

import pytest

from persona_studio.engine.persona_check import CHECK_PARAMS, PROBES, answers
from persona_studio.llm.base import SamplingParams
from persona_studio.llm.prefix_states import MIN_SAVED_TOKENS, PrefixStates

pytestmark = pytest.mark.model

PERSONA = "## Persona Name: Martha Greene\n\n## Core Identity:\n" + " ".join(
    f"You are Martha Greene, a patient sourdough baker (lesson {n}) who explains "
    "fermentation, starters and crumb to beginners."
    for n in range(12)
)
OTHER = "Summarise this: " + " ".join(
    f"Item {n}: the river rises in spring and floods the lower fields." for n in range(20)
)
QUESTIONS = [question for _, question in PROBES[:3]]


def _from_scratch(backend):
    """No saved state, nothing in the cache: everything is evaluated anew."""
    backend.prefix_states.clear()
    backend.llama.reset()
    backend._canonical = []


@pytest.fixture(autouse=True)
def _empty_cache(backend):
    _from_scratch(backend)


def test_a_persona_checked_again_after_other_work_is_restored_not_evaluated(backend):
    first = list(answers(backend, PERSONA, QUESTIONS))
    # Other work replaces the persona in the cache (as a rewrite of a section does).
    list(backend.stream_chat([{"role": "user", "content": OTHER}], CHECK_PARAMS))
    spared = backend.prefix_states.spared_tokens
    edited = PERSONA + " You bake on Sundays."
    again = list(answers(backend, edited, QUESTIONS))
    assert backend.prefix_states.restores == 1
    assert backend.prefix_states.spared_tokens - spared >= 256  # the persona's unchanged chunks
    _from_scratch(backend)
    assert list(answers(backend, edited, QUESTIONS)) == again  # as if evaluated anew
    assert list(answers(backend, PERSONA, QUESTIONS)) == first


def test_a_chat_continued_after_other_work_resumes_where_it_was(backend):
    prompt = backend.chat_tokens([{"role": "user", "content": OTHER}])
    params = SamplingParams(max_tokens=16, temperature=0.0, top_k=1, repeat_penalty=1.0)
    written = "".join(backend.continuation(prompt, params))
    list(answers(backend, PERSONA, QUESTIONS))  # the check in between
    more = prompt + backend.tokenize_text(written)
    resumed = "".join(backend.continuation(more, params))
    assert backend.prefix_states.restores == 1
    assert backend.prefix_states.spared_tokens >= len(prompt) - 1
    _from_scratch(backend)
    assert "".join(backend.continuation(more, params)) == resumed


def test_short_work_is_not_kept_and_nothing_is_restored_for_it(backend):
    list(backend.stream_chat([{"role": "user", "content": "Say hello."}], CHECK_PARAMS))
    list(answers(backend, PERSONA, QUESTIONS))
    assert backend.prefix_states.entries == []  # under MIN_SAVED_TOKENS: evaluated anew
    assert backend.prefix_states.restores == 0


def test_saved_states_stay_within_their_bounds(backend):
    states = PrefixStates(max_entries=2)
    ctx = backend.llama._ctx.ctx
    prompts = [backend.chat_tokens([{"role": "user", "content": f"{n} {OTHER}"}]) for n in (1, 2)]
    assert all(len(p) >= MIN_SAVED_TOKENS for p in prompts)
    for tokens in prompts:
        backend.llama.reset()
        backend.llama.eval(tokens)
        states.save(ctx, tokens, 0)
    assert [e.tokens for e in states.entries] == prompts
    # A longer state of the same prompt replaces the shorter one instead of adding to it.
    longer = prompts[1] + backend.tokenize_text(" And more.")
    backend.llama.eval(longer[len(prompts[1]) :])
    states.save(ctx, longer, 0)
    assert [e.tokens for e in states.entries] == [prompts[0], longer]
    # A third prompt pushes out the one used least recently.
    third = backend.chat_tokens([{"role": "user", "content": f"3 {OTHER}"}])
    entry, usable = states.best(prompts[0])
    assert usable == len(prompts[0])
    assert states.restore(ctx, entry)  # now the most recently used
    backend.llama.reset()
    backend.llama.eval(third)
    states.save(ctx, third, 0)
    assert [e.tokens for e in states.entries] == [prompts[0], third]
    # Its canonical part only, in whole chunks, counts for a canonical evaluation.
    assert states.best(third, canonical_chunk=64)[1] == 0
    assert states.bytes > 0
