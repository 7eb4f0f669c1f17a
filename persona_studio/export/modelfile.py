"""Ollama Modelfile: ``FROM <model>`` + ``SYSTEM \"\"\"<persona>\"\"\"``.

``ollama create <name> -f <file>`` then gives the persona a model of its own.

FROM: ``ollama:X`` becomes ``X``; a ``gguf:`` identifier becomes the path of the GGUF file
on this machine (the packaged default model included), which Ollama imports as is; a server
model (``openai:X@url``) or a bare FORLLM name becomes its model name. A persona without a
recorded model uses the default model. ``--from`` (``base_model``) overrides all of that.

Escaping: Ollama's parser (parser/parser.go, ParseFile) has no escape sequences. At each
line break inside a triple-quoted value it checks whether the value so far, trimmed of white
space (and without the characters it drops as unprintable), ends with three double quotes;
if so, the value ends there. So ``\"\"\"`` in the middle of a line is written as it is, and only
a line of the text that ends with ``\"\"\"`` (before its line break, ignoring trailing white
space) gets one BRAILLE PATTERN BLANK (U+2800, printable but blank) right after the quotes,
which keeps the value open. The reader takes exactly one such character off again, so every
text, every ``\"\"\"`` and every final newline included, comes back as it was; Ollama's model
sees the blank. The text is written between the quotes exactly as it is (no newline added
or removed), which is what Ollama reads, and what the reader gives back.
"""

from __future__ import annotations

import re

from persona_studio.errors import ExportError, ImportFormatError, ModelError
from persona_studio.export.markdown import read_text
from persona_studio.export.model import PersonaDocument, clean_name
from persona_studio.llm.catalog import DEFAULT_MODEL_ID, parse_model_id, resolve_gguf

_MARK = "\u2800"  # BRAILLE PATTERN BLANK: printable, not white space, shows as nothing
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
    text = _escape(doc.prompt_instructions)
    name = clean_name(doc.name)
    return (
        f"# {name}{_MADE_HERE}\n"
        f"# Create the model with: ollama create {ollama_model_name(name)} -f <this file>\n"
        f"FROM {source}\n"
        f'SYSTEM """{text}"""\n'
    )


def _seen(ch: str) -> bool:
    """Whether Ollama's end-of-value check sees ``ch``: it trims white space and never
    stores unprintable characters (the same classes as Go's unicode.IsSpace / IsPrint)."""
    return ch.isprintable() and not ch.isspace()


def _quotes_at_end(line: str) -> tuple[int, int] | None:
    """For a line whose last characters Ollama sees are three double quotes, perhaps
    followed by our marks: (where the marks start, where they end); else None."""
    end = len(line)
    while end and not _seen(line[end - 1]):
        end -= 1
    start = end
    while start and line[start - 1] == _MARK:
        start -= 1
    seen = "".join(ch for ch in line[:start] if _seen(ch) or ch in " \t")
    return (start, end) if seen.endswith('"""') else None


def _escape(text: str) -> str:
    """Mark every line that would end Ollama's value early (the last line cannot: the
    closing quotes follow it)."""
    lines = text.split("\n")
    for index, line in enumerate(lines[:-1]):
        found = _quotes_at_end(line)
        if found is not None:
            lines[index] = line[: found[0]] + _MARK + line[found[0] :]
    return "\n".join(lines)


def _unescape(text: str) -> str:
    """What _escape wrote, back to the text it was given."""
    lines = text.split("\n")
    for index, line in enumerate(lines[:-1]):
        found = _quotes_at_end(line)
        if found is not None and found[1] > found[0]:
            lines[index] = line[: found[0]] + line[found[0] + 1 :]
    return "\n".join(lines)


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
        return read_text(
            _unescape(systems[-1].group("text")),
            comment["name"] if comment else fallback_name,
            exact=True,
        )
    except ImportFormatError as exc:
        raise ImportFormatError(f"its SYSTEM text: {exc}") from None
