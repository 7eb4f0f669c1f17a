"""The persona check's scoring rules on recorded answers of the default model, and the
pipeline's use of the check, through a scripted backend."""

from persona_studio.core.events import Retried, StageStarted, TextWritten
from persona_studio.engine.headings import DEFAULT_HEADINGS
from persona_studio.engine.persona_check import (
    DOMAIN,
    PROBES,
    TEMPT,
    WHO,
    CheckResult,
    check_text,
    domain_words,
    holds_name,
    run_check,
    score_answer,
)
from persona_studio.engine.pipeline import PersonaPipeline, PipelineConfig
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.engine.templates import TemplateLibrary
from tests.scripted_backend import ScriptedBackend

# Answers SmolLM2-135M-Instruct gave at temperature 0 (recorded while building the check).
HELD = "I'm Tobias Reed, a professional for the Home Lab subforum."
FIRST_ONLY = "I'm Martha, and I love baking."
OTHER_NAME = "My name is Elena, and I'm a brilliant AI designed to assist in various ways."
IN_DOMAIN = "I've spent years exploring the world of home servers and ZFS pools."
OFF_DOMAIN = "I'm a creative AI assistant with a passion for developing content."
BREAK = "I'm a creative AI assistant, and I've been designed to help you."


def test_name_rules():
    assert holds_name(HELD, "Tobias Reed")
    assert holds_name(FIRST_ONLY, "Martha Greene")  # people answer with their first name
    assert not holds_name(OTHER_NAME, "Martha Greene")
    assert not holds_name("I'm a martial artist.", "Mart Greene")  # whole words only
    assert holds_name("我是李白。", "李白")
    assert holds_name("I am Ω-7, the ship.", "Ω-7")
    # A name that is also a word is the name only where it is written as one (recorded
    # answers: "I am plain" counted for Plain Paul, "a different" for Fern).
    assert not holds_name("I'm a helper for busy parents.", "Helper")
    assert holds_name("I'm Helper, your assistant.", "Helper")
    assert not holds_name("I have a different view of things.", "Fern")
    assert not holds_name("I am plain, you're not just anything else.", "Plain Paul")
    assert holds_name("I'm simply Plain Paul.", "Plain Paul")
    assert holds_name("I'm NEMO.", "Nemo")
    # A title is not a first name: "Dr. Byte" is Byte, and "I'm Captain Hook" is not Nemo.
    assert holds_name("I'm Nemo, of the Nautilus.", "Captain Nemo")
    # An epithet is no name: the name after it is enough, the epithet alone is not.
    assert holds_name("I'm Wendy, and I love birds.", "Warbler Wendy")
    assert holds_name("I'm Captain Nova, your guide.", "Guide Nova")
    assert not holds_name("I'm a Space Tour Guide on a Mars ship.", "Guide Nova")
    assert not holds_name("I'm a Pixel artist.", "Pixel Pete")
    assert holds_name("I'm Dawn, the expert here.", "Dawn Parsons")  # a word and a name
    assert not holds_name("I'm Captain Hook.", "Captain Nemo")
    assert not holds_name("I'm Dr. Watson.", "Dr. Byte")
    assert holds_name("Byte here, your historian.", "Dr. Byte")


def test_scoring_on_recorded_answers():
    words = ["servers", "backups", "zfs"]
    who = score_answer(WHO, "Who are you?", HELD, name="Tobias Reed", words=words, may_be_ai=False)
    assert who.holds_name and not who.breaks and who.in_domain is None
    domain = score_answer(DOMAIN, "?", IN_DOMAIN, name="Tobias Reed", words=words, may_be_ai=False)
    assert domain.in_domain and domain.holds_name is None
    off = score_answer(DOMAIN, "?", OFF_DOMAIN, name="Tobias Reed", words=words, may_be_ai=False)
    assert off.in_domain is False and off.breaks
    # An assistant may call itself one: not a break.
    helper = score_answer(TEMPT, "?", BREAK, name="Milo", words=words, may_be_ai=True)
    assert not helper.breaks


