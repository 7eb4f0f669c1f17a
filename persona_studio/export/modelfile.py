"""Ollama Modelfile: ``FROM <model>`` + ``SYSTEM \"\"\"<persona>\"\"\"``.

``ollama create <name> -f <file>`` then gives the persona a model of its own.

FROM: ``ollama:X`` becomes ``X``; a ``gguf:`` identifier becomes the path of the GGUF file
on this machine (the packaged default model included), which Ollama imports as is; a server
model (``openai:X@url``) or a bare FORLLM name becomes its model name. A persona without a
recorded model uses the default model. ``--from`` (``base_model``) overrides all of that.

Escaping: Ollama's parser has no escape sequences; a triple-quoted value ends at the first
three double quotes followed by the end of the line. So every run of three or more double
quotes in the text is written as the same number of single quotes, the only change ever
made to it.
"""

from __future__ import annotations

import re

from persona_studio.errors import ExportError, ImportFormatError, ModelError
from persona_studio.export.markdown import read_text
from persona_studio.export.model import PersonaDocument, clean_name
from persona_studio.llm.catalog import DEFAULT_MODEL_ID, parse_model_id, resolve_gguf

_QUOTE_RUN = re.compile(r'"{3,}')
# A SYSTEM value as Ollama's parser reads it: from the opening triple quote to the first
# triple quote that only spaces separate from the end of a line (or of the file).
_SYSTEM = re.compile(
    r'^[ \t]*SYSTEM[ \t]+"""(?P<text>.*?)"""[ \t]*(?=[\r\n]|\Z)', re.I | re.M | re.S
)
_FROM = re.compile(r"^[ \t]*FROM[ \t]+\S", re.I | re.M)
_MADE_HERE = ": a persona made with Persona Studio."
_NAME_COMMENT = re.compile(rf"^# (?P<name>[^\n]+){re.escape(_MADE_HERE)}$", re.M)


def base_model(model_id: str | None) -> str:
    """What FROM names for a persona generated with ``model_id`` (see the module notes)."""
    try:
        ref = parse_model_id(model_id or DEFAULT_MODEL_ID)
        return str(resolve_gguf(ref.model)) if ref.kind == "gguf" else ref.model
    except ModelError as exc:
        raise ExportError(
            f"{exc} Or name the Modelfile's base model yourself with --from (an Ollama model "
            "such as 'llama3', or the path of a GGUF file)."
        ) from exc


def ollama_model_name(name: str) -> str:
    """A name Ollama accepts for ``ollama create`` (lower case, digits, '-'), for the hint."""
    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")[:60] or "persona"


def render_modelfile(doc: PersonaDocument, base: str) -> str:
    if not base.strip() or "\n" in base or '"' in base:
        raise ExportError(f"{base!r} cannot be a Modelfile's FROM: give a model name or path.")
    source = f'"{base}"' if re.search(r"\s", base) else base  # Ollama splits FROM at spaces
    text = _QUOTE_RUN.sub(lambda m: "'" * len(m.group()), doc.prompt_instructions.strip("\n"))
    name = clean_name(doc.name)
    return (
        f"# {name}{_MADE_HERE}\n"
        f"# Create the model with: ollama create {ollama_model_name(name)} -f <this file>\n"
        f"FROM {source}\n"
        f'SYSTEM """{text}"""\n'
    )


def looks_like_modelfile(text: str) -> bool:
    return bool(_FROM.search(text)) and bool(_SYSTEM.search(text))


def read_modelfile(text: str, fallback_name: str = "") -> PersonaDocument:
    """The persona in a Modelfile's (last) SYSTEM value. Its name: the text's headings, else
    the comment line this module writes, else ``fallback_name``."""
    systems = list(_SYSTEM.finditer(text))
    if not systems:
        raise ImportFormatError('it has no SYSTEM """...""" instruction to read a persona from.')
    comment = _NAME_COMMENT.search(text)
    try:
        return read_text(systems[-1].group("text"), comment["name"] if comment else fallback_name)
    except ImportFormatError as exc:
        raise ImportFormatError(f"its SYSTEM text: {exc}") from None
