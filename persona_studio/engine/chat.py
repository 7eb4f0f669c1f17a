"""Trying a persona: a conversation in which the persona text is the system prompt.

This is how FORLLM uses a persona (its instructions are the system prompt of every reply), so
a writer sees at once whether a model actually follows what the persona says. Qt-free: the
window's worker thread runs it between generation jobs, and ``persona-studio chat`` runs it in
a terminal.

Small models have small context windows, and the persona already takes a share of it. The
system prompt always goes in whole; the conversation is trimmed from its oldest exchanges so
that the persona, the turns kept and room for the reply fit. The reply says how many earlier
messages the model no longer saw, so the writer is not surprised when it "forgets".
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from persona_studio.core.document import KNOWLEDGE
from persona_studio.engine.headings import parse_persona
from persona_studio.errors import (
    GenerationCancelled,
    InvalidRequestError,
    ModelError,
    PersonaStudioError,
)
from persona_studio.llm.base import CancelToken, ChatMessage, LLMBackend, SamplingParams
from persona_studio.llm.catalog import ModelRef

PROBE_WHO = "Who are you?"
PROBE_FORBIDDEN = "What will you never talk about?"
DOMAIN_FALLBACK = "What do you know best? Tell me about it."
MAX_QUESTION_CHARS = 4000
# Chat-template tokens around each message (role markers, separators): a few per turn.
MESSAGE_OVERHEAD_TOKENS = 8
REPLY_SECONDS = 300.0

# A conversational reply, not a document: shorter than a generation stage, a little warmer.
CHAT_PARAMS = SamplingParams(
    max_tokens=320, temperature=0.7, top_p=0.9, top_k=40, min_p=0.05, repeat_penalty=1.1
)

# How persona texts introduce a domain: "You know a great deal about X", "expert in X"...
_DOMAIN_LEAD = re.compile(
    r"\b(?:know(?:s)?\s+(?:a\s+great\s+deal|a\s+lot|much|everything)\s+about"
    r"|(?:expert|expertise|specialist|specializ\w*|specialis\w*|skilled|versed)\s+(?:in|on|at)"
    r"|knowledge\s+of|deep\s+understanding\s+of|passion(?:ate)?\s+(?:for|about))\s+",
    re.IGNORECASE,
)
# Where a topic phrase ends: punctuation, or a clause that starts something else.
_TOPIC_END = re.compile(
    r"[,.;:!?()\n]|\s(?:and\s+(?:you|have|can|are|is)|but|which|who|that|so|because)\b",
    re.IGNORECASE,
)
_MARKDOWN = re.compile(r"[*_`>#]+")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
MAX_TOPIC_CHARS = 60


def domain_probe(persona_text: str) -> str:
    """A question about the persona's own domain, taken from its Knowledge Domain section
    ("You know a great deal about food and cooking." -> "What can you tell me about food and
    cooking?"); a general question when the text has no such section."""
    section = parse_persona(persona_text).section(KNOWLEDGE)
    if section is None or not section.content.strip():
        return DOMAIN_FALLBACK
    first = next((line for line in section.content.splitlines() if line.strip()), "")
    first = _MARKDOWN.sub("", _BULLET.sub("", first)).strip()
    lead = _DOMAIN_LEAD.search(first)
    topic = first[lead.end() :] if lead else first
    end = _TOPIC_END.search(topic)
    topic = (topic[: end.start()] if end else topic).strip()
    if len(topic) > MAX_TOPIC_CHARS:
        topic = topic[:MAX_TOPIC_CHARS].rsplit(" ", 1)[0]
    if not re.search(r"[^\W\d_]", topic):  # no letter at all: "...", "42"
        return DOMAIN_FALLBACK
    # The case stays as written: "Linux servers" must not become "linux servers", and a
    # capital on "Medieval siege warfare" is the lesser harm.
    return f"What can you tell me about {topic}?"


def probes(persona_text: str) -> tuple[str, str, str]:
    """The one-click questions: who it is, its limits, its domain."""
    return (PROBE_WHO, PROBE_FORBIDDEN, domain_probe(persona_text))


@dataclass(frozen=True)
class ChatRequest:
    """One question to answer: plain data, so it crosses from the window to the worker.

    ``history`` is the conversation so far (user and assistant turns, oldest first) and ends
    with the new user question.
    """

    chat_id: int
    model_id: str
    persona_text: str
    history: tuple[ChatMessage, ...]
    params: SamplingParams = CHAT_PARAMS
    cancel: CancelToken = field(default_factory=CancelToken, compare=False)

    def __post_init__(self) -> None:
        if not self.persona_text.strip():
            raise InvalidRequestError(
                "persona_text", "The persona has no text yet, so there is nothing to try."
            )
        if not self.history or self.history[-1]["role"] != "user":
            raise InvalidRequestError("history", "There is no question to answer.")
        question = self.history[-1]["content"]
        if not question.strip():
            raise InvalidRequestError("question", "Type a question first.")
        if len(question) > MAX_QUESTION_CHARS:
            raise InvalidRequestError(
                "question",
                f"The question is {len(question):,} characters long; the limit is "
                f"{MAX_QUESTION_CHARS:,}.",
            )


@dataclass(frozen=True)
class ChatReply:
    """How a reply ended. ``text`` is what was said (all of it, or up to Stop);
    ``dropped`` counts earlier messages left out to fit the context window; ``cut`` says the
    reply reached its length limit rather than ending by itself."""

    chat_id: int
    text: str = ""
    tokens: int = 0
    seconds: float = 0.0
    dropped: int = 0
    cancelled: bool = False
    error: str | None = None
    cut: bool = False

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def fit_messages(
    backend: LLMBackend,
    persona_text: str,
    history: Sequence[ChatMessage],
    reply_tokens: int,
) -> tuple[list[ChatMessage], int]:
    """The messages to send (system prompt first) and how many history messages were left
    out: the oldest go first, whole exchanges at a time, the question always stays."""
    window = backend.context_length
    budget = window - reply_tokens

    def cost(text: str) -> int:
        return backend.count_tokens(text) + MESSAGE_OVERHEAD_TOKENS

    system = cost(persona_text)
    question = cost(history[-1]["content"])
    if system + question > budget:
        raise ModelError(
            f"The persona ({system - MESSAGE_OVERHEAD_TOKENS:,} tokens) and the question do "
            f"not fit {_model_name(backend)}'s {window:,}-token context window with room for "
            f"a {reply_tokens:,}-token reply. Shorten the persona or the question, or pick a "
            "model with a larger context window."
        )
    used = system + question
    kept: list[ChatMessage] = [history[-1]]
    earlier = list(history[:-1])
    # Walk back over whole exchanges (user + assistant) so the model never sees an answer
    # without its question.
    while earlier:
        exchange = (
            earlier[-2:] if len(earlier) >= 2 and earlier[-2]["role"] == "user" else [earlier[-1]]
        )
        exchange_cost = sum(cost(m["content"]) for m in exchange)
        if used + exchange_cost > budget:
            break
        used += exchange_cost
        kept[:0] = exchange
        del earlier[-len(exchange) :]
    messages: list[ChatMessage] = [{"role": "system", "content": persona_text}]
    messages.extend({"role": m["role"], "content": m["content"]} for m in kept)
    return messages, len(earlier)


def _model_name(backend: LLMBackend) -> str:
    try:
        return ModelRef.parse(backend.model_id).name
    except ModelError:
        return backend.model_id


def answer(
    backend: LLMBackend,
    request: ChatRequest,
    on_text: Callable[[str, int, float], None] | None = None,
    *,
    timeout: float = REPLY_SECONDS,
) -> ChatReply:
    """Stream the persona's reply to ``request`` through ``on_text(piece, tokens so far,
    tokens/s)``. Never raises for the model's failures or Stop: the reply says how it ended,
    keeping whatever was said before."""
    started = time.monotonic()
    pieces: list[str] = []
    dropped = 0

    def reply(**outcome) -> ChatReply:
        return ChatReply(
            request.chat_id,
            text="".join(pieces).strip(),
            tokens=len(pieces),
            seconds=time.monotonic() - started,
            dropped=dropped,
            **outcome,
        )

    try:
        request.cancel.raise_if_cancelled()
        messages, dropped = fit_messages(
            backend, request.persona_text, request.history, request.params.max_tokens
        )
        for piece in backend.stream_chat(
            messages, request.params, cancel=request.cancel, deadline=started + timeout
        ):
            pieces.append(piece)
            if on_text is not None:
                elapsed = time.monotonic() - started
                on_text(piece, len(pieces), len(pieces) / elapsed if elapsed > 0 else 0.0)
    except GenerationCancelled:
        return reply(cancelled=True)
    except PersonaStudioError as exc:  # a model that failed to load, a server, a timeout
        return reply(error=str(exc))
    if not "".join(pieces).strip():
        return reply(error="The model ended its turn without saying anything. Ask again.")
    # One piece per token on every backend we have (a piece can hold less than a token, never
    # more), so reaching the limit in pieces means the limit stopped it.
    return reply(cut=len(pieces) >= request.params.max_tokens)
