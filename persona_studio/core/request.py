"""The generation request as stored in ``llm_requests.request_params``, read leniently.

FORLLM writes ``{"generation_type", "input_details", "output_preferences",
"llm_model_for_generation", "target_persona_name_override"}`` (an expert's ``input_details``
carry ``subforum_id`` only); this application writes the same keys and its own options under
``persona_studio``, which FORLLM ignores. Any other program may write anything. What a view, a
report or a label needs of a job is read here, once: each value only where it is usable (text
that is plain and printable, a number SQLite can hold), absent otherwise. Nothing here raises,
whatever the stored value is: a job whose request cannot be read is still listed, labelled and
removable. Validation that names the bad field, before a job runs, is
``PersonaGenerationRequest``'s (persona_studio/engine/request.py), on the names defined here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from persona_studio.core import safejson

FROM_NAME_AND_DESCRIPTION = "from_name_and_description"
SUBFORUM_EXPERT = "subforum_expert"
GENERAL_PURPOSE_ASSISTANT = "general_purpose_assistant"
GENERATION_TYPES = (FROM_NAME_AND_DESCRIPTION, SUBFORUM_EXPERT, GENERAL_PURPOSE_ASSISTANT)
GENERATION_TYPE_LABELS = {
    FROM_NAME_AND_DESCRIPTION: "Name & description",
    SUBFORUM_EXPERT: "Subforum expert",
    GENERAL_PURPOSE_ASSISTANT: "General assistant",
}

# Where request_params keep our own options: "critique" (the extra stage),
# "replaces_persona_id" (Regenerate into an existing persona), "seed" (generate --seed).
APP_OPTIONS_KEY = "persona_studio"
# A request is a few KB; FORLLM or another program may write anything into request_params.
MAX_PARAMS_CHARS = 1_000_000
MAX_SEED = 2**31 - 1 - 100  # room for the pipeline's seed + attempt
# Text a label or a report shows of a request, at the most.
MAX_SHOWN_CHARS = 200


def generation_type_label(generation_type: str | None) -> str:
    """A generation type in words ("Subforum expert"); a type we do not know, as written."""
    if not generation_type:
        return ""
    return GENERATION_TYPE_LABELS.get(generation_type, generation_type.replace("_", " "))


def _shown_text(value: Any) -> str | None:
    """``value`` as one line of printable text, cut to MAX_SHOWN_CHARS; None unless it is
    text with something in it."""
    if not isinstance(value, str) or not value.strip():
        return None
    return safejson.printable(" ".join(value.split()), MAX_SHOWN_CHARS)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _whole_number(value: Any) -> int | None:
    """An int that is not a bool, as JSON gives it; None for anything else."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _row_id(value: Any) -> int | None:
    """A row id SQLite can hold; text digits too, as some programs write ids."""
    if isinstance(value, str):
        digits = value.strip()
        plain = digits.isascii() and digits.isdigit() and len(digits) < 20
        value = int(digits) if plain else None
    number = _whole_number(value)
    return number if number is not None and safejson.fits_sqlite_int(number) else None


@dataclass(frozen=True)
class RequestOptions:
    """Our options under APP_OPTIONS_KEY, each only if it holds what we write there."""

    critique: bool = False  # run the optional critique stage between expansion and refinement
    replaces_persona_id: int | None = None  # Regenerate: save as a new version of this persona
    seed: int | None = None  # the sampling seed the job asked for; None: the worker's

    @classmethod
    def read(cls, options: Any) -> RequestOptions:
        options = _mapping(options)
        replaces = _whole_number(options.get("replaces_persona_id"))
        seed = _whole_number(options.get("seed"))
        return cls(
            critique=options.get("critique") is True,
            replaces_persona_id=(
                replaces
                if replaces is not None and 1 <= replaces <= safejson.SQLITE_INT_MAX
                else None
            ),
            seed=seed if seed is not None and 0 <= seed <= MAX_SEED else None,
        )


@dataclass(frozen=True)
class StoredPreferences:
    """What ``output_preferences`` say of tone and length, as shown text."""

    tone: str | None = None
    length: str | None = None  # lower case ("concise", "detailed" or whatever was written)

    @classmethod
    def read(cls, preferences: Any) -> StoredPreferences:
        preferences = _mapping(preferences)
        length = _shown_text(preferences.get("length_preference"))
        return cls(
            tone=_shown_text(preferences.get("tone_preference")),
            length=length.lower() if length else None,
        )


@dataclass(frozen=True)
class StoredRequest:
    """What a stored request says that a view, a report or a label needs."""

    generation_type: str | None = None  # as written: possibly a type this version lacks
    # The persona's name as the request gives it: the override, else the name hint.
    name: str | None = None
    subforum_name: str | None = None
    subforum_id: int | None = None
    preferences: StoredPreferences = field(default_factory=StoredPreferences)
    options: RequestOptions = field(default_factory=RequestOptions)

    @classmethod
    def from_params(cls, params: Any) -> StoredRequest:
        """The request in already-parsed ``params`` (anything: only a mapping says anything)."""
        params = _mapping(params)
        details = _mapping(params.get("input_details"))
        candidates = (
            params.get("target_persona_name_override"),
            details.get("name_hint"),
            details.get("name"),
        )
        return cls(
            generation_type=_shown_text(params.get("generation_type")),
            name=next((text for text in map(_shown_text, candidates) if text), None),
            subforum_name=_shown_text(details.get("subforum_name")),
            subforum_id=_row_id(details.get("subforum_id")),
            preferences=StoredPreferences.read(params.get("output_preferences")),
            options=RequestOptions.read(params.get(APP_OPTIONS_KEY)),
        )

    @classmethod
    def from_json(cls, text: Any) -> StoredRequest:
        """The request in ``text``, the column as stored (str, UTF-8 bytes, NULL, a number,
        anything); empty where it is not a JSON object of at most MAX_PARAMS_CHARS."""
        try:
            params = safejson.parse(text, max_chars=MAX_PARAMS_CHARS)
        except safejson.UnusableJSON:
            return cls()
        return cls.from_params(params)

    @property
    def unnamed_subforum_id(self) -> int | None:
        """The subforum of a job that names it by id alone (FORLLM's experts): the id to
        look its name up by, for the label; None when the request has a name to show."""
        return None if self.name or self.subforum_name else self.subforum_id

    def label(self, subforum_names: Mapping[int, str] | None = None) -> str:
        """The job's one label, wherever it is shown: the persona's name, else "Expert for"
        the subforum (``subforum_names``: names by id, for a request that has only the id),
        else the generation type in words; "" for a request that says none of these."""
        if self.name:
            return self.name
        subforum = self.subforum_name
        if not subforum and self.unnamed_subforum_id is not None and subforum_names:
            subforum = subforum_names.get(self.unnamed_subforum_id)
        if subforum:
            return f"Expert for {subforum}"
        return generation_type_label(self.generation_type)
