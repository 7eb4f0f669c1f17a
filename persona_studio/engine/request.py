"""PersonaGenerationRequest: what a user asks for, validated, and its FORLLM JSON form.

The JSON form is exactly what FORLLM writes into ``llm_requests.request_params`` (keys
``generation_type``, ``input_details``, ``output_preferences``, ``llm_model_for_generation``,
``target_persona_name_override``), so a job queued by either application runs in the other.
Validation errors name the field (``InvalidRequestError.field``) so a form can show the
message next to it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from persona_studio.core import safejson
from persona_studio.core.document import (
    DEFAULT_HEADINGS,
    PERSONA_NAME,
    heading_key,
    normalize_heading,
)
from persona_studio.core.request import (
    APP_OPTIONS_KEY,
    FROM_NAME_AND_DESCRIPTION,
    GENERATION_TYPES,
    MAX_PARAMS_CHARS,
    MAX_SEED,
    SUBFORUM_EXPERT,
    RequestOptions,
    StoredRequest,
)
from persona_studio.engine.headings import heading_problem
from persona_studio.errors import InvalidRequestError

LENGTH_PREFERENCES = ("concise", "detailed")

# Caps generous for a human but small enough that a prompt still fits a small model's window.
MAX_NAME_CHARS = 120
MAX_TEXT_CHARS = 4000
MAX_TONE_CHARS = 120
MAX_HEADING_CHARS = 80
MAX_HEADINGS = 20
MAX_MODEL_ID_CHARS = 1000

# input_details keys this application understands, per type. Other keys are kept as they are
# (FORLLM writes subforum_id; a future FORLLM may write more).
_TEXT_FIELDS = {
    "name_hint": MAX_NAME_CHARS,
    "description_hint": MAX_TEXT_CHARS,
    "subforum_name": MAX_NAME_CHARS,
    "subforum_description": MAX_TEXT_CHARS,
    "additional_directives": MAX_TEXT_CHARS,
}
_NAME_LIKE = {"name_hint", "subforum_name"}


def clean_text(value: str) -> str:
    """Drop NULs and other control characters a paste can carry, keep newlines and tabs."""
    return "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch)[0] != "C").strip()


def clean_name(value: str) -> str:
    """One line, single spaces, no Markdown markers around it: a name fit for a heading."""
    text = clean_text(value).replace("\n", " ")
    text = re.sub(r"\s+", " ", text)
    return text.strip(" \t*_#`\"'“”‘’:-").strip()


def _text(field_name: str, value: Any, cap: int, *, name_like: bool = False) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRequestError(field_name, f"must be text, not {_type_name(value)}.")
    text = clean_name(value) if name_like else clean_text(value)
    if len(text) > cap:
        raise InvalidRequestError(
            field_name, f"is {len(text):,} characters long; the limit is {cap:,}. Shorten it."
        )
    return text


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _shown(value: Any) -> str:
    """A value from a request, as a message can quote it (however big or odd it is)."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = len(str(abs(value)))
        return str(value) if digits <= 20 else f"a {digits:,}-digit number"
    if isinstance(value, str):
        return repr(safejson.printable(value, 40))
    return _type_name(value)


def _row_id(field_name: str, value: Any, what: str) -> int:
    """A database id from a request: a whole number SQLite can hold (text digits, as some
    programs write them, are accepted); InvalidRequestError naming the field otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidRequestError(field_name, f"must be {what} number, not {_type_name(value)}.")
    try:
        number = value if isinstance(value, int) else int(value.strip(), 10)
    except ValueError:
        number = 0
    if number < 1 or not safejson.fits_sqlite_int(number):
        raise InvalidRequestError(field_name, f"{_shown(value)} is not {what} number.")
    return number


def check_seed(value: Any, field_name: str = "seed") -> int:
    """A sampling seed: a whole number from 0 to MAX_SEED."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise InvalidRequestError(
            field_name, f"must be a whole number from 0 to {MAX_SEED:,}, not {_shown(value)}."
        )
    return value


