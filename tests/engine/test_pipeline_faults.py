"""Fault injection through a scripted backend: what the real model cannot be made to do on
demand. The real-model path is covered in test_pipeline_model.py."""

import re
import time

from persona_studio.core.events import Retried, StageStarted, TextWritten
from persona_studio.engine.headings import DEFAULT_HEADINGS, check_structure
from persona_studio.engine.in_character import REAL
from persona_studio.engine.pipeline import PersonaPipeline, PipelineConfig
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.engine.templates import TemplateLibrary
from persona_studio.errors import BackendError
from tests.scripted_backend import CheckScript, ScriptedBackend

BRAINSTORM = "Ada is a patient mathematician who loves puzzles and explains proofs with chalk."
VALID = "\n".join(
    ["## Persona Name: Ada"]
    + [f"## {h}:\nSome real content about {h.lower()} here." for h in DEFAULT_HEADINGS[1:]]
)
MISSING_TWO = "\n".join(
    ["## Persona Name: Ada"]
    + [f"## {h}:\nContent for {h.lower()}." for h in DEFAULT_HEADINGS[1:-2]]
)


def make(replies, tmp_path, **config):
    backend = ScriptedBackend(replies)
    pipeline = PersonaPipeline(
        TemplateLibrary(user_dir=tmp_path),
        lambda _model: backend,
        # These scripts are about the writing stages; the check has its own tests below.
        PipelineConfig(retry_backoff_s=0.01, **{"check": False, **config}),
    )
    request = PersonaGenerationRequest.create(
        "from_name_and_description", {"name_hint": "Ada", "description_hint": "mathematician"}
    )
    return pipeline, backend, request


def test_valid_output_on_a_backend_without_continuation_is_validated(tmp_path):
    pipeline, _, request = make([BRAINSTORM, VALID], tmp_path)
    result = pipeline.run(request)
    assert result.ok, result.error_message
    assert result.structure_method == "validated"
    assert check_structure(result.prompt_instructions) == []
    assert result.prompt_instructions.startswith("## Persona Name: Ada\n")


def test_malformed_refinement_is_retried_then_succeeds(tmp_path):
    events = []
    pipeline, _, request = make([BRAINSTORM, "I am Ada. I like maths.", VALID], tmp_path)
    result = pipeline.run(request, on_event=events.append)
    assert result.ok
    assert result.stages["refinement"].attempts == 2
    retries = [e for e in events if isinstance(e, Retried)]
    assert retries and "Core Identity" in retries[0].message


def test_missing_sections_are_repaired_as_a_last_resort(tmp_path):
    replies = [
        BRAINSTORM,
        MISSING_TWO,
        MISSING_TWO,
        MISSING_TWO,
        "Never discuss politics.",
        '"Let us prove it."',
    ]
    pipeline, backend, request = make(replies, tmp_path)
    result = pipeline.run(request)
    assert result.ok, result.error_message
    assert result.structure_method == "repaired"
    assert check_structure(result.prompt_instructions) == []
    assert "Never discuss politics." in result.prompt_instructions
    assert "Forbidden Actions & Topics" in backend.calls[-2][-1]["content"]


def test_garbage_everywhere_is_reported_with_what_failed(tmp_path):
    # Three refinements, then three tries at repairing the first missing section.
    replies = [BRAINSTORM, "%%%", "!!!", "???", "...", "-- --", "## Core Identity:\n"]
    pipeline, _, request = make(replies, tmp_path)
    result = pipeline.run(request)
    assert not result.ok
    assert result.status == "error"
    assert "Refinement failed after 3 attempts" in result.error_message
    assert "Core Identity" in result.error_message


def test_transient_backend_errors_are_retried(tmp_path):
    replies = [BackendError("HTTP 503 from server", transient=True), BRAINSTORM, VALID]
    pipeline, _, request = make(replies, tmp_path)
    result = pipeline.run(request)
    assert result.ok
    assert result.stages["expansion"].attempts == 2


