"""The "Try it" panel in the real window: a persona answers with the real default model,
Stop works, and the chat and generation jobs take turns on the one worker thread."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from persona_studio.engine.chat import DOMAIN_FALLBACK, PROBE_FORBIDDEN, PROBE_WHO
from tests.ui.conftest import GENERATION_TIMEOUT_MS, job_finished, job_started, queue_form

QUILL = 2  # FORLLM's hand-written "Archivist Quill" (no headings)
HANK = 3  # FORLLM-generated "Homelab Hank", with a Knowledge Domain section
REPLY_TIMEOUT_MS = 120_000


def _open(qtbot, window, persona_id: int):
    window.show_persona(persona_id)
    qtbot.waitUntil(lambda: window.editor.persona_id == persona_id, timeout=15_000)
    panel = window.editor.try_panel
    assert panel.isVisible() and panel.persona_id == persona_id
    return panel


def _status(window, request_id: int) -> str:
    return window.store.queue.get(request_id).status


def test_probes_follow_the_persona_and_bad_questions_lose_nothing(qtbot, window) -> None:
    panel = window.editor.try_panel
    assert not panel.question.isEnabled() and not panel.send_button.isEnabled()
    assert panel.transcript.toPlainText() == "Select a persona to try it."

    panel = _open(qtbot, window, HANK)
    probes = [button.question for button in panel.probe_buttons]
    assert probes == [PROBE_WHO, PROBE_FORBIDDEN, "What can you tell me about Linux servers?"]
    # The domain question follows the text as it is edited, before it is saved.
    window.editor.text.setPlainText(
        window.editor.text.toPlainText().replace("Linux servers", "Amateur radio")
    )
    qtbot.waitUntil(
        lambda: panel.probe_buttons[2].question == "What can you tell me about Amateur radio?",
        timeout=3_000,
    )
    assert not panel.send_button.isEnabled()  # nothing typed yet
    qtbot.keyClicks(panel.question, "   ")
    assert not panel.send_button.isEnabled()

    # A model that cannot be loaded: the question comes back, the conversation stays empty.
    panel.select_model("gguf:/nonexistent/missing.gguf")
    panel.question.setText("Is {{persona_name}} a placeholder?")
    with qtbot.waitSignal(window.worker.chatFinished, timeout=15_000) as finished:
        qtbot.mouseClick(panel.send_button, Qt.MouseButton.LeftButton)
    assert "Model file not found" in finished.args[0].error
    assert panel.history == [] and panel.pending is None
    assert panel.question.text() == "Is {{persona_name}} a placeholder?"
    assert "No answer: Model file not found" in panel.transcript.toPlainText()
    assert panel.send_button.isEnabled()

    # Without a domain section (Quill is one paragraph), the third probe asks generally; a
    # persona whose text is emptied cannot be tried, and says why.
    window.editor.clear()
    panel = _open(qtbot, window, QUILL)
    # Another persona: another conversation.
    assert panel.transcript.toPlainText().startswith("Ask Archivist Quill a question")
    assert not panel.clear_button.isEnabled()
    assert panel.probe_buttons[2].question == DOMAIN_FALLBACK
    window.editor.text.setPlainText("")
    assert not panel.ask(PROBE_WHO)
    assert "no text yet" in panel.status.text()
    window.editor.clear()

    # The Try it button hides the panel, and the choice is remembered.
    qtbot.mouseClick(window.editor.try_button, Qt.MouseButton.LeftButton)
    assert not panel.isVisible() and window.prefs.try_panel_shown is False
    qtbot.mouseClick(window.editor.try_button, Qt.MouseButton.LeftButton)
    assert panel.isVisible() and window.prefs.try_panel_shown is True


@pytest.mark.model
def test_a_reply_streams_then_stop_keeps_what_was_said(qtbot, window) -> None:
    panel = _open(qtbot, window, HANK)
    pieces: list[str] = []
    window.worker.chatText.connect(lambda _id, text, *_: pieces.append(text))
    with qtbot.waitSignal(window.worker.chatFinished, timeout=REPLY_TIMEOUT_MS) as finished:
        qtbot.mouseClick(panel.probe_buttons[0], Qt.MouseButton.LeftButton)
        assert panel.pending is not None and panel.stop_button.isEnabled()
        assert not panel.probe_buttons[1].isEnabled()  # one question at a time
    reply = finished.args[0]
    assert reply.error is None and not reply.cancelled
    assert len(pieces) >= 2  # streamed, not delivered at the end
    assert reply.text == "".join(pieces).strip() and reply.tokens > 3
    transcript = panel.transcript.toPlainText()
    assert transcript.startswith("You\nWho are you?\n\nHomelab Hank\n")
    assert reply.text in transcript
    assert panel.history == [
        {"role": "user", "content": PROBE_WHO},
        {"role": "assistant", "content": reply.text},
    ]
    assert panel.status.text().startswith("Answered: ")
    assert not panel.stop_button.isEnabled()

    # Stop as soon as the second question's first words arrive.
    pieces.clear()
    window.worker.chatText.connect(
        lambda *_: (
            qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
            if panel.stop_button.isEnabled()
            else None
        )
    )
    panel.question.setText("Write a very long story about your home lab, in ten chapters.")
    with qtbot.waitSignal(window.worker.chatFinished, timeout=REPLY_TIMEOUT_MS) as finished:
        qtbot.keyClick(panel.question, Qt.Key.Key_Return)
    stopped = finished.args[0]
    assert stopped.cancelled and stopped.error is None
    assert 0 < stopped.tokens < 100
    assert panel.history[-1] == {"role": "assistant", "content": stopped.text}
    assert panel.transcript.toPlainText().endswith("Stopped.")
    assert panel.status.text().startswith("Stopped: ")

    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert panel.history == [] and not panel.clear_button.isEnabled()
    assert panel.transcript.toPlainText().startswith("Ask Homelab Hank a question")


@pytest.mark.model
def test_a_job_queued_during_a_chat_waits_for_it(qtbot, window) -> None:
    panel = _open(qtbot, window, HANK)
    form = window.form
    form.name_hint.setText("Lighthouse Keeper")
    form.description.setPlainText("Keeps the light on a lonely rock")
    order: list[str] = []
    window.worker.chatStarted.connect(lambda _id: order.append("chat started"))
    window.worker.chatFinished.connect(lambda _r: order.append("chat finished"))
    queued: list[int] = []
    window.worker.jobEvent.connect(
        lambda event: (
            order.append("job started")
            if job_started()(event) and event.request_id in queued
            else None
        )
    )

    def queue_job_once(*_args) -> None:
        if not queued:
            queued.extend(queue_form(qtbot, form))

    window.worker.chatText.connect(queue_job_once)
    with qtbot.waitSignal(window.worker.chatFinished, timeout=REPLY_TIMEOUT_MS):
        assert panel.ask("Tell me about your home lab.")
    assert queued, "the job was not queued while the reply streamed"
    with qtbot.waitSignal(
        window.worker.jobEvent,
        timeout=REPLY_TIMEOUT_MS,
        check_params_cb=lambda event: job_started(queued[0])(event),
    ):
        pass
    # The worker thread's signals arrive in the order it sent them, so this is the job
    # waiting for the reply. (Reading the job's status when chatFinished arrives raced with
    # the worker thread, which claims the job as soon as the reply is sent: the suite once
    # saw 'processing' there.)
    assert order == ["chat started", "chat finished", "job started"]
    with qtbot.waitSignal(
        window.worker.jobEvent, timeout=GENERATION_TIMEOUT_MS, check_params_cb=job_finished()
    ):
        window.stop_job(queued[0])


@pytest.mark.model
def test_a_question_asked_during_a_job_waits_its_turn(qtbot, window) -> None:
    panel = _open(qtbot, window, HANK)
    form = window.form
    events: list[str] = []  # every job's (the fixture's FORLLM jobs run too) and the chat's
    window.worker.jobEvent.connect(
        lambda event: (
            events.append(f"job {event.request_id} started") if job_started()(event) else None
        )
    )
    window.worker.jobEvent.connect(
        lambda event: (
            events.append(f"job {event.request_id} finished") if job_finished()(event) else None
        )
    )
    window.worker.chatStarted.connect(lambda _id: events.append("chat started"))
    form.name_hint.setText("Clockmaker")
    form.description.setPlainText("Repairs antique clocks and talks in ticks")
    (first,) = queue_form(qtbot, form)
    form.name_hint.setText("Beekeeper")
    (second,) = queue_form(qtbot, form)
    qtbot.waitUntil(lambda: window.worker.current_request == first, timeout=60_000)

    def order() -> list[str]:
        ours = (f"job {first} ", f"job {second} ", "chat")
        return [event for event in events if event.startswith(ours)]

    # Asked while the first job runs: it waits, and says for what.
    assert panel.ask(PROBE_WHO)
    assert "Waiting for the generation of “Clockmaker” to finish" in panel.status.text()
    qtbot.wait(1_000)  # the job goes on; the question does not start beside it
    assert order() == [f"job {first} started"]
    assert _status(window, first) == "processing"

    # Stop withdraws a waiting question: it never starts, and the question is given back.
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.worker.chatFinished, timeout=GENERATION_TIMEOUT_MS) as gone:
        window.stop_job(first)  # so the test does not wait for a whole generation
    assert gone.args[0].cancelled and gone.args[0].tokens == 0
    assert "chat started" not in order()
    assert panel.question.text() == PROBE_WHO and panel.history == []
    assert "Stopped before the model began." in panel.transcript.toPlainText()

    # Asked again while the second job runs: answered once that job has ended, before
    # anything else is taken from the queue.
    qtbot.waitUntil(lambda: window.worker.current_request == second, timeout=60_000)
    panel.question.clear()
    assert panel.ask(PROBE_WHO)
    qtbot.wait(500)
    assert "chat started" not in order()
    with qtbot.waitSignal(window.worker.chatFinished, timeout=REPLY_TIMEOUT_MS) as answered:
        window.stop_job(second)
    assert answered.args[0].error is None and answered.args[0].text
    assert order() == [
        f"job {first} started", f"job {first} finished",
        f"job {second} started", f"job {second} finished",
        "chat started",
    ]  # fmt: skip
    assert len(panel.history) == 2