def _check_tree(params: Any) -> None:
    """What no field check below could survive: nesting deeper than anything a request needs
    (copying or printing it would recurse), and text no one can encode (lone surrogates)."""
    try:
        safejson.check_depth(params)
    except safejson.UnusableJSON as exc:
        raise InvalidRequestError("request_params", f"{exc}.") from None
    path = safejson.first_surrogate(params)
    if path is not None:
        raise InvalidRequestError(
            safejson.printable(path, 80),  # the field's own name may hold the surrogate
            "holds a broken character (a lone UTF-16 surrogate, such as \\ud800) that cannot "
            "be saved or shown; retype that text.",
        )


@dataclass(frozen=True)
class OutputPreferences:
    desired_headings: tuple[str, ...] = ()  # empty: the eight default headings
    tone_preference: str = ""
    length_preference: str = ""  # "", "concise" or "detailed"

    @property
    def headings(self) -> tuple[str, ...]:
        """The headings the persona will have, ``Persona Name`` always first."""
        chosen = self.desired_headings or DEFAULT_HEADINGS
        rest = tuple(h for h in chosen if heading_key(h) != heading_key(PERSONA_NAME))
        return (PERSONA_NAME, *rest)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.desired_headings:
            out["desired_headings"] = list(self.desired_headings)
        if self.tone_preference:
            out["tone_preference"] = self.tone_preference
        if self.length_preference:
            out["length_preference"] = self.length_preference
        return out

    @classmethod
    def from_dict(cls, data: Any) -> OutputPreferences:
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise InvalidRequestError("output_preferences", "must be an object of preferences.")
        headings_raw = data.get("desired_headings") or []
        if not isinstance(headings_raw, list | tuple):
            raise InvalidRequestError(
                "output_preferences.desired_headings", "must be a list of heading texts."
            )
        if len(headings_raw) > MAX_HEADINGS:
            raise InvalidRequestError(
                "output_preferences.desired_headings",
                f"has {len(headings_raw)} headings; at most {MAX_HEADINGS} are allowed.",
            )
        headings: list[str] = []
        seen: dict[str, str] = {}
        for index, raw in enumerate(headings_raw):
            where = f"output_preferences.desired_headings[{index}]"
            if not isinstance(raw, str):
                raise InvalidRequestError(where, f"must be text, not {_type_name(raw)}.")
            heading = normalize_heading(clean_name(raw))
            if not heading:
                raise InvalidRequestError(where, "is empty.")
            if len(heading) > MAX_HEADING_CHARS:
                raise InvalidRequestError(where, f"is longer than {MAX_HEADING_CHARS} characters.")
            problem = heading_problem(heading)
            if problem is not None:
                raise InvalidRequestError(where, f"'{heading}' {problem}")
            # The structure check tells headings apart by heading_key: two that share a key
            # would make every finished document fail it.
            key = heading_key(heading)
            if key in seen:
                same = "" if seen[key] == heading else f" (as '{seen[key]}')"
                raise InvalidRequestError(where, f"'{heading}' is listed twice{same}.")
            seen[key] = heading
            headings.append(heading)
        length = _text(
            "output_preferences.length_preference", data.get("length_preference"), 20
        ).lower()
        if length and length not in LENGTH_PREFERENCES:
            raise InvalidRequestError(
                "output_preferences.length_preference",
                f"'{length}' is not one of: {', '.join(LENGTH_PREFERENCES)}.",
            )
        return cls(
            desired_headings=tuple(headings),
            tone_preference=_text(
                "output_preferences.tone_preference",
                data.get("tone_preference"),
                MAX_TONE_CHARS,
                name_like=True,
            ),
            length_preference=length,
        )


