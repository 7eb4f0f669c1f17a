"""The plain, frozen records the store hands out and takes in.

Callers (worker, CLI, window) never see SQLModel rows: these records do not change when the
database does, can cross threads freely and carry already-parsed values. Every datetime is
timezone-aware UTC (FORLLM stores naive UTC text); None where the column is NULL or holds
text no one could parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from persona_studio.core import safejson
from persona_studio.core.request import StoredRequest

# JSON columns are ours or FORLLM's, but anyone may write the file: what is bigger or deeper
# than anything either application writes is treated as absent. An import (20 MB at most)
# stays under it.
MAX_JSON_COLUMN_CHARS = 32 * 1024 * 1024


class JobStatus(StrEnum):
    """FORLLM's llm_requests.status values (FORLLM writes exactly these)."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETE = "complete"
    ERROR = "error"
    PENDING_DEPENDENCY = "pending_dependency"


class LeaseState(StrEnum):
    """What a heartbeat tells the worker."""

    OK = "ok"
    LOST = "lost"  # the row is no longer processing, or another worker owns it
    CANCEL_REQUESTED = "cancel_requested"


@dataclass(frozen=True)
class ClaimedJob:
    request_id: int
    # request_params as stored (bytes only if they are not UTF-8); the worker parses it
    params_json: str | bytes | None
    llm_model: Any  # as stored: text, or whatever else a program wrote there
    attempts: int


@dataclass(frozen=True)
class Job:
    """One generate_persona row of llm_requests plus our ps_jobs bookkeeping, for the view."""

    request_id: int
    status: JobStatus
    llm_model: str | None
    requested_at: datetime | None
    processed_at: datetime | None
    error_message: str | None
    params_json: str | None
    stage: str | None
    tokens: int | None
    tokens_per_s: float | None
    attempts: int
    cancelled: bool
    cancel_requested: bool
    position: int | None
    persona_id: int | None
    heartbeat_at: datetime | None
    owner: str | None
    # What request_params say (its label, the subforum FORLLM gives only by id), read leniently.
    request: StoredRequest
    # When a worker of ours last took the job: with processed_at, how long its run took.
    claimed_at: datetime | None = None


_NOT_GENERATED = (None, "user_manual", "imported")


@dataclass(frozen=True)
class NewCheck:
    """A persona check to keep with a persona version (ps_persona_checks): the model that
    answered, the score (0..1), its summary in words and the whole result as a JSON object
    (persona_studio.engine.persona_check.CheckResult.to_dict(); the store does not read it)."""

    model: str
    score: float
    summary: str
    result: dict[str, Any]


@dataclass(frozen=True)
class PersonaCheck:
    """A stored check, read leniently: ``score`` None and ``result`` None where the file
    holds something that is not a score or not a JSON object (anyone may write the file)."""

    check_id: int
    persona_id: int
    version: int
    model: str
    checked_at: datetime | None
    score: float | None
    summary: str
    result: dict[str, Any] | None


@dataclass(frozen=True)
class NewPersona:
    """A persona to save.

    ``generation_type`` gives FORLLM's generation_source: 'llm_generated_<type>' for a model's
    work; None (written by hand) gives 'user_manual'; the non-generated sources
    'user_manual' and 'imported' are stored as given. ``input_details`` goes to FORLLM's
    generation_input_details as is (FORLLM's shape); the other generation facts go to our
    ps_persona_generation table. ``replaces_persona_id`` saves the text as a new version of
    that persona instead (Regenerate), keeping its name.
    """

    name: str
    prompt_instructions: str
    generation_type: str | None
    input_details: dict[str, Any] | None
    output_preferences: dict[str, Any] | None = None
    template_versions: dict[str, Any] | None = None
    model: str | None = None
    request_params: dict[str, Any] | None = None
    stats: dict[str, Any] | None = None
    subforum_id: int | None = None
    replaces_persona_id: int | None = None
    # The text of each template version used: version -> (stage, generation_type, source,
    # text), source 'shipped' or 'user'. Saved once per version in ps_template_versions, in
    # the same transaction as the persona, so its history can show the exact prompt.
    template_texts: dict[str, tuple[str, str, str, str]] | None = None
    # The persona check of this text, kept with the version in the same transaction.
    check: NewCheck | None = None

    @property
    def is_generated(self) -> bool:
        return self.generation_type not in _NOT_GENERATED

    @property
    def generation_source(self) -> str:
        if self.generation_type is None:
            return "user_manual"
        if not self.is_generated:
            return self.generation_type
        return f"llm_generated_{self.generation_type}"


