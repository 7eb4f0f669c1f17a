"""A backend that plays a script, for fault injection the real model cannot be made to do on
demand: malformed output, transient errors, a backend that stops sending tokens.

It follows the LLMBackend contract (cancel and deadline honoured between pieces) and has no
``continuation``, so the pipeline treats it like an HTTP backend: validate, retry, repair.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from persona_studio.errors import BackendError
from persona_studio.llm.base import (
    CancelToken,
    ChatMessage,
    LLMBackend,
    SamplingParams,
    check_deadline,
)


class ScriptedBackend(LLMBackend):
    """Each call to stream_chat takes the next reply from ``replies``.

    A reply is a string (streamed word by word), a BackendError instance (raised), the
    string "HANG" (sends one word, then nothing until the deadline passes), or a callable
    given the messages that returns the string (a reply that depends on the prompt).
    """

    def __init__(self, replies: Sequence[object], *, model_id: str = "scripted:test") -> None:
        self.replies = list(replies)
        self.model_id = model_id
        self.calls: list[list[ChatMessage]] = []

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> Iterator[str]:
        self.calls.append(list(messages))
        if not self.replies:
            raise AssertionError("the script ran out of replies")
        reply = self.replies.pop(0)
        if callable(reply):
            reply = reply(list(messages))
        if isinstance(reply, BackendError):
            raise reply
        if reply == "HANG":
            yield "Thinking"
            while True:
                time.sleep(0.02)
                if cancel is not None:
                    cancel.raise_if_cancelled()
                check_deadline(deadline, "Scripted stage")
        for index, word in enumerate(str(reply).split(" ")):
            if cancel is not None:
                cancel.raise_if_cancelled()
            check_deadline(deadline, "Scripted stage")
            yield word if index == 0 else " " + word

    def count_tokens(self, text: str) -> int:
        return len(text.split())
