"""What an imported persona may hold: the forms' limits, and only text that can be stored.

Every importer's PersonaDocument passes through :func:`within_limits` before anyone sees
it. The rule is one for every field: what is over a limit is cut (or, where a cut value
would be wrong rather than short, such as a model identifier, left out), and a note says so
in the import report; nothing over a limit is refused outright, so a long card still
imports. The limits are the Generate form's (engine/request.py) where a field has a form
counterpart; a persona's whole text, which no form caps, gets a bound far above any small
model's context window. Lone UTF-16 surrogates (a ``"\\ud800"`` escape, as tools that cut
an emoji in half write) cannot be stored or shown: each becomes U+FFFD, with a note.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from persona_studio.core import safejson
from persona_studio.engine.request import MAX_MODEL_ID_CHARS, MAX_NAME_CHARS, MAX_TEXT_CHARS
from persona_studio.export.model import PersonaDocument, VersionEntry

# ~25,000 tokens: beyond the context window of every model this application targets.
MAX_PERSONA_CHARS = 100_000
MAX_VERSIONS = 10_000
# Greetings, a lorebook, other tools' extensions: carried along, never part of the prompt.
MAX_CARD_EXTRAS_CHARS = 1_000_000
# input_details fields with a Generate-form counterpart, and that field's limit.
_DETAIL_LIMITS = {
    "name_hint": MAX_NAME_CHARS,
    "description_hint": MAX_TEXT_CHARS,
    "subforum_name": MAX_NAME_CHARS,
    "subforum_description": MAX_TEXT_CHARS,
    "additional_directives": MAX_TEXT_CHARS,
}


def within_limits(doc: PersonaDocument) -> PersonaDocument:
    """``doc`` with every limit applied and every lone surrogate replaced; its ``notes`` say
    what changed."""
    notes = list(doc.notes)
    fixer = _Surrogates()
    name = _cut_name(fixer.text(doc.name), "its name", notes)
    text = _cut(fixer.text(doc.prompt_instructions), MAX_PERSONA_CHARS, "its text", notes)
    versions = doc.versions
    if len(versions) > MAX_VERSIONS:
        notes.append(
            f"it holds {len(versions):,} past versions; the newest {MAX_VERSIONS:,} were kept"
        )
        versions = versions[-MAX_VERSIONS:]
    cut_versions = 0
    kept: list[VersionEntry] = []
    for entry in versions:
        version_text = fixer.text(entry.prompt_instructions)
        if len(version_text) > MAX_PERSONA_CHARS:
            cut_versions += 1
            version_text = version_text[:MAX_PERSONA_CHARS].rstrip()
        version_name = fixer.text(entry.name)[:MAX_NAME_CHARS].strip()
        kept.append(replace(entry, name=version_name, prompt_instructions=version_text))
    if cut_versions:
        notes.append(
            f"{cut_versions:,} of its past versions were cut to {MAX_PERSONA_CHARS:,} characters"
        )
    model = fixer.text(doc.model) if doc.model is not None else None
    if model is not None and len(model) > MAX_MODEL_ID_CHARS:
        notes.append(
            f"its model name ({len(model):,} characters, over the {MAX_MODEL_ID_CHARS:,} "
            "allowed) was left out"
        )
        model = None
    input_details = fixer.tree(doc.input_details)
    if isinstance(input_details, dict):
        input_details = _cut_details(input_details, notes)
    extensions, card_fields = fixer.tree(doc.extensions), fixer.tree(doc.card_fields)
    extras = len(json.dumps([extensions, card_fields], ensure_ascii=False))
    if extras > MAX_CARD_EXTRAS_CHARS:
        notes.append(
            f"its card extras (greetings, lorebook, other tools' extensions: {extras:,} "
            f"characters, over the {MAX_CARD_EXTRAS_CHARS:,} allowed) were left out"
        )
        extensions, card_fields = {}, {}
    result = replace(
        doc,
        name=name,
        prompt_instructions=text,
        versions=tuple(kept),
        model=model,
        input_details=input_details,
        output_preferences=fixer.tree(doc.output_preferences),
        template_versions=fixer.tree(doc.template_versions),
        request_params=fixer.tree(doc.request_params),
        stats=fixer.tree(doc.stats),
        ratings=fixer.tree(doc.ratings),
        extensions=extensions,
        card_fields=card_fields,
        notes=(),
    )
    notes = [fixer.text(note) for note in notes]
    if fixer.count:
        notes.append(
            f"{fixer.count:,} broken character(s) (lone UTF-16 surrogates, which a tool that "
            "cuts an emoji in half writes) were replaced with \ufffd"
        )
    return replace(result, notes=tuple(notes))


def _cut(text: str, limit: int, what: str, notes: list[str]) -> str:
    if len(text) <= limit:
        return text
    notes.append(
        f"{what} was cut to {limit:,} characters (it had {len(text):,}; that is the limit)"
    )
    return text[:limit].rstrip()


def _cut_name(name: str, what: str, notes: list[str]) -> str:
    if len(name) <= MAX_NAME_CHARS:
        return name
    notes.append(
        f"{what} was cut to {MAX_NAME_CHARS} characters (it had {len(name):,}; names are at "
        f"most {MAX_NAME_CHARS}, as in the Generate form)"
    )
    return name[:MAX_NAME_CHARS].strip()


def _cut_details(details: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    out = dict(details)
    for key, limit in _DETAIL_LIMITS.items():
        value = out.get(key)
        if isinstance(value, str) and len(value) > limit:
            out[key] = _cut(value, limit, f"its generation input '{key}'", notes)
    return out


class _Surrogates:
    """Replaces lone surrogates in texts and in JSON trees (keys too), counting them. The
    trees come from jsonload, which bounded their depth, so recursion here is safe."""

    def __init__(self) -> None:
        self.count = 0

    def text(self, value: str) -> str:
        fixed, n = safejson.replace_surrogates(value)
        self.count += n
        return fixed

    def tree(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                (self.text(k) if isinstance(k, str) else k): self.tree(v) for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.tree(v) for v in value]
        return value
