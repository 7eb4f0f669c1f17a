"""The persona in the editor evaluated ahead of a section rewrite (a prefill), in the real
window: offered once the text has settled, never loading a model for it; with the real
default model, a rewrite after it evaluates only its request and writes the same candidates
as without it, and a job queued while a prefill runs starts as soon as the prefill gives
way (timings are for bench/rewrite_latency.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from persona_studio.engine.chat import CHAT_PARAMS, ChatRequest
from persona_studio.engine.headings import parse_persona
from persona_studio.engine.section_rewrite import Prefill, SectionRewriteRequest
from persona_studio.llm.base import CancelToken
from persona_studio.llm.embedded import CANONICAL_CHUNK
from persona_studio.ui.section_rewrite import PREFILL_DELAY_MS
from tests.ui.conftest import GENERATION_TIMEOUT_MS, job_finished, job_started, queue_form

QUILL = 2  # FORLLM's "Archivist Quill": one paragraph, no headings
HANK = 3  # FORLLM-generated "Homelab Hank"
TRAITS = "Key Personality Traits"
MODEL_TIMEOUT_MS = 120_000


def _open(qtbot, window, persona_id: int):
    window.show_persona(persona_id)
    qtbot.waitUntil(lambda: window.editor.persona_id == persona_id, timeout=15_000)
    return window.editor


def _again(request: SectionRewriteRequest) -> SectionRewriteRequest:
    """The same request asked again: the same text, section, instruction and seed."""
    return replace(request, rewrite_id=request.rewrite_id + 10_000, cancel=CancelToken())


def test_a_settled_text_is_offered_but_no_model_is_loaded_for_it(qtbot, window) -> None:
    offered: list[tuple[str, str]] = []
    started: list[bool] = []
    window.editor.rewriter.prefillWanted.connect(lambda *args: offered.append(args))
    window.worker.prefillStarted.connect(lambda: started.append(True))
    editor = _open(qtbot, window, HANK)
    qtbot.waitUntil(lambda: bool(offered), timeout=PREFILL_DELAY_MS + 5_000)
    assert offered == [(editor.text.toPlainText(), editor.try_panel.model_id())]
    # Typing restarts the wait: one offer for the text as it settles, not one per key.
    editor.text.appendPlainText("- Labels every cable")
    editor.text.appendPlainText("- Keeps spare fans")
    qtbot.waitUntil(lambda: len(offered) == 2, timeout=PREFILL_DELAY_MS + 5_000)
    assert offered[1][0] == editor.text.toPlainText()
    qtbot.wait(PREFILL_DELAY_MS + 500)
    assert len(offered) == 2
    assert not started  # the model is not loaded: nothing to warm, nothing loaded for it
    qtbot.waitUntil(lambda: window.worker._runner._pool is not None, timeout=15_000)
    assert window.worker._runner._pool.loaded() == []


# -- with the real default model --------------------------------------------------------------


@pytest.mark.model
def test_after_a_prefill_a_rewrite_evaluates_only_its_request(qtbot, window) -> None:
    worker = window.worker
    editor = _open(qtbot, window, HANK)
    request = SectionRewriteRequest(
        editor.text.toPlainText(),
        TRAITS,
        instruction="shorter",
        model_id=editor.try_panel.model_id(),
        seed=1234,
    )
    # Without a prefill (the model loads for this rewrite): the rewrite evaluates the persona.
    with qtbot.waitSignal(worker.rewriteFinished, timeout=MODEL_TIMEOUT_MS) as done:
        worker.rewrite(request)
    cold = done.args[0]
    assert cold.error is None and cold.candidates, cold.error
    assert cold.prefix_evaluated > 0

    # Another persona shown: its prefill takes the cache (the model is loaded now).
    with qtbot.waitSignal(worker.prefillFinished, timeout=MODEL_TIMEOUT_MS) as other:
        _open(qtbot, window, QUILL)
    assert other.args[0] is not None and other.args[0].evaluated > 0

    # Hank shown again: his persona is in the cache ahead of time, while nothing else runs.
    # Its state was saved when Quill's took its place, so it is restored rather than
    # evaluated again (llm/prefix_states.py): at most its last, short chunk is evaluated.
    with qtbot.waitSignal(worker.prefillFinished, timeout=MODEL_TIMEOUT_MS) as warmed:
        _open(qtbot, window, HANK)
    prefill = warmed.args[0]
    assert isinstance(prefill, Prefill) and not prefill.stopped
    assert prefill.tokens > CANONICAL_CHUNK and prefill.evaluated < CANONICAL_CHUNK
    assert editor.text.toPlainText() == request.text and not editor.is_dirty()

    # The click: only the request is evaluated, and the model writes the same candidates.
    with qtbot.waitSignal(worker.rewriteFinished, timeout=MODEL_TIMEOUT_MS) as done:
        worker.rewrite(_again(request))
    warm = done.args[0]
    assert warm.error is None, warm.error
    assert warm.prefix_evaluated == 0
    assert warm.candidates == cold.candidates


@pytest.mark.model
def test_a_job_queued_during_a_prefill_starts_when_the_prefill_gives_way(qtbot, window) -> None:
    worker = window.worker
    # The model loads for a one-token Try it question (a prefill never loads it); then Hank
    # is shown and evaluated ahead of time.
    question = ChatRequest(
        1,
        window.editor.try_panel.model_id(),
        "You are Hank.",
        ({"role": "user", "content": "Hello"},),
        replace(CHAT_PARAMS, max_tokens=1),
    )
    with qtbot.waitSignal(worker.chatFinished, timeout=MODEL_TIMEOUT_MS):
        worker.ask(question)
    with qtbot.waitSignal(worker.prefillFinished, timeout=MODEL_TIMEOUT_MS) as first:
        editor = _open(qtbot, window, HANK)
    assert first.args[0] is not None and not first.args[0].stopped

    events: list[object] = []
    worker.prefillStarted.connect(lambda: events.append("prefill"))
    worker.prefillFinished.connect(events.append)
    worker.jobEvent.connect(
        lambda event: events.append(("job", event.request_id)) if job_started()(event) else None
    )
    # A longer persona (thirty-odd chunks more to evaluate): the job comes meanwhile.
    text = editor.text.toPlainText()
    traits = parse_persona(text).section(TRAITS).content
    facts = "\n".join(
        f"- Knows fact {n} about the rack, the cables and the fans" for n in range(150)
    )
    with qtbot.waitSignal(worker.prefillStarted, timeout=PREFILL_DELAY_MS + 30_000):
        editor.text.setPlainText(text.replace(traits, f"{traits}\n{facts}"))
    form = window.form
    form.name_hint.setText("Otto Brandt")
    form.description.setPlainText("A clockmaker who repairs antique clocks")
    (job,) = queue_form(qtbot, form)
    qtbot.waitUntil(lambda: worker.current_request == job, timeout=60_000)

    # The prefill gave way before its end, and the job started right after it: no other
    # model work (another prefill) came between.
    assert events[0] == "prefill" and ("job", job) in events
    finished = events[1]
    assert isinstance(finished, Prefill), events
    assert finished.stopped and finished.evaluated < finished.tokens
    assert events[2] == ("job", job), events
    with qtbot.waitSignal(
        worker.jobEvent, timeout=GENERATION_TIMEOUT_MS, check_params_cb=job_finished()
    ):
        window.stop_job(job)