def test_permanent_backend_error_fails_at_once_with_stage_named(tmp_path):
    replies = [BackendError("model 'x' not found", transient=False)]
    pipeline, _, request = make(replies, tmp_path)
    result = pipeline.run(request)
    assert not result.ok
    assert result.error_message.startswith("Expansion (brainstorm) failed: model 'x' not found")


def test_transient_errors_exhaust_the_retry_count(tmp_path):
    replies = [BackendError("HTTP 502", transient=True)] * 3
    pipeline, _, request = make(replies, tmp_path, max_retries=2)
    result = pipeline.run(request)
    assert not result.ok
    assert "failed after 3 attempts: HTTP 502" in result.error_message


def test_a_backend_that_hangs_hits_the_stage_timeout(tmp_path):
    pipeline, _, request = make(["HANG"], tmp_path, stage_timeout_s=0.5)
    started = time.monotonic()
    result = pipeline.run(request)
    elapsed = time.monotonic() - started
    assert not result.ok
    assert "time limit" in result.error_message
    assert "Expansion" in result.error_message
    assert elapsed < 3.0


def test_critique_stage_streams_between_the_others_and_reaches_refinement(tmp_path):
    backend = ScriptedBackend([BRAINSTORM, "KEEP: chalk. DROP: the cat.", VALID])
    pipeline = PersonaPipeline(
        TemplateLibrary(user_dir=tmp_path), lambda _m: backend, PipelineConfig(check=False)
    )
    request = PersonaGenerationRequest.create(
        "from_name_and_description", {"name_hint": "Ada"}, app_options={"critique": True}
    )
    events = []
    result = pipeline.run(request, on_event=events.append)
    assert result.ok, result.error_message
    assert [e.stage for e in events if isinstance(e, StageStarted)] == [
        "expansion",
        "critique",
        "refinement",
    ]
    assert result.critique == "KEEP: chalk. DROP: the cat."
    assert list(result.template_versions) == ["expansion", "critique", "refinement"]
    assert (
        "Brainstorm:" in backend.calls[1][-1]["content"]
        and BRAINSTORM in backend.calls[1][-1]["content"]
    )
    assert "KEEP: chalk. DROP: the cat." in backend.calls[2][-1]["content"]
    assert result.stages["critique"].tokens > 0


def test_an_edited_template_is_used_by_the_next_job_and_recorded(tmp_path):
    backend = ScriptedBackend([BRAINSTORM, VALID, BRAINSTORM, VALID])
    library = TemplateLibrary(user_dir=tmp_path)
    pipeline = PersonaPipeline(library, lambda _m: backend, PipelineConfig(check=False))
    request = PersonaGenerationRequest.create("from_name_and_description", {"name_hint": "Ada"})
    first = pipeline.run(request)
    editor = TemplateLibrary(user_dir=tmp_path)  # the window's own copy of the library
    editor.save_user_template(
        "expansion", "from_name_and_description", "Brainstorm about {{name_hint}}, MARKER."
    )
    second = pipeline.run(request)
    assert second.ok
    assert backend.calls[2][-1]["content"] == "Brainstorm about Ada, MARKER."
    assert second.template_versions["expansion"] != first.template_versions["expansion"]
    assert second.templates["expansion"].source == "user"
    assert second.template_versions["refinement"] == first.template_versions["refinement"]


SMILE_PERSONA = "\n".join(
    [
        "## Persona Name: Ada",
        "## Core Identity:\nYou are Ada, a patient mathematician who explains proofs.",
        "## Key Personality Traits:\n- You are patient.\n- You are precise.",
        "## Knowledge Domain & Expertise:\nYou know a great deal about proofs and puzzles.",
        "## Speaking Style & Tone:\nSpeak in a calm tone.",
        "## Interaction Guidelines & Behaviors:\n- Explain each step.\n"
        "- When asked how your life is, respond with a warm smile.",
        "## Forbidden Actions & Topics:\n- Never skip a step of a proof.",
        '## Example Phrases:\n- "Let us prove it together."',
    ]
)
WEAK_ANSWERS = ["I'm a person with a warm smile.", "I'm Ada.", "I'm a mathematician.", "Yes."]


