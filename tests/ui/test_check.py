"""The persona check in the real window: the list's Check column, the editor's answers with
their verdicts, the Check button on the worker thread (waiting for a job, Stop, errors in
words, kept with the version when the text is the saved one), and the stream view's check
stages; with the real default model where a model answers."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt

from persona_studio import checks as checks_module
from persona_studio.core.events import TextWritten
from persona_studio.engine.persona_check import CheckResult, ProbeAnswer
from persona_studio.store import NewCheck
from persona_studio.ui.persona_list import COL_CHECK, COL_NAME
from persona_studio.ui.stream_view import StreamView
from tests.store.sqlite_helpers import sql
from tests.ui.conftest import GENERATION_TIMEOUT_MS, job_finished, queue_form

QUILL = 2  # FORLLM's hand-written "Archivist Quill"
HANK = 3  # FORLLM-generated "Homelab Hank"
CHECK_TIMEOUT_MS = 120_000


def _hank_check() -> NewCheck:
    result = CheckResult(
        model="gguf:SmolLM2-135M-Instruct.Q4_1.gguf",
        name="Homelab Hank",
        answers=(
            ProbeAnswer("who", "Who are you?", "I'm Hank, I run a home lab.", holds_name=True),
            ProbeAnswer("name", "What is your name?", "My name is Bob.", holds_name=False),
            ProbeAnswer(
                "domain", "What do you know a lot about?", "Linux servers.", in_domain=True
            ),
            ProbeAnswer("tempt", "Are you a real person?", "I am an AI assistant.", breaks=True),
        ),
        words=("linux", "servers"),
    )
    return checks_module.new_check(result)


def _open(qtbot, window, persona_id: int):
    window.show_persona(persona_id)
    qtbot.waitUntil(lambda: window.editor.persona_id == persona_id, timeout=15_000)
    return window.editor


def _list_cell(window, persona_id: int, column: int = COL_CHECK):
    model = window.personas.model
    row = model.row_of(persona_id)
    assert row is not None
    return model.index(row, column)


def test_a_stored_check_shows_in_the_list_and_the_editor(qtbot, window) -> None:
    window.store.personas.save_check(HANK, 1, _hank_check())
    window.personas.refresh()
    cell = _list_cell(window, HANK)
    assert cell.data() == "name 1/2 · domain 1/1 · 1 break(s)"
    assert "score 0.50" in cell.data(Qt.ItemDataRole.ToolTipRole)
    assert _list_cell(window, QUILL).data() == ""  # not checked: empty
    header = window.personas.model.headerData(
        COL_CHECK, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole
    )
    assert header == "Check"
    # Sortable by score, best first, unchecked personas after the checked ones.
    window.personas.view.sortByColumn(COL_CHECK, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: window.personas.model.order_by == "check", timeout=5_000)
    assert window.personas.model.index(0, COL_NAME).data() == "Homelab Hank"

    editor = _open(qtbot, window, HANK)
    panel = editor.check_panel
    assert editor.checks_tabs.tabText(1) == "Check: 0.50"
    title = panel.title.text()
    assert "0.50" in title and "name 1/2 · domain 1/1 · 1 break(s)" in title
    assert "kept with version 1" in title
    answers = panel.answers.toPlainText()
    assert (
        "✓ Who are you? — gives its name (Homelab Hank)\n“I'm Hank, I run a home lab.”" in answers
    )
    assert "✗ What is your name? — does not give its name (Homelab Hank)" in answers
    assert "✓ What do you know a lot about? — names its domain" in answers
    assert "✗ Are you a real person? — calls itself an AI or an assistant" in answers
    # Edited, the check no longer describes the text, and says so.
    editor.text.setPlainText(editor.text.toPlainText() + "\nMore.")
    qtbot.waitUntil(lambda: "the text has changed since" in panel.title.text(), timeout=3_000)
    editor.text.setPlainText(editor._loaded_text)

    # A persona without a check, and one whose stored check is garbage: neither crashes.
    sql(
        window.store.path,
        "INSERT INTO ps_persona_checks (persona_id, version, checked_at, score, summary, "
        "result) VALUES (?, (SELECT version FROM personas WHERE persona_id = ?), 'soon', "
        "'high', x'ff', '[[[')",
        (QUILL, QUILL),
    )
    window.personas.refresh()
    assert _list_cell(window, QUILL).data() == ""
    editor = _open(qtbot, window, QUILL)
    assert editor.checks_tabs.tabText(1) == "Check: none"
    assert editor.check_panel.answers.toPlainText().startswith("Not checked yet.")
    assert editor.check_button.isEnabled()


def test_a_check_with_a_baseline_shows_what_the_persona_changes(qtbot, window) -> None:
    check = _hank_check()
    base = [
        {"kind": "who", "question": "Who are you?", "answer": "I'm an AI.", "holds_name": False},
        {"kind": "tempt", "question": "Are you a real person?", "answer": "No.", "breaks": True},
    ]
    window.store.personas.save_check(HANK, 1, NewCheck(**{**check.__dict__, "result": {
        **check.result, "baseline": base}}))  # fmt: skip
    editor = _open(qtbot, window, HANK)
    title = editor.check_panel.title.text()
    assert "Without the persona: score 0.00" in title
    assert "the persona changes the score by +0.50" in title


def test_a_check_that_cannot_run_says_why_in_words(qtbot, window) -> None:
    editor = _open(qtbot, window, HANK)
    editor.try_panel.select_model("gguf:/nonexistent/missing.gguf")
    with qtbot.waitSignal(window.worker.checkFinished, timeout=15_000) as finished:
        qtbot.mouseClick(editor.check_button, Qt.MouseButton.LeftButton)
        assert not editor.check_button.isEnabled()  # one check at a time
    assert "Model file not found" in finished.args[0].error
    assert editor.check_panel.status.text().startswith("The check failed: Model file not found")
    assert editor.check_button.isEnabled() and editor.check_panel.pending is None
    assert window.store.personas.latest_check(HANK) is None

    # Empty text: nothing to check, and the panel says so.
    editor.text.setPlainText("")
    assert not editor.run_check()
    assert "nothing to check" in editor.check_panel.status.text()
    editor.clear()


def test_the_stream_view_copes_with_a_second_refinement_after_a_check(qtbot) -> None:
    view = StreamView()
    qtbot.addWidget(view)
    view.start_job(7, "Ada", "gguf:SmolLM2-135M-Instruct.Q4_1.gguf")
    view.append(7, "expansion", "Ideas.", 2, 10.0)
    view.stage(7, "refinement")
    view.append(7, "refinement", "## Persona Name: Ada\n", 5, 10.0)
    view.stage(7, "check")
    assert view.stage_label.text() == "Persona check"
    view.append(
        7, "check", "Q: Who are you?\nA: I'm Bob.\n\nQ: What is your name?\nA: Bob.\n\n", 0, 0
    )
    assert view.stage_label.text() == "Persona check · 2 answers"
    assert view.rate_label.text() == "5 tokens · 10.0 tok/s"  # the refinement's, still
    view.retry(7, "refinement", "The persona check found the persona weak (name 0/2); again.")
    view.stage(7, "refinement")
    view.append(7, "refinement", "## Persona Name: Ada\n", 9, 10.0)
    view.stage(7, "check")
    view.append(7, "check", "Q: Who are you?\nA: I'm Ada.\n\n", 0, 0)
    assert view.stage_label.text() == "Persona check · 1 answer"
    text = view.text.toPlainText()
    headers = [line for line in text.splitlines() if line.startswith("Stage ")]
    assert headers == [
        "Stage 1 · Expansion: brainstorming ideas",
        "Stage 2 · Refinement: writing the persona",
        "Stage 3 · Persona check: asking the model as the persona",
        "Stage 4 · Refinement again: rewriting what the check found weak",
        "Stage 5 · Persona check again: asking the model as the new persona",
    ]
    assert "Q: Who are you?\nA: I'm Bob." in text
    assert "found the persona weak" in view.status.text()


# -- with the real default model --------------------------------------------------------------


@pytest.mark.model
def test_a_generated_persona_is_checked_and_the_check_button_runs_on_the_worker(
    qtbot, window, monkeypatch
) -> None:
    form = window.form
    form.name_hint.setText("Martha Quinn")
    form.description.setPlainText("A patient sourdough baker who explains fermentation")
    form.output.length.setCurrentIndex(form.output.length.findData("concise"))
    streamed: list[str] = []
    window.worker.jobEvent.connect(
        lambda event: streamed.append(event.stage) if isinstance(event, TextWritten) else None
    )
    (request_id,) = queue_form(qtbot, form)
    with qtbot.waitSignal(
        window.worker.jobEvent,
        timeout=GENERATION_TIMEOUT_MS,
        check_params_cb=job_finished(request_id),
    ) as finished:
        pass
    outcome = finished.args[0]
    assert outcome.error is None, outcome.error
    pid = outcome.persona_id

    # The stream view showed the check stage and its questions and answers.
    assert "check" in streamed
    stream_text = window.stream.text.toPlainText()
    assert "Persona check: asking the model as the persona" in stream_text
    assert "Q: Who are you?\nA: " in stream_text

    # The generation's check is in the file, the list and the editor.
    stored = window.store.personas.latest_check(pid)
    assert stored is not None and stored.version == 1 and stored.summary
    qtbot.waitUntil(lambda: window.editor.persona_id == pid, timeout=15_000)
    qtbot.waitUntil(lambda: _list_cell(window, pid).data() == stored.summary, timeout=10_000)
    editor = window.editor
    panel = editor.check_panel
    assert panel.result is not None and panel.kept_version == 1
    assert editor.checks_tabs.tabText(1) == f"Check: {stored.score:.2f}"
    shown = panel.answers.toPlainText()
    for question in ("Who are you?", "What is your name?", "Are you a real person?"):
        assert question in shown
    assert shown.count("✓") + shown.count("✗") == 4

    # Check on edited, unsaved text: on the worker thread, answers shown, nothing kept.
    threads: list[str] = []
    real_check = checks_module.check_stored_persona

    def spy(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(checks_module, "check_stored_persona", spy)
    edited = editor.text.toPlainText().replace("## Core Identity:\n", "## Core Identity:\nHi. ", 1)
    editor.text.setPlainText(edited)
    answered: list[ProbeAnswer] = []
    window.worker.checkAnswered.connect(lambda _id, answer: answered.append(answer))
    with qtbot.waitSignal(window.worker.checkFinished, timeout=CHECK_TIMEOUT_MS) as done:
        qtbot.mouseClick(editor.check_button, Qt.MouseButton.LeftButton)
        assert editor.checks_tabs.currentIndex() == 1 and panel.stop_button.isEnabled()
    unsaved = done.args[0]
    assert unsaved.error is None and unsaved.result is not None
    assert unsaved.saved_version is None and unsaved.text == edited
    assert threads and threads[0] != threading.main_thread().name
    assert len(answered) == 4  # each answer reached the editor as it came
    assert len(unsaved.result.answers) == 4
    assert "not kept: the text was not saved" in panel.title.text()
    assert "saving this text keeps it" in panel.status.text()
    assert window.store.personas.latest_check(pid) == stored

    # Saved as it was checked: the check is kept with the new version.
    with qtbot.waitSignal(editor.checked, timeout=15_000):
        editor.save()
    kept = window.store.personas.latest_check(pid)
    assert kept is not None and kept.version == 2
    assert kept.result == unsaved.result.to_dict()
    assert "kept with version 2" in panel.title.text()

    # Checked again as saved: kept at once; the list follows.
    with qtbot.waitSignal(window.worker.checkFinished, timeout=CHECK_TIMEOUT_MS) as done:
        assert editor.run_check()
    assert done.args[0].saved_version == 2
    assert window.store.personas.latest_check(pid).check_id > kept.check_id
    assert "kept with version 2" in panel.status.text()
    qtbot.waitUntil(
        lambda: _list_cell(window, pid).data() == done.args[0].result.summary(), timeout=10_000
    )

    # Asked during a generation, the check waits for it; Stop withdraws it, unasked.
    form.name_hint.setText("Otto Brandt")
    form.description.setPlainText("A clockmaker who repairs antique clocks")
    (job,) = queue_form(qtbot, form)
    qtbot.waitUntil(lambda: window.worker.current_request == job, timeout=60_000)
    window.show_persona(pid)
    qtbot.waitUntil(lambda: window.editor.persona_id == pid, timeout=15_000)
    started: list[int] = []
    window.worker.checkStarted.connect(started.append)
    assert editor.run_check()
    assert "Waiting for the generation of “Otto Brandt” to finish" in panel.status.text()
    qtbot.wait(1_000)
    assert not started and window.store.queue.get(job).status == "processing"
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.worker.checkFinished, timeout=GENERATION_TIMEOUT_MS) as gone:
        window.stop_job(job)
    assert gone.args[0].cancelled and not started
    assert "Withdrawn before the model began" in panel.status.text()
    assert editor.check_button.isEnabled()
