"""``persona-studio rewrite`` as a user runs it: a subprocess on a FORLLM-made file, the real
default model; and the refusals that need no model."""

from __future__ import annotations

import threading

import pytest

from persona_studio.engine.headings import check_structure, parse_persona
from persona_studio.store import Store
from tests.cli.test_cli_check import _forllm_file
from tests.cli.test_cli_generate import run_cli
from tests.llm.conftest import FakeServer

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


def test_an_accepted_rewrite_is_saved_with_its_note(tmp_path):
    """--accept N saves the version with the note the window keeps: what was rewritten,
    how, and with which model (here an OpenAI-compatible server on 127.0.0.1 that answers
    with a section); the version history shows it."""
    server = FakeServer()

    def answer(handler, body):
        handler.start_events()
        handler.send_piece("- Calm under pressure\n- Fond of labelled cables")
        handler.send_event("[DONE]")

    server.script = answer
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        db = _forllm_file(tmp_path)
        model = f"openai:fake-model@{server.base_url}"
        proc = run_cli(
            "rewrite", "homelab hank", "--section", TRAITS, "--instruction", "shorter",
            "--model", model, "--accept", "1", "--db", str(db), timeout=120,
        )  # fmt: skip
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()
        thread.join()
    assert proc.returncode == 0, proc.stderr
    assert server.requests  # the model was asked
    note = f"Rewrote '{TRAITS}' (shorter) with {model}"
    assert f"Saved as version 2: {note}.\n" in proc.stderr
    with Store.open(db) as store:
        versions = store.personas.versions(HANK)
    assert [(v.version, v.note) for v in versions] == [(1, ""), (2, note)]
    assert parse_persona(versions[-1].prompt_instructions).section(TRAITS).content == (
        "- Calm under pressure\n- Fond of labelled cables"
    )


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
    note = f"Rewrote '{TRAITS}' with gguf:SmolLM2-135M-Instruct.Q4_1.gguf"
    assert f"Saved as version 2: {note}." in proc.stderr
    with Store.open(db) as store:
        after = store.personas.get(HANK)
        assert store.personas.versions(HANK)[-1].note == note  # as the window keeps it
    assert after.version == 2
    assert parse_persona(after.prompt_instructions).section(TRAITS).content == shown[1]
    assert check_structure(after.prompt_instructions) == check_structure(before)
