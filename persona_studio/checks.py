"""Persona checks of stored personas: the engine's check (engine/persona_check.py) joined to
the store's record of it (store/checks.py). Qt-free: the worker, the CLI's ``check`` command
and the window's worker thread all use it.

- ``new_check``: a CheckResult as the store keeps it;
- ``stored_result``: a stored check as a CheckResult again, whatever another program wrote;
- ``hints_for``: the words a domain answer should contain, and whether the persona may call
  itself an AI, from what the user asked for when the persona was generated (else the
  persona's own text decides, see ``check_text``);
- ``check_stored_persona``: check a text of a stored persona with those hints;
- ``verdict``: one answer's pass/fail mark and the reason, in words.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from persona_studio.engine.brief import build_brief
from persona_studio.engine.persona_check import (
    DOMAIN,
    NAME,
    TEMPT,
    WHO,
    AnswerCallback,
    CheckResult,
    ProbeAnswer,
    check_text,
)
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.errors import PersonaStudioError
from persona_studio.llm.base import CancelToken, LLMBackend
from persona_studio.llm.catalog import DEFAULT_MODEL_ID

if TYPE_CHECKING:  # the window imports this module before it loads the store (SQLAlchemy)
    from persona_studio.store import NewCheck, PersonaCheck, Store

_check_ids = itertools.count(1)


def new_check(result: CheckResult) -> NewCheck:
    """``result`` as the store keeps it with a persona version."""
    from persona_studio.store.records import NewCheck

    return NewCheck(
        model=result.model,
        score=round(min(max(result.score, 0.0), 1.0), 3),
        summary=result.summary(),
        result=result.to_dict(),
    )


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def stored_result(stored: PersonaCheck | None) -> CheckResult | None:
    """The CheckResult a stored check holds; None when there is none or it is unreadable.
    The JSON may come from any program: only lists are taken as lists, only objects as
    answers, and anything else is left out rather than raising."""
    if stored is None or not isinstance(stored.result, Mapping):
        return None
    data = dict(stored.result)
    for key in ("answers", "baseline", "words"):
        data[key] = _as_list(data.get(key))
    try:
        result = CheckResult.from_dict(data)
    except (TypeError, ValueError, AttributeError, RecursionError):
        return None
    if not result.answers:
        return None
    if not result.model and stored.model:
        result = CheckResult(
            stored.model,
            result.name,
            result.answers,
            result.baseline,
            result.may_be_ai,
            result.words,
        )
    return result


def _request_of(store: Store, persona_id: int) -> PersonaGenerationRequest | None:
    """The request that generated the persona's current text, rebuilt from what the file
    keeps (ours in full, FORLLM's as type and input details); None if there is none."""
    try:
        info = store.personas.generation_info(persona_id)
    except (PersonaStudioError, RecursionError):  # a request no one could have made
        return None
    if not info:
        return None
    params = info.get("request_params")
    if not isinstance(params, Mapping):
        params = {
            "generation_type": info.get("generation_type"),
            "input_details": info.get("input_details") or {},
        }
    try:
        request = PersonaGenerationRequest.from_params(params)
        if request.needs_subforum_lookup:
            subforum = store.subforums.get(int(request.input_details["subforum_id"]))
            request = request.with_subforum(subforum.name, subforum.description)
    except (PersonaStudioError, ValueError, TypeError, KeyError):
        return None
    return request


def hints_for(store: Store, persona_id: int, name: str) -> tuple[tuple[str, ...], bool | None]:
    """(hint words, may_be_ai) for checking persona ``persona_id`` called ``name``: from the
    user's request when the persona was generated; else ((), None), so that ``check_text``
    takes them from the persona's own Knowledge Domain and Core Identity."""
    request = _request_of(store, persona_id)
    if request is None:
        return (), None
    brief = build_brief(request, name or "this persona")
    return tuple(sorted(brief.hint_words)), brief.may_be_ai


def model_for(store: Store, persona_id: int) -> str:
    """The model that made the persona's current text, else the built-in default."""
    try:
        info = store.personas.generation_info(persona_id) or {}
    except (PersonaStudioError, RecursionError):
        info = {}
    model = info.get("model")
    return model if isinstance(model, str) and model.strip() else DEFAULT_MODEL_ID


def check_stored_persona(
    store: Store,
    backend: LLMBackend,
    persona_id: int,
    name: str,
    text: str,
    *,
    baseline: bool = False,
    cancel: CancelToken | None = None,
    deadline: float | None = None,
    on_answer: AnswerCallback | None = None,
) -> CheckResult:
    """Check ``text`` (the persona's text, saved or as edited) with the persona's hints.
    Raises the backend's errors (PersonaStudioError) and GenerationCancelled."""
    words, may_be_ai = hints_for(store, persona_id, name)
    return check_text(
        backend,
        text,
        hint_words=words,
        may_be_ai=may_be_ai,
        baseline=baseline,
        cancel=cancel,
        deadline=deadline,
        on_answer=on_answer,
    )


def verdict(answer: ProbeAnswer, *, name: str = "") -> tuple[bool, str]:
    """(passed, why) for one answer, for a writer: what the check looked for in it."""
    who = name or "its name"
    if answer.breaks:
        return False, "calls itself an AI or an assistant"
    if answer.kind in (WHO, NAME) and answer.holds_name is not None:
        if answer.holds_name:
            return True, f"gives its name ({who})" if name else "gives its name"
        return False, f"does not give its name ({who})" if name else "does not give its name"
    if answer.kind == DOMAIN:
        if answer.in_domain is None:
            return True, "not scored (no domain words to look for)"
        if answer.in_domain:
            return True, "names its domain"
        return False, "does not name its domain"
    if answer.kind == TEMPT:
        return True, "stays in character"  # (for an AI persona, being one is in character)
    return True, "answered"


def figures(result: CheckResult) -> str:
    """'score 0.67 · name 2/2 · domain 0/1 · in character' for a line of text."""
    summary = result.summary()
    return f"score {result.score:.2f}" + (f" · {summary}" if summary else "")


def baseline_figures(result: CheckResult) -> str:
    """The same figures without the persona, and what the persona changes; "" without one."""
    if not result.baseline:
        return ""
    base = CheckResult(
        result.model, result.name, result.baseline, may_be_ai=result.may_be_ai, words=result.words
    )
    diff = result.score - base.score
    return f"{figures(base)} (the persona changes the score by {diff:+.2f})"


@dataclass(frozen=True)
class CheckRequest:
    """A check the window asks of the worker thread: ``text`` as the editor shows it."""

    persona_id: int
    name: str
    text: str
    model_id: str = DEFAULT_MODEL_ID
    check_id: int = field(default_factory=lambda: next(_check_ids))
    cancel: CancelToken = field(default_factory=CancelToken, compare=False)


@dataclass(frozen=True)
class CheckOutcome:
    """How a check asked of the worker thread ended. ``saved_version``: the version it was
    kept with (the text checked was that saved version's), None when it was not kept."""

    check_id: int
    persona_id: int
    text: str = ""
    result: CheckResult | None = None
    saved_version: int | None = None
    error: str | None = None
    cancelled: bool = False
