"""A model served over HTTP by anything that speaks the OpenAI chat API.

Ollama (the engine FORLLM uses), llama.cpp's ``llama-server``, ``llama_cpp.server`` and vLLM
all expose ``/v1/chat/completions``. The official ``openai`` client does the HTTP, the SSE
parsing and the typed errors; this module adds what a desktop app needs on top:

* a Stop button that works at once, even while the server is still loading the model or
  processing the prompt and has sent nothing yet (see ``_StreamPump``);
* time limits that hold even when a server accepts the connection and then goes silent;
* error messages that name the server and the model and say what to do.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
import openai
from openai import Stream
from openai.types.chat import ChatCompletionChunk

from persona_studio.errors import BackendError, ServerUnreachableError, StageTimeoutError
from persona_studio.llm.base import (
    CancelToken,
    ChatMessage,
    LLMBackend,
    SamplingParams,
    check_deadline,
    remaining,
)
from persona_studio.llm.catalog import ModelRef

#: Assumed context window when the caller does not know it: the OpenAI API cannot report it,
#: and 4096 is what small local models offer at the least.
DEFAULT_CONTEXT_LENGTH = 4096

# How often the waiting loop wakes to look at the cancel token and the clock: short enough
# that Stop feels instant, long enough to cost nothing.
_POLL_S = 0.05
# The HTTP read timeout is only a backstop that ends the pump thread; the waiting loop enforces
# the real limits. The margin lets the loop's clearer message win the race.
_BACKSTOP_MARGIN_S = 1.0
# Servers sometimes answer errors with a whole HTML page; a message needs only its start.
_ERROR_TEXT_LIMIT = 300

_PIECE, _DONE, _ERROR = "piece", "done", "error"


class OpenAICompatBackend(LLMBackend):
    """Streams chat completions from an OpenAI-compatible server.

    ``first_token_timeout`` bounds the wait for the first piece (model loading and prompt
    processing happen then, so it is generous); ``idle_timeout`` bounds each later silence.
    ``context_length`` cannot be asked of the server, so it is the caller's figure or
    ``DEFAULT_CONTEXT_LENGTH``.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        connect_timeout: float = 5.0,
        first_token_timeout: float = 120.0,
        idle_timeout: float = 60.0,
        context_length: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.model_id = ModelRef.server(self.base_url, model).model_id
        self.context_length = context_length or DEFAULT_CONTEXT_LENGTH
        self._connect_timeout = connect_timeout
        self._first_token_timeout = first_token_timeout
        self._idle_timeout = idle_timeout
        # Cleared for good once the server has refused llama.cpp-style sampling keys.
        self._send_extras = True
        self._client = _make_client(
            self.base_url, api_key, openai.Timeout(idle_timeout, connect=connect_timeout)
        )

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> Iterator[str]:
        """Yield the reply piece by piece; raise GenerationCancelled or StageTimeoutError.

        The HTTP request runs on a pump thread, so this loop can give up the moment the user
        cancels or a limit passes, whatever the server is doing.
        """
        what = f"The reply from '{self.model}' at {self.base_url}"
        if cancel is not None:
            cancel.raise_if_cancelled()
        check_deadline(deadline, what)
        backstop = _BACKSTOP_MARGIN_S + min(
            max(self._first_token_timeout, self._idle_timeout),
            remaining(deadline, self._first_token_timeout),
        )
        pump = _StreamPump(lambda: self._open_stream(messages, params, backstop))
        pump.start()
        started = False
        patience = self._first_token_timeout
        silent_since = time.monotonic()
        try:
            while True:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                check_deadline(deadline, what)
                silent_for = time.monotonic() - silent_since
                if silent_for >= patience:
                    raise StageTimeoutError(self._silence_message(patience, started=started))
                try:
                    kind, value = pump.events.get(timeout=min(_POLL_S, patience - silent_for))
                except queue.Empty:
                    continue
                if kind == _PIECE:
                    yield value
                    # The consumer's own time between pieces is not the server's silence.
                    silent_since = time.monotonic()
                    started, patience = True, self._idle_timeout
                elif kind == _DONE:
                    return
                else:
                    # A timeout caused by the deadline should say so, not blame the server.
                    check_deadline(deadline, what)
                    raise _translate_error(value, self.base_url, self.model) from value
        finally:
            pump.stop()

    def count_tokens(self, text: str) -> int:
        """Estimate: about four characters a token for English text.

        The OpenAI API has no tokenize call (llama.cpp has one, Ollama does not), and a round
        trip per count would slow prompt budgeting down; the estimate errs on the high side for
        typical prose, which is the safe side for budgeting.
        """
        return -(-len(text) // 4)

    def close(self) -> None:
        """Close the HTTP client's connection pool."""
        self._client.close()

    def _open_stream(
        self, messages: Sequence[ChatMessage], params: SamplingParams, read_timeout: float
    ) -> Stream[ChatCompletionChunk]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "stream": True,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "timeout": openai.Timeout(read_timeout, connect=self._connect_timeout),
        }
        if params.stop:
            request["stop"] = list(params.stop)
        if params.seed is not None:
            request["seed"] = params.seed
        # llama.cpp's servers honour these; Ollama's OpenAI layer and vLLM ignore them (vLLM
        # spells the last one repetition_penalty). Strict servers refuse them with a 400.
        extras = {
            "top_k": params.top_k,
            "min_p": params.min_p,
            "repeat_penalty": params.repeat_penalty,
        }
        if not self._send_extras:
            return self._client.chat.completions.create(**request)
        try:
            return self._client.chat.completions.create(**request, extra_body=extras)
        except openai.BadRequestError:
            stream = self._client.chat.completions.create(**request)
            # Only now is it certain the extras, not something else, caused the 400.
            self._send_extras = False
            return stream

    def _silence_message(self, seconds: float, *, started: bool) -> str:
        if started:
            return (
                f"The model server at {self.base_url} went silent for {seconds:g} s in the "
                f"middle of a reply from '{self.model}'. It may be overloaded or stuck; try again."
            )
        return (
            f"The model server at {self.base_url} sent nothing for {seconds:g} s. It may "
            f"still be loading '{self.model}' or be overloaded; try again, or raise the "
            "first-token timeout for slow machines."
        )