@dataclass(frozen=True)
class PersonaGenerationRequest:
    generation_type: str
    input_details: dict[str, Any] = field(default_factory=dict)
    output_preferences: OutputPreferences = field(default_factory=OutputPreferences)
    llm_model_for_generation: str = ""
    target_persona_name_override: str = ""
    # Our own options, under the "persona_studio" key of request_params, which FORLLM ignores:
    # "replaces_persona_id" (Regenerate into an existing persona), "critique" (extra stage).
    app_options: dict[str, Any] = field(default_factory=dict)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        generation_type: str,
        input_details: Mapping[str, Any] | None = None,
        output_preferences: Mapping[str, Any] | OutputPreferences | None = None,
        llm_model_for_generation: str = "",
        target_persona_name_override: str | None = "",
        app_options: Mapping[str, Any] | None = None,
    ) -> PersonaGenerationRequest:
        """Build and validate a request; raises InvalidRequestError naming the bad field."""
        return cls.from_params(
            {
                APP_OPTIONS_KEY: dict(app_options or {}),
                "generation_type": generation_type,
                "input_details": dict(input_details or {}),
                "output_preferences": (
                    output_preferences.to_dict()
                    if isinstance(output_preferences, OutputPreferences)
                    else output_preferences or {}
                ),
                "llm_model_for_generation": llm_model_for_generation,
                "target_persona_name_override": target_persona_name_override,
            }
        )

    @classmethod
    def from_params(cls, params: Any) -> PersonaGenerationRequest:
        if not isinstance(params, Mapping):
            raise InvalidRequestError(
                "request_params", f"must be a JSON object, not {_type_name(params)}."
            )
        _check_tree(params)
        gtype = params.get("generation_type")
        if not isinstance(gtype, str) or gtype not in GENERATION_TYPES:
            raise InvalidRequestError(
                "generation_type",
                f"unknown type {_shown(gtype)}; expected one of: {', '.join(GENERATION_TYPES)}.",
            )
        details_raw = params.get("input_details") or {}
        if not isinstance(details_raw, Mapping):
            raise InvalidRequestError(
                "input_details", f"must be an object of details, not {_type_name(details_raw)}."
            )
        details: dict[str, Any] = {}
        for key, value in details_raw.items():
            if key in _TEXT_FIELDS:
                text = _text(
                    f"input_details.{key}", value, _TEXT_FIELDS[key], name_like=key in _NAME_LIKE
                )
                if text:
                    details[key] = text
            elif key == "subforum_id":
                details[key] = _row_id("input_details.subforum_id", value, "a subforum")
            else:
                details[key] = value
        model = _text(
            "llm_model_for_generation",
            params.get("llm_model_for_generation"),
            MAX_MODEL_ID_CHARS,
            name_like=True,
        )
        override = _text(
            "target_persona_name_override",
            params.get("target_persona_name_override"),
            MAX_NAME_CHARS,
            name_like=True,
        )
        options = params.get(APP_OPTIONS_KEY) or {}
        if not isinstance(options, Mapping):
            raise InvalidRequestError(APP_OPTIONS_KEY, "must be an object of options.")
        replaces = options.get("replaces_persona_id")
        if replaces is not None:
            if not isinstance(replaces, int):  # text digits are not ours: we write numbers
                raise InvalidRequestError(
                    f"{APP_OPTIONS_KEY}.replaces_persona_id",
                    f"must be a persona number, not {_type_name(replaces)}.",
                )
            _row_id(f"{APP_OPTIONS_KEY}.replaces_persona_id", replaces, "a persona")
        if not isinstance(options.get("critique", False), bool):
            raise InvalidRequestError(f"{APP_OPTIONS_KEY}.critique", "must be true or false.")
        if options.get("seed") is not None:
            check_seed(options["seed"], f"{APP_OPTIONS_KEY}.seed")
        request = cls(
            generation_type=gtype,
            input_details=details,
            output_preferences=OutputPreferences.from_dict(params.get("output_preferences")),
            llm_model_for_generation=model,
            target_persona_name_override=override,
            app_options=dict(options),
        )
        request._check_required()
        return request

    @classmethod
    def from_json(cls, text: Any) -> PersonaGenerationRequest:
        """The request in ``text``, llm_requests.request_params as anyone may have written it
        (any SQLite type, any size, any nesting): a request, or InvalidRequestError."""
        if text is None or text == "" or text == b"":
            raise InvalidRequestError("request_params", "is empty; the job has no request.")
        try:
            data = safejson.parse(text, max_chars=MAX_PARAMS_CHARS)
        except safejson.UnusableJSON as exc:
            raise InvalidRequestError("request_params", f"{exc}.") from None
        return cls.from_params(data)

    def _check_required(self) -> None:
        d = self.input_details
        if self.generation_type == FROM_NAME_AND_DESCRIPTION and not (
            d.get("name_hint") or d.get("description_hint")
        ):
            raise InvalidRequestError(
                "input_details.description_hint",
                "give a name, a description, or both, so there is something to build on.",
            )
        if (
            self.generation_type == SUBFORUM_EXPERT
            and not d.get("subforum_name")
            and "subforum_id" not in d
        ):
            raise InvalidRequestError(
                "input_details.subforum_name", "a subforum expert needs the subforum's name."
            )

    # -- forms ----------------------------------------------------------------------------

    def to_params(self) -> dict[str, Any]:
        """The dict FORLLM stores as llm_requests.request_params (same keys, same shapes),
        plus our own options under a key FORLLM ignores, only when there are any."""
        params = {
            "generation_type": self.generation_type,
            "input_details": dict(self.input_details),
            "output_preferences": self.output_preferences.to_dict(),
            "llm_model_for_generation": self.llm_model_for_generation,
            "target_persona_name_override": self.target_persona_name_override,
        }
        if self.app_options:
            params[APP_OPTIONS_KEY] = dict(self.app_options)
        return params

    @property
    def options(self) -> RequestOptions:
        """Our options (critique, replaces_persona_id, seed), as the stored request is read."""
        return RequestOptions.read(self.app_options)

    @property
    def critique(self) -> bool:
        return self.options.critique

    @property
    def replaces_persona_id(self) -> int | None:
        return self.options.replaces_persona_id

    @property
    def seed(self) -> int | None:
        return self.options.seed

    def to_json(self) -> str:
        return json.dumps(self.to_params(), ensure_ascii=False)

    @property
    def needs_subforum_lookup(self) -> bool:
        """FORLLM queues experts with only ``subforum_id``; the worker fills in the rest."""
        return self.generation_type == SUBFORUM_EXPERT and not self.input_details.get(
            "subforum_name"
        )

    def with_subforum(self, name: str, description: str | None) -> PersonaGenerationRequest:
        """The request with the subforum FORLLM named by id filled in; what FORLLM's table
        holds is cut to the form's limits (it is context, not what the user typed here)."""
        details = dict(self.input_details)
        details["subforum_name"] = clean_name(name)[:MAX_NAME_CHARS].strip()
        if description and not details.get("subforum_description"):
            details["subforum_description"] = clean_text(description)[:MAX_TEXT_CHARS].strip()
        return replace(self, input_details=details)

    def with_model(self, model_id: Any, field_name: str = "llm_model") -> PersonaGenerationRequest:
        """The request run on ``model_id``, checked like llm_model_for_generation (it may
        come from FORLLM's llm_requests.llm_model column)."""
        model = _text(field_name, model_id, MAX_MODEL_ID_CHARS, name_like=True)
        return replace(self, llm_model_for_generation=model)

    def detail(self, key: str) -> str:
        value = self.input_details.get(key)
        return value if isinstance(value, str) else ""

    @property
    def given_name(self) -> str:
        """The name the user gave (the exact override, else the name hint), used as typed;
        empty when the pipeline chooses one."""
        return self.target_persona_name_override or self.detail("name_hint")

    @property
    def display_name(self) -> str:
        """The job's label before a persona exists, the same as the queue shows."""
        return StoredRequest.from_params(self.to_params()).label()
