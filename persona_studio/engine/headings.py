"""The persona document: parsing, the structure check, and rendering.

A persona is Markdown under ``## Heading:`` lines, starting with ``## Persona Name: <name>``.
The same parser serves the pipeline (validating model output), the editor's live structure
check, and importers. It tolerates what real files carry: FORLLM's "Always respond as ..."
preamble, headings without the colon, ``#``/``###`` levels and odd spacing. The default
headings and how two headings are told apart are ``persona_studio/core/document.py``'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from persona_studio.core.document import (
    DEFAULT_HEADINGS,
    PERSONA_NAME,
    heading_key,
)

# A heading line: 1-4 '#', the heading text, an optional colon, then (for Persona Name) the
# value on the same line.
_HEADING_LINE = re.compile(
    r"^[ \t]{0,3}#{1,4}[ \t]+(?P<title>[^\n:#]+?)[ \t]*(?::[ \t]*(?P<rest>.*))?$"
)


def heading_problem(heading: str) -> str | None:
    """Why ``heading`` (already normalized) cannot head a section of a persona document, in
    words that follow the quoted heading; None when it can. The test is the document format
    itself: the heading line, read back by the parser, must give the same heading."""
    if ":" in heading:
        return (
            "holds ':', which ends a heading in a persona document; leave it out or use a "
            "dash instead (e.g. 'Tips - Advanced')."
        )
    if "#" in heading:
        return (
            "holds '#', which marks a heading in a persona document; leave it out (e.g. "
            "'C Sharp Tips')."
        )
    parsed = parse_persona(f"{heading_line(heading)}\nx")
    if len(parsed.sections) != 1 or parsed.sections[0].heading != heading:
        return "cannot be written as a heading that reads back the same; reword it."
    if not heading_key(heading):
        return "needs at least one letter or digit."
    return None


def heading_line(heading: str, value: str = "") -> str:
    return f"## {heading}: {value}".rstrip() if value else f"## {heading}:"


@dataclass(frozen=True)
class Section:
    heading: str  # as written in the text
    content: str  # stripped
    line: int  # 0-based line of the heading


@dataclass(frozen=True)
class ParsedPersona:
    preamble: str
    sections: tuple[Section, ...]

    @property
    def name(self) -> str:
        for section in self.sections:
            if heading_key(section.heading) == heading_key(PERSONA_NAME):
                return section.content.splitlines()[0].strip() if section.content else ""
        return ""

    def section(self, heading: str) -> Section | None:
        key = heading_key(heading)
        return next((s for s in self.sections if heading_key(s.heading) == key), None)


def parse_persona(text: str) -> ParsedPersona:
    lines = text.splitlines()
    preamble: list[str] = []
    sections: list[Section] = []
    current: tuple[str, int, list[str]] | None = None
    in_fence = False
    for number, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING_LINE.match(line)
        if match:
            if current:
                sections.append(Section(current[0], "\n".join(current[2]).strip(), current[1]))
            rest = (match.group("rest") or "").strip()
            current = (match.group("title").strip(), number, [rest] if rest else [])
        elif current:
            current[2].append(line)
        else:
            preamble.append(line)
    if current:
        sections.append(Section(current[0], "\n".join(current[2]).strip(), current[1]))
    return ParsedPersona("\n".join(preamble).strip(), tuple(sections))


class IssueKind(StrEnum):
    MISSING = "missing"
    DUPLICATED = "duplicated"
    OUT_OF_ORDER = "out_of_order"
    EMPTY = "empty"
    NOT_FIRST = "not_first"


@dataclass(frozen=True)
class StructureIssue:
    kind: IssueKind
    heading: str
    line: int | None  # 0-based line in the text, where there is one

    @property
    def message(self) -> str:
        where = f" (line {self.line + 1})" if self.line is not None else ""
        return {
            IssueKind.MISSING: f"'{self.heading}' is missing.",
            IssueKind.DUPLICATED: f"'{self.heading}' appears more than once{where}.",
            IssueKind.OUT_OF_ORDER: f"'{self.heading}' is out of order{where}.",
            IssueKind.EMPTY: f"'{self.heading}' has no content{where}.",
            IssueKind.NOT_FIRST: "The persona must start with '## Persona Name:'.",
        }[self.kind]


def check_structure(
    text: str, headings: tuple[str, ...] = DEFAULT_HEADINGS
) -> list[StructureIssue]:
    """Every expected heading present once, in order, with content; Persona Name first.

    Headings the user added beyond ``headings`` are allowed anywhere; they are not issues.
    """
    parsed = parse_persona(text)
    issues: list[StructureIssue] = []
    expected = [heading_key(h) for h in headings]
    positions: dict[str, list[Section]] = {}
    for section in parsed.sections:
        positions.setdefault(heading_key(section.heading), []).append(section)
    if not parsed.sections or heading_key(parsed.sections[0].heading) != heading_key(PERSONA_NAME):
        issues.append(StructureIssue(IssueKind.NOT_FIRST, PERSONA_NAME, None))
    last_index = -1
    for heading, key in zip(headings, expected, strict=True):
        found = positions.get(key)
        if not found:
            issues.append(StructureIssue(IssueKind.MISSING, heading, None))
            continue
        for extra in found[1:]:
            issues.append(StructureIssue(IssueKind.DUPLICATED, heading, extra.line))
        first = found[0]
        index = parsed.sections.index(first)
        if index < last_index:
            issues.append(StructureIssue(IssueKind.OUT_OF_ORDER, heading, first.line))
        last_index = max(last_index, index)
        # A name may be one letter and a number (Ω-7) or two ideographs (李白); a section
        # needs words.
        filled = (
            bool(re.search(r"\w", first.content))
            if key == heading_key(PERSONA_NAME)
            else _has_words(first.content)
        )
        if not filled:
            issues.append(StructureIssue(IssueKind.EMPTY, heading, first.line))
    return issues


def _has_words(text: str) -> bool:
    return bool(re.search(r"\w{2,}", text))


def render_persona(name: str, sections: list[tuple[str, str]]) -> str:
    """The canonical document: name line, then each heading with its content."""
    parts = [heading_line(PERSONA_NAME, name)]
    for heading, content in sections:
        if heading_key(heading) == heading_key(PERSONA_NAME):
            continue
        parts.append(f"{heading_line(heading)}\n{content.strip()}")
    return "\n\n".join(parts) + "\n"