def list_models(base_url: str, *, api_key: str | None = None, timeout: float = 3.0) -> list[str]:
    """Names of the models the server at ``base_url`` offers (GET /models).

    Raises BackendError when the server cannot be reached or answers with an error, so the
    catalog can mark the endpoint unavailable and show why.
    """
    base_url = base_url.rstrip("/")
    client = _make_client(base_url, api_key, openai.Timeout(timeout))
    try:
        return [model.id for model in client.models.list().data]
    except (openai.OpenAIError, httpx.HTTPError, json.JSONDecodeError) as exc:
        raise _translate_error(exc, base_url, None) from exc
    finally:
        client.close()


def _make_client(base_url: str, api_key: str | None, timeout: openai.Timeout) -> openai.OpenAI:
    # Local servers want no key, but the client insists on one (and would otherwise read
    # OPENAI_API_KEY, which belongs to another service). Retries are the pipeline's decision,
    # made from BackendError.transient, so the client must not add its own.
    return openai.OpenAI(
        base_url=base_url, api_key=api_key or "not-needed", max_retries=0, timeout=timeout
    )


class _StreamPump(threading.Thread):
    """Runs the blocking request on a daemon thread and posts what arrives to ``events``.

    The caller waits on the queue with a short timeout, so it can always act on Stop or a
    deadline; ``stop()`` then shuts the socket down, which wakes a read blocked in the pump
    (closing it from this thread would not) and tells the server to stop generating. Before
    the response headers arrive there is no socket to reach: the pump then ends by itself at
    the HTTP read timeout.
    """

    def __init__(self, open_stream: Callable[[], Stream[ChatCompletionChunk]]) -> None:
        super().__init__(name="openai-compat-stream", daemon=True)
        self.events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._open_stream = open_stream
        self._lock = threading.Lock()
        self._stopped = False
        self._stream: Stream[ChatCompletionChunk] | None = None

    def run(self) -> None:
        try:
            stream = self._open_stream()
            with self._lock:
                self._stream = stream
                stopped = self._stopped
            try:
                if stopped:
                    return
                for chunk in stream:
                    if self._stopped:
                        return
                    piece = _delta_text(chunk)
                    if piece:
                        self.events.put((_PIECE, piece))
            finally:
                stream.close()
            self.events.put((_DONE, None))
        except Exception as exc:  # noqa: BLE001 - handed to the caller, who translates it
            self.events.put((_ERROR, exc))

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            stream = self._stream
        if stream is not None:
            _interrupt(stream)


def _interrupt(stream: Stream[ChatCompletionChunk]) -> None:
    # httpx documents the "network_stream" extension and its "socket" extra info.
    network_stream = stream.response.extensions.get("network_stream")
    sock = network_stream.get_extra_info("socket") if network_stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already closed by the pump or the server
            sock.shutdown(socket.SHUT_RDWR)


