"""Card extras: what a character card reader expects beyond the persona text, written by the
model in the persona's voice.

SillyTavern, RisuAI and Agnai users expect every card to open with a greeting
(``first_mes``), to offer alternate greetings, to show the model an example dialogue
(``mes_example``, ``<START>`` blocks of ``{{user}}:``/``{{char}}:`` lines), to set a scene
(``scenario``) and to carry tags. A FORLLM persona needs none of them, so this step runs only
when the writer asks for it (the editor's Card tab, ``persona-studio export --card-extras``).

Each extra is the model's answer to one request with the persona text as the system prompt,
exactly as a Try it question is: the persona speaks for itself, so the greeting is in its
voice. The example dialogue is made of real exchanges: the persona's answers to "Who are
you?" and to a question about its own domain. Answers are greedy (the same persona and model
give the same extras) and, on the embedded backend, computed from one evaluation of the
persona (``persona_check.answers``).

What the model writes is hostile input like any file: it may speak for the user, open a new
turn, write a heading, a ``<START>`` marker or a macro SillyTavern would expand, run on, or
say nothing usable. Every answer is cleaned (``clean_reply``); one that is still unusable is
left out with a message saying which and why, and the caller keeps what the field held.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from persona_studio.core.document import CORE_IDENTITY, KEY_TRAITS, KNOWLEDGE
from persona_studio.engine.chat import PROBE_WHO, domain_probe
from persona_studio.engine.headings import parse_persona
from persona_studio.engine.persona_check import answers, domain_words
from persona_studio.engine.polish import mentions_ai
from persona_studio.errors import GenerationCancelled, InvalidRequestError, PersonaStudioError
from persona_studio.llm.base import CancelToken, LLMBackend, SamplingParams

EXTRAS_SECONDS = 300.0
TAG_COUNT = 5
MAX_GREETING_CHARS = 600
MAX_ANSWER_CHARS = 500
MAX_SCENARIO_CHARS = 300
MAX_TAG_CHARS = 24

GREETING = "greeting"
ALTERNATE_1 = "alternate greeting 1"
ALTERNATE_2 = "alternate greeting 2"
SCENARIO = "scenario"
TAGS = "tags"
# What the persona is asked for each extra: plain requests a small model answers in
# character (instructions about format are what a 135M model ignores first).
GREETING_REQUESTS = (
    (GREETING, "Hello! We are meeting for the first time. Greet me and introduce yourself."),
    (ALTERNATE_1, "Good morning! I'm back to see you again. How do you greet me?"),
    (ALTERNATE_2, "I just walked in with a question for you. Say hello first."),
)
SCENARIO_REQUEST = "In one sentence, describe the place where we are talking right now."
TAGS_REQUEST = "Give five one-word tags that describe you, separated by commas."

# Greedy, one paragraph each; a little more repeat penalty than the check, since a greeting
# is longer than the check's first sentence.
EXTRAS_PARAMS = SamplingParams(
    max_tokens=96,
    temperature=0.0,
    top_p=1.0,
    top_k=1,
    min_p=0.0,
    repeat_penalty=1.15,
    seed=0,
    stop=("\n\n",),
)

_ids = itertools.count(1)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Where a reply stops being the persona's own turn: a role label, a chat-template token, a
# heading, a card marker.
_TURN_END = re.compile(
    r"(?im)^\s*(?:#{1,6}\s|<start>|\{\{user\}\}\s*:|user\s*:|you\s*:|assistant\s*:|human\s*:|"
    r"system\s*:|\[inst\]|<\|)|<\|[a-z_]*\|?>|</s>|<start>",
)
# SillyTavern expands {{...}} macros ({{random}}, {{getvar}}...) when it shows a greeting:
# only {{char}} and {{user}} may stay.
_MACRO = re.compile(r"\{\{(?!\s*(?:char|user)\s*\}\})[^{}]*\}\}", re.I)
_LEADING_LABEL = re.compile(r"^\s*(?:\{\{char\}\}|[\w .'-]{1,40})\s*:\s+(?=\S)")
_SENTENCE_END = re.compile(r"[.!?…](?:[\"'”’)*_]*)(?=\s|$)")
_LETTER = re.compile(r"[^\W\d_]")
_TAG_WORD = re.compile(r"[^\W_][\w'-]*")
_NOT_TAGS = {
    "tag",
    "tags",
    "five",
    "one",
    "word",
    "words",
    "describe",
    "describes",
    "here",
    "are",
    "and",
    "the",
    "you",
    "your",
    "yourself",
    "i",
    "me",
    "my",
    "am",
    "a",
    "an",
    "of",
    "to",
    "is",
    "sure",
    "okay",
    "ok",
    "hello",
    "hi",
    "one-word",
    "that",
    "these",
    "this",
    "following",
}


def clean_reply(
    text: str, name: str = "", *, limit: int = MAX_GREETING_CHARS, cut: bool = False
) -> str:
    """The persona's own words in ``text``: up to where the turn ends (a role label, a
    template token, a heading, ``<START>``), without a leading "Name:" label, macros other
    than {{char}}/{{user}} or control characters; at most ``limit`` characters. When it
    was cut (``cut``: the model ran out of tokens, or it is over ``limit``), it ends at the
    last finished sentence, if there is one."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    end = _TURN_END.search(text)
    if end is not None:
        text = text[: end.start()]
    text = _MACRO.sub("", text)
    label = _LEADING_LABEL.match(text)
    if label is not None and (
        "{{char}}" in label.group(0).lower()
        or label.group(0).strip(" :").casefold()
        in {name.casefold(), *name.casefold().split(), "persona"} - {""}
    ):
        text = text[label.end() :]
    lines = [" ".join(line.split()) for line in text.split("\n")]
    text = "\n".join(line for line in lines if line).strip()
    if len(text) > limit:
        text, cut = text[:limit], True
    # A last sentence that announces what never came ("Here's what you can expect:") is
    # as unfinished as one the token limit cut.
    ends = list(_SENTENCE_END.finditer(text)) if cut or text.endswith(":") else []
    if ends and ends[-1].end() < len(text.rstrip()):
        # An unfinished last sentence (the model ran out of tokens): keep the finished ones.
        text = text[: ends[-1].end()]
    return text.strip()


