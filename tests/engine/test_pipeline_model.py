"""End to end on the real embedded default model (SmolLM2-135M-Instruct from PyPI)."""

import pytest

from persona_studio.core.events import StageStarted, TextWritten
from persona_studio.engine.factory import build_pipeline
from persona_studio.engine.headings import DEFAULT_HEADINGS, check_structure, parse_persona
from persona_studio.engine.names import name_problems
from persona_studio.engine.pipeline import PersonaPipeline, PipelineConfig
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.llm.base import CancelToken
from persona_studio.llm.catalog import DEFAULT_MODEL_ID

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def pipeline():
    pipeline, pool = build_pipeline(config=PipelineConfig(seed=11))
    yield pipeline
    pool.close()


def request(gtype, details, **prefs):
    override = prefs.pop("override", "")
    return PersonaGenerationRequest.create(
        gtype,
        details,
        {"length_preference": "concise", **prefs},
        llm_model_for_generation=DEFAULT_MODEL_ID,
        target_persona_name_override=override,
    )


def assert_valid(result, headings=DEFAULT_HEADINGS):
    assert result.ok, result.error_message
    text = result.prompt_instructions
    assert text.startswith("## Persona Name: ")
    assert check_structure(text, tuple(headings)) == []
    assert [s.heading for s in parse_persona(text).sections] == list(headings)
    assert result.stages["expansion"].tokens > 20
    assert result.stages["refinement"].tokens > 20
    assert result.stages["refinement"].tokens_per_s > 0
    assert {"expansion", "refinement"} <= set(result.template_versions)


@pytest.mark.parametrize(
    ("gtype", "details"),
    [
        (
            "from_name_and_description",
            {"name_hint": "Captain Nemo", "description_hint": "Brooding submarine captain"},
        ),
        (
            "subforum_expert",
            {
                "subforum_name": "Home Lab",
                "subforum_description": "Servers and NAS boxes at home",
                "additional_directives": "Focus on ZFS and backups.",
            },
        ),
        ("general_purpose_assistant", {}),
    ],
)
def test_each_generation_type_produces_a_valid_persona(pipeline, gtype, details):
    tokens = []
    result = pipeline.run(request(gtype, details), on_event=tokens.append)
    assert_valid(result)
    stages = [e.stage for e in tokens if isinstance(e, TextWritten)]
    assert stages[0] == "expansion" and stages[-1] == "check"
    streamed = "".join(
        e.text for e in tokens if isinstance(e, TextWritten) and e.stage == "refinement"
    )
    assert "## Core Identity:" in streamed
    text = result.prompt_instructions
    if details.get("name_hint"):
        assert result.persona_name == details["name_hint"]
    else:  # a name a writer would keep, not the subforum's
        assert (
            name_problems(
                result.persona_name,
                subforum_name=details.get("subforum_name", ""),
                hints=list(details.values()),
            )
            == []
        ), result.persona_name
    # Grounded: the user's own words are in the persona, where they belong.
    core = parse_persona(text).section("Core Identity").content
    assert core.startswith(f"You are {result.persona_name}")
    if gtype == "subforum_expert":
        assert "Home Lab" in core
        assert "- Focus on ZFS and backups." in text
        domain = parse_persona(text).section("Knowledge Domain & Expertise").content
        assert "ZFS and backups" in domain
    if gtype == "from_name_and_description":
        assert "brooding submarine captain" in core
    # The check ran on the kept attempt and is kept with it.
    assert result.check is not None and len(result.check.answers) == 4
    assert 1 <= result.refinements <= PipelineConfig().check_attempts


def test_desired_headings_are_honoured_in_order(pipeline):
    headings = ["Example Phrases", "Core Identity", "Favourite Gadgets"]
    result = pipeline.run(
        request(
            "from_name_and_description",
            {"name_hint": "Inspector Gadget", "description_hint": "Clumsy cyborg detective"},
            desired_headings=headings,
        )
    )
    assert_valid(result, ["Persona Name", *headings])


def test_override_and_tone_reach_the_persona(pipeline):
    result = pipeline.run(
        request(
            "subforum_expert",
            {"subforum_name": "Gardening", "subforum_description": "Plants"},
            override="Professor Sprout",
            tone_preference="cheerful",
        )
    )
    assert_valid(result)
    assert result.persona_name == "Professor Sprout"
    assert result.prompt_instructions.startswith("## Persona Name: Professor Sprout\n")
    style = parse_persona(result.prompt_instructions).section("Speaking Style & Tone").content
    assert "cheerful" in style


def test_placeholders_in_user_text_stay_literal(pipeline):
    nasty = "{{description_hint}} Bot"
    result = pipeline.run(
        request(
            "from_name_and_description",
            {"name_hint": nasty, "description_hint": "Quotes {{brainstormed_text}} verbatim"},
        )
    )
    assert_valid(result)
    assert result.persona_name == nasty
    assert result.prompt_instructions.startswith(f"## Persona Name: {nasty}\n")
    messages = pipeline.refinement_messages(
        request(
            "from_name_and_description",
            {"name_hint": nasty, "description_hint": "Quotes {{brainstormed_text}} verbatim"},
        ),
        "BRAINSTORM",
        pipeline._backend_for(DEFAULT_MODEL_ID),
    )
    prompt = messages[-1]["content"]
    assert "Description: Quotes {{brainstormed_text}} verbatim" in prompt
    assert prompt.count("BRAINSTORM") == 1


