"""Trying a persona: the probe questions, fitting a conversation into the context window, and
answering (scripted backend for the failures, the real default model for a real reply)."""

from __future__ import annotations

import threading

import pytest

from persona_studio.engine.chat import (
    DOMAIN_FALLBACK,
    MAX_QUESTION_CHARS,
    PROBE_FORBIDDEN,
    PROBE_WHO,
    ChatRequest,
    answer,
    domain_probe,
    fit_messages,
    probes,
)
from persona_studio.errors import BackendError, InvalidRequestError, ModelError
from persona_studio.llm.base import CancelToken
from persona_studio.llm.catalog import DEFAULT_MODEL_ID, BackendPool, ModelSettings
from tests.scripted_backend import ScriptedBackend

PERSONA = """## Persona Name: Captain Nemo
## Core Identity:
You are Captain Nemo, the brooding commander of the submarine Nautilus.
## Knowledge Domain & Expertise:
You know a great deal about marine biology, and you have sailed every ocean.
## Forbidden Actions & Topics:
- Never talk about your past on land.
"""


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


@pytest.mark.parametrize(
    ("section", "question"),
    [
        (
            "You know a great deal about food and cooking. You love baking.",
            "What can you tell me about food and cooking?",
        ),
        (
            "Linux servers, NAS appliances, SMB/NFS, VLANs, ZFS, Docker.",
            "What can you tell me about Linux servers?",
        ),
        (
            "- **Medieval siege warfare**: trebuchets and sapping",
            "What can you tell me about Medieval siege warfare?",
        ),
        (
            "An expert in NASA mission history and you can explain orbits.",
            "What can you tell me about NASA mission history?",
        ),
        (
            "You know a great deal about the universe, and your crew is tasked to explore.",
            "What can you tell me about the universe?",
        ),
        (
            "1. Deep knowledge of Byzantine coinage and its forgeries",
            "What can you tell me about Byzantine coinage and its forgeries?",
        ),
        ("...", DOMAIN_FALLBACK),
    ],
)
def test_domain_probe_asks_about_the_first_domain(section: str, question: str) -> None:
    text = f"## Persona Name: X\n## Knowledge Domain & Expertise:\n{section}\n## Example Phrases:\n- hi"
    assert domain_probe(text) == question


def test_domain_probe_without_a_domain_section_asks_generally() -> None:
    assert domain_probe("You are Archivist Quill, a meticulous librarian.") == DOMAIN_FALLBACK
    assert domain_probe("") == DOMAIN_FALLBACK
    long_topic = "You know a great deal about " + "very " * 40 + "long things"
    question = domain_probe(f"## Knowledge Domain & Expertise:\n{long_topic}")
    assert question.startswith("What can you tell me about very") and len(question) < 100
    assert probes(PERSONA) == (
        PROBE_WHO,
        PROBE_FORBIDDEN,
        "What can you tell me about marine biology?",
    )


def test_request_refuses_what_cannot_be_asked() -> None:
    with pytest.raises(InvalidRequestError, match="no text yet"):
        ChatRequest(1, DEFAULT_MODEL_ID, "  \n", (user("Hi"),))
    with pytest.raises(InvalidRequestError, match="no question"):
        ChatRequest(1, DEFAULT_MODEL_ID, PERSONA, (user("Hi"), assistant("Hello")))
    with pytest.raises(InvalidRequestError, match="Type a question"):
        ChatRequest(1, DEFAULT_MODEL_ID, PERSONA, (user("   "),))
    with pytest.raises(InvalidRequestError, match="limit is 4,000"):
        ChatRequest(1, DEFAULT_MODEL_ID, PERSONA, (user("x" * (MAX_QUESTION_CHARS + 1)),))
    # {{...}} in a question is text, not a template placeholder.
    ChatRequest(1, DEFAULT_MODEL_ID, PERSONA, (user("What is {{persona_name}}?"),))