def problem_with(text: str, *, others: tuple[str, ...] = ()) -> str | None:
    """Why ``text`` is no usable extra (None when it is)."""
    if not text:
        return "the model said nothing usable"
    if len(_LETTER.findall(text)) < 8 or len(text.split()) < 2:
        return f"the model's answer is too short to use ({text[:40]!r})"
    if sum(ch.isalpha() or ch.isspace() for ch in text) < 0.6 * len(text):
        return "the model's answer is mostly symbols"
    if text.casefold() in {o.casefold() for o in others if o}:
        return "the model repeated an earlier answer"
    return None


def clean_tags(text: str, name: str = "") -> list[str]:
    """Usable tags in the model's answer: short lowercase words or two-word phrases, none
    twice, none of the request's own words, not the persona's name."""
    kept = []
    for line in text.splitlines():
        if line.rstrip().endswith(":"):  # "Here are five tags that describe me:"
            continue
        kept.append(line.rsplit(":", 1)[-1])  # "Tags: a, b" -> " a, b"
    parts = re.split(r"[,;/|#\n]|\d+[.)]|\s-\s|\band\b", "\n".join(kept))
    names = {name.casefold()}
    tags: list[str] = []
    for part in parts:
        words = [w.casefold().strip("'-") for w in _TAG_WORD.findall(part)]
        words = [w for w in words if w and w not in _NOT_TAGS]
        if not words or len(words) > 2:
            continue
        tag = " ".join(words)
        if tag in names:
            continue
        if len(tag) <= MAX_TAG_CHARS and len(_LETTER.findall(tag)) >= 3 and tag not in tags:
            tags.append(tag)
    return tags[:TAG_COUNT]


def fallback_tags(persona_text: str, have: list[str]) -> list[str]:
    """Tags from the persona's own text: its Knowledge Domain words in the order it names
    them, then its Key Personality Traits that are a word or two ("Patient")."""
    parsed = parse_persona(persona_text)
    words = domain_words(persona_text)
    section = parsed.section(KNOWLEDGE)
    order = [w.casefold() for w in _TAG_WORD.findall(section.content)] if section else []
    found = [w for w in dict.fromkeys(order) if w in words]
    traits = parsed.section(KEY_TRAITS)
    for line in traits.content.splitlines() if traits else ():
        trait = " ".join(_TAG_WORD.findall(line)).casefold()
        if trait and len(trait.split()) <= 2 and len(trait) <= MAX_TAG_CHARS:
            found.append(trait)
    fresh = [t for t in dict.fromkeys(found) if t not in have]
    return fresh[: max(0, TAG_COUNT - len(have))]


def example_dialogue(exchanges: list[tuple[str, str]]) -> str:
    """``<START>`` blocks, one per exchange, with SillyTavern's speaker macros."""
    return "\n".join(f"<START>\n{{{{user}}}}: {q}\n{{{{char}}}}: {a}" for q, a in exchanges)


@dataclass(frozen=True)
class CardExtrasDraft:
    """What the model wrote, cleaned; a field it wrote nothing usable for is empty (None for
    the scenario line) and ``problems`` says why, so the caller keeps what it had there."""

    first_mes: str = ""
    alternate_greetings: tuple[str, ...] = ()
    mes_example: str = ""
    scenario: str = ""
    tags: tuple[str, ...] = ()
    model: str = ""
    problems: tuple[str, ...] = ()
    seconds: float = 0.0


ProgressCallback = Callable[[str], None]


