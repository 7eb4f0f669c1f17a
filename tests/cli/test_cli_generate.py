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
        # Headings the document format cannot carry: refused before anything runs.
        (
            ["--type", "general_purpose_assistant", "--heading", "Tips: Advanced"],
            "output_preferences.desired_headings[0]: 'Tips: Advanced' holds ':'",
        ),
        (
            ["--type", "general_purpose_assistant", "--heading", "A", "--heading", "Notes # 2"],
            "output_preferences.desired_headings[1]: 'Notes # 2' holds '#'",
        ),
        (["--type", "general_purpose_assistant", "--seed", "-1"], "--seed: must be a whole"),
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


def _forllm_file(tmp_path):
    db = tmp_path / "forllm_data.db"
    fixture = os.path.join(os.path.dirname(__file__), "..", "fixtures", "make_forllm_db.py")
    subprocess.run([sys.executable, fixture, "--out", str(db)], check=True, capture_output=True)
    return db


@pytest.mark.model
def test_chat_answers_the_probes_as_the_persona(tmp_path):
    db = _forllm_file(tmp_path)
    proc = run_cli("chat", "homelab hank", "--db", str(db), "--probes", "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n\n")
    assert lines[0].startswith("You: Who are you?\nHomelab Hank: ")
    assert lines[1].startswith("You: What will you never talk about?\nHomelab Hank: ")
    assert lines[2].startswith("You: What can you tell me about Linux servers?\nHomelab Hank: ")
    answers = [part.split("Homelab Hank: ", 1)[1].strip() for part in lines[:3]]
    assert all(answers) and len(set(answers)) == 3
    assert proc.stderr.count(" tok/s") == 3


@pytest.mark.model
def test_chat_reads_questions_from_stdin_and_clears(tmp_path):
    db = _forllm_file(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "persona_studio", "chat", "Homelab Hank", "--db", str(db)],
        input="Who are you?\n/clear\nWhat is ZFS?\n\nnot asked\n",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("Homelab Hank: ") == 2  # the empty line ended the conversation
    assert "(conversation cleared)" in proc.stderr


def test_chat_with_an_unknown_persona_or_model_says_so(tmp_path):
    db = _forllm_file(tmp_path)
    proc = run_cli("chat", "Nobody", "--db", str(db), "--ask", "Hi")
    assert proc.returncode == 1 and "no persona called 'Nobody'" in proc.stderr
    proc = run_cli(
        "chat", "Homelab Hank", "--db", str(db), "--model", "gguf:/nonexistent/m.gguf",
        "--ask", "Hi",
    )  # fmt: skip
    assert proc.returncode == 1 and "Model file not found" in proc.stderr
    proc = run_cli("chat", "Homelab Hank", "--db", str(db), "--ask", "x" * 4001)
    assert proc.returncode == 2 and "the limit is 4,000" in proc.stderr
    missing = tmp_path / "missing.db"
    proc = run_cli("chat", "Homelab Hank", "--db", str(missing), "--ask", "Hi")
    assert proc.returncode == 2 and not missing.exists()  # an unusable --db: invalid input


@pytest.mark.parametrize("command", [["worker", "--once"], ["generate", "--no-wait"]])
def test_a_database_path_that_is_not_sqlite_exits_2(command, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n", encoding="utf-8")
    extra = ["--type", "general_purpose_assistant"] if command[0] == "generate" else []
    for db in (text, tmp_path):
        proc = run_cli(*command, "--db", str(db), *extra)
        assert proc.returncode == 2, proc.stderr
        assert "not a SQLite database" in proc.stderr or "is a folder" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert text.read_text(encoding="utf-8") == "not a database\n"
