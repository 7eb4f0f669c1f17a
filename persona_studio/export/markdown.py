"""Markdown (.md) and plain text (.txt): the persona text itself.

Both hold exactly the text the model is given. The .txt file is not stripped of Markdown:
the '## Heading:' lines are what small models follow and what lets the file be imported
again, and they read fine as plain text; .txt only exists for tools that filter on it.
"""

from __future__ import annotations

from persona_studio.core.document import FORLLM_PREAMBLE
from persona_studio.engine.headings import parse_persona
from persona_studio.errors import ImportFormatError
from persona_studio.export.model import PersonaDocument, clean_name, clean_text


def render_text(doc: PersonaDocument) -> str:
    """The persona text and one newline, as text files end (read_text takes that newline
    off again, so a text that ends with its own newlines keeps them all)."""
    return doc.prompt_instructions + "\n"


def persona_name(text: str) -> str:
    """The name in '## Persona Name:', else in FORLLM's 'Always respond as X' line, else ''."""
    name = clean_name(parse_persona(text).name)
    if name:
        return name
    match = FORLLM_PREAMBLE.match(text)
    return clean_name(match.group("name")) if match else ""


def read_text(text: str, fallback_name: str = "", *, exact: bool = False) -> PersonaDocument:
    """A persona from Markdown or plain text. Its name comes from our heading, else FORLLM's
    preamble, else ``fallback_name`` (the file's name): FORLLM's hand-written personas are
    bare instructions, and an export of one must import again. ``exact``: ``text`` is the
    persona text itself (a Modelfile's SYSTEM value), not a file that render_text wrote."""
    body = clean_text(text)
    if body.endswith("\n") and not exact:  # the newline render_text adds; more is the text's
        body = body[:-1]
    if not body.strip():
        raise ImportFormatError("the file is empty.")
    name = persona_name(body)
    notes: tuple[str, ...] = ()
    if not name:
        name = clean_name(fallback_name)
        notes = ("it has no '## Persona Name:' heading, so it was named after the file",)
    if not name:
        raise ImportFormatError(
            "it has no '## Persona Name:' heading (nor FORLLM's 'Always respond as ...' "
            "line) to take the persona's name from. Add '## Persona Name: <name>' as its "
            "first line and import it again."
        )
    return PersonaDocument(name=name, prompt_instructions=body, notes=notes)
