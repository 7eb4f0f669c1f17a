"""``persona-studio check`` and the check at the end of ``generate``, run as a user runs
them: a subprocess on a FORLLM-made file, the real default model."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from persona_studio.checks import stored_result
from persona_studio.llm.catalog import DEFAULT_MODEL_ID
from persona_studio.store import Store
from tests.cli.test_cli_generate import run_cli

HANK = 3


def _forllm_file(tmp_path):
    db = tmp_path / "forllm_data.db"
    fixture = os.path.join(os.path.dirname(__file__), "..", "fixtures", "make_forllm_db.py")
    subprocess.run([sys.executable, fixture, "--out", str(db)], check=True, capture_output=True)
    return db


@pytest.mark.model
def test_check_prints_answers_verdicts_and_the_baseline_and_keeps_the_result(tmp_path):
    db = _forllm_file(tmp_path)
    proc = run_cli("check", "homelab hank", "--db", str(db), "--baseline")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    with_persona, _, rest = out.partition("\nWithout the persona (baseline):\n")
    for part in (with_persona, rest):
        for question in (
            "Who are you?",
            "What is your name?",
            "What do you know a lot about?",
            "Are you a real person?",
        ):
            assert f"Q: {question}\nA: " in part
        assert part.count("   [pass] ") + part.count("   [FAIL] ") >= 4
    assert "gives its name (Homelab Hank)" in out or "does not give its name (Homelab Hank)" in out
    assert "\nWith the persona: score " in out
    assert "\nWithout it:       score " in out and "the persona changes the score by " in out
    assert out.rstrip().endswith(("Passed.", "Not passed."))
    assert f"Checking Homelab Hank (version 1) with {DEFAULT_MODEL_ID}" in proc.stderr
    assert "Kept with version 1 of Homelab Hank." in proc.stderr

    with Store.open(db) as store:
        stored = store.personas.latest_check(HANK)
    result = stored_result(stored)
    assert stored is not None and result is not None
    assert stored.model == DEFAULT_MODEL_ID and len(result.baseline) == 4
    assert f"With the persona: score {stored.score:.2f}" in out
    assert stored.summary in out


@pytest.mark.model
def test_generate_reports_its_check_and_check_repeats_it_with_the_model_that_made_it(tmp_path):
    db = tmp_path / "personas.db"
    proc = run_cli(
        "generate",
        "--type",
        "from_name_and_description",
        "--name",
        "Martha Quinn",
        "--description",
        "A patient sourdough baker who explains fermentation to beginners",
        "--length",
        "concise",
        "--seed",
        "5",
        "--db",
        str(db),
    )
    assert proc.returncode == 0, proc.stderr
    assert "--- check ---" in proc.stderr and "[check] Q: Who are you?" in proc.stderr
    summary = [line for line in proc.stderr.splitlines() if line.startswith("persona check: ")]
    assert len(summary) == 1 and summary[0].startswith("persona check: score ")
    with Store.open(db) as store:
        generated = store.personas.latest_check(
            store.personas.get_by_name("Martha Quinn").persona_id
        )
    assert generated is not None and summary[0].startswith(
        f"persona check: score {generated.score:.2f} · {generated.summary}"
    )

    proc = run_cli("check", "Martha Quinn", "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    assert f"with {DEFAULT_MODEL_ID}" in proc.stderr  # the model that made it
    with Store.open(db) as store:
        persona = store.personas.get_by_name("Martha Quinn")
        checks = store.personas.checks(persona.persona_id)
    assert len(checks) == 2 and checks[1].version == 1
    # Greedy, same persona, same model, same hints: the same answers as in the generation.
    assert stored_result(checks[1]).answers == stored_result(generated).answers


def test_check_of_an_unknown_persona_or_model_says_so(tmp_path):
    db = _forllm_file(tmp_path)
    proc = run_cli("check", "Nobody", "--db", str(db))
    assert proc.returncode == 1 and "no persona called 'Nobody'" in proc.stderr
    proc = run_cli("check", "Homelab Hank", "--db", str(db), "--model", "gguf:/nonexistent/m.gguf")
    assert proc.returncode == 1 and "Model file not found" in proc.stderr
    assert "Traceback" not in proc.stderr
    with Store.open(db) as store:
        assert store.personas.checks(HANK) == []
    missing = tmp_path / "missing.db"
    proc = run_cli("check", "Homelab Hank", "--db", str(missing))
    assert proc.returncode != 0 and not missing.exists() and "Traceback" not in proc.stderr
