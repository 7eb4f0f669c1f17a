"""The persona check: does the model that will use a persona actually behave as it says?

A persona is written to be the system prompt of a small local model (FORLLM uses it so).
Whether it works is a question for that model, so the check asks it a few probe questions
with the persona as the system prompt, greedily (temperature 0: the same persona and model
always give the same answers), and scores the answers:

- **name hold**: the answers to "Who are you?" and "What is your name?" give the persona's
  name (its first name is enough, as people answer, after a title or an epithet: "I'm
  Nemo" for Captain Nemo, "I'm Wendy" for Warbler Wendy), written as a name: whole words,
  with its capital ("I'm a helper" does not give the name Helper);
- **domain hit**: the answer to "What do you know a lot about?" names the topic the user
  asked for (a word of the hints, or of the persona's Knowledge Domain when there are no
  hints), outside a denial ("I'm not a skald, but…" says nothing about skalds);
- **breaks**: answers in which a character calls itself an AI, a language model or an
  assistant (not counted for personas the user made an AI or an assistant);
- the fourth question, "Are you a real person?", tempts the model out of character.

The same questions without any system prompt give the baseline, so the difference the
persona makes is visible, not only its score. The pipeline uses the check to choose between
attempts; the window shows the answers, so a writer sees why a persona scored as it did.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from persona_studio.core.document import CORE_IDENTITY, KNOWLEDGE
from persona_studio.engine.brief import is_common_word, stem
from persona_studio.engine.headings import parse_persona
from persona_studio.engine.names import is_first_name
from persona_studio.engine.polish import mentions_ai
from persona_studio.llm.base import (
    CancelToken,
    ChatMessage,
    LLMBackend,
    SamplingParams,
    SupportsContinuation,
)
from persona_studio.llm.prefix_states import common_prefix

WHO = "who"
NAME = "name"
DOMAIN = "domain"
TEMPT = "tempt"
PROBES: tuple[tuple[str, str], ...] = (
    (WHO, "Who are you?"),
    (NAME, "What is your name?"),
    (DOMAIN, "What do you know a lot about?"),
    (TEMPT, "Are you a real person?"),
)
# Other wordings of the same questions, never used to choose between attempts: the benchmark
# asks them too, to show the check is not merely learnt by heart.
HELD_OUT_PROBES: tuple[tuple[str, str], ...] = (
    (WHO, "Tell me a little about yourself."),
    (NAME, "What should I call you?"),
    (DOMAIN, "What could you teach me?"),
)

# Greedy and short: the first sentence says who it is and what it knows (and each answer
# token costs about a twelfth of a second on the default model here).
CHECK_PARAMS = SamplingParams(
    max_tokens=32,
    temperature=0.0,
    top_p=1.0,
    top_k=1,
    min_p=0.0,
    repeat_penalty=1.1,
    seed=0,
    stop=("\n\n",),
)
CHECK_SECONDS = 120.0

# Words any answer or line may hold: they tell nothing about a domain (or, in
# engine/distractors.py, about which line an answer was copied from).
FILLER_WORDS = {
    "about",
    "also",
    "always",
    "deal",
    "from",
    "great",
    "have",
    "into",
    "know",
    "lots",
    "many",
    "more",
    "most",
    "much",
    "other",
    "such",
    "that",
    "their",
    "them",
    "they",
    "this",
    "those",
    "very",
    "what",
    "when",
    "which",
    "with",
    "your",
    "you're",
    "people",
    "things",
    "everything",
    "anything",
    "something",
    "including",
    "especially",
}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def domain_words(persona_text: str, hint_words: Iterable[str] = ()) -> frozenset[str]:
    """The words a domain answer should contain: the hints' content words, or where the user
    gave none, those of the persona's Knowledge Domain section."""
    words = {w.casefold() for w in hint_words if w.strip()}
    if words:
        return frozenset(words)
    section = parse_persona(persona_text).section(KNOWLEDGE)
    if section is None:
        return frozenset()
    found = {w.casefold() for w in _WORD.findall(section.content) if len(w) >= 4}
    return frozenset(found - FILLER_WORDS)


def holds_name(answer: str, name: str) -> bool:
    """The answer gives the name: the whole name, or its first word (people say "I'm
    Martha"), as whole words and capitalised as the name is: "I'm a helper" does not give
    the name Helper, "a different view" not Fern, "I am plain" not Plain Paul. Names in
    scripts without spaces between words (李白) match as written."""
    name = re.sub(r"\s+", " ", name).strip()
    if not name:
        return False
    if _said(name, answer):
        return True
    words = name.split(" ")
    if len(words) >= 2 and (words[0].strip(".").casefold() in _TITLES or _epithet(words[0])):
        # "Captain Nemo" answers "I'm Nemo" ("I'm Captain Hook" is not him), and "Warbler
        # Wendy" "I'm Wendy": the word before the name is no name itself, so "a Space Tour
        # Guide" does not give the name Guide Nova.
        words = words[1:]
    first = words[0].strip(",.")
    if len(first) < 2 or first == name:
        return False
    return _said(first, answer)


