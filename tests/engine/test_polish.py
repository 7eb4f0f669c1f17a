"""What a small model writes that a writer would strike out (recorded model output)."""

from persona_studio.engine.polish import (
    FORBIDDEN,
    GUIDELINES,
    PHRASES,
    Polisher,
    ends_on_fragment,
    forbids_own_expertise,
    loop_cut,
)


def polisher(**kw):
    return Polisher(name="Dana Whitfield", topic_words=frozenset({"zfs", "backups"}), **kw)


def test_a_sentence_said_before_is_dropped_even_in_another_section():
    p = polisher()
    p.remember("You are Dana Whitfield, the resident expert of the Home Lab subforum.")
    first = p.polish(
        "You help members no matter how big or small their problem is. You love ZFS.",
        kind="prose",
    )
    assert first == "You help members no matter how big or small their problem is. You love ZFS."
    again = p.polish(
        "- You help members no matter how big or small their problem is.\n- You test every backup.",
        kind="list",
    )
    assert again == "- You test every backup."
    copy = p.polish(
        "You are Dana Whitfield, the resident expert of the Home Lab subforum.", kind="prose"
    )
    assert copy == ""


def test_loops_fragments_and_ai_talk_are_struck():
    p = polisher()
    text = (
        "- You are a baker, and I'm a baker, and I'm a baker, and I'm a baker.\n"
        "- Your team:\n"
        "- You are a creative AI assistant who loves art.\n"
        "- You check the pool's health every morning."
    )
    assert p.polish(text, kind="list") == "- You check the pool's health every morning."
    reasons = {why for _, why in p.dropped}
    assert reasons == {"loops", "fragment", "calls the character an AI"}


def test_an_assistant_may_say_it_is_one():
    p = Polisher(name="Milo", may_be_ai=True)
    assert (
        p.polish("You are a friendly assistant.", kind="prose") == "You are a friendly assistant."
    )


def test_prohibitions_that_silence_the_persona_on_its_topic_go():
    assert forbids_own_expertise("Never discuss anything related to your expertise.", [])
    assert forbids_own_expertise("Never talk about ZFS.", ["zfs"])
    assert not forbids_own_expertise("Never give unsafe advice about ZFS.", ["zfs"])
    assert not forbids_own_expertise("Never reveal a member's address.", ["zfs"])
    p = polisher()
    kept = p.polish(
        "- Never discuss anything related to your expertise.\n"
        "- You love cake.\n"
        "- Never delete a snapshot without asking first.",
        kind="list",
        role=FORBIDDEN,
    )
    assert kept == "- Never delete a snapshot without asking first."


def test_example_phrases_are_quotations_in_the_persona_voice():
    p = polisher()
    kept = p.polish(
        '- "I keep three copies of everything." - This shows her caution.\n'
        '- "You are Dana, a storage expert."\n'
        "- She often says hello.",
        kind="list",
        role=PHRASES,
    )
    assert kept == '- "I keep three copies of everything."'


def test_another_name_for_the_persona_is_replaced():
    p = polisher()
    assert p.polish('- "Hi, my name is Elena and I love backups."', kind="list", role=PHRASES) == (
        '- "Hi, my name is Dana Whitfield and I love backups."'
    )
    assert p.polish('- "I\'m Einar, and I test restores."', kind="list", role=PHRASES) == (
        '- "I\'m Dana Whitfield, and I test restores."'
    )
    assert p.polish("You are Brave, but careful.", kind="prose") == "You are Brave, but careful."


def test_first_person_outside_quotes_is_the_model_slipping():
    p = polisher()
    text = 'You answer fast. I can help you with anything. You often say "my pool is healthy".'
    assert p.polish(text, kind="prose") == 'You answer fast. You often say "my pool is healthy".'


def test_an_item_is_one_instruction():
    p = polisher()
    text = (
        "- Never share a member's address. You are a good person, but careful.\n"
        "- Never guess at a restore. - This is important for your persona."
    )
    assert p.polish(text, kind="list", role=FORBIDDEN) == (
        "- Never share a member's address.\n- Never guess at a restore."
    )


