"""``persona-studio rewrite`` as a user runs it: a subprocess on a FORLLM-made file, the real
default model; and the refusals that need no model."""

from __future__ import annotations

import pytest

from persona_studio.engine.headings import check_structure, parse_persona
from persona_studio.store import Store
from tests.cli.test_cli_check import _forllm_file
from tests.cli.test_cli_generate import run_cli

HANK = 3
TRAITS = "Key Personality Traits"


def _candidates(out: str) -> list[str]:
    parts = out.split("--- ")[1:]
    return [part.split(" ---\n", 1)[1].rstrip("\n") for part in parts]


def test_rewrite_refuses_what_it_cannot_do_with_exit_2(tmp_path):
    db = _forllm_file(tmp_path)
    proc = run_cli("rewrite", "homelab hank", "--section", "Bedtime", "--db", str(db))
    assert proc.returncode == 2 and "has no 'Bedtime' section" in proc.stderr
    proc = run_cli(
        "rewrite", "homelab hank", "--section", TRAITS, "--alternatives", "2", "--accept", "3",
        "--db", str(db),
    )  # fmt: skip
    assert proc.returncode == 2 and "pick one of the 2 candidate(s)" in proc.stderr
    with Store.open(db) as store:
        assert store.personas.get(HANK).version == 1


@pytest.mark.model
def test_rewrite_prints_alternatives_and_saves_the_accepted_one(tmp_path):
    db = _forllm_file(tmp_path)
    with Store.open(db) as store:
        before = store.personas.get(HANK).prompt_instructions
    proc = run_cli(
        "rewrite", "homelab hank", "--section", TRAITS.lower(), "--alternatives", "3",
        "--seed", "7", "--db", str(db),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    shown = _candidates(proc.stdout)
    assert 2 <= len(shown) <= 3 and len(set(shown)) == len(shown)
    assert "[candidate 1] " in proc.stderr
    with Store.open(db) as store:
        assert store.personas.get(HANK).version == 1  # nothing saved without --accept

    # --accept 2 saves the second of the candidates printed.
    proc = run_cli(
        "rewrite", "homelab hank", "--section", TRAITS, "--alternatives", "3",
        "--seed", "7", "--accept", "2", "--db", str(db),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    shown = _candidates(proc.stdout)
    assert len(shown) >= 2
    assert f"Saved as version 2: Rewrote '{TRAITS}' with " in proc.stderr
    with Store.open(db) as store:
        after = store.personas.get(HANK)
    assert after.version == 2
    assert parse_persona(after.prompt_instructions).section(TRAITS).content == shown[1]
    assert check_structure(after.prompt_instructions) == check_structure(before)