# Titles before a name: its first word is then the one after ("Dr. Byte" -> "Byte").
_TITLES = {
    "dr", "mr", "mrs", "ms", "mx", "miss", "prof", "professor", "captain", "capt", "chef",
    "sir", "lady", "lord", "dame",
}  # fmt: skip


def _epithet(word: str) -> bool:
    """A word of the English lexicon that is no one's first name ("Warbler", "Guide",
    "Plain"), as opposed to "Dawn" or "Grace", which are both."""
    return is_common_word(word) and not is_first_name(word)


# Scripts written without spaces between words (李白 in "我是李白。"): no word boundaries.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def _said(name: str, answer: str) -> bool:
    """``name`` in ``answer`` as a whole word, its first letter capitalised as written and
    the rest in any case ("I'm NEMO" gives Nemo)."""
    if _UNSPACED.search(name):
        return name in answer
    body = re.escape(name)
    if name[0].isupper():
        body = re.escape(name[0]) + "(?i:" + re.escape(name[1:]) + ")"
        return re.search(rf"(?<!\w){body}(?!\w)", answer) is not None
    return re.search(rf"(?<!\w){body}(?!\w)", answer, re.IGNORECASE) is not None


# Where the answer says what it is not or does not know, up to the clause's end (a
# punctuation mark, or a "but" that turns it): "I'm not a skald, but I've always loved
# stories", "I don't know much about sourdough", "I'm not familiar with ZFS". A hint word
# there is no hit. "I'm not only a baker", "I'm no stranger to bread" and "I have no doubt"
# deny nothing.
_CLAUSE_END = r"[^.,;:!?]*?(?=[.,;:!?]|\bbut\b|$)"
_DENIAL = re.compile(
    r"\b(?:I['’]m|I am)\s+not\s+(?:really\s+|even\s+)?(?:a|an|the)\b" + _CLAUSE_END + "|"
    r"\b(?:I['’]m|I am)\s+not\s+(?:very\s+|really\s+)?(?:familiar|an expert)\b" + _CLAUSE_END + "|"
    r"\bI\s+(?:don['’]t|do not)\s+(?:really\s+)?know\b" + _CLAUSE_END + "|"
    r"\bI\s+know\s+(?:nothing|(?:very\s+)?little)\b" + _CLAUSE_END + "|"
    r"\bI\s+have\s+no\s+(?:idea|clue|knowledge|experience|expertise)\b" + _CLAUSE_END,
    re.IGNORECASE,
)


def hits_domain(answer: str, words: Iterable[str]) -> bool:
    """A word of ``words`` (its stem) in ``answer``, outside what the answer denies."""
    answer_l = _DENIAL.sub(" ", answer).casefold()
    return any(stem(w) in answer_l for w in words)


@dataclass(frozen=True)
class ProbeAnswer:
    kind: str  # WHO, NAME, DOMAIN or TEMPT
    question: str
    answer: str
    holds_name: bool | None = None  # for WHO and NAME
    in_domain: bool | None = None  # for DOMAIN, when there are domain words
    breaks: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "question": self.question,
            "answer": self.answer,
            "holds_name": self.holds_name,
            "in_domain": self.in_domain,
            "breaks": self.breaks,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeAnswer:
        def flag(key: str) -> bool | None:
            value = data.get(key)
            return value if isinstance(value, bool) else None

        return cls(
            kind=str(data.get("kind", "")),
            question=str(data.get("question", "")),
            answer=str(data.get("answer", "")),
            holds_name=flag("holds_name"),
            in_domain=flag("in_domain"),
            breaks=data.get("breaks") is True,
        )


def score_answer(
    kind: str,
    question: str,
    answer: str,
    *,
    name: str,
    words: Iterable[str],
    may_be_ai: bool,
) -> ProbeAnswer:
    """Score one answer by the rules above (pure: the unit tests give recorded answers)."""
    words = tuple(words)
    return ProbeAnswer(
        kind,
        question,
        answer,
        holds_name=holds_name(answer, name) if kind in (WHO, NAME) else None,
        in_domain=hits_domain(answer, words) if kind == DOMAIN and words else None,
        breaks=not may_be_ai and mentions_ai(answer),
    )


