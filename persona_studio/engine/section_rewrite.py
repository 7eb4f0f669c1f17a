"""One section of a persona written again by the model, with the rest of the persona as its
context: Rewrite (optionally "shorter", "more formal", "in the first person" or the writer's
own words), Alternatives (several candidates from one request), Continue (more of the same
section) and Add (a new heading the writer typed, filled in the persona's voice).

Nothing here changes a persona: ``rewrite_section`` returns candidates, and ``apply_section``
puts the one the writer accepted into the text. The structure guarantee holds for every
candidate, whatever the model wrote (model output is hostile input):

- a candidate never holds a heading line or a code fence (a fence would hide the headings
  after it from the parser), and never repeats another section's sentences;
- ``apply_section`` refuses a change after which the document's headings are not the same
  headings in the same order (plus the new one, for Add) or the structure check finds a
  problem the text did not have before.

Two ways to write, as for a whole persona (persona_studio/engine/refine.py):

- **Continuation** (a ``SupportsContinuation``: the embedded model). The persona as it stands
  is the assistant's first turn, the writer's request (the section, the instruction) the
  next user turn, and the new assistant turn starts with the section's heading line and
  the first words of its section plan; the model continues and stops at the next heading.
  Since the persona comes before the request, every rewrite of the same text starts with
  the same tokens and llama.cpp evaluates the persona once (see ``_messages``). That shared
  start (``prefix_tokens``) can be evaluated ahead of time (``prefill``: the window does it
  while the writer reads the persona), so a click only evaluates the short request. It is
  always computed the same way (the backend's canonical chunks), and the first candidate
  starts from exactly it, so a request gives the same candidates whether the persona was
  evaluated ahead of time, at the click, or partly by earlier work.
- **Chat** (HTTP backends). The same conversation as a chat request; the reply is cut at
  the first heading that is not the section's, stripped of headings and fences, and
  polished like the rest.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from persona_studio.core.document import (
    PERSONA_NAME,
    guidance_for,
    heading_key,
    normalize_heading,
)
from persona_studio.engine import polish
from persona_studio.engine.brief import Brief
from persona_studio.engine.headings import (
    check_structure,
    heading_line,
    heading_problem,
    parse_persona,
)
from persona_studio.engine.names import CHARACTER
from persona_studio.engine.polish import Polisher
from persona_studio.engine.refine import section_role
from persona_studio.engine.sections import (
    SectionPlan,
    has_words,
    section_plan,
    section_stops,
    tidy_section,
    without_turn,
)
from persona_studio.engine.stage_prompts import SYSTEM_PROMPT
from persona_studio.errors import GenerationCancelled, PersonaStudioError, UserInputError
from persona_studio.llm.base import (
    CancelToken,
    ChatMessage,
    LLMBackend,
    SamplingParams,
    SupportsContinuation,
)
from persona_studio.llm.catalog import DEFAULT_MODEL_ID
from persona_studio.llm.prefix_states import common_prefix

REWRITE = "rewrite"
ALTERNATIVES = "alternatives"
CONTINUE = "continue"
ADD = "add"
MODES = (REWRITE, ALTERNATIVES, CONTINUE, ADD)

# The instructions the editor offers; any other text is the writer's own.
SHORTER = "shorter"
MORE_FORMAL = "more formal"
FIRST_PERSON = "in the first person"
INSTRUCTIONS = (SHORTER, MORE_FORMAL, FIRST_PERSON)

MAX_CANDIDATES = 5
MAX_INSTRUCTION_CHARS = 300
REWRITE_SECONDS = 180.0
TRIES_PER_CANDIDATE = 2  # for all the candidates of one request
TEMPERATURE = 0.8  # above the pipeline's: a rewrite is asked for because the first was not it

_ids = itertools.count(1)
OnText = Callable[[int, str], None]  # (candidate index, text piece)


class RewriteError(PersonaStudioError):
    """A section rewrite that cannot be asked or whose result cannot be used."""


@dataclass(frozen=True)
class SectionRewriteRequest:
    """What the writer asked for: ``text`` is the persona as the editor shows it (unsaved
    edits included), ``heading`` the section's heading (the new heading, for Add)."""

    text: str
    heading: str
    mode: str = REWRITE
    instruction: str = ""
    candidates: int = 1
    model_id: str = DEFAULT_MODEL_ID
    seed: int = field(default_factory=lambda: random.randrange(1, 2**31))
    rewrite_id: int = field(default_factory=lambda: next(_ids))
    cancel: CancelToken = field(default_factory=CancelToken, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UserInputError(f"Unknown rewrite mode {self.mode!r}; use one of {MODES}.")
        if not 1 <= self.candidates <= MAX_CANDIDATES:
            raise UserInputError(
                f"Ask for 1 to {MAX_CANDIDATES} candidates, not {self.candidates}."
            )
        if len(self.instruction) > MAX_INSTRUCTION_CHARS:
            raise UserInputError(
                f"The instruction is {len(self.instruction)} characters long; keep it under "
                f"{MAX_INSTRUCTION_CHARS}."
            )
        heading = normalize_heading(self.heading)
        if not heading:
            raise UserInputError("Name the section to write (its heading).")
        if heading_key(heading) == heading_key(PERSONA_NAME):
            raise UserInputError("The persona's name is not written by the model; rename it.")
        section = parse_persona(self.text).section(heading)
        exists = section is not None
        if self.mode == ADD:
            problem = heading_problem(heading)
            if problem:
                raise UserInputError(f"'{heading}' {problem}")
            if exists:
                raise UserInputError(
                    f"The persona has a '{heading}' section already; rewrite or continue it."
                )
        elif section is None:
            raise UserInputError(f"The persona has no '{heading}' section.")
        else:
            heading = section.heading  # as the text spells it
        object.__setattr__(self, "heading", heading)

    @property
    def what(self) -> str:
        """What was asked, in words: "Rewrote 'Speaking Style & Tone' (shorter)"."""
        done = {
            REWRITE: "Rewrote",
            ALTERNATIVES: "Rewrote",
            CONTINUE: "Continued",
            ADD: "Added",
        }[self.mode]
        how = f" ({self.instruction.strip()})" if self.instruction.strip() else ""
        return f"{done} '{self.heading}'{how}"


@dataclass(frozen=True)
class SectionRewriteOutcome:
    """How a request ended: the cleaned candidates (possibly fewer than asked for, when the
    model wrote nothing usable for some), or an error, or cancelled."""

    rewrite_id: int
    heading: str
    mode: str
    candidates: tuple[str, ...] = ()
    model_id: str = ""
    note: str = ""  # what a version saved with the accepted candidate says of it
    error: str | None = None
    cancelled: bool = False
    # Tokens of the persona's prefix this request evaluated itself (0 when a prefill, or an
    # earlier rewrite of the same text, had left them all in the cache; 0 over HTTP).
    prefix_evaluated: int = 0


def version_note(request: SectionRewriteRequest, model_label: str) -> str:
    """ "Rewrote 'Speaking Style & Tone' (shorter) with SmolLM2 135M"."""
    return f"{request.what} with {model_label or request.model_id}"


# -- cleaning what the model wrote ----------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")
# The polisher's own test for the first person (engine/polish.py), and a letter no text
# has that, after a pronoun, keeps that test from seeing it.
_FIRST_PERSON_WORD = re.compile(r"(?<![\w'’])(?:I|I'm|I've|I'll|I'd|me|my|mine|myself)(?![\w'’])")
_MARK = "\u2093"


def clean_content(raw: str, *, kind: str, truncated: bool = False) -> str:
    """The model's text as section content: no heading lines (the parser's own test), no
    code fences, the section's kind tidied; "" if no words are left."""
    kept = []
    for line in raw.splitlines():
        if _FENCE.match(line) or parse_persona(line).sections:
            continue
        kept.append(line)
    text = tidy_section("\n".join(kept), truncated=truncated, prose=kind == "prose")
    return text if has_words(text) else ""


def cut_reply(reply: str, heading: str) -> str:
    """From a chat reply, the part that belongs to ``heading``: what is under that heading
    if the model wrote it, else what comes before any heading. Text under another heading
    is another section's (a leak) and is never taken."""
    lines = reply.splitlines()
    start, taken = 0, []
    for number, line in enumerate(lines):
        found = parse_persona(line).sections
        if found and heading_key(found[0].heading) == heading_key(heading):
            start, taken = number + 1, [found[0].content]  # "## Tone: calm" keeps "calm"
            break
    for line in lines[start:]:
        if parse_persona(line).sections:
            break  # another section begins: what follows is not this one's
        taken.append(line)
    return "\n".join(taken)


# -- the document the model continues -------------------------------------------------------


@dataclass(frozen=True)
class _Setting:
    name: str
    others: list[tuple[str, str]]  # every section but the one written, in order
    current: str  # the section's content now ("" for Add)
    plan: SectionPlan


def _setting(request: SectionRewriteRequest) -> _Setting:
    parsed = parse_persona(request.text)
    name = _persona_name(request.text)
    others = [
        (s.heading, s.content)
        for s in parsed.sections
        if heading_key(s.heading) not in (heading_key(PERSONA_NAME), heading_key(request.heading))
    ]
    section = parsed.section(request.heading)
    current = section.content if section is not None else ""
    # The starters of the generation plan keep a small model in form ("- Never" for the
    # forbidden list); its lead (the user's own words) belongs to the first generation.
    base = section_plan(request.heading, _brief(name), "")
    starter = base.starter
    if request.mode == CONTINUE:
        starter = ""
    elif FIRST_PERSON in request.instruction.casefold():
        starter = "- I" if base.kind == "list" else "I"
    return _Setting(name, others, current, SectionPlan((), starter, base.kind))


def _brief(name: str) -> Brief:
    return Brief(kind=CHARACTER, name=name, identity=(), domain_lead="You know a great deal about")


def _messages(setting: _Setting, request: SectionRewriteRequest) -> list[ChatMessage]:
    """The conversation before the section is written: the persona as it stands is the
    assistant's first turn (the document), then the writer's request. The persona comes
    first and the request after it so that every rewrite of the same text (any section,
    any instruction, every candidate) starts with the same tokens: llama.cpp evaluates
    the persona once and reuses it, and only the short request is new."""
    return [
        *_persona_turns(setting.name, request.text),
        {"role": "user", "content": _ask(setting, request)},
    ]


def _persona_turns(name: str, text: str) -> list[ChatMessage]:
    """What every rewrite of ``text`` says before the writer's request."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {
            "role": "user",
            "content": f"Write the character profile of {name}, addressing {name} as 'you'.",
        },
        {"role": "assistant", "content": text.strip()},
    ]


def _persona_name(text: str) -> str:
    return parse_persona(text).name or "the persona"


def _opening(setting: _Setting, request: SectionRewriteRequest) -> str:
    """What stands under the heading before the model writes."""
    if request.mode == CONTINUE:
        # A list goes on with a new item; prose goes on after the last sentence.
        return setting.current + ("\n-" if setting.plan.kind == "list" else "")
    return setting.plan.starter


def _ask(setting: _Setting, request: SectionRewriteRequest) -> str:
    """The writer's request: what the section is for, what to do with it."""
    guidance = guidance_for(request.heading)
    line = heading_line(request.heading)
    if request.mode == CONTINUE:
        task = f"Continue the section '{line}' with more of {guidance}."
    elif request.mode == ADD:
        task = f"Write a new section '{line}' for {setting.name}, in the same voice."
    else:
        task = f"Write the section '{line}' again: {guidance}."
    if request.instruction.strip():
        task += f" Make it {request.instruction.strip()}."
    return task


def _budget(setting: _Setting, request: SectionRewriteRequest, backend: LLMBackend) -> int:
    now = backend.count_tokens(setting.current) if setting.current else 80
    if SHORTER in request.instruction.casefold():
        return max(24, min(now * 2 // 3, 200))
    if request.mode == CONTINUE:
        return max(48, min(now, 160))
    return max(64, min(now * 3 // 2, 320))


# -- the persona's prefix, evaluated ahead of time -----------------------------------------

# The first words every request can start with (see _ask).
_REQUEST_OPENINGS = ("Write", "Continue")


@dataclass(frozen=True)
class Prefill:
    """How a prefill went: ``tokens`` the length of the persona's prefix, ``evaluated`` how
    many of them it evaluated (0: the cache held them all already), ``stopped`` whether it
    gave way to other work between two chunks (the chunks done stay in the cache)."""

    tokens: int
    evaluated: int
    seconds: float
    stopped: bool = False


def prefix_tokens(backend: SupportsContinuation, text: str) -> list[int]:
    """The tokens every section rewrite of ``text`` starts with on ``backend``, whatever the
    section, mode, instruction or candidate: the persona's turns (``_messages``) and the
    chat template's opening of the writer's turn. A template closes a turn only when the next
    one begins, so this is the common start of two renderings whose requests differ from
    their first word; ``_continue`` starts the model from exactly these tokens."""
    turns = _persona_turns(_persona_name(text), text)
    one, two = (
        backend.chat_tokens([*turns, {"role": "user", "content": word}])
        for word in _REQUEST_OPENINGS
    )
    return one[: common_prefix(one, two)]


def prefill(
    backend: LLMBackend, text: str, *, should_stop: Callable[[], bool] | None = None
) -> Prefill | None:
    """Evaluate what every rewrite of ``text`` starts with (``prefix_tokens``) now, so a
    rewrite asked later evaluates only the writer's short request: the part the cache does
    not hold already, in the backend's canonical chunks. ``should_stop`` is asked before each
    chunk; when it says so the prefill gives way (``stopped``). None where the backend keeps
    nothing between requests (HTTP) or there is no text. Any later model run may evict what
    it put in the cache; a rewrite then evaluates the persona itself, as it would have."""
    method = getattr(backend, "prefill", None)
    if method is None or not isinstance(backend, SupportsContinuation) or not text.strip():
        return None
    tokens = prefix_tokens(backend, text)
    stopped = False

    def stop() -> bool:
        nonlocal stopped
        stopped = should_stop is not None and bool(should_stop())
        return stopped

    started = time.perf_counter()
    evaluated = method(tokens, should_stop=stop)
    return Prefill(len(tokens), evaluated, time.perf_counter() - started, stopped)


def _from_prefix(
    backend, request: SectionRewriteRequest, tokens: list[int], on_prefill
) -> int | None:
    """For a request's first draw: the persona's prefix put in the cache (by a prefill
    before, or now) and its length, the most of the cache the continuation may reuse. So the
    first candidate computes from the same state whatever ran before (a prefill, another
    rewrite, a Try it reply: greedy or seeded sampling flips on the last digits of a logit,
    which depend on how the cache was filled), and so do the draws after it, which continue
    from where it left the cache. None for a backend without prefill."""
    method = getattr(backend, "prefill", None)
    if method is None:
        return None
    shared = common_prefix(prefix_tokens(backend, request.text), tokens)
    if not 0 < shared < len(tokens):
        return None
    started = time.perf_counter()
    evaluated = method(tokens[:shared], should_stop=lambda: request.cancel.cancelled)
    request.cancel.raise_if_cancelled()
    if on_prefill is not None:
        on_prefill(Prefill(shared, evaluated, time.perf_counter() - started))
    return shared


# -- writing --------------------------------------------------------------------------------


def rewrite_section(
    backend: LLMBackend,
    request: SectionRewriteRequest,
    on_text: OnText | None = None,
    *,
    deadline: float | None = None,
    on_prefill: Callable[[Prefill], None] | None = None,
) -> list[str]:
    """The candidates for ``request`` (cleaned, never empty strings, at most as many as
    asked), streaming the model's text to ``on_text(candidate index, piece)``. Raises
    GenerationCancelled on Stop, the backend's errors, and RewriteError when the model
    wrote nothing usable at all. ``on_prefill`` hears what the request had to evaluate of
    the persona's prefix itself (embedded backend only)."""
    deadline = deadline if deadline is not None else time.monotonic() + REWRITE_SECONDS
    setting = _setting(request)
    messages = _messages(setting, request)
    write: Callable[..., Any]
    if isinstance(backend, SupportsContinuation):
        write = functools.partial(_continue, on_prefill=on_prefill)
    else:
        write = _chat
    out: list[str] = []
    for index in range(request.candidates):
        # A small model's reply may hold nothing usable (over HTTP it often writes the
        # whole profile again): each candidate gets one more try with another seed.
        for attempt in range(TRIES_PER_CANDIDATE):
            request.cancel.raise_if_cancelled()
            draw = index + attempt * MAX_CANDIDATES
            raw, truncated = write(
                backend, request, setting, messages, (index, draw), on_text, deadline
            )
            content = _finish(setting, request, raw, truncated)
            if content and content not in out:
                out.append(content)
                break
    request.cancel.raise_if_cancelled()
    if not out:
        raise RewriteError(
            f"The model wrote nothing usable for '{request.heading}'. Try again, or pick a "
            "larger model."
        )
    return out


def _params(request: SectionRewriteRequest, budget: int, index: int, stop=()) -> SamplingParams:
    # A different seed per candidate: the alternatives differ; the same request gives the
    # same candidates again.
    return SamplingParams(
        max_tokens=budget,
        temperature=TEMPERATURE,
        seed=(request.seed + 7919 * index) % 2**31,
        stop=tuple(stop),
    )


def _continue(backend, request, setting, messages, which, on_text, deadline, *, on_prefill=None):
    """A new assistant turn that starts with the section's heading line; the model
    continues after it and stops at the next heading (as the pipeline writes a section)."""
    index = which[0]  # (the candidate, the draw: its seed)
    opening = _opening(setting, request)
    prompt = backend.chat_tokens(messages)
    # Where the persona starts (the assistant's first turn): from there on, the model may
    # not repeat a phrase, so a rewrite is new wording and never another section's.
    persona_start = len(backend.chat_tokens(messages[:2]))
    tokens = prompt + backend.tokenize_text(heading_line(request.heading) + "\n" + opening)
    # What the model writes after: the starter (Rewrite), the new list item's mark (Continue);
    # shown at once, before anything is evaluated.
    written = opening[len(setting.current) :] if request.mode == CONTINUE else opening
    if on_text is not None and written:
        on_text(index, written)
    keep = _from_prefix(backend, request, tokens, on_prefill) if which == (0, 0) else None
    stops, patterns = section_stops(setting.plan, detailed=True)
    cont = backend.continuation(
        tokens,
        _params(request, _budget(setting, request, backend), which[1], stops),
        cancel=request.cancel,
        deadline=deadline,
        min_tokens=4,
        stop_patterns=patterns,
        what="Rewriting the section",
        no_repeat_from=persona_start,
        keep_cached=keep,
    )
    for piece in cont:
        if on_text is not None:
            on_text(index, piece)
    return written + cont.text, cont.finish_reason == "length"


def _chat(backend, request, setting, messages, which, on_text, deadline):
    """The same conversation as a chat request; the reply is cut to the section's part."""
    index = which[0]  # (the candidate, the draw: its seed)
    ask = messages[-1]["content"] + " Reply with the section's text only, without its heading."
    chat: list[ChatMessage] = [*messages[:-1], {"role": "user", "content": ask}]
    pieces: list[str] = []
    params = _params(request, _budget(setting, request, backend), which[1])
    for piece in backend.stream_chat(chat, params, cancel=request.cancel, deadline=deadline):
        pieces.append(piece)
        if on_text is not None:
            on_text(index, piece)
    return cut_reply("".join(pieces), request.heading), False


def _finish(setting: _Setting, request: SectionRewriteRequest, raw: str, truncated: bool) -> str:
    """``raw`` as the section's content: cleaned, with what repeats another section struck
    (the other sections are remembered first), and for Continue the current text first."""
    kind = setting.plan.kind
    cleaned = clean_content(raw, kind=kind, truncated=truncated)
    if request.mode != CONTINUE:  # a continuation's first sentence opens nothing
        cleaned = without_turn(request.heading, cleaned)
    if not cleaned:
        return ""
    polisher = Polisher(
        name=setting.name,
        may_be_ai=polish.mentions_ai(request.text),
        user_text=request.text,
    )
    for _, content in setting.others:
        polisher.remember(content)
    if request.mode == CONTINUE:
        polisher.remember(setting.current)
    if FIRST_PERSON in request.instruction.casefold():
        # The polisher strikes the first person outside quotations (a persona is written to
        # "you"); asked for the first person, its pronouns are hidden from that rule only.
        marked = _FIRST_PERSON_WORD.sub(lambda m: m.group(0) + _MARK, cleaned)
        polished = polisher.polish(marked, kind=kind, role=section_role(request.heading))
        polished = polished.replace(_MARK, "")
    else:
        polished = polisher.polish(cleaned, kind=kind, role=section_role(request.heading))
    if not has_words(polished):
        return ""
    if request.mode == CONTINUE:
        joiner = "\n" if kind == "list" else " "
        return (setting.current.rstrip() + joiner + polished).strip()
    return polished


# -- accepting ------------------------------------------------------------------------------


def apply_section(text: str, heading: str, content: str, *, add: bool = False) -> str:
    """``text`` with the section under ``heading`` replaced by ``content`` (appended as a new
    section with ``add``); every other line as it was. RewriteError if the content would
    change the document's structure: a heading or a fence in it, no words, or a structure
    problem the text did not have."""
    content = content.strip()
    if not has_words(content) or clean_content(content, kind="free") != tidy_section(content):
        raise RewriteError(f"The new text for '{heading}' cannot be a section's content.")
    lines = text.splitlines()
    sections = parse_persona(text).sections
    index = next(
        (i for i, s in enumerate(sections) if heading_key(s.heading) == heading_key(heading)),
        None,
    )
    if add:
        if index is not None:
            raise RewriteError(f"The persona has a '{heading}' section already.")
        new = text.rstrip("\n") + f"\n\n{heading_line(heading)}\n{content}\n"
    else:
        if index is None:
            raise RewriteError(f"The persona has no '{heading}' section any more.")
        start = sections[index].line
        end = sections[index + 1].line if index + 1 < len(sections) else len(lines)
        head = lines[start]
        # A heading written with its content on the same line ("## Tone: calm") keeps only
        # the heading; the content goes below it.
        match = re.match(r"^(\s*#{1,4}\s*[^:\n]+:?)", head)
        head = match.group(1).rstrip() if match else head
        if not head.endswith(":"):
            head += ":"
        tail = lines[end:]
        # The blank lines that set the section off from the next one stay as they were.
        gap = 0
        while end - 1 - gap > start and not lines[end - 1 - gap].strip():
            gap += 1
        block = [head, *content.splitlines(), *([""] * gap if tail else [])]
        new = "\n".join(lines[:start] + block + tail)
        if text.endswith("\n") and not new.endswith("\n"):
            new += "\n"
    _check_same_structure(text, new, heading, add)
    return new


def _check_same_structure(before: str, after: str, heading: str, add: bool) -> None:
    """The same headings in the same order (plus the new one), and no structure problem the
    text did not have already (a writer may accept a rewrite of a persona that is still
    missing another section)."""
    old_sections = parse_persona(before).sections
    expected = [heading_key(s.heading) for s in old_sections]
    expected += [heading_key(heading)] if add else []
    if [heading_key(s.heading) for s in parse_persona(after).sections] != expected:
        raise RewriteError(f"The new '{heading}' would change the persona's headings.")
    headings = tuple(dict.fromkeys(s.heading for s in old_sections))  # the text's own order
    old = {(i.kind, heading_key(i.heading)) for i in check_structure(before, headings)}
    problems = [
        i for i in check_structure(after, headings) if (i.kind, heading_key(i.heading)) not in old
    ]
    if problems:
        raise RewriteError(
            f"The new '{heading}' would break the structure: "
            + " ".join(p.message for p in problems)
        )


def accept(request: SectionRewriteRequest, candidate: str) -> str:
    """The request's text with ``candidate`` accepted."""
    return apply_section(request.text, request.heading, candidate, add=request.mode == ADD)


def run_request(
    backend: LLMBackend,
    request: SectionRewriteRequest,
    on_text: OnText | None = None,
    *,
    model_label: str = "",
) -> SectionRewriteOutcome:
    """``rewrite_section`` as an outcome that says how it ended (for the worker thread and
    the CLI): never raises the user-facing errors."""

    def outcome(**kwargs) -> SectionRewriteOutcome:
        return SectionRewriteOutcome(
            request.rewrite_id,
            request.heading,
            request.mode,
            model_id=request.model_id,
            note=version_note(request, model_label),
            **kwargs,
        )

    if request.cancel.cancelled:
        return outcome(cancelled=True)
    warm: list[Prefill] = []
    try:
        candidates = rewrite_section(backend, request, on_text, on_prefill=warm.append)
    except GenerationCancelled:
        return outcome(cancelled=True, prefix_evaluated=sum(p.evaluated for p in warm))
    except PersonaStudioError as exc:
        return outcome(error=str(exc))
    return outcome(candidates=tuple(candidates), prefix_evaluated=sum(p.evaluated for p in warm))


def headings_of(text: str) -> Sequence[str]:
    """The sections a writer can rewrite: every heading but the name."""
    return [
        s.heading
        for s in parse_persona(text).sections
        if heading_key(s.heading) != heading_key(PERSONA_NAME)
    ]
