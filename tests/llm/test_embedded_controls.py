"""The embedded backend's controls the pipeline and the check rely on, on the real default
model: no repeated phrase, a nudge toward words, and reproducible greedy answers."""

import re

import numpy as np
import pytest

from persona_studio.engine.persona_check import CHECK_PARAMS, answers
from persona_studio.llm.base import (
    ContinuationStream,
    SamplingParams,
    SupportsContinuation,
    WordPreference,
)

pytestmark = pytest.mark.model

PERSONA = (
    "## Persona Name: Martha Greene\n\n## Core Identity:\nYou are Martha Greene, a patient "
    "sourdough baker who explains fermentation to beginners.\n\n## Knowledge Domain & "
    "Expertise:\nYou know a great deal about sourdough bread, starters and fermentation.\n"
)
QUESTIONS = ["Who are you?", "What is your name?", "What do you know a lot about?"]


def _words(text: str) -> list[str]:
    return text.casefold().split()


def _repeated_phrases(text: str) -> int:
    """Repeated word 4-grams with a word of four letters or more (punctuation ignored)."""
    words = re.findall(r"[a-z']+", text.casefold())
    grams = [
        tuple(words[i : i + 4])
        for i in range(len(words) - 3)
        if any(len(word) >= 4 for word in words[i : i + 4])
    ]
    return len(grams) - len(set(grams))


def test_the_loaded_model_supports_continuation(backend):
    """The engine writes by sections on the embedded backend because it is a
    ``SupportsContinuation``, and reads what a continuation kept after iterating it."""
    assert isinstance(backend, SupportsContinuation)
    prompt = backend.chat_tokens([{"role": "user", "content": "Say hello."}])
    cont = backend.continuation(prompt, SamplingParams(max_tokens=4, temperature=0.0))
    text = "".join(cont)
    assert isinstance(cont, ContinuationStream)
    assert cont.text == text and len(cont.tokens) == cont.n_generated <= 4
    assert cont.finish_reason in {"stop", "eog", "length"}


def test_no_repeat_keeps_a_loop_from_forming(backend):
    # Greedy, no repeat penalty: on this prompt the model goes round in circles.
    prompt = backend.chat_tokens([{"role": "user", "content": "Write a song about the sea."}])
    params = SamplingParams(max_tokens=120, temperature=0.0, top_k=1, repeat_penalty=1.0)
    free_text = "".join(backend.continuation(prompt, params))
    guarded_text = "".join(backend.continuation(prompt, params, no_repeat_from=len(prompt)))
    assert _repeated_phrases(free_text) > 10, free_text  # the model does loop
    assert _repeated_phrases(guarded_text) <= 1, guarded_text
    assert len(guarded_text) > 0.8 * len(free_text)  # it still writes as much


def test_a_preference_brings_the_hint_words_in(backend):
    prompt = backend.chat_tokens([{"role": "user", "content": "Describe your hobby."}])
    opening = backend.tokenize_text("I know a great deal about")
    params = SamplingParams(max_tokens=12, temperature=0.0, top_k=1, repeat_penalty=1.0)
    plain = "".join(backend.continuation(prompt + opening, params))
    nudged = "".join(
        backend.continuation(
            prompt + opening, params, prefer=WordPreference(("sourdough", "fermentation"))
        )
    )
    assert "sourdough" not in plain.casefold() and "fermentation" not in plain.casefold()
    assert "sourdough" in nudged.casefold() or "fermentation" in nudged.casefold(), nudged


def test_greedy_answers_do_not_depend_on_what_ran_before(backend):
    first = list(answers(backend, PERSONA, QUESTIONS))
    # Other work in between changes the cache; the answers must not change.
    list(backend.stream_chat([{"role": "user", "content": "Tell me a joke."}], CHECK_PARAMS))
    second = list(answers(backend, PERSONA, QUESTIONS))
    third = list(answers(backend, PERSONA.replace("bread,", "loaves,"), QUESTIONS))
    backend.llama.reset()
    backend._canonical = []  # nothing reusable: everything evaluated from scratch
    fresh = list(answers(backend, PERSONA.replace("bread,", "loaves,"), QUESTIONS))
    assert first == second
    assert third == fresh  # reusing the unchanged chunks gives the same answers
    assert any("Martha" in a for a in first)


def test_no_repeat_never_cuts_a_word_in_two(backend):
    # The document already holds " a brooding submarine"; writing " a bro" again, the
    # processor must let the word finish ("oding") and stop the repeat at the next word.
    said = backend.tokenize_text("I'm Nemo, a brooding submarine captain. I'm Nemo, a bro")
    processor = backend.no_repeat_processor(0)
    scores = np.zeros(backend.llama.n_vocab(), dtype=np.single)
    processor(np.array(said, dtype=np.intc), scores)
    rest_of_word = backend.tokenize_text(" brooding")[1]
    assert scores[rest_of_word] == 0  # the rest of the word stays allowed
    finished = said + [rest_of_word]
    scores = np.zeros(backend.llama.n_vocab(), dtype=np.single)
    processor(np.array(finished, dtype=np.intc), scores)
    assert scores[backend.tokenize_text(" submarine")[0]] == -np.inf  # the repeat stops here