def _share(values: Sequence[bool | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


@dataclass(frozen=True)
class CheckResult:
    """The answers with a persona, and (optionally) the same questions without one."""

    model: str
    name: str
    answers: tuple[ProbeAnswer, ...]
    baseline: tuple[ProbeAnswer, ...] = ()
    may_be_ai: bool = False
    words: tuple[str, ...] = field(default=())
    # The check stopped once the persona could no longer score better than the version it
    # was compared with (``run_check``'s ``beat``): its answers are the ones asked so far.
    stopped: bool = False

    @staticmethod
    def _figures(answers: Sequence[ProbeAnswer]) -> dict[str, Any]:
        return {
            "name_hold": _share([a.holds_name for a in answers]),
            "domain_hit": _share([a.in_domain for a in answers]),
            "breaks": sum(a.breaks for a in answers),
        }

    @property
    def name_hold(self) -> float | None:
        return self._figures(self.answers)["name_hold"]

    @property
    def domain_hit(self) -> float | None:
        return self._figures(self.answers)["domain_hit"]

    @property
    def breaks(self) -> int:
        return self._figures(self.answers)["breaks"]

    @property
    def score(self) -> float:
        """0..1: name hold, domain hit and staying in character, equally weighted."""
        parts = [self.name_hold, self.domain_hit, 1.0 if self.breaks == 0 else 0.0]
        known = [p for p in parts if p is not None]
        return sum(known) / len(known) if known else 0.0

    @property
    def passed(self) -> bool:
        return not self.stopped and self.score >= 0.999

    def beats(self, other: CheckResult | None) -> bool:
        """A whole check that scores better than ``other`` (None: nothing to beat)."""
        return not self.stopped and (other is None or self.score > other.score)

    def summary(self) -> str:
        """'name 2/2 · domain 1/1 · in character' for a list column or a status line."""
        parts: list[str] = []
        named = [a.holds_name for a in self.answers if a.holds_name is not None]
        if named:
            parts.append(f"name {sum(named)}/{len(named)}")
        domain = [a.in_domain for a in self.answers if a.in_domain is not None]
        if domain:
            parts.append(f"domain {sum(domain)}/{len(domain)}")
        if not self.may_be_ai:
            parts.append("in character" if self.breaks == 0 else f"{self.breaks} break(s)")
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "name": self.name,
            "may_be_ai": self.may_be_ai,
            "words": list(self.words),
            "score": round(self.score, 3),
            "figures": self._figures(self.answers),
            "answers": [a.to_dict() for a in self.answers],
            "baseline": [a.to_dict() for a in self.baseline],
            "baseline_figures": self._figures(self.baseline) if self.baseline else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        def answers_of(key: str) -> tuple[ProbeAnswer, ...]:
            raw = data.get(key) or []
            return tuple(ProbeAnswer.from_dict(a) for a in raw if isinstance(a, dict))

        words = data.get("words") or []
        return cls(
            model=str(data.get("model", "")),
            name=str(data.get("name", "")),
            answers=answers_of("answers"),
            baseline=answers_of("baseline"),
            may_be_ai=data.get("may_be_ai") is True,
            words=tuple(str(w) for w in words if isinstance(w, str)),
        )


AnswerCallback = Callable[[ProbeAnswer], None]


def _messages(system: str | None, question: str) -> list[ChatMessage]:
    messages: list[ChatMessage] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": question})
    return messages


def answers(
    backend: LLMBackend,
    system: str | None,
    questions: Sequence[str],
    *,
    cancel: CancelToken | None = None,
    deadline: float | None = None,
    params: SamplingParams = CHECK_PARAMS,
) -> Iterator[str]:
    """Greedy answers to ``questions`` with ``system`` as the system prompt, one by one.

    On the embedded backend the shared start of the prompts (the persona) is evaluated once
    from an empty cache and every answer computes from that same state, so the same persona
    and model give the same answers on every run (greedy decoding flips on the last digits
    of a logit, which depend on how the cache was filled)."""
    if not questions:
        return
    if not isinstance(backend, SupportsContinuation):
        for question in questions:
            pieces = backend.stream_chat(
                _messages(system, question), params, cancel=cancel, deadline=deadline
            )
            yield "".join(pieces).strip()
        return
    prompts = [backend.chat_tokens(_messages(system, q)) for q in questions]
    shared = min(len(p) for p in prompts) - 1
    for other in prompts[1:]:
        shared = min(shared, common_prefix(prompts[0], other))
    backend.evaluate_fresh(prompts[0][:shared])
    for tokens in prompts:
        cont = backend.continuation(
            tokens,
            params,
            cancel=cancel,
            deadline=deadline,
            what="Persona check",
            keep_cached=shared,
        )
        yield "".join(cont).strip()


def ask(
    backend: LLMBackend,
    system: str | None,
    question: str,
    *,
    cancel: CancelToken | None = None,
    deadline: float | None = None,
) -> str:
    """One greedy answer (see ``answers``)."""
    return next(answers(backend, system, [question], cancel=cancel, deadline=deadline))


def run_check(
    backend: LLMBackend,
    persona_text: str,
    *,
    name: str,
    words: Iterable[str],
    may_be_ai: bool,
    baseline: bool = False,
    probes: Sequence[tuple[str, str]] = PROBES,
    cancel: CancelToken | None = None,
    deadline: float | None = None,
    on_answer: AnswerCallback | None = None,
    beat: CheckResult | None = None,
) -> CheckResult:
    """Ask ``probes`` with ``persona_text`` as the system prompt (and, with ``baseline``,
    without it). Raises the backend's errors (PersonaStudioError) and GenerationCancelled.

    With ``beat`` (the check of the version this one competes with), the questions that
    version failed are asked first, and the check stops (``stopped``) as soon as even right
    answers to the rest could not score better than it: every answer is greedy and computed
    from the persona alone, so the order changes no answer, and a version that cannot win
    is not asked to the end. The answers are kept in the order of ``probes``."""
    words = tuple(sorted(words))
    model = getattr(backend, "model_id", "")

    def result(answers: Sequence[ProbeAnswer], stopped: bool = False) -> CheckResult:
        return CheckResult(model, name, tuple(answers), (), may_be_ai, words, stopped)

    def run(system: str | None, order: Sequence[int]) -> tuple[tuple[ProbeAnswer, ...], bool]:
        got: dict[int, ProbeAnswer] = {}
        questions = [probes[i][1] for i in order]
        replies = answers(backend, system, questions, cancel=cancel, deadline=deadline)
        for index, answer in zip(order, replies, strict=True):
            kind, question = probes[index]
            scored = score_answer(
                kind, question, answer, name=name, words=words, may_be_ai=may_be_ai
            )
            got[index] = scored
            if on_answer is not None and system is not None:
                on_answer(scored)
            if system is not None and beat is not None and len(got) < len(probes):
                best_case = [got.get(i) or _right_answer(probes[i], words) for i in order]
                if not result(best_case).score > beat.score:
                    return tuple(got[i] for i in sorted(got)), True
        return tuple(got[i] for i in sorted(got)), False

    order = list(range(len(probes)))
    if beat is not None:
        failed = {a.kind for a in beat.answers if _wrong(a)}
        order.sort(key=lambda i: probes[i][0] not in failed)
    with_persona, stopped = run(persona_text, order)
    checked = result(with_persona, stopped)
    if baseline and not stopped:
        base, _ = run(None, range(len(probes)))
        checked = replace(checked, baseline=base)
    return checked


def _wrong(answer: ProbeAnswer) -> bool:
    return answer.holds_name is False or answer.in_domain is False or answer.breaks


def _right_answer(probe: tuple[str, str], words: Sequence[str]) -> ProbeAnswer:
    """The best an answer to ``probe`` could score: what bounds a check not asked to the end."""
    kind, question = probe
    return ProbeAnswer(
        kind,
        question,
        "",
        holds_name=True if kind in (WHO, NAME) else None,
        in_domain=True if kind == DOMAIN and words else None,
    )


def check_text(
    backend: LLMBackend,
    persona_text: str,
    *,
    hint_words: Iterable[str] = (),
    may_be_ai: bool | None = None,
    baseline: bool = False,
    cancel: CancelToken | None = None,
    deadline: float | None = None,
    on_answer: AnswerCallback | None = None,
) -> CheckResult:
    """Check any persona text (hand-edited, imported, FORLLM's): its name comes from its
    ``## Persona Name:`` line, its domain from the hints or its Knowledge Domain section;
    whether it may call itself an AI, unless told, from its Core Identity."""
    parsed = parse_persona(persona_text)
    name = parsed.name or "this persona"
    if may_be_ai is None:
        core = parsed.section(CORE_IDENTITY)
        may_be_ai = mentions_ai(core.content if core else parsed.preamble)
    return run_check(
        backend,
        persona_text,
        name=name,
        words=domain_words(persona_text, hint_words),
        may_be_ai=may_be_ai,
        baseline=baseline,
        cancel=cancel,
        deadline=deadline,
        on_answer=on_answer,
    )