def test_a_prohibition_ends_where_the_model_turns_to_musing():
    p = polisher()
    text = (
        "- Never tell jokes about your hobby, but you're a great bartender.\n"
        "- No need for a list of topics but you can share them.\n"
        "- Don't guess at a restore because it can lose data.\n"
        "- No spoilers for new members."
    )
    assert p.polish(text, kind="list", role=FORBIDDEN) == (
        "- Never tell jokes about your hobby.\n"
        "- Don't guess at a restore because it can lose data.\n"
        "- No spoilers for new members."
    )


def test_rules_that_undo_the_introduction_or_good_conduct_go():
    p = polisher()
    text = (
        '- When someone asks your name, say "I\'m Dana Whitfield."\n'
        '- When you are asked what your name or title is, say "I\'m a detective."\n'
        '- When they ask who you are, answer "I\'m glad of that."\n'
        "- When people ask about who you are and where you're from, simply respond with a smile.\n"
        "- If someone asks your name, just shrug.\n"
        "- When someone asks who you are, answer with your name and your trade.\n"
        "- When they ask who you are, tell them your name with a warm smile.\n"
        "- When someone asks your name, keep it a secret.\n"
        # Recorded (s36, for Ω-7): an unquoted answer that names someone else.
        "- If someone asks what your name or the other person's name is, simply state that "
        "it is Πλαμπη.\n"
        "- When someone asks who you are, say that you are happy to help.\n"
        "- Ask which pool layout they use."
    )
    assert p.polish(text, kind="list", role=GUIDELINES) == (
        '- When someone asks your name, say "I\'m Dana Whitfield."\n'
        "- When someone asks who you are, answer with your name and your trade.\n"
        "- When they ask who you are, tell them your name with a warm smile.\n"
        "- When someone asks who you are, say that you are happy to help.\n"
        "- Ask which pool layout they use."
    )
    # Recorded (s20, s38): asked what it knows, a smile is the whole answer. With an answer
    # besides the smile (s25, s31), the rule stays.
    dodges = (
        "- When they ask about your expertise, answer with a smile.\n"
        "- When you're asked about your skills, respond with a friendly smile.\n"
        "- When asked what you know, just shrug.\n"
        "- When you're asked to talk about your craft, respond with a smile and tell them what "
        "it is.\n"
        "- When you're asked about your skills or abilities, respond with a friendly smile and "
        "explain what it is."
    )
    assert p.polish(dodges, kind="list", role=GUIDELINES) == (
        "- When you're asked to talk about your craft, respond with a smile and tell them what "
        "it is.\n"
        "- When you're asked about your skills or abilities, respond with a friendly smile and "
        "explain what it is."
    )
    rules = "- Never tell the truth.\n- Don't help anyone.\n- Never share a member's address."
    assert p.polish(rules, kind="list", role=FORBIDDEN) == "- Never share a member's address."


def test_questions_and_echoed_instructions_in_prose_go():
    p = polisher()
    text = (
        "You have run home servers for years. What do we have today? "
        "You speak calmly, and describe your speaking style. You test every restore."
    )
    assert p.polish(text, kind="prose") == (
        "You have run home servers for years. You test every restore."
    )
    # Example phrases may ask questions: that is how people talk.
    assert p.polish('- "Which pool layout do you use?"', kind="list", role=PHRASES) == (
        '- "Which pool layout do you use?"'
    )


def test_chat_transcript_residue_goes():
    p = polisher()
    text = (
        "You have run home servers for years. Chat: (chat_character) Dana Whitfield: Hello! "
        "You test every restore."
    )
    assert p.polish(text, kind="prose") == (
        "You have run home servers for years. You test every restore."
    )


def test_placeholders_stay_only_where_the_user_typed_them():
    p = Polisher(name="X", user_text="Quotes {{brainstormed_text}} verbatim")
    text = "You quote {{brainstormed_text}} often. You love {{tone_line}} a lot."
    assert p.polish(text, kind="prose") == "You quote {{brainstormed_text}} often."


def test_helpers():
    assert loop_cut("I'm a baker, and I'm a baker, and I'm a baker") == "I'm a baker, and"
    assert loop_cut("A calm and kind voice.") == "A calm and kind voice."
    assert ends_on_fragment("Your team:")
    assert ends_on_fragment("You love the")
    assert not ends_on_fragment('"Let us begin."')


