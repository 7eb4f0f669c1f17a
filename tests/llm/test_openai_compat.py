"""The OpenAI-compatible backend against real servers on 127.0.0.1.

llama_cpp.server with SmolLM2 covers the happy paths; the scripted stdlib server covers what a
healthy server will not do on demand (errors, silence, drips, garbage).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from persona_studio.errors import BackendError, GenerationCancelled, StageTimeoutError
from persona_studio.llm.base import CancelToken, ChatMessage, SamplingParams
from persona_studio.llm.catalog import ModelRef, parse_model_id
from persona_studio.llm.openai_compat import OpenAICompatBackend, list_models

from .conftest import SERVED_MODEL, FakeServer, ScriptedHandler

pytestmark = pytest.mark.timeout(60)

ASK: list[ChatMessage] = [{"role": "user", "content": "Name three colours of the rainbow."}]
# Greedy and seeded, so two calls give the same reply.
GREEDY = SamplingParams(max_tokens=24, temperature=0.0, seed=1)


@pytest.fixture
def backend(llama_server: str) -> Iterator[OpenAICompatBackend]:
    backend = OpenAICompatBackend(llama_server, SERVED_MODEL)
    yield backend
    backend.close()


def fake_backend(server: FakeServer, **options: Any) -> OpenAICompatBackend:
    return OpenAICompatBackend(server.base_url, "fake-model", **options)


def drain(backend: OpenAICompatBackend, **call: Any) -> list[str]:
    """The whole reply as its pieces."""
    return list(backend.stream_chat(ASK, call.pop("params", GREEDY), **call))


# --- llama_cpp.server -------------------------------------------------------------------------


def test_streams_a_real_reply(backend: OpenAICompatBackend) -> None:
    pieces = drain(backend)
    text = "".join(pieces)
    assert len(pieces) >= 3, pieces
    assert all(pieces), "empty deltas must be skipped"
    assert sum(c.isalpha() for c in text) >= 10, text
    # On topic: the prompt reached the model through the chat template.
    assert "rainbow" in text.lower() or "colo" in text.lower(), text


def test_stop_sequence_is_honoured(backend: OpenAICompatBackend) -> None:
    full = "".join(drain(backend))
    words = full.split()
    assert len(words) >= 4, full
    stop = words[2]
    cut = "".join(drain(backend, params=dataclasses.replace(GREEDY, stop=(stop,))))
    assert cut.strip() == full[: full.index(stop)].strip()


def test_list_models_names_the_served_model(llama_server: str) -> None:
    assert list_models(llama_server) == [SERVED_MODEL]


def test_cancel_after_third_piece_stops_promptly(backend: OpenAICompatBackend) -> None:
    cancel = CancelToken()
    pieces: list[str] = []
    params = SamplingParams(max_tokens=64, temperature=0.0, seed=1)
    with pytest.raises(GenerationCancelled):
        for piece in backend.stream_chat(ASK, params, cancel=cancel):
            pieces.append(piece)
            if len(pieces) == 3:
                cancel.cancel()
    assert len(pieces) == 3
    # The server is free again at once: the cancelled request did not hold it.
    started = time.monotonic()
    assert drain(backend, params=SamplingParams(max_tokens=4, temperature=0.0))
    assert time.monotonic() - started < 10


def test_model_id_context_length_and_token_estimate() -> None:
    url = "http://127.0.0.1:8080/v1"
    backend = OpenAICompatBackend(url + "/", "qwen2.5:0.5b", context_length=2048)
    default = OpenAICompatBackend(url, "qwen2.5:0.5b")
    backend.close()
    default.close()
    assert (
        backend.model_id
        == ModelRef.server(url, "qwen2.5:0.5b").model_id
        == f"openai:qwen2.5:0.5b@{url}"
    )
    assert (backend.context_length, default.context_length) == (2048, 4096)
    assert [backend.count_tokens(text) for text in ("", "a", "abcd", "abcde")] == [0, 1, 1, 2]


def test_a_model_of_ollama_is_reported_as_the_user_picked_it() -> None:
    """Ollama's models are listed as ``ollama:NAME``; the backend says the same, so that is
    what a persona, its check and its card extras are saved with (not the server's URL)."""
    for picked in ("ollama:llama3", "llama3", "openai:llama3@http://localhost:11434/v1/"):
        ref = parse_model_id(picked)  # a bare name: FORLLM's, Ollama's model (no such file)
        backend = OpenAICompatBackend(ref.base_url, ref.model)
        backend.close()
        assert backend.model_id == "ollama:llama3", picked


# --- unreachable and failing servers ------------------------------------------------------------


def test_unreachable_server_is_a_clear_permanent_error() -> None:
    url = "http://127.0.0.1:1/v1"
    backend = OpenAICompatBackend(url, "some-model")
    try:
        with pytest.raises(BackendError) as caught:
            drain(backend)
    finally:
        backend.close()
    assert not caught.value.transient
    assert url in str(caught.value)
    assert "connection refused" in str(caught.value)
    with pytest.raises(BackendError, match="127.0.0.1:1/v1"):
        list_models(url)


@pytest.mark.parametrize(
    ("status", "payload", "transient", "expected"),
    [
        (500, {"error": {"message": "CUDA out of memory", "type": "server_error"}}, True, "500"),
        (503, {"error": "loading model"}, True, "loading model"),
        (429, {"error": {"message": "slow down"}}, True, "429"),
        (401, {"error": {"message": "bad key"}}, False, "API key"),
        (400, {"error": {"message": "prompt too long"}}, False, "prompt too long"),
    ],
)
def test_http_errors_keep_status_and_server_text(
    fake_server: FakeServer, status: int, payload: object, transient: bool, expected: str
) -> None:
    fake_server.script = lambda handler, body: handler.send_json(status, payload)
    backend = fake_backend(fake_server)
    try:
        with pytest.raises(BackendError) as caught:
            drain(backend)
    finally:
        backend.close()
    assert type(caught.value) is BackendError
    assert caught.value.transient is transient
    assert expected in str(caught.value)
    assert fake_server.base_url in str(caught.value)


def test_unknown_model_names_the_model(fake_server: FakeServer) -> None:
    fake_server.script = lambda handler, body: handler.send_json(
        404, {"error": {"message": f'model "{body["model"]}" not found, try pulling it first'}}
    )
    backend = fake_backend(fake_server)
    try:
        with pytest.raises(BackendError) as caught:
            drain(backend)
    finally:
        backend.close()
    assert not caught.value.transient
    assert "'fake-model'" in str(caught.value)
    assert "404" in str(caught.value)
    assert "`ollama pull fake-model`" in str(caught.value)


def test_list_models_at_a_wrong_address(fake_server: FakeServer) -> None:
    with pytest.raises(BackendError, match="No OpenAI-compatible API") as caught:
        list_models(fake_server.base_url)
    assert not caught.value.transient
    assert fake_server.base_url in str(caught.value)


def test_server_rejecting_sampling_extras_is_retried_without_them(fake_server: FakeServer) -> None:
    def strict(handler: ScriptedHandler, body: dict[str, Any]) -> None:
        if "top_k" in body:
            handler.send_json(400, {"error": {"message": "Unrecognized request argument: top_k"}})
            return
        handler.start_events()
        handler.send_piece("fine")
        handler.send_event("[DONE]")

    fake_server.script = strict
    backend = fake_backend(fake_server)
    try:
        assert drain(backend) == ["fine"]
        assert drain(backend) == ["fine"]
    finally:
        backend.close()
    # Rejected once, then never sent again.
    assert ["top_k" in body for body in fake_server.requests] == [True, False, False]
    assert fake_server.requests[1]["seed"] == 1


def test_malformed_stream_is_a_transient_error(fake_server: FakeServer) -> None:
    def garbage(handler: ScriptedHandler, body: dict[str, Any]) -> None:
        handler.start_events()
        handler.send_piece("ok")
        handler.send_event("{not json")

    fake_server.script = garbage
    backend = fake_backend(fake_server)
    pieces: list[str] = []
    try:
        with pytest.raises(BackendError) as caught:
            for piece in backend.stream_chat(ASK, GREEDY):
                pieces.append(piece)
    finally:
        backend.close()
    assert pieces == ["ok"]
    assert caught.value.transient
    assert "malformed" in str(caught.value)


def test_error_event_inside_the_stream(fake_server: FakeServer) -> None:
    def failing(handler: ScriptedHandler, body: dict[str, Any]) -> None:
        handler.start_events()
        handler.send_event(json.dumps({"error": {"message": "decode failed"}}))

    fake_server.script = failing
    backend = fake_backend(fake_server)
    try:
        with pytest.raises(BackendError, match="decode failed") as caught:
            drain(backend)
    finally:
        backend.close()
    assert caught.value.transient


# --- silence, drips and deadlines ---------------------------------------------------------------


def headers_then_silence(handler: ScriptedHandler, body: dict[str, Any]) -> None:
    handler.start_events()
    handler.hang()


def silence(handler: ScriptedHandler, body: dict[str, Any]) -> None:
    handler.hang()


@pytest.mark.parametrize("script", [headers_then_silence, silence])
def test_silent_server_times_out_at_the_deadline(fake_server: FakeServer, script: Any) -> None:
    fake_server.script = script
    backend = fake_backend(fake_server)
    started = time.monotonic()
    try:
        with pytest.raises(StageTimeoutError):
            drain(backend, deadline=started + 1.5)
    finally:
        backend.close()
    assert 1.4 < time.monotonic() - started < 1.5 + 2.0


def test_silent_server_times_out_after_first_token_timeout(fake_server: FakeServer) -> None:
    fake_server.script = headers_then_silence
    backend = fake_backend(fake_server, first_token_timeout=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(StageTimeoutError, match="sent nothing"):
            drain(backend)
    finally:
        backend.close()
    assert time.monotonic() - started < 2.0


def test_server_going_quiet_mid_reply_hits_idle_timeout(fake_server: FakeServer) -> None:
    def one_then_silence(handler: ScriptedHandler, body: dict[str, Any]) -> None:
        handler.start_events()
        handler.send_piece("Hello")
        handler.hang()

    fake_server.script = one_then_silence
    backend = fake_backend(fake_server, idle_timeout=0.5)
    pieces: list[str] = []
    try:
        with pytest.raises(StageTimeoutError, match="went silent"):
            for piece in backend.stream_chat(ASK, GREEDY):
                pieces.append(piece)
    finally:
        backend.close()
    assert pieces == ["Hello"]


def test_deadline_passing_mid_stream(fake_server: FakeServer) -> None:
    def drip(handler: ScriptedHandler, body: dict[str, Any]) -> None:
        handler.start_events()
        for n in range(100):
            handler.send_piece(f"p{n} ")
            if not handler.pause(0.2):
                return

    fake_server.script = drip
    backend = fake_backend(fake_server)
    pieces: list[str] = []
    started = time.monotonic()
    try:
        with pytest.raises(StageTimeoutError, match="time limit"):
            for piece in backend.stream_chat(ASK, GREEDY, deadline=started + 1.0):
                pieces.append(piece)
    finally:
        backend.close()
    assert 3 <= len(pieces) <= 7
    assert time.monotonic() - started < 1.5


def test_stop_works_while_the_server_is_still_silent(fake_server: FakeServer) -> None:
    """Model loading and prompt processing can take minutes; Stop must not wait for them."""
    fake_server.script = silence
    backend = fake_backend(fake_server)
    cancel = CancelToken()
    timer = threading.Timer(0.3, cancel.cancel)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(GenerationCancelled):
            drain(backend, cancel=cancel)
    finally:
        timer.join()
        backend.close()
    assert time.monotonic() - started < 1.0
