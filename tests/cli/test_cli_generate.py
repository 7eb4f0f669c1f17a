"""The CLI's exact forms, run as a user runs them: a subprocess, real model."""

import json
import os
import subprocess
import sys

import pytest

from persona_studio.engine.headings import check_structure


def run_cli(*args, timeout=600):
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "persona_studio", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.mark.model
def test_generate_json_prints_one_object_and_streams_stages_to_stderr():
    proc = run_cli(
        "generate",
        "--type",
        "subforum_expert",
        "--subforum-name",
        "Sourdough",
        "--subforum-description",
        "Baking bread with wild yeast",
        "--tone",
        "friendly",
        "--length",
        "concise",
        "--override",
        "Crusty Carl",
        "--json",
        "--seed",
        "5",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert list(payload)[:4] == ["persona_name", "prompt_instructions", "status", "error_message"]
    assert payload["status"] == "success" and payload["error_message"] is None
    assert payload["persona_name"] == "Crusty Carl"
    assert check_structure(payload["prompt_instructions"]) == []
    assert payload["stages"]["expansion"]["tokens"] > 0
    assert payload["stages"]["refinement"]["tokens_per_s"] > 0
    assert payload["brainstorm"]
    assert set(payload["template_versions"]) == {"expansion", "refinement"}
    assert "--- expansion ---" in proc.stderr and "--- refinement ---" in proc.stderr
    assert "tok/s] " in proc.stderr


@pytest.mark.model
def test_generate_prints_the_persona_on_stdout():
    proc = run_cli(
        "generate",
        "--type",
        "general_purpose_assistant",
        "--heading",
        "Core Identity",
        "--heading",
        "Example Phrases",
        "--length",
        "concise",
        "--seed",
        "3",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("## Persona Name: ")
    assert check_structure(proc.stdout, ("Persona Name", "Core Identity", "Example Phrases")) == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--type", "subforum_expert"], "input_details.subforum_name"),
        (["--type", "from_name_and_description"], "input_details.description_hint"),
        (["--type", "general_purpose_assistant", "--name", "x" * 500], "input_details.name_hint"),
        (
            ["--type", "general_purpose_assistant", "--heading", "A", "--heading", "a"],
            "output_preferences.desired_headings[1]",
        ),
    ],
)
def test_invalid_input_exits_2_naming_the_field(args, needle):
    proc = run_cli("generate", *args)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert proc.stdout == ""


def test_missing_and_corrupt_model_files_are_clear_errors(tmp_path):
    corrupt = tmp_path / "broken.gguf"
    corrupt.write_bytes(b"GGUF" + os.urandom(4096))
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("hello")
    for model, needle in [
        (str(tmp_path / "nope.gguf"), "Model file not found"),
        (str(corrupt), "Could not load broken.gguf"),
        (str(not_gguf), "not a GGUF model file"),
        ("gguf:missing-in-models-folder.gguf", "is not in the models folder"),
    ]:
        proc = run_cli(
            "generate",
            "--type",
            "general_purpose_assistant",
            "--model",
            model if model.startswith("gguf:") else f"gguf:{model}",
        )
        assert proc.returncode == 1, proc.stderr
        assert needle in proc.stderr
        assert "Traceback" not in proc.stderr


def test_unreachable_server_model_is_a_clear_error():
    proc = run_cli(
        "generate",
        "--type",
        "general_purpose_assistant",
        "--model",
        "openai:some-model@http://127.0.0.1:9/v1",
    )
    assert proc.returncode == 1
    assert "Cannot reach the model server at http://127.0.0.1:9/v1" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_models_lists_the_packaged_default():
    proc = run_cli("models", "--endpoint", "http://127.0.0.1:9/v1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("gguf:SmolLM2-135M-Instruct.Q4_1.gguf\t")
    assert "# unavailable: http://127.0.0.1:9/v1" in proc.stdout
