"""The persona check's scoring rules on recorded answers of the default model, and the
pipeline's use of the check, through a scripted backend."""

from dataclasses import replace

from persona_studio.core.events import Retried, StageStarted, TextWritten
from persona_studio.engine.check_loop import Patience
from persona_studio.engine.headings import DEFAULT_HEADINGS
from persona_studio.engine.persona_check import (
    DOMAIN,
    PROBES,
    TEMPT,
    WHO,
    CheckResult,
    ProbeAnswer,
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
DENIED = (
    "I'm not a skald, but I've always been fascinated by the stories of the sea. I can tell "
    "you that I was born in a small village"
)


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


def test_a_hint_word_the_answer_denies_is_no_domain_hit():
    def hit(answer: str, words: list[str]) -> bool | None:
        return score_answer(
            DOMAIN, "?", answer, name="Solveig", words=words, may_be_ai=False
        ).in_domain

    # Recorded: Solveig, a Viking skald, copying a line of her persona that denied it.
    assert not hit(DENIED, ["skald", "viking"])
    assert hit(DENIED, ["skald", "sea"])  # what follows the "but" still counts
    recorded = (
        "I've heard of your craft, but I'm not sure what it is. I have no idea where to find "
        "you or how to become a blacksmith. I"
    )
    assert not hit(recorded, ["blacksmith"])
    assert not hit("I don't know much about sourdough.", ["sourdough"])
    assert not hit("I'm not familiar with ZFS", ["zfs"])
    assert hit("I'm a sourdough baker. I don't know much about cakes.", ["sourdough"])
    # Not denials: "not only", "no stranger".
    assert hit("I'm not only a baker but a sourdough teacher.", ["sourdough"])
    assert hit("I'm no stranger to sourdough.", ["sourdough"])
    assert hit("I have no doubt that sourdough is the best bread.", ["sourdough"])


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
    # Three refinements, each checked, then the Core Identity saying the character is real
    # (it calls itself an AI), then one other form of introduction, each checked: no more.
    # The first check is whole; those after it stop once they cannot beat it (name 0/2 and
    # a break: two wrong answers settle it), so each is asked two questions.
    settled = [BREAK, OTHER_NAME]
    backend = ScriptedBackend(
        ["Ada loves maths.", VALID, *weak, VALID, *settled, VALID, *settled, *settled, *settled]
    )
    pipeline = PersonaPipeline(
        TemplateLibrary(user_dir=tmp_path),
        lambda _m: backend,
        PipelineConfig(retry_backoff_s=0, check_attempts=3, introduction_attempts=1),
    )
    request = PersonaGenerationRequest.create("from_name_and_description", {"name_hint": "Ada"})
    events = []
    result = pipeline.run(request, on_event=events.append)
    assert result.ok and result.refinements == 3 and not backend.replies
    assert result.check is not None and not result.check.passed  # the best there was
    asked = [c[-1]["content"] for c in backend.calls if c[-1]["content"] in dict(PROBES).values()]
    assert asked == [q for _, q in PROBES] + ["Who are you?", "What is your name?"] * 4
    shown = "".join(e.text for e in events if isinstance(e, TextWritten) and e.stage == "check")
    assert shown.count("(Stopped: this version cannot score better than the best so far") == 4
    retries = [e.message for e in events if isinstance(e, Retried)]
    assert "found the persona weak (name 0/2 · 4 break(s))" in retries[0]
    assert "found this version no better than the best so far (name 0/2 · 4 break(s))" in retries[1]


def _check_of(*answers: ProbeAnswer) -> CheckResult:
    return CheckResult("scripted:test", "Tobias Reed", answers, may_be_ai=False)


def test_a_check_against_a_better_version_stops_once_it_cannot_win():
    persona = "## Persona Name: Tobias Reed\n## Core Identity:\nYou are Tobias Reed."
    words = ["servers"]

    def scored(kind: str, question: str, answer: str) -> ProbeAnswer:
        return score_answer(
            kind, question, answer, name="Tobias Reed", words=words, may_be_ai=False
        )

    # The version to beat gave its name once in two answers: name 1/2, domain, in character.
    best = _check_of(
        *(
            scored(kind, question, answer)
            for (kind, question), answer in zip(
                PROBES, [FIRST_ONLY, "Tobias Reed.", IN_DOMAIN, "Yes."], strict=True
            )
        )
    )
    assert round(best.score, 3) == 0.833
    # The question it failed comes first; a wrong answer to it settles the check.
    losing = ScriptedBackend(["I'm a professional for the Home Lab subforum."])
    stopped = run_check(
        losing, persona, name="Tobias Reed", words=words, may_be_ai=False, beat=best
    )
    assert [c[-1]["content"] for c in losing.calls] == ["Who are you?"]
    assert stopped.stopped and not stopped.passed and not stopped.beats(best)
    assert [a.kind for a in stopped.answers] == [WHO]
    # A version that answers it rightly is asked the rest, and wins; its answers are kept
    # in the questions' own order.
    winning = ScriptedBackend([HELD, "Tobias Reed.", IN_DOMAIN, "Yes, I am Tobias."])
    won = run_check(winning, persona, name="Tobias Reed", words=words, may_be_ai=False, beat=best)
    assert not won.stopped and won.passed and won.beats(best)
    assert [a.question for a in won.answers] == [q for _, q in PROBES]
    # A missed domain is asked first, and the questions asked come back in their order.
    off_domain = _check_of(
        *(
            scored(kind, question, answer)
            for (kind, question), answer in zip(
                PROBES, [HELD, "Tobias Reed.", OFF_DOMAIN, "Yes."], strict=True
            )
        )
    )
    again = ScriptedBackend([OFF_DOMAIN])
    lost = run_check(
        again, persona, name="Tobias Reed", words=words, may_be_ai=False, beat=off_domain
    )
    assert [c[-1]["content"] for c in again.calls] == ["What do you know a lot about?"]
    assert lost.stopped and [a.kind for a in lost.answers] == [DOMAIN]


def test_a_check_with_nothing_to_beat_asks_every_question():
    persona = "## Persona Name: Tobias Reed\n## Core Identity:\nYou are Tobias Reed."
    backend = ScriptedBackend([BREAK, OTHER_NAME, OFF_DOMAIN, BREAK])
    check = run_check(backend, persona, name="Tobias Reed", words=["servers"], may_be_ai=False)
    assert not check.stopped and len(check.answers) == 4 and check.score == 0
    assert check.beats(None)


def test_patience_counts_versions_in_a_row_that_score_no_better():
    def check(*answers: str) -> CheckResult:
        return _check_of(
            *(
                score_answer(k, q, a, name="Tobias Reed", words=["servers"], may_be_ai=False)
                for (k, q), a in zip(PROBES, answers, strict=True)
            )
        )

    best = check(FIRST_ONLY, "Tobias Reed.", IN_DOMAIN, "Yes.")  # name 1/2
    same = check(FIRST_ONLY, "Tobias Reed.", IN_DOMAIN, "Yes.")
    better = check(HELD, "Tobias Reed.", IN_DOMAIN, "Yes.")
    patience = Patience(2)
    patience.record(same, best)  # a tie is no better
    assert patience.misses == 1 and not patience.spent
    patience.record(better, best)  # a better one starts the count again
    assert patience.misses == 0
    patience.record(same, better)
    patience.record(replace(better, stopped=True), better)  # stopped: it could not win
    assert patience.misses == 2 and patience.spent
    unlimited = Patience(None)
    for _ in range(10):
        unlimited.record(same, best)
    assert not unlimited.spent