def _delta_text(chunk: ChatCompletionChunk) -> str | None:
    # Servers send role-only first chunks, usage-only last chunks (no choices) and null
    # contents; the client does not validate chunks, so nothing here is taken for granted.
    choices = getattr(chunk, "choices", None)
    if not choices:
        return None
    content = getattr(getattr(choices[0], "delta", None), "content", None)
    return content if isinstance(content, str) else None


def _translate_error(exc: Exception, base_url: str, model: str | None) -> BackendError:
    """Turn an openai/httpx failure into a BackendError a person can act on.

    Anything else is a bug, not a server problem, and is raised again unchanged.
    """
    for_model = f" for '{model}'" if model else ""
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, base_url, model)
    if isinstance(exc, json.JSONDecodeError):
        return BackendError(
            f"The model server at {base_url} sent a malformed reply{for_model} ({exc.msg}). "
            "Try again; if it keeps happening the server may not be OpenAI-compatible.",
            transient=True,
        )
    # openai 1.x lets httpx errors raised mid-stream through unwrapped; later versions wrap them.
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        chain = _cause_chain(exc)
        if any(type(e).__name__ in ("ConnectError", "ConnectTimeout") for e in chain):
            return ServerUnreachableError(
                f"Cannot reach the model server at {base_url} ({_connect_reason(chain)}). "
                "Is Ollama (or your server) running? Start it (for Ollama: `ollama serve`) or "
                "check the address in the model settings.",
                transient=False,
            )
        if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
            return StageTimeoutError(
                f"The model server at {base_url} stopped answering{for_model} (timed out). "
                "It may be overloaded; try again."
            )
        return BackendError(
            f"The connection to the model server at {base_url} broke off{for_model} "
            f"({_innermost(chain)}). Try again; if it keeps happening, check the server's log.",
            transient=True,
        )
    if isinstance(exc, openai.OpenAIError | httpx.HTTPError):
        # Includes an error event sent inside the stream.
        return BackendError(
            f"The model server at {base_url} reported an error{for_model}: {_truncate(str(exc))}",
            transient=True,
        )
    raise exc


def _status_error(exc: openai.APIStatusError, base_url: str, model: str | None) -> BackendError:
    status = exc.status_code
    server_text = _server_text(exc)
    detail = f"HTTP {status}: {server_text}"
    if status == 404:
        if model is None:
            return BackendError(
                f"No OpenAI-compatible API at {base_url} ({detail}). The address usually ends "
                "in /v1, e.g. http://localhost:11434/v1 for Ollama.",
                transient=False,
            )
        # Ollama's default port, or its "model ... not found, try pulling it first".
        looks_like_ollama = "11434" in base_url or "pull" in server_text.lower()
        hint = (
            f" Download it with `ollama pull {model}`."
            if looks_like_ollama
            else " Check the model name against the server's model list."
        )
        return BackendError(
            f"The model server at {base_url} does not have the model '{model}' ({detail}).{hint} "
            "If the name is right, check that the address ends in /v1.",
            transient=False,
        )
    if status in (401, 403):
        return BackendError(
            f"The model server at {base_url} refused access ({detail}). "
            "Check the API key set for this server.",
            transient=False,
        )
    if status == 429 or status >= 500:
        return BackendError(
            f"The model server at {base_url} failed ({detail}). "
            "This is usually temporary; try again.",
            transient=True,
        )
    return BackendError(
        f"The model server at {base_url} rejected the request ({detail}).", transient=False
    )


def _server_text(exc: openai.APIStatusError) -> str:
    # Error bodies differ by server: {"error": {"message": ...}} (OpenAI, Ollama, llama.cpp),
    # {"error": "..."}, {"detail": ...} (FastAPI), or plain text; the client has already
    # unwrapped the "error" key where there was one.
    body = exc.body
    text: object = None
    if isinstance(body, dict):
        text = body.get("message") or body.get("detail") or body.get("error")
    elif isinstance(body, str):
        text = body
    if not text:
        text = exc.response.text or exc.response.reason_phrase
    return _truncate(str(text))


def _truncate(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= _ERROR_TEXT_LIMIT:
        return text
    return text[: _ERROR_TEXT_LIMIT - 1] + "…"


def _cause_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _innermost(chain: list[BaseException]) -> str:
    return str(chain[-1]) or type(chain[-1]).__name__


def _connect_reason(chain: list[BaseException]) -> str:
    for error in chain:
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(error, socket.gaierror):
            return "unknown host name"
    if any(type(e).__name__ == "ConnectTimeout" for e in chain):
        return "connection timed out"
    return _innermost(chain)