def four_at_a_time(answers):
    """Answers listed four per version checked -> one set per version."""
    return [answers[i : i + 4] for i in range(0, len(answers), 4)]


def run_checked(tmp_path, answers, **config):
    """SMILE_PERSONA written and checked with ``answers`` (four per version checked, in the
    order of the questions), one refinement; returns the result and the run's events. Every
    scripted version is checked, no more."""
    events = []
    script = CheckScript(four_at_a_time(answers))
    pipeline, _, request = make(
        [BRAINSTORM, SMILE_PERSONA, *script.replies()],
        tmp_path,
        check=True,
        check_attempts=1,
        **config,
    )
    result = pipeline.run(request, on_event=events.append)
    assert result.ok, result.error_message
    assert script.versions == len(script.sets)
    return result, events


def retried(events):
    return [e.message for e in events if isinstance(e, Retried)]


def run_with_check(tmp_path, answers_after_strike):
    # The strike asks the four questions again, nothing more.
    result, events = run_checked(
        tmp_path,
        [*WEAK_ANSWERS, *answers_after_strike],
        strike_attempts=1,
        introduction_attempts=0,
    )
    # One stage per check: the strike's reason is said in the second check, not a stage of
    # its own (which the stream view would show as an empty header).
    assert [e.stage for e in events if isinstance(e, StageStarted)].count("check") == 2
    return result, retried(events)


def test_the_line_a_wrong_answer_copied_is_struck_when_that_scores_better(tmp_path):
    better = ["I'm Ada, a mathematician.", "I'm Ada.", "I'm a mathematician.", "Yes."]
    result, retries = run_with_check(tmp_path, better)
    assert "smile" not in result.prompt_instructions
    assert "Explain each step." in result.prompt_instructions
    assert result.check is not None and result.check.passed
    assert any("Who are you?" in m and "respond with a warm smile" in m for m in retries)


def test_a_strike_that_scores_no_better_is_not_kept(tmp_path):
    result, retries = run_with_check(tmp_path, WEAK_ANSWERS)
    assert "respond with a warm smile" in result.prompt_instructions
    assert result.check is not None and result.check.name_hold == 0.5
    assert retries  # the strike was tried, and said so


def persona_named(name):
    return SMILE_PERSONA.replace("Ada", name).replace(
        "- When asked how your life is, respond with a warm smile.", "- Be kind."
    )


def answers_by_name(question_index):
    """The four answers as a model gives them when it says the name in its system prompt."""

    def answer(messages):
        name = re.search(r"## Persona Name: *(.+)", messages[0]["content"]).group(1).strip()
        return [f"I'm {name}, a mathematician.", f"I'm {name}.", "Proofs and puzzles.", "Yes."][
            question_index
        ]

    return answer


def run_unnamed(tmp_path, answers_after_rename, **config):
    """A request with no name hint: the pipeline chose the name; the model first answers
    "Who are you?" without it."""
    request = PersonaGenerationRequest.create(
        "from_name_and_description", {"description_hint": "a mathematician who loves proofs"}
    )
    settings = {
        "check": True,
        "check_attempts": 1,
        "strike_attempts": 0,
        "introduction_attempts": 0,
        "seed": 7,
        **config,
    }
    chosen = PersonaPipeline(TemplateLibrary(user_dir=tmp_path), None, PipelineConfig(**settings))
    first = chosen.choose_name(request, ["Taken Name"])
    weak = ["I'm a mathematician.", f"I'm {first}.", "Proofs and puzzles.", "Yes."]
    script = CheckScript(four_at_a_time([*weak, *answers_after_rename]))
    backend = ScriptedBackend(
        [f"{first} is a mathematician.", persona_named(first), *script.replies()]
    )
    pipeline = PersonaPipeline(
        TemplateLibrary(user_dir=tmp_path), lambda _model: backend, PipelineConfig(**settings)
    )
    events = []
    result = pipeline.run(request, on_event=events.append, avoid_names=["Taken Name"])
    assert result.ok, result.error_message
    assert script.versions == len(script.sets)  # each name scripted was tried, no more
    return first, result, [e.message for e in events if isinstance(e, Retried)]


