"""Whether the model a job names can be reached now, and what to run instead if not.

FORLLM queues persona jobs for the model its forum uses (``llama3``, an Ollama name), and
Ollama is often not running while Persona Studio is. Such a job must not fail the moment the
worker looks at it: it waits, marked with the reason in words ("Ollama is not running"), until
the model can be reached or the user picks another model for it. The worker asks this module
before it claims a job; only a model on a server where nothing answers (or that does not
offer it) makes a job wait. A server that answers with an error, a GGUF file that is not
there, or a model id that cannot be read lets the job run and fail with the backend's own
message, as before.

Qt-free. One ``ModelAvailability`` belongs to one worker; answers are cached for a few seconds
per server and per file, so a queue of a thousand jobs for ``llama3`` costs one request.

The user's "run jobs for llama3 on this model instead" choices are kept per machine (what is
installed here), in a small JSON file in the data folder that the CLI worker and the window
both read: ``Substitutes``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from persona_studio import paths
from persona_studio.errors import (
    BackendError,
    ModelError,
    PersonaStudioError,
    ServerUnreachableError,
)
from persona_studio.llm.catalog import OLLAMA_BASE_URL, ModelRef, parse_model_id

# How long an answer about one server or file is trusted: short enough that starting Ollama
# is noticed within a few seconds, long enough that the worker's half-second polling does not
# turn into a request per poll.
CACHE_SECONDS = 5.0
# A server on this machine answers a listing in milliseconds; one that takes longer than this
# is treated as not running for now (the job waits and is asked about again).
PROBE_TIMEOUT_S = 2.0
SUBSTITUTES_FILE = "model-substitutes.json"


def display_name(model_id: str) -> str:
    """The model as a person names it: ``llama3`` for ``ollama:llama3`` or FORLLM's bare
    ``llama3``, the file name for a GGUF file, the model for an OpenAI-compatible server."""
    try:
        return ModelRef.parse(model_id or "").name
    except ModelError:
        return (model_id or "").strip()


def _served_names(base_url: str, timeout: float) -> list[str]:
    from persona_studio.llm.openai_compat import list_models

    return list_models(base_url, timeout=timeout)


def _has_model(names: list[str], wanted: str) -> bool:
    # Ollama lists "llama3:latest" for what FORLLM calls "llama3".
    return wanted in names or (":" not in wanted and f"{wanted}:latest" in names)


@dataclass(frozen=True)
class _Answer:
    names: list[str] | None  # what the server lists; None: unknown
    reason: str  # why nothing can run there now; "" if something may
    at: float


class ModelAvailability:
    """``problem(model_id)``: None if a job for that model can start now, else why it cannot,
    in words ("Ollama is not running"). ``substitute(model_id)``: the model the user chose to
    run such jobs on instead, if any."""

    def __init__(
        self,
        *,
        lister: Callable[[str, float], list[str]] = _served_names,
        substitutes: Substitutes | None = None,
        timeout: float = PROBE_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lister = lister
        self._timeout = timeout
        self._clock = clock
        self._servers: dict[str, _Answer] = {}
        self._lock = threading.Lock()
        self.substitutes = substitutes or Substitutes()

    def forget(self) -> None:
        """Ask every server again at the next question ("Try again")."""
        with self._lock:
            self._servers.clear()

    def problem(self, model_id: str) -> str | None:
        try:
            ref = parse_model_id(model_id)
        except ModelError:
            return None  # a malformed id fails the job with the catalog's own message
        if ref.kind == "gguf":
            # A file is there or not; a missing one is a mistake to report (the job fails
            # with "Model file not found"), not a server that may be started in a minute.
            return None
        answer = self._listing(ref.base_url)
        if answer.reason:
            return answer.reason
        if answer.names is not None and not _has_model(answer.names, ref.model):
            if ref.is_ollama:
                return f"Ollama does not have it (download it with `ollama pull {ref.model}`)"
            return f"the server at {ref.base_url} does not offer it"
        return None

    def substitute(self, model_id: str) -> str | None:
        """The model chosen for ``model_id``'s jobs while it cannot be reached, if that one
        can be reached now."""
        chosen = self.substitutes.get(model_id)
        if not chosen or chosen == model_id or self.problem(chosen) is not None:
            return None
        return chosen

    def _listing(self, base_url: str) -> _Answer:
        now = self._clock()
        with self._lock:
            cached = self._servers.get(base_url)
        if cached is not None and now - cached.at < CACHE_SECONDS:
            return cached
        try:
            answer = _Answer(list(self._lister(base_url, self._timeout)), "", now)
        except ServerUnreachableError:
            reason = (
                "Ollama is not running"
                if base_url == OLLAMA_BASE_URL
                else f"nothing answers at {base_url} (is the server running?)"
            )
            answer = _Answer(None, reason, now)
        except BackendError:
            # It answered, with an error: no reason to wait. The job runs and fails with
            # the server's own words if the model really cannot be used.
            answer = _Answer(None, "", now)
        with self._lock:
            self._servers[base_url] = answer
        return answer


class Substitutes:
    """The user's "run jobs for MODEL on OTHER while MODEL cannot be reached" choices, per
    machine: ``<data dir>/model-substitutes.json``, ``{"llama3": "gguf:…"}``. Written whole
    through a temporary file and a rename, so a crash never leaves half a file; a file that
    cannot be read counts as no choices (and is replaced at the next choice)."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path

    @property
    def path(self) -> Path:
        return self._path or paths.data_dir() / SUBSTITUTES_FILE

    def all(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): str(v) for k, v in data.items() if isinstance(v, str) and v.strip()}

    def get(self, model_id: str) -> str | None:
        choices = self.all()
        key = _key(model_id)
        return choices.get(key) or choices.get(display_name(model_id))

    def remember(self, model_id: str, substitute: str) -> None:
        choices = self.all()
        choices[_key(model_id)] = substitute
        self._write(choices)

    def forget(self, model_id: str) -> None:
        choices = self.all()
        if choices.pop(_key(model_id), None) is not None:
            self._write(choices)

    def _write(self, choices: dict[str, str]) -> None:
        target = self.path
        try:
            self._write_to(target, choices)
        except OSError as exc:
            raise PersonaStudioError(
                f"The model choice could not be saved in {target} ({exc.strerror or exc}). "
                "The job itself was changed; free some space or check the folder's "
                "permissions to have the choice remembered."
            ) from None

    @staticmethod
    def _write_to(target: Path, choices: dict[str, str]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".substitutes-", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(choices, handle, indent=2, ensure_ascii=False)
                handle.write("\n")
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise


def _key(model_id: str) -> str:
    """One spelling per model: FORLLM's ``llama3`` and ``ollama:llama3`` are the same."""
    text = (model_id or "").strip()
    if text.startswith("ollama:"):
        return text[len("ollama:") :]
    return text