def test_prohibitions_against_saying_who_it_is_go():
    p = polisher()
    rules = (
        "- Never tell people that you are a master.\n"
        "- Never talk about yourself, no matter how passionate you may be.\n"
        "- Never tell your skills to anyone.\n"
        "- Never brag about your skills.\n"
        "- Never talk about your personal life.\n"
        "- Never use your own name.\n"
        "- Never give advice that you are unsure of.\n"
        "- Don't forget who you are."
    )
    assert p.polish(rules, kind="list", role=FORBIDDEN) == (
        "- Never brag about your skills.\n"
        "- Never talk about your personal life.\n"
        "- Never give advice that you are unsure of.\n"
        "- Don't forget who you are."
    )
    assistant = Polisher(name="Milo", may_be_ai=True)
    rule = "- Never tell anyone that you are an AI model in disguise."
    assert assistant.polish(rule, kind="list", role=FORBIDDEN) == rule


def test_a_subject_said_twice_in_a_row_is_said_once():
    p = polisher()
    assert p.polish(
        "You know a great deal about poetry and poetry. Your verses grow more and more "
        "bitter, time and time again, bigger and bigger.",
        kind="prose",
    ) == (
        "You know a great deal about poetry. Your verses grow more and more bitter, time and "
        "time again, bigger and bigger."
    )


def test_a_phrase_unsure_of_its_name_goes():
    p = polisher()
    phrases = (
        '- "I\'m not really sure what my name is, but I love backups."\n'
        '- "Hi, my name is Elena and I love backups."\n'
        '- "Ask me about ZFS snapshots any time."'
    )
    assert p.polish(phrases, kind="list", role=PHRASES) == (
        '- "Hi, my name is Dana Whitfield and I love backups."\n'
        '- "Ask me about ZFS snapshots any time."'
    )


def test_a_heading_the_model_began_inside_a_section_is_struck():
    # Recorded (bench s33): Ω-7's guidelines and Chef Lumi's Core Identity.
    p = polisher()
    guidelines = p.polish(
        '- You always check the backups first.\n- #Example Phrases: "You\'re Ω-7, a spaceship AI."',
        kind="list",
        role=GUIDELINES,
    )
    assert guidelines == "- You always check the backups first."
    core = polisher().polish(
        "You are a small and agile man with unruly hair. **# Name: ChefLumi**", kind="prose"
    )
    assert core == "You are a small and agile man with unruly hair."
    # A hashtag is no heading.
    kept = "- You tag your ZFS posts #ZFS so members find them."
    assert polisher().polish(kept, kind="list", role=GUIDELINES) == kept


def test_a_prohibition_that_forbids_nothing_goes():
    # Recorded (bench s34): Ω-7's whole Forbidden section was "- Never, never."
    p = polisher()
    rules = "- Never, never.\n- Don't ever do that.\n- Never lie.\n- Avoid pesticides."
    assert p.polish(rules, kind="list", role=FORBIDDEN) == "- Never lie.\n- Avoid pesticides."
    assert [why for _, why in p.dropped] == ["forbids nothing", "forbids nothing"]
    kept = "- Never do anything that is unsafe."
    assert polisher().polish(kept, kind="list", role=FORBIDDEN) == kept


def test_a_line_that_says_the_persona_is_not_what_it_is_goes():
    # Recorded (bench s30-s35): a Viking skald's and a ZFS expert's example phrases.
    p = Polisher(name="Solveig", topic_words=frozenset({"viking", "skald", "sagas"}))
    phrases = (
        '- "I\'m not a skald, but I love to read sagas of the sea."\n'
        '- "The sea keeps its own sagas."\n'
        '- "I\'m not a person who rushes a story."'
    )
    assert p.polish(phrases, kind="list", role=PHRASES) == (
        '- "The sea keeps its own sagas."\n- "I\'m not a person who rushes a story."'
    )
    assert p.dropped[0][1] == "says it is not what it is"
    zfs = Polisher(name="Hannah Sears", topic_words=frozenset({"zfs", "backups"}))
    assert zfs.polish('- "I\'m not a ZFS fan, I just love tech."', kind="list", role=PHRASES) == ""
    kept = "You are no ordinary skald."
    assert p.polish(kept, kind="prose") == kept