def test_fit_keeps_the_persona_and_the_newest_exchanges() -> None:
    backend = ScriptedBackend([])  # counts a word as a token
    backend.context_length = 100
    history = [
        user("one two three"), assistant("four five six"),
        user("seven eight"), assistant("nine ten"),
        user("the question"),
    ]  # fmt: skip
    persona = "word " * 20  # 20 + 8 overhead
    messages, dropped = fit_messages(backend, persona, history, reply_tokens=30)
    # Budget 70: persona 28 + question 10 = 38; newest exchange 10 + 10 fits (58); the
    # oldest (11 + 11) does not.
    assert dropped == 2
    assert messages[0] == {"role": "system", "content": persona}
    assert [m["content"] for m in messages[1:]] == ["seven eight", "nine ten", "the question"]

    messages, dropped = fit_messages(backend, persona, history, reply_tokens=5)
    assert dropped == 0 and len(messages) == 6

    with pytest.raises(ModelError, match="do not fit .*100-token context window"):
        fit_messages(backend, "word " * 80, history, reply_tokens=30)


def _request(history, **kwargs) -> ChatRequest:
    return ChatRequest(7, "scripted:test", PERSONA, tuple(history), **kwargs)


def test_answer_streams_and_sends_the_persona_as_system_prompt() -> None:
    backend = ScriptedBackend(["I am Nemo, master of the Nautilus."])
    seen: list[tuple[str, int]] = []
    reply = answer(
        backend,
        _request([user("Who are you?")]),
        lambda piece, tokens, _rate: seen.append((piece, tokens)),
    )
    assert reply.error is None and not reply.cancelled and not reply.cut
    assert reply.text == "I am Nemo, master of the Nautilus."
    assert reply.tokens == len(seen) == 7 and seen[-1][1] == 7
    assert backend.calls[0] == [
        {"role": "system", "content": PERSONA},
        {"role": "user", "content": "Who are you?"},
    ]


def test_a_reply_at_the_length_limit_says_it_was_cut() -> None:
    from dataclasses import replace

    from persona_studio.engine.chat import CHAT_PARAMS

    short = replace(CHAT_PARAMS, max_tokens=3)
    reply = answer(ScriptedBackend(["one two three"]), _request([user("Hi")], params=short))
    assert reply.cut and reply.text == "one two three"


def test_stop_keeps_what_was_said() -> None:
    backend = ScriptedBackend(["one two three four five six seven eight"])
    request = _request([user("Count.")])

    def stop_after_three(_piece: str, tokens: int, _rate: float) -> None:
        if tokens == 3:
            request.cancel.cancel()

    reply = answer(backend, request, stop_after_three)
    assert reply.cancelled and reply.error is None
    assert reply.text == "one two three"

    withdrawn = _request([user("Never asked")], cancel=CancelToken())
    withdrawn.cancel.cancel()
    reply = answer(ScriptedBackend([]), withdrawn)  # the script is never touched
    assert reply.cancelled and reply.text == "" and reply.tokens == 0


def test_failures_become_messages() -> None:
    reply = answer(
        ScriptedBackend([BackendError("Cannot reach the model server.", transient=True)]),
        _request([user("Hi")]),
    )
    assert reply.error == "Cannot reach the model server."
    reply = answer(ScriptedBackend(["   "]), _request([user("Hi")]))
    assert "without saying anything" in reply.error
    reply = answer(ScriptedBackend(["HANG"]), _request([user("Hi")]), timeout=0.3)
    assert "time limit" in reply.error and reply.text == "Thinking"


@pytest.mark.model
def test_the_default_model_answers_in_character() -> None:
    pool = BackendPool(ModelSettings(threads=1))
    try:
        backend = pool.get(DEFAULT_MODEL_ID)
        request = ChatRequest(1, DEFAULT_MODEL_ID, PERSONA, (user(PROBE_WHO),))
        pieces: list[str] = []
        reply = answer(backend, request, lambda piece, _t, _r: pieces.append(piece))
        assert reply.error is None, reply.error
        assert reply.tokens == len(pieces) > 3
        assert reply.text == "".join(pieces).strip()
        assert reply.tokens_per_s > 0

        # The second turn carries the first exchange; it is answered too.
        follow_up = ChatRequest(
            2,
            DEFAULT_MODEL_ID,
            PERSONA,
            (user(PROBE_WHO), assistant(reply.text), user("What is your ship called?")),
        )
        stopped = threading.Event()

        def stop_early(_piece: str, tokens: int, _rate: float) -> None:
            if tokens == 2:
                follow_up.cancel.cancel()
                stopped.set()

        second = answer(backend, follow_up, stop_early)
        assert stopped.is_set() and second.cancelled and second.tokens == 2
    finally:
        pool.close()