@dataclass(frozen=True)
class SavedPersona:
    persona_id: int
    name: str
    version: int
    requested_name: str
    renamed: bool  # the requested name was taken, so a variant such as 'Name (2)' was used


@dataclass(frozen=True)
class Persona:
    persona_id: int
    name: str
    prompt_instructions: str
    created_at: datetime | None
    updated_at: datetime | None
    version: int
    is_active: bool
    generation_source: str | None
    generation_input_details: dict[str, Any] | None
    created_by_user: int | None
    rating: int | None = None  # 1-5, None when not rated
    rating_note: str = ""


@dataclass(frozen=True)
class PersonaSummary:
    persona_id: int
    name: str
    generation_source: str | None
    created_at: datetime | None
    updated_at: datetime | None
    version: int
    is_active: bool
    preview: str  # the start of the instructions, FORLLM's generated preamble left out
    rating: int | None = None  # 1-5, None when not rated
    # The latest persona check of the current version; None / "" when it has none.
    check_score: float | None = None
    check_summary: str = ""


@dataclass(frozen=True)
class PersonaVersion:
    version_id: int
    persona_id: int
    name: str
    prompt_instructions: str
    updated_at: datetime | None
    version: int
    # What the version says of how it was made (ps_version_notes): "Rewrote 'Speaking Style
    # & Tone' (shorter) with gguf:..."; "" when it has no note.
    note: str = ""


@dataclass(frozen=True)
class Rating:
    """A writer's rating of a persona (ps_ratings): 1-5 and what they noted about it."""

    rating: int
    note: str
    rated_at: datetime | None


@dataclass(frozen=True)
class RatingGroup:
    """Rated personas that were made the same way, for the feedback view.

    ``template_versions`` maps a stage to the template version that ran ('expansion' ->
    'expansion/from_name_and_description@3f2a1b9c0d4e'); ``length`` is the length preference
    ('' = the default), ``tone`` whether a tone was given, ``critique`` whether the critique
    stage ran. The personas Persona Studio has no generation record for (FORLLM's own,
    imported, written by hand) form one group with ``has_generation_info`` False. ``best``
    holds (persona_id, name, rating) of the group's best-rated personas, best first.
    """

    template_versions: dict[str, str]
    model: str | None
    length: str
    tone: bool
    critique: bool
    count: int
    mean_rating: float
    best: tuple[tuple[int, str, int], ...]
    has_generation_info: bool = True

    @property
    def label(self) -> str:
        """The group's settings in words, for a list or a report."""
        if not self.has_generation_info:
            return "No generation record (FORLLM's own, imported or written by hand)"
        templates = ", ".join(self.template_versions.values()) or "templates not recorded"
        parts = [
            templates,
            self.model or "model not recorded",
            f"{self.length} length" if self.length else "default length",
            "tone given" if self.tone else "no tone",
            "critique on" if self.critique else "critique off",
        ]
        return "; ".join(parts)


@dataclass(frozen=True)
class TemplateVersionRecord:
    """The exact text of one template version (ps_template_versions)."""

    version: str  # '<stage>/<generation_type>@<content hash>'
    stage: str
    generation_type: str
    source: str  # 'shipped' or 'user'
    text: str
    first_seen_at: datetime | None


@dataclass(frozen=True)
class Subforum:
    subforum_id: int
    name: str
    description: str | None


def parse_json_object(
    text: Any, *, max_chars: int = MAX_JSON_COLUMN_CHARS
) -> dict[str, Any] | None:
    """A JSON object from a column anyone may have written; None if it is not one (not
    text, not JSON, bigger than ``max_chars``, nested deeper than safejson.MAX_DEPTH)."""
    if not text:
        return None
    return safejson.object_or_none(text, max_chars=max_chars)
