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


class CheckScript:
    """The persona check's answers for a scripted run: one set of answers per version of the
    persona checked, in the order of the probe questions (persona_check.PROBES), each a
    string or a callable given the messages. A version is known by its system prompt, so a
    check that asks the questions in another order, or stops once it cannot win, still gets
    the answers meant for its version. Put it in a ScriptedBackend's replies once per
    question it may be asked (``replies``)."""

    def __init__(self, sets: Sequence[Sequence[object]]) -> None:
        from persona_studio.engine.persona_check import PROBES

        self.questions = [question for _, question in PROBES]
        self.sets = [list(answers) for answers in sets]
        self.versions = 0  # versions checked so far
        self.asked: list[str] = []
        self._system: str | None = None

    def replies(self) -> list[object]:
        """Enough of itself for every question of every set."""
        return [self] * (len(self.questions) * len(self.sets))

    def __call__(self, messages: list[ChatMessage]) -> str:
        system, question = messages[0]["content"], messages[-1]["content"]
        if system != self._system:
            if self.versions >= len(self.sets):
                raise AssertionError("more versions were checked than the script has")
            self._system = system
            self.versions += 1
        self.asked.append(question)
        answer = self.sets[self.versions - 1][self.questions.index(question)]
        return str(answer(messages) if callable(answer) else answer)