def test_a_chosen_name_the_model_does_not_say_is_replaced_by_one_it_does(tmp_path):
    first, result, retries = run_unnamed(tmp_path, [answers_by_name(i) for i in range(4)])
    new = result.persona_name
    assert new and new != first and new != "Taken Name"
    assert first not in result.prompt_instructions
    assert f"## Persona Name: {new}" in result.prompt_instructions
    assert f"You are {new}, a patient mathematician" in result.prompt_instructions
    assert result.brainstorm == f"{new} is a mathematician."  # kept with it, named as it is
    assert result.check is not None and result.check.passed and result.check.name == new
    assert any(first in m and new in m and "1 of 2" in m for m in retries)


def test_another_name_that_scores_no_better_is_not_kept(tmp_path):
    same = ["I'm a mathematician.", "I'm someone.", "Proofs and puzzles.", "Yes."]
    first, result, retries = run_unnamed(tmp_path, same * 2, rename_attempts=2)
    assert result.persona_name == first
    assert f"You are {first}, a patient mathematician" in result.prompt_instructions
    assert result.check is not None and result.check.name_hold == 0.5
    assert len(retries) == 2  # both other names were tried, and said so


def test_a_name_the_user_gave_is_never_replaced(tmp_path):
    # The strike test's script: a name hint, a weak check, one strike, nothing else asked.
    result, _ = run_with_check(tmp_path, WEAK_ANSWERS)
    assert result.persona_name == "Ada"
    assert result.check is not None and result.check.name_hold == 0.5


def run_introduced(tmp_path, answers_after):
    """A name hint the model does not say to "Who are you?"; the persona is then checked in
    its three other forms of introduction (engine/introductions.py), in their order; each
    form is asked the four questions, no more."""
    result, events = run_checked(tmp_path, [*WEAK_NAME, *answers_after], strike_attempts=0)
    return result, retried(events)


WEAK_NAME = ["I'm a mathematician.", "I'm Ada.", "Mathematics and proofs.", "Yes."]


def test_another_form_of_introduction_is_kept_when_the_model_then_says_its_name(tmp_path):
    better = ["I'm Ada, a mathematician.", "I'm Ada.", "Mathematics and proofs.", "Yes."]
    result, retries = run_introduced(tmp_path, [*WEAK_NAME, *WEAK_NAME, *better])
    text = result.prompt_instructions
    phrases = text.split("## Example Phrases:\n", 1)[1]
    assert phrases.startswith('- "I\'m Ada, a mathematician."\n- "Let us prove it together."')
    # Only the winning form: the rule stays among the guidelines, naming the role.
    assert "- When someone asks who you are or what your name is, say \"I'm Ada, a mathe" in text
    assert result.persona_name == "Ada"
    assert result.check is not None and result.check.passed
    assert len(retries) == 3
    assert all("1 of 2 answers" in m for m in retries)
    assert "Core Identity" in retries[0] and "Example Phrases opening" in retries[2]


def test_the_first_form_that_says_the_name_ends_the_search(tmp_path):
    better = ["I'm Ada, a mathematician.", "I'm Ada.", "Mathematics and proofs.", "Yes."]
    result, retries = run_introduced(tmp_path, better)
    assert 'When someone asks who you are, you say "I\'m Ada, a mathematician."\n' in (
        result.prompt_instructions
    )
    assert "what your name is" not in result.prompt_instructions  # moved, not copied
    assert result.check is not None and result.check.passed and len(retries) == 1


def test_another_form_of_introduction_that_scores_no_better_is_not_kept(tmp_path):
    result, retries = run_introduced(tmp_path, WEAK_NAME * 3)
    text = result.prompt_instructions
    assert '## Example Phrases:\n- "Let us prove it together."' in text
    assert "you say" not in text and "what your name is" in text
    assert result.check is not None and result.check.name_hold == 0.5
    assert len(retries) == 3  # each was tried, and said so


