"""Section rewrites on the real embedded default model: every mode keeps the structure (no
heading in a candidate, no other section's text, the document's headings unchanged), and
alternatives differ."""

from __future__ import annotations

import pytest

from persona_studio.engine.headings import check_structure, parse_persona
from persona_studio.engine.section_rewrite import (
    ADD,
    ALTERNATIVES,
    CONTINUE,
    REWRITE,
    SectionRewriteRequest,
    accept,
    rewrite_section,
)
from persona_studio.llm.catalog import DEFAULT_MODEL_ID, BackendPool
from tests.engine.test_section_rewrite import ROSA

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def backend():
    pool = BackendPool()
    try:
        yield pool.get(DEFAULT_MODEL_ID)
    finally:
        pool.close()


def _assert_structure_kept(request: SectionRewriteRequest, candidate: str) -> str:
    assert not parse_persona(candidate).sections  # no heading line
    assert "```" not in candidate
    others = [
        s.content
        for s in parse_persona(ROSA).sections
        if s.heading not in ("Persona Name", request.heading)
    ]
    for content in others:  # no other section's sentences copied in
        for line in content.splitlines():
            if len(line) > 25:
                assert line.strip("- ") not in candidate
    new = accept(request, candidate)
    assert check_structure(new) == []
    headings = [s.heading for s in parse_persona(ROSA).sections]
    if request.mode == ADD:
        headings.append(request.heading)
    assert [s.heading for s in parse_persona(new).sections] == headings
    return new


@pytest.mark.parametrize(
    ("mode", "heading", "instruction"),
    [
        (REWRITE, "Speaking Style & Tone", "shorter"),
        (REWRITE, "Core Identity", "in the first person"),
        (REWRITE, "Forbidden Actions & Topics", ""),
        (CONTINUE, "Key Personality Traits", ""),
        (ADD, "Bedtime Routines", ""),
    ],
)
def test_every_mode_keeps_the_structure(backend, mode, heading, instruction) -> None:
    request = SectionRewriteRequest(
        ROSA, heading, mode=mode, instruction=instruction, model_id=DEFAULT_MODEL_ID, seed=11
    )
    pieces: list[str] = []
    (candidate,) = rewrite_section(backend, request, lambda _i, piece: pieces.append(piece))
    assert pieces  # streamed
    _assert_structure_kept(request, candidate)
    if mode == CONTINUE:
        assert candidate.startswith(parse_persona(ROSA).section(heading).content)
        assert len(candidate) > len(parse_persona(ROSA).section(heading).content)


def test_alternatives_differ(backend) -> None:
    request = SectionRewriteRequest(
        ROSA, "Speaking Style & Tone", mode=ALTERNATIVES, candidates=3, seed=5
    )
    candidates = rewrite_section(backend, request)
    assert len(candidates) >= 2 and len(set(candidates)) == len(candidates)
    for candidate in candidates:
        _assert_structure_kept(request, candidate)
