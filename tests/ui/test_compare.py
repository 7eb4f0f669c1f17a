"""Compare in the real window: two versions of one persona (or two personas) asked the same
question on the worker thread with the same seed, side by side; the verdict kept as the
better one's rating note. With the real default model where a model answers."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from persona_studio.engine.persona_check import PROBES

HANK = 3  # FORLLM-generated "Homelab Hank"
QUILL = 2  # FORLLM's hand-written "Archivist Quill"
ANSWER_TIMEOUT_MS = 120_000


def _open_compare(qtbot, window):
    window.store.personas.save_edit(
        HANK,
        window.store.personas.get(HANK).prompt_instructions.replace(
            "## Core Identity:\n", "## Core Identity:\nYou are Hank, and you say so first. ", 1
        ),
    )
    window.show_persona(HANK)
    qtbot.waitUntil(lambda: window.editor.persona_id == HANK, timeout=15_000)
    qtbot.waitUntil(lambda: window.editor.persona.version == 2, timeout=15_000)
    dialog = window.open_compare()
    assert dialog is not None
    return dialog


def test_compare_starts_with_two_versions_and_keeps_the_verdict(qtbot, window) -> None:
    dialog = _open_compare(qtbot, window)
    left, right = dialog.side(0), dialog.side(1)
    assert (left.persona_id, left.version) == (HANK, 2)
    assert (right.persona_id, right.version) == (HANK, 1)
    assert left.text != right.text
    dialog.choose(1, QUILL)
    assert dialog.side(1).name == "Archivist Quill"
    dialog.choose(1, HANK, 1)

    # A model that cannot run: both sides say why, in words, and nothing is kept.
    window.editor.try_panel.select_model("gguf:/nonexistent/missing.gguf")
    dialog.question.setText("Who are you?")
    seen: list[int] = []
    window.worker.chatFinished.connect(lambda reply: seen.append(reply.chat_id))
    assert dialog.ask()
    assert not dialog.ask_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.pending, timeout=15_000)
    assert len(seen) == 2
    for answer in dialog.answers:
        assert answer.toPlainText().startswith("Q: Who are you?\nA: [")
        assert "Model file not found" in answer.toPlainText()

    # The verdict: a rating is needed; then the note says what was compared, on what.
    assert not dialog.better_buttons[0].isEnabled()
    dialog.rating.setCurrentIndex(dialog.rating.findData(4))
    dialog.note.setText("gives its name at once")
    assert dialog.better_buttons[0].isEnabled()
    with qtbot.waitSignal(dialog.rated, timeout=10_000):
        qtbot.mouseClick(dialog.better_buttons[0], Qt.MouseButton.LeftButton)
    rating = window.store.personas.rating(HANK)
    assert rating is not None and rating.rating == 4
    assert rating.note.startswith("Compared: v2 better than Homelab Hank v1 on 'Who are you?' (")
    assert rating.note.endswith(f"seed {dialog.seed}). gives its name at once")
    qtbot.waitUntil(lambda: window.editor.rating_note.text() == rating.note, timeout=10_000)
    dialog.reject()


@pytest.mark.model
def test_compare_asks_both_the_probes_with_the_same_seed(qtbot, window) -> None:
    dialog = _open_compare(qtbot, window)
    requests = []
    dialog.askWanted.connect(requests.append)
    texts: dict[int, str] = {}
    window.worker.chatText.connect(
        lambda chat_id, text, *_: texts.__setitem__(chat_id, texts.get(chat_id, "") + text)
    )
    replies = []
    window.worker.chatFinished.connect(replies.append)
    assert dialog.ask_probes()
    qtbot.waitUntil(
        lambda: not dialog.pending and not dialog.questions, timeout=ANSWER_TIMEOUT_MS * 2
    )
    assert len(requests) == 2 * len(PROBES)
    assert {r.params.seed for r in requests} == {dialog.seed}
    assert {r.model_id for r in requests} == {window.editor.try_panel.model_id()}
    for answer, side in zip(dialog.answers, (dialog.side(0), dialog.side(1)), strict=True):
        shown = answer.toPlainText()
        for _, question in PROBES:
            assert f"Q: {question}\nA: " in shown
        assert side.text in {r.persona_text for r in requests}
    assert all(texts.get(r.chat_id) for r in requests)  # every answer streamed
    assert len(replies) == len(requests)
    assert all(r.error is None and not r.cancelled and r.text for r in replies)
    dialog.reject()