def test_the_forms_of_introduction_are_tried_on_the_persona_the_strikes_left(tmp_path):
    first = ["I'm a person with a warm smile.", "I'm Ada.", "I smile a lot.", "Yes."]
    after_strike = ["I'm a mathematician.", "I'm Ada.", "Mathematics.", "Yes."]

    def moved_rule(index):
        def answer(messages):
            system = messages[0]["content"]
            assert "warm smile" not in system  # the struck line stays struck
            assert 'you say "I\'m Ada, a mathematician."' in system
            return ["I'm Ada, a mathematician.", "I'm Ada.", "Mathematics.", "Yes."][index]

        return answer

    result, events = run_checked(
        tmp_path,
        [*first, *after_strike, *[moved_rule(i) for i in range(4)]],
        strike_attempts=1,
    )
    text = result.prompt_instructions
    assert "warm smile" not in text and 'you say "I\'m Ada, a mathematician."' in text
    assert result.check is not None and result.check.passed
    retries = retried(events)
    assert "Who are you?" in retries[0] and "Core Identity" in retries[1]


BREAKS = ["I'm Ada, a mathematician.", "I'm Ada.", "Mathematics and proofs.", "No, I'm an AI."]


def said_real(index):
    """Answers as a model gives them once the Core Identity says the persona is real."""

    def answer(messages):
        assert f"who explains proofs. {REAL}\n" in messages[0]["content"]
        return [*BREAKS[:3], "Yes, I'm Ada, with chalk on my hands."][index]

    return answer


def test_a_character_that_calls_itself_an_ai_is_kept_real_when_that_scores_better(tmp_path):
    result, events = run_checked(
        tmp_path, [*BREAKS, *[said_real(i) for i in range(4)]], strike_attempts=0
    )
    assert f"You are Ada, a patient mathematician who explains proofs. {REAL}\n" in (
        result.prompt_instructions
    )
    assert result.check is not None and result.check.passed
    (retry,) = retried(events)
    assert "called itself an AI or an assistant in 1 answer(s)" in retry and REAL in retry


def test_a_real_form_that_still_breaks_character_is_not_kept(tmp_path):
    # The form is asked the question its persona failed first, and stops there.
    result, events = run_checked(tmp_path, [*BREAKS, *BREAKS], strike_attempts=0)
    assert REAL not in result.prompt_instructions
    assert result.check is not None and result.check.breaks == 1
    assert len(retried(events)) == 1  # a character has one form: tried, and said so


def test_a_forbidden_section_struck_out_whole_gets_the_pipelines_rule_when_validated(tmp_path):
    # The script's Forbidden section is no prohibition at all: the polish strikes it, and
    # what the persona then says there is the pipeline's rule for a character, not the
    # struck text put back.
    pipeline, _, request = make([BRAINSTORM, VALID], tmp_path)
    result = pipeline.run(request)
    assert result.ok, result.error_message
    assert result.structure_method == "validated"
    text = result.prompt_instructions
    assert "## Forbidden Actions & Topics:\n- Never step out of character.\n" in text
    assert "content about forbidden actions" not in text


def test_the_loop_stops_after_so_many_versions_in_a_row_score_no_better(tmp_path):
    # Three forms of introduction are there to try; after two that scored no better than
    # the first version, the third is not checked (the script has no answers for it).
    result, events = run_checked(tmp_path, WEAK_NAME * 3, strike_attempts=0, check_patience=2)
    assert result.check is not None and result.check.name_hold == 0.5
    assert len(retried(events)) == 2
    shown = "".join(e.text for e in events if isinstance(e, TextWritten) and e.stage == "check")
    assert shown.count("no other version will be tried") == 1
    assert shown.rstrip().endswith(
        "(2 versions in a row scored no better than the best, name 1/2 · domain 1/1 · "
        "in character; no other version will be tried.)"
    )