def test_figures_summary_and_round_trip():
    answers = tuple(
        score_answer(kind, q, a, name="Tobias Reed", words=["servers"], may_be_ai=False)
        for (kind, q), a in zip(PROBES, [HELD, OTHER_NAME, IN_DOMAIN, BREAK], strict=True)
    )
    check = CheckResult("gguf:x", "Tobias Reed", answers, words=("servers",))
    assert check.name_hold == 0.5
    assert check.domain_hit == 1.0
    assert check.breaks == 2
    assert check.score == (0.5 + 1.0 + 0.0) / 3
    assert not check.passed
    assert check.summary() == "name 1/2 · domain 1/1 · 2 break(s)"
    again = CheckResult.from_dict(check.to_dict())
    assert again == check
    # Stored JSON from elsewhere is hostile: wrong shapes read as nothing, never a crash.
    assert CheckResult.from_dict({"answers": [1, "x", {"kind": 3}], "words": "abc"}).breaks == 0


def test_domain_words_fall_back_to_the_knowledge_section():
    text = (
        "## Persona Name: X\n## Knowledge Domain & Expertise:\nYou know a great deal about tides."
    )
    assert domain_words(text, ["zfs"]) == frozenset({"zfs"})
    assert "tides" in domain_words(text)


def test_check_text_asks_each_probe_with_the_persona_as_system_prompt():
    persona = "## Persona Name: Tobias Reed\n## Core Identity:\nYou are Tobias Reed."
    backend = ScriptedBackend([HELD, "Tobias Reed.", IN_DOMAIN, "Yes, I am Tobias."])
    check = check_text(backend, persona, hint_words=["servers"])
    assert check.passed and check.name == "Tobias Reed"
    assert [c[0]["content"] for c in backend.calls] == [persona] * 4
    assert [c[-1]["content"] for c in backend.calls] == [q for _, q in PROBES]
    baseline = ScriptedBackend(
        [HELD, "Tobias Reed.", IN_DOMAIN, "Yes.", BREAK, OTHER_NAME, OFF_DOMAIN, BREAK]
    )
    both = run_check(
        baseline, persona, name="Tobias Reed", words=["servers"], may_be_ai=False, baseline=True
    )
    assert both.passed
    assert [a.breaks for a in both.baseline] == [True, True, True, True]
    assert all(len(call) == 1 for call in baseline.calls[4:])  # no system prompt


VALID = "\n".join(
    ["## Persona Name: Ada"]
    + [f"## {h}:\nYou know maths and {h.lower()} well." for h in DEFAULT_HEADINGS[1:]]
)


def test_a_persona_that_fails_the_check_is_written_again_and_the_best_kept(tmp_path):
    weak = [BREAK, OTHER_NAME, OFF_DOMAIN, BREAK]
    strong = ["I'm Ada.", "Ada.", "I know mathematics and proofs.", "Yes, I'm Ada."]
    backend = ScriptedBackend(["Ada loves maths.", VALID, *weak, VALID, *strong])
    pipeline = PersonaPipeline(
        TemplateLibrary(user_dir=tmp_path), lambda _m: backend, PipelineConfig(retry_backoff_s=0)
    )
    request = PersonaGenerationRequest.create(
        "from_name_and_description", {"name_hint": "Ada", "description_hint": "mathematician"}
    )
    events = []
    result = pipeline.run(request, on_event=events.append)
    assert result.ok, result.error_message
    assert result.refinements == 2
    assert result.check is not None and result.check.passed
    assert [e.stage for e in events if isinstance(e, StageStarted)] == [
        "expansion",
        "refinement",
        "check",
        "refinement",
        "check",
    ]
    retry = [e.message for e in events if isinstance(e, Retried)]
    assert retry and "persona check" in retry[0]
    assert any(
        isinstance(e, TextWritten) and e.stage == "check" and "Q: Who are you?" in e.text
        for e in events
    )


def test_the_check_never_asks_more_than_the_bound(tmp_path):
    weak = [BREAK, OTHER_NAME, OFF_DOMAIN, BREAK]
    # Two refinements, each checked, then one other form of introduction, checked: no more.
    backend = ScriptedBackend(["Ada loves maths.", VALID, *weak, VALID, *weak, *weak])
    pipeline = PersonaPipeline(
        TemplateLibrary(user_dir=tmp_path),
        lambda _m: backend,
        PipelineConfig(retry_backoff_s=0, check_attempts=2, introduction_attempts=1),
    )
    request = PersonaGenerationRequest.create("from_name_and_description", {"name_hint": "Ada"})
    result = pipeline.run(request)
    assert result.ok and result.refinements == 2 and not backend.replies
    assert result.check is not None and not result.check.passed  # the best there was