def test_cancel_stops_within_a_few_tokens(pipeline):
    cancel = CancelToken()
    seen = []

    def on_event(event):
        if isinstance(event, TextWritten):
            seen.append(event)
            if len(seen) == 5:
                cancel.cancel()

    result = pipeline.run(
        request("general_purpose_assistant", {}), on_event=on_event, cancel=cancel
    )
    assert result.cancelled and not result.ok
    assert "cancelled" in result.error_message.lower()
    assert len(seen) <= 7


def test_critique_stage_on_the_real_model(pipeline):
    events = []
    result = pipeline.run(
        PersonaGenerationRequest.create(
            "from_name_and_description",
            {"name_hint": "Miss Marple", "description_hint": "Gentle village sleuth"},
            {"length_preference": "concise"},
            llm_model_for_generation=DEFAULT_MODEL_ID,
            app_options={"critique": True},
        ),
        on_event=events.append,
    )
    assert_valid(result)
    stages = [e.stage for e in events if isinstance(e, StageStarted)]
    # The persona check follows, and a weak persona is refined (and checked) once more.
    assert stages[:4] == ["expansion", "critique", "refinement", "check"]
    assert set(stages[4:]) <= {"refinement", "check"}
    assert {e.stage for e in events if isinstance(e, TextWritten)} == set(stages)
    assert result.critique and result.stages["critique"].tokens > 0


def test_the_refinement_evaluates_each_token_of_the_persona_once(pipeline):
    """Writing by sections continues from the cache: after the refinement chat, each batch
    the model evaluates is a heading with its opening, or a polished section's own text,
    never the document again (tokenizing the whole document anew split it differently
    where the pieces meet, and 253-359 tokens were evaluated again for these requests)."""
    backend = pipeline._backend_for(DEFAULT_MODEL_ID)
    unchecked = PersonaPipeline(
        pipeline.templates, pipeline._backend_for, PipelineConfig(seed=11, check=False)
    )
    llama = backend.llama
    plain_eval = llama.eval
    batches: list[int] = []
    stage = [""]

    def counted(tokens):
        if stage[0] == "refinement" and len(tokens) > 1:  # one token: the model writing
            batches.append(len(tokens))
        plain_eval(tokens)

    def on_event(event):
        if isinstance(event, StageStarted):
            stage[0] = event.stage

    llama.eval = counted
    try:
        for gtype, details in (
            (
                "subforum_expert",
                {
                    "subforum_name": "Home Lab",
                    "subforum_description": "Servers, NAS boxes and networking at home",
                    "additional_directives": "Focus on ZFS and backups.",
                },
            ),
            (
                "from_name_and_description",
                {"name_hint": "Captain Nemo", "description_hint": "Brooding submarine captain"},
            ),
        ):
            batches.clear()
            result = unchecked.run(request(gtype, details), on_event=on_event)
            assert_valid(result)
            longest = max(
                backend.count_tokens(f"{s.heading}\n{s.content}")
                for s in parse_persona(result.prompt_instructions).sections
            )
            # The first batch is the refinement chat itself.
            assert batches[1:] and max(batches[1:]) <= longest + 24, (longest, batches)
    finally:
        llama.eval = plain_eval


class _ForbidsNothing:
    """The real model, except that under the Forbidden heading it always writes what it
    wrote there for Ω-7 (bench s34): "- Never, never." Fault injection on one section; the
    rest is the model's own."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.injected = 0

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def continuation(self, tokens, params, **kwargs):
        tail = self._backend.llama.detokenize(list(tokens[-24:])).decode("utf-8", "replace")
        if "Forbidden Actions & Topics:" not in tail:
            return self._backend.continuation(tokens, params, **kwargs)
        self.injected += 1
        return _Canned(", never.", self._backend.tokenize_text(", never."))


class _Canned:
    def __init__(self, text: str, tokens: list[int]) -> None:
        self.text, self.tokens, self.leftover = text, tokens, ""
        self.finish_reason, self.n_generated = "stop", len(tokens)

    def __iter__(self):
        yield self.text


def test_a_forbidden_section_the_polish_strikes_whole_gets_the_pipelines_rule(pipeline):
    backend = _ForbidsNothing(pipeline._backend_for(DEFAULT_MODEL_ID))
    unchecked = PersonaPipeline(
        pipeline.templates, lambda _model: backend, PipelineConfig(seed=11, check=False)
    )
    result = unchecked.run(
        request("from_name_and_description", {"description_hint": "A grumpy medieval smith"})
    )
    assert_valid(result)
    assert backend.injected == 3  # written again while it came out empty, then given up
    forbidden = parse_persona(result.prompt_instructions).section("Forbidden Actions & Topics")
    assert forbidden.content == "- Never step out of character."
    assert "never, never" not in result.prompt_instructions.casefold()