def write_extras(
    backend: LLMBackend,
    persona_text: str,
    *,
    name: str = "",
    cancel: CancelToken | None = None,
    deadline: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> CardExtrasDraft:
    """The card extras of ``persona_text`` on ``backend``; ``name``: the persona's, where
    the text has no ``## Persona Name:`` line (FORLLM's hand-written personas). Raises the
    backend's errors (PersonaStudioError) and GenerationCancelled; never a problem with the
    model's text, which ends up in ``problems``."""
    started = time.monotonic()
    parsed = parse_persona(persona_text)
    name = parsed.name or name
    core = parsed.section(CORE_IDENTITY)
    # A character that calls itself an AI in its own greeting breaks the card; a persona the
    # writer made an AI or an assistant may say so.
    may_be_ai = mentions_ai(core.content if core else parsed.preamble)
    domain_question = domain_probe(persona_text)
    requests = [
        *GREETING_REQUESTS,
        ("who", PROBE_WHO),
        ("domain", domain_question),
        (SCENARIO, SCENARIO_REQUEST),
        (TAGS, TAGS_REQUEST),
    ]
    replies: dict[str, str] = {}
    stream = answers(
        backend,
        persona_text,
        [question for _, question in requests],
        cancel=cancel,
        deadline=deadline,
        params=EXTRAS_PARAMS,
    )
    for (key, _), reply in zip(requests, stream, strict=True):
        replies[key] = reply
        if on_progress is not None:
            on_progress(key)
    problems: list[str] = []

    def usable(key: str, what: str, limit: int, others: tuple[str, ...] = ()) -> str:
        # Near the token limit: the model was stopped, not done (a piece is at most a token).
        ran_out = backend.count_tokens(replies[key]) >= EXTRAS_PARAMS.max_tokens - 2
        text = clean_reply(replies[key], name, limit=limit, cut=ran_out)
        problem = problem_with(text, others=others)
        if problem is None and not may_be_ai and mentions_ai(text):
            problem = "the model's answer calls the persona an AI or an assistant"
        if problem is None:
            return text
        problems.append(f"{what}: {problem}; left as it was")
        return ""

    greeting = usable(GREETING, "greeting", MAX_GREETING_CHARS)
    alternates: list[str] = []
    for key in (ALTERNATE_1, ALTERNATE_2):
        text = usable(key, key, MAX_GREETING_CHARS, (greeting, *alternates))
        if text:
            alternates.append(text)
    exchanges = []
    for key, question in (("who", PROBE_WHO), ("domain", domain_question)):
        text = usable(key, f'example dialogue ("{question}")', MAX_ANSWER_CHARS)
        if text:
            exchanges.append((question, text))
    scenario = usable(SCENARIO, "scenario", MAX_SCENARIO_CHARS)
    if scenario:
        scenario = clean_reply(scenario.split("\n")[0], name, limit=MAX_SCENARIO_CHARS)
    tags = clean_tags(clean_reply(replies[TAGS], name, limit=200), name)
    if len(tags) < TAG_COUNT:
        extra = fallback_tags(persona_text, tags)
        if extra:
            problems.append(
                f"tags: the model gave {len(tags)} usable tag(s); "
                f"{len(extra)} more came from the persona's own text"
            )
        elif not tags:
            problems.append("tags: the model gave no usable tags; left as they were")
        tags += extra
    return CardExtrasDraft(
        first_mes=greeting,
        alternate_greetings=tuple(alternates),
        mes_example=example_dialogue(exchanges),
        scenario=scenario,
        tags=tuple(tags[:TAG_COUNT]),
        model=getattr(backend, "model_id", ""),
        problems=tuple(problems),
        seconds=time.monotonic() - started,
    )


# -- the window's request to the worker thread ------------------------------------------------


@dataclass(frozen=True)
class CardExtrasRequest:
    """Extras the window asks of the worker thread: for ``text`` as the editor shows it."""

    persona_id: int
    text: str
    model_id: str
    name: str = ""
    extras_id: int = field(default_factory=lambda: next(_ids))
    cancel: CancelToken = field(default_factory=CancelToken, compare=False)

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise InvalidRequestError(
                "persona_text", "The persona has no text yet, so there is nothing to write from."
            )


@dataclass(frozen=True)
class CardExtrasOutcome:
    extras_id: int
    persona_id: int
    draft: CardExtrasDraft | None = None
    error: str | None = None
    cancelled: bool = False


def run_request(
    backend_for: Callable[[str], LLMBackend],
    request: CardExtrasRequest,
    on_progress: ProgressCallback | None = None,
) -> CardExtrasOutcome:
    """``request`` run to an outcome that says how it ended (never raises for the model's
    failures, Stop or an unknown model)."""
    rid, pid = request.extras_id, request.persona_id
    if request.cancel.cancelled:
        return CardExtrasOutcome(rid, pid, cancelled=True)
    try:
        draft = write_extras(
            backend_for(request.model_id),
            request.text,
            name=request.name,
            cancel=request.cancel,
            deadline=time.monotonic() + EXTRAS_SECONDS,
            on_progress=on_progress,
        )
    except GenerationCancelled:
        return CardExtrasOutcome(rid, pid, cancelled=True)
    except PersonaStudioError as exc:
        return CardExtrasOutcome(rid, pid, error=str(exc))
    return CardExtrasOutcome(rid, pid, draft)
