"""The persona document's one table of default headings, and FORLLM's preamble."""

from __future__ import annotations

from persona_studio.core.document import (
    DEFAULT_HEADINGS,
    DEFAULT_SECTIONS,
    FORLLM_PREAMBLE,
    HEADING_GUIDANCE,
    KNOWLEDGE,
    PERSONA_NAME,
    default_heading,
    heading_key,
    without_forllm_preamble,
)

FORLLM_TEXT = (
    "Always respond as Homelab Hank, using the style, tone and personality explained below."
    "\n\n---\n\n## Persona Name: Homelab Hank\n"
)


def test_the_table_is_the_default_document() -> None:
    assert DEFAULT_HEADINGS[0] == PERSONA_NAME and len(DEFAULT_HEADINGS) == 8
    assert len({heading_key(h) for h in DEFAULT_HEADINGS}) == len(DEFAULT_HEADINGS)
    for entry in DEFAULT_SECTIONS:
        assert entry.guidance and HEADING_GUIDANCE[heading_key(entry.heading)] == entry.guidance
        assert entry.kind in ("name", "prose", "list")
        assert not entry.starter.endswith(" ")  # the tokenizer would double the space


def test_a_heading_is_found_however_it_is_written() -> None:
    for written in ("knowledge domain and expertise", "## Knowledge Domain & Expertise:"):
        found = default_heading(written)
        assert found is not None and found.heading == KNOWLEDGE
    assert default_heading("Favourite Recipes") is None


def test_forllm_preamble() -> None:
    match = FORLLM_PREAMBLE.match(FORLLM_TEXT)
    assert match is not None and match.group("name") == "Homelab Hank"
    assert without_forllm_preamble(FORLLM_TEXT) == "## Persona Name: Homelab Hank\n"
    alone = "Always respond as Sal, using the style, tone and personality explained below."
    assert without_forllm_preamble(alone) == ""
    # Only at the start, and only FORLLM's exact words.
    for text in ("You are Quill.", "Intro.\n" + FORLLM_TEXT, "Always respond as Sal."):
        assert FORLLM_PREAMBLE.match(text) is None and without_forllm_preamble(text) == text
