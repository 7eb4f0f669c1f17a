"""Names: chosen for personas given none, judged wherever they come from."""

import random

import pytest

from persona_studio.engine.names import (
    ASSISTANT,
    CHARACTER,
    EXPERT,
    choose_name,
    guess_gender,
    name_problems,
    pick_source,
    rename_in,
    topic_words,
)

# Names a run of the old pipeline gave (issue 11) and names a writer would keep.
BAD = [
    ("Aquascaping", {"subforum_name": "Aquascaping"}),
    ("Urban Gardening", {"subforum_name": "Urban Gardening"}),
    ("Home Lab is a community", {"subforum_name": "Home Lab"}),
    ("Personal Finance", {"hints": ["Personal Finance", "Budgeting, saving and investing"]}),
    ("Rust Programming Expert", {}),
    ("A World of Stories and", {}),
    ("The Uncanny", {}),
    ("My Name Is AI-Bella", {}),
    ("The AI assistant", {}),
    ("{{name_hint}}", {}),
    ("", {}),
    ("You are a creative AI assistant who loves art", {}),
]
GOOD = ["Dana Whitfield", "Will Turner", "Leonardo da Vinci", "Godric of Ashby", "Ω-7", "李白"]


@pytest.mark.parametrize(("name", "context"), BAD)
def test_names_no_writer_would_keep_are_flagged(name, context):
    assert name_problems(name, **context), name


@pytest.mark.parametrize("name", GOOD)
def test_real_names_pass(name):
    assert name_problems(name, subforum_name="Home Lab", hints=["servers and backups"]) == []


def test_cue_words_pick_a_fitting_list():
    assert pick_source("a calm bonsai master from Kyoto", CHARACTER).key == "ja_JP"
    assert pick_source("A grumpy medieval blacksmith", CHARACTER).key == "medieval"
    assert pick_source("a starship AI that runs the engines", CHARACTER).key == "machine"
    assert pick_source("She is a retired French pastry chef", CHARACTER).key == "fr_FR"
    assert pick_source("a patient sourdough baker", CHARACTER).key == ""  # English names
    assert pick_source("a medieval knight", ASSISTANT).key == "assistant"
    assert guess_gender("She is a retired nurse") == "female"
    assert guess_gender("a grandfather who fishes") == "male"
    assert guess_gender("a baker") is None


@pytest.mark.parametrize(
    ("hints", "kind"),
    [
        ("a patient sourdough baker who explains fermentation to beginners", CHARACTER),
        ("Home Lab Servers, NAS boxes and networking at home", EXPERT),
        ("", ASSISTANT),
        ("A Viking skald who tells sagas", CHARACTER),
        ("Tang dynasty poet in China", CHARACTER),
    ],
)
def test_chosen_names_are_fresh_and_clean(hints, kind):
    rng = random.Random(7)
    taken: list[str] = []
    for _ in range(12):
        name = choose_name(hints, kind, taken=taken, rng=rng)
        assert name_problems(name, subforum_name="Home Lab", hints=[hints]) == [], name
        assert name.casefold() not in {t.casefold() for t in taken}
        taken.append(name)
    # Twelve names in a batch: first names are not reused either, while there are others.
    assert len({t.split()[0] for t in taken}) == len(taken)


def test_a_seeded_choice_is_repeatable():
    first = choose_name("a baker", CHARACTER, rng=random.Random(3))
    assert choose_name("a baker", CHARACTER, rng=random.Random(3)) == first


def test_a_full_file_still_gets_a_distinct_name():
    rng = random.Random(1)
    taken = [choose_name("", ASSISTANT, rng=rng) for _ in range(200)]
    name = choose_name("", ASSISTANT, taken=taken, rng=rng)
    assert name.casefold() not in {t.casefold() for t in taken}


def test_renaming_changes_the_whole_name_and_the_first_name_alone():
    text = "You are Jeremy Smith. I'm Jeremy; Jeremy's tools. Jeremyah stays. JEREMY stays."
    assert rename_in(text, "Jeremy Smith", "Ryan Powell") == (
        "You are Ryan Powell. I'm Ryan; Ryan's tools. Jeremyah stays. JEREMY stays."
    )


def test_renaming_leaves_a_first_name_that_is_a_hint_word_where_it_stands_alone():
    text = "You are Fern Hill. Fern grows in shade. I'm Fern Hill."
    assert rename_in(text, "Fern Hill", "Kit Moss", keep={"fern", "shade"}) == (
        "You are Kit Moss. Fern grows in shade. I'm Kit Moss."
    )
    # A one-word name is the whole name: renamed as a word, never inside another.
    assert (
        rename_in("Fern, of the ferns. Fernando.", "Fern", "Kit") == "Kit, of the ferns. Fernando."
    )


def test_renaming_takes_the_new_name_literally():
    assert rename_in("I'm Ada.", "Ada", r"Zoë \1 (O'Neil)") == r"I'm Zoë \1 (O'Neil)."
    assert rename_in("I'm Ada.", "Ada", "Ada") == "I'm Ada."


def test_topic_words_leave_out_words_that_say_nothing_about_a_topic():
    # The persona check counts an answer as in the domain when it holds one of these:
    # "loves" made "I have a deep love for people" a hit for a cat shelter's nurse.
    words = topic_words(["A retired nurse who runs a cat shelter and loves crosswords."])
    assert words == {"retired", "nurse", "runs", "shelter", "crosswords"}
    assert topic_words(["She will just explain things, because she likes ZFS."]) == {
        "explain",
        "things",
        "zfs",
    }
