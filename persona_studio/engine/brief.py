"""The brief: what the user asked for, in the words the persona will be written in.

A 135M model does not follow an instruction hundreds of tokens back; it continues the text in
front of it. So the user's own words are put where the persona is written, not only into the
prompt: the description becomes the first sentence of the Core Identity ("a patient sourdough
baker who explains fermentation to beginners" -> "You are Martha Greene, a patient sourdough
baker who explains fermentation to beginners."), the subforum and its description open the
Knowledge Domain, and each directive becomes a behaviour or a prohibition, verbatim. The model
then writes the rest of each section after those words, which keeps it on the topic.

Turning a description into the second person needs to know a verb from a noun ("Explains
maths simply" -> "You explain maths simply", but "Guides for hikers" stays a noun phrase);
LemmInflect's English lexicon answers that without a model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

from persona_studio.engine.names import ASSISTANT, CHARACTER, EXPERT, topic_words
from persona_studio.engine.request import (
    FROM_NAME_AND_DESCRIPTION,
    SUBFORUM_EXPERT,
    PersonaGenerationRequest,
)

_DETERMINERS = {
    "a",
    "an",
    "the",
    "this",
    "that",
    "my",
    "your",
    "his",
    "her",
    "their",
    "our",
    "its",
    "one",
    "some",
    "every",
    "each",
    "no",
}
_SUBJECTS = {"he", "she", "they", "i", "it"}
# Words that make a character an AI or an assistant in the user's own words: then the
# persona may say so; otherwise the character never calls itself one.
_AI_WORDS = re.compile(
    r"\b(?:ai|a\.i|artificial intelligence|assistant|bot|chatbot|robot|android|cyborg|"
    r"automaton|language model|llm)\b",
    re.IGNORECASE,
)
_NEGATIVE_DIRECTIVE = re.compile(
    r"^(?:never|don'?t|do not|avoid|no|not|stop|refuse|nothing|without|under no)\b",
    re.IGNORECASE,
)
_FOCUS_DIRECTIVE = re.compile(
    r"^(?:focus|concentrate|specialize|specialise|center|centre)\s+(?:\w+\s+)?(?:on|in)\s+(.+)$",
    re.IGNORECASE,
)
# "Choose a name different from: Hank." (older jobs of ours said so): a naming instruction.
_NAMING = re.compile(
    r"\b(?:choose|pick|use|give|find)\b.{0,30}\bname\b|\bname\b.{0,20}\b(?:different|unlike)\b",
    re.IGNORECASE,
)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")


@cache
def _lexicon():
    import lemminflect  # imported on first use: about 0.2 s to load its tables

    return lemminflect


def _lemmas(word: str) -> dict[str, tuple[str, ...]]:
    word = word.casefold()
    if not re.fullmatch(r"[a-z][a-z'-]*", word):
        return {}
    return _lexicon().getAllLemmas(word)


def is_verb_3sg(word: str) -> bool:
    """'explains', 'deduces', 'loves': a verb in the third person singular."""
    lemmas = _lemmas(word)
    verb = lemmas.get("VERB") or lemmas.get("AUX") or ()
    return bool(verb) and word.casefold().endswith("s") and word.casefold() not in verb


def base_verb(word: str) -> str:
    """'explains' -> 'explain', 'is' -> 'are' (for 'you'), keeping a leading capital."""
    lowered = word.casefold()
    irregular = {"is": "are", "was": "were", "has": "have", "does": "do", "isn't": "aren't"}
    irregular |= {"wasn't": "weren't", "hasn't": "haven't", "doesn't": "don't", "am": "are"}
    if lowered in irregular:
        out = irregular[lowered]
    else:
        lemmas = _lemmas(lowered)
        verb = lemmas.get("VERB") or lemmas.get("AUX")
        out = verb[0] if verb else lowered
    return out[:1].upper() + out[1:] if word[:1].isupper() else out


def _is_adjective(word: str) -> bool:
    return "ADJ" in _lemmas(word)


def _common_word(word: str) -> bool:
    """A word of the lexicon (so its capital is only the sentence's): 'Brooding', not 'Mars'."""
    return bool(_lemmas(word)) and word[1:].islower()


def is_common_word(word: str) -> bool:
    """A word of the English lexicon ("Brave", "Happy"), as opposed to a name ("Einar")."""
    return bool(_lemmas(word)) or word.casefold() in _DETERMINERS


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0].rstrip(",.;:!?")
    if first and first[:1].isupper() and (_common_word(first) or first.casefold() in _DETERMINERS):
        return first[:1].lower() + text[1:]
    return text


def _article(noun_phrase: str) -> str:
    """'patient tutor for teenagers' -> 'a patient tutor for teenagers'; plurals and phrases
    that already have a determiner stay as they are."""
    words = noun_phrase.split()
    if not words or words[0].casefold() in _DETERMINERS:
        return noun_phrase
    # The head noun: the last word before a preposition or a relative clause.
    head = words[-1]
    for index, word in enumerate(words):
        if index and word.casefold() in {
            "who",
            "that",
            "which",
            "on",
            "of",
            "for",
            "in",
            "at",
            "from",
            "with",
            "to",
            "and",
        }:
            head = words[index - 1]
            break
    head_l = head.casefold().strip(",.")
    lemmas = _lemmas(head_l)
    noun = lemmas.get("NOUN", ())
    if noun and head_l not in noun and head_l.endswith("s"):
        return noun_phrase  # plural: "retired nurses"
    if "NOUN" not in lemmas and not _is_adjective(head_l):
        return noun_phrase  # not a noun phrase we can read: leave it alone
    first = words[0].casefold()
    vowel = first[:1] in "aeiou" and not first.startswith(("uni", "use", "eu", "one"))
    vowel = vowel or first.startswith(("hour", "honest", "heir"))
    return f"{'an' if vowel else 'a'} {noun_phrase}"


def _to_second_person(sentence: str) -> str:
    """'She runs a bakery and loves her cats.' -> 'You run a bakery and love your cats.'"""
    words = sentence.split(" ")
    out: list[str] = []
    after_subject = False
    for index, word in enumerate(words):
        core = word.strip(",.;:!?\"'()")
        lowered = core.casefold()
        tail = word[len(word.rstrip(",.;:!?\"'()")) :]
        if lowered in _SUBJECTS and lowered != "it":
            replacement = "You" if index == 0 else "you"
            out.append(replacement + tail)
            after_subject = True
            continue
        if lowered in {"i'm", "he's", "she's", "they're"}:
            out.append(("You're" if index == 0 else "you're") + tail)
            after_subject = False
            continue
        if after_subject and (is_verb_3sg(core) or lowered in {"am", "is", "was", "has", "does"}):
            out.append(base_verb(core) + tail)
            after_subject = False
            continue
        if after_subject and lowered in {"isn't", "wasn't", "hasn't", "doesn't"}:
            out.append(base_verb(core) + tail)
            after_subject = False
            continue
        if lowered in {"his", "their", "my"}:
            out.append("your" + tail)
        elif lowered == "her":
            following = words[index + 1] if index + 1 < len(words) else ""
            possessive = bool(_lemmas(following.strip(",.;:!?"))) and not tail
            out.append(("your" if possessive else "you") + tail)
        elif lowered in {"him", "them", "me"}:
            out.append("you" + tail)
        elif lowered in {"himself", "herself", "themselves", "myself"}:
            out.append("yourself" + tail)
        else:
            out.append(word)
        # "and" keeps the subject for the next verb: "You run a bakery and love your cats".
        after_subject = after_subject and lowered in {"also", "always", "often", "never"}
        if lowered == "and" and out and any(w.casefold() == "you" for w in out):
            after_subject = True
    return " ".join(out)


def _clauses(sentence: str) -> list[str]:
    return [c.strip() for c in re.split(r",\s*(?![^()]*\))", sentence) if c.strip()]


def _strip_leading_name(description: str, name: str) -> str:
    if name and description.casefold().startswith(name.casefold()):
        rest = description[len(name) :].lstrip(" ,:-–—")
        rest = re.sub(r"^(?:is|was)\s+", "", rest, flags=re.IGNORECASE)
        return rest
    return description


def _clause_kind(clause: str) -> str:
    """'verb' ("explains maths"), 'adjective' ("calm", "impatient with slow thinking") or
    'noun' (everything else: "a patient baker", "brooding submarine captain")."""
    words = clause.split(" ")
    head = words[0].strip("\"'()")
    if len(words) >= 2 and is_verb_3sg(head):
        return "verb"
    if len(words) >= 3 and head.casefold() in {"and", "but"} and is_verb_3sg(words[1]):
        return "verb"
    if head.casefold() in _DETERMINERS:
        return "noun"
    # An adjective phrase: an adjective alone or followed by a preposition.
    if _is_adjective(head) and (
        len(words) == 1
        or words[1].casefold() in {"with", "about", "of", "to", "in", "at", "for", "and", "but"}
    ):
        return "adjective"
    return "noun"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def identity_sentences(name: str, description: str) -> list[str]:
    """The description as sentences about "you", the first one opening with the name.

    "Brooding submarine captain, brilliant engineer" ->
        ["You are Nemo, a brooding submarine captain, brilliant engineer."]
    "Calm, speaks in short koans about patience" ->
        ["You are Kenji Mori.", "You are calm.", "You speak in short koans about patience."]
    "She runs a bakery. She loves cats." ->
        ["You are Rosa.", "You run a bakery.", "You love cats."]
    """
    description = _strip_leading_name(description.strip(), name)
    sentences = [s.strip().rstrip(".!?;:").strip() for s in _SENTENCES.split(description)]
    sentences = [s for s in sentences if re.search(r"\w", s)]
    if not sentences:
        return [f"You are {name}."]
    first, rest = sentences[0], sentences[1:]
    appositions: list[str] = []  # "You are NAME, <these>."
    later: list[tuple[str, str]] = []  # ("verb" | "adjective", phrase), in the user's order
    lead = first.split(" ")[0].casefold()
    if lead in _SUBJECTS or lead in {"i'm", "he's", "she's", "they're", "you", "you're"}:
        # A full sentence: "She is a retired nurse." / "I'm a baker who..."
        converted = _to_second_person(first).replace("You're", "You are")
        match = re.match(r"^you are\s+(.*)$", converted, re.IGNORECASE)
        if match:
            appositions.append(_lower_first(match.group(1)))
        else:
            rest = [first, *rest]
    else:
        for clause in _clauses(first):
            kind = _clause_kind(clause)
            words = clause.split(" ")
            if kind == "verb":
                if words[0].casefold() in {"and", "but"}:
                    words = words[1:]
                later.append(("verb", " ".join([base_verb(words[0]).lower(), *words[1:]])))
            elif kind == "adjective":
                later.append(("adjective", _lower_first(clause)))
            elif not later:
                clause = _lower_first(clause)
                appositions.append(_article(clause) if not appositions else clause)
            else:
                later.append(("adjective", _lower_first(_article(clause))))
    out = [f"You are {name}, {', '.join(appositions)}." if appositions else f"You are {name}."]
    index = 0
    while index < len(later):
        kind = later[index][0]
        run = []
        while index < len(later) and later[index][0] == kind:
            run.append(later[index][1])
            index += 1
        out.append(f"You {_join(run)}." if kind == "verb" else f"You are {_join(run)}.")
    for sentence in rest:
        converted = _to_second_person(sentence)
        words = converted.split(" ")
        if words and is_verb_3sg(words[0]):  # "Loves cats." -> "You love cats."
            converted = "You " + " ".join([base_verb(words[0]).lower(), *words[1:]])
        out.append(converted[:1].upper() + converted[1:] + ".")
    return out


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".;,")
    return text[:1].upper() + text[1:] + "." if text else ""


@dataclass(frozen=True)
class Directives:
    behaviours: tuple[str, ...] = ()  # "Focus on ZFS and backups."
    prohibitions: tuple[str, ...] = ()  # "Never give specific stock picks."
    focus: tuple[str, ...] = ()  # "ZFS and backups"


def split_directives(text: str) -> Directives:
    """Each directive sentence becomes a behaviour or a prohibition, as the user wrote it."""
    behaviours: list[str] = []
    prohibitions: list[str] = []
    focus: list[str] = []
    for raw in re.split(r"(?<=[.!?;])\s+|\n+|;\s*", text or ""):
        sentence = raw.strip(" -*•\t").strip()
        if not re.search(r"\w{2,}", sentence):
            continue
        if _NAMING.search(sentence):
            continue  # about making the persona, not about the persona: names are ours
        if _NEGATIVE_DIRECTIVE.match(sentence):
            prohibitions.append(_sentence(sentence))
        else:
            behaviours.append(_sentence(sentence))
            match = _FOCUS_DIRECTIVE.match(sentence.rstrip(".!"))
            if match:
                focus.append(match.group(1).strip())
    return Directives(tuple(behaviours), tuple(prohibitions), tuple(focus))


def _topic_phrase(text: str) -> str:
    """A subforum description as a topic ("Servers, NAS boxes and networking at home"), or ""
    when it is a sentence of its own ("This is where we share our builds.")."""
    text = text.strip().rstrip(".")
    if not text or re.search(r"[.!?]\s", text) or len(text) > 160:
        return ""
    # "Questions about Python programming" is the topic "Python programming" (the brief
    # says "questions about" itself), its first word keeping the user's capital ("Python").
    topic = _TOPIC_FRAME.sub("", text, count=1)
    first = topic.split(" ", 1)[0].casefold()
    if first in _DETERMINERS or first in _SUBJECTS or first in {"we", "you", "here"}:
        return ""
    return topic if topic != text else _lower_first(text)


_TOPIC_FRAME = re.compile(
    r"^(?:(?:all|everything)\s+(?:about|on)|(?:questions?|discussions?|talk|chat|help|"
    r"advice|tips|news|posts?|threads?)(?:\s+and\s+\w+)?\s+(?:about|on|with|for|of|regarding))"
    r"\s+(?=\S)",
    re.IGNORECASE,
)


# Where a role's core ends: "a baker| who explains ...", "a captain|, brilliant engineer".
_ROLE_END = re.compile(r",|;| (?:who|which|that|whose|with|and is)\b")

# Words for how someone behaves and talks: a description's "patient", "grumpy" or
# "brooding" become the Speaking Style's tone. Adjectives only, so "a {word} tone" reads well.
_MANNER_TEXT = """
    affable aloof ardent blunt boisterous bold brash breezy brisk brooding brusque calm
    candid careful caring cautious charming cheeky cheerful chirpy cocky cold compassionate
    composed confident courteous cranky crisp curious curt cynical deadpan deliberate
    demanding diplomatic direct dour dramatic dreamy droll dry earnest eccentric eloquent
    encouraging energetic enthusiastic exacting excitable fierce flamboyant flippant folksy
    formal frank friendly fussy genial gentle gloomy good-humoured good-humored gracious
    gregarious gruff grumpy guarded humble humorous impatient intense irreverent jolly jovial
    kind kindly laconic laid-back lively loud lyrical measured meek melancholic melancholy
    meticulous mischievous modest moody mysterious nervous nostalgic optimistic passionate
    patient pedantic pensive methodical philosophical pessimistic playful plainspoken poetic
    polite pompous precise pragmatic proud quiet quirky rambling reassuring relaxed reserved
    respectful rowdy rude sarcastic sardonic scholarly sceptical skeptical serene serious
    sharp shy sincere snarky soft-spoken solemn soothing spirited stern stoic stubborn
    supportive suspicious tactful terse theatrical thoughtful timid tireless upbeat warm
    whimsical wise witty wry zealous zany
"""
MANNER_WORDS = frozenset(_MANNER_TEXT.split())


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Where an object or a role's head phrase ends: "explains fermentation| to beginners".
_PHRASE_END = _word_set(
    """
    who that which whose to for with at in on from by into when while where like as than
    because but and
"""
)
_HELP_VERBS = {"helps", "assists", "supports", "advises", "guides", "coaches", "mentors"}
# Objects too general to be what a persona knows about.
_VAGUE = _word_set(
    """
    everything anything something nothing people others them it you everyone anyone
    questions things stuff life us me him her
"""
)


# Words that qualify a role without naming a subject ("private investigator").
_ROLE_QUALIFIERS = _word_set(
    """
    private public professional senior junior former young old elderly master expert
    personal general chief head amateur veteran freelance local famous retired new resident
"""
)


def _head_phrase(words: list[str], *, joined: bool = False) -> list[str]:
    """The words up to the first that ends the phrase; with ``joined``, "and" and "of"
    go on ("maths and early computing", "sagas of the sea")."""
    out: list[str] = []
    for word in words:
        bare = word.strip(",.;:!?\"'()")
        lowered = bare.casefold()
        if lowered in _PHRASE_END and not (joined and lowered == "and" and out):
            break
        out.append(bare)
        if bare != word.rstrip(".!?"):  # a comma or a colon ends it too
            break
    while out and out[0].casefold() in _DETERMINERS:
        out = out[1:]
    while out and out[-1].casefold() in _DETERMINERS | {"and", "of"}:
        out = out[:-1]
    return out


def _object_of(words: list[str]) -> str:
    """'fermentation to beginners' -> 'fermentation'; 'wine and the moon' stays whole."""
    head = _head_phrase([w for w in words if not _adverb(w)], joined=True)
    if not head or " ".join(head).casefold() in _VAGUE:
        return ""
    return " ".join(head)


def _adverb(word: str) -> bool:
    """'secretly', 'simply' (but not 'early', which is an adjective too)."""
    bare = word.strip(",.;:!?").casefold()
    if bare in _PHRASE_END or bare in _DETERMINERS:
        return False  # "to", "in": they end a phrase
    lemmas = _lemmas(bare)
    if not lemmas:
        return word.casefold().endswith("ly")
    return "ADV" in lemmas and not {"ADJ", "NOUN"} & set(lemmas)


def _names_a_subject(word: str) -> bool:
    lowered = word.casefold()
    if lowered in MANNER_WORDS or lowered in _ROLE_QUALIFIERS or not re.search(r"\w", word):
        return False
    lemmas = _lemmas(lowered)
    if not lemmas:  # not in the lexicon: "bonsai", "Viking", "retro"
        return True
    return "NOUN" in lemmas or lowered.endswith("ing")  # "sourdough", "cooking"


def _modifiers(role_words: list[str]) -> str:
    """The words right before a role's head noun that name a subject: 'sourdough' of
    "patient sourdough baker", 'submarine' of "brooding submarine captain"; manner words,
    adjectives and qualifiers ("patient", "medieval", "private") are not subjects."""
    head = _head_phrase(role_words)
    kept: list[str] = []
    for word in reversed(head[:-1]):
        if not _names_a_subject(word):
            break
        kept.insert(0, word)
    if kept and _common_word(kept[0]) and kept[0] == head[0]:
        kept[0] = kept[0].casefold()  # "Retro computing historian": a sentence's capital
    return " ".join(kept)


def description_subjects(description: str, name: str = "") -> tuple[str, ...]:
    """What a description says the persona knows about, in its own words: "a patient
    sourdough baker who explains fermentation to beginners" -> ("sourdough",
    "fermentation"); "Viking skald who tells sagas of the sea" -> ("Viking", "sagas of the
    sea"). Empty when it names no subject ("Patient tutor for teenagers")."""
    found: list[str] = []
    text = _strip_leading_name(description.strip(), name)
    for sentence in (s.strip().rstrip(".!?") for s in _SENTENCES.split(text)):
        words = sentence.split()
        if not words:
            continue
        if words[0].casefold() in _SUBJECTS | {"i'm", "he's", "she's", "they're"}:
            words = words[1:]
            if words and words[0].casefold() in {"is", "was", "am", "are"}:
                words = words[1:]
        for clause in _clauses(" ".join(words)):
            cwords = clause.split()
            if not cwords:
                continue
            kind = _clause_kind(clause)
            verb_at = 0 if kind == "verb" or is_verb_3sg(cwords[0]) else -1
            if kind == "noun" and verb_at < 0:
                found.append(_modifiers(cwords))
                rel = [i for i, w in enumerate(cwords) if w.casefold() in {"who", "that"}]
                if rel:
                    rest = [w for w in cwords[rel[0] + 1 :] if not _adverb(w)]
                    if rest and is_verb_3sg(rest[0]):
                        cwords, verb_at = rest, 0
            if verb_at < 0:
                continue
            verb, rest = cwords[verb_at].casefold(), cwords[verb_at + 1 :]
            if verb in _HELP_VERBS and any(w.casefold() == "with" for w in rest):
                rest = rest[[w.casefold() for w in rest].index("with") + 1 :]
            found.append(_object_of(rest))
    out: list[str] = []
    for subject in found:
        if subject and subject.casefold() not in (o.casefold() for o in out):
            out.append(subject)
    return tuple(out[:3])


@dataclass(frozen=True)
class Brief:
    kind: str  # CHARACTER, EXPERT or ASSISTANT
    name: str
    identity: tuple[str, ...]  # the Core Identity's first sentences, written as they stand
    domain_lead: str  # the Knowledge Domain's first words ("You know a great deal about ...")
    directives: Directives = field(default_factory=Directives)
    hint_words: frozenset[str] = frozenset()  # content words of the hints
    may_be_ai: bool = False  # the user made it an AI or an assistant
    hint_texts: tuple[str, ...] = ()  # the texts the user typed about the topic

    @property
    def topic_nouns(self) -> tuple[str, ...]:
        """The hint words that name things (nouns, or words the lexicon does not know, such
        as "ZFS"): what a Knowledge Domain should be about. "patient" and "explains" are
        hint words too, but not topics. An acronym keeps the user's spelling: nudged toward
        "zfs", the model wrote "you're a Zfs"."""
        acronyms = {
            w.casefold(): w
            for text in self.hint_texts
            for w in re.findall(r"\b[A-Z][A-Z0-9]+s?\b", text)
        }
        nouns = (w for w in self.hint_words if set(_lemmas(w)) <= {"NOUN"})
        return tuple(sorted(acronyms.get(w, w) for w in nouns))

    @property
    def manner(self) -> tuple[str, ...]:
        """Up to two words of the hints that say how the persona behaves ("patient",
        "grumpy"), in the order the user wrote them: the tone its Speaking Style starts
        from when no tone was chosen. A tiny model left to pick one invents "a
        tongue-dolphin way"."""
        found: list[str] = []
        for text in self.hint_texts:
            for word in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)?", text):
                word = word.casefold()
                if word in MANNER_WORDS and word not in found:
                    found.append(word)
        return tuple(found[:2])

    @property
    def role(self) -> str:
        """What the persona is, in a few words, from its first identity sentence: "a patient
        sourdough baker" of "You are Rosa, a patient sourdough baker who explains ...";
        empty when the user gave nothing to go on."""
        first = self.identity[0] if self.identity else ""
        prefix = f"You are {self.name}, "
        if not first.startswith(prefix):
            return ""
        role = first[len(prefix) :].rstrip(".")
        return _ROLE_END.split(role, maxsplit=1)[0].strip()

    @property
    def introduction(self) -> str:
        """How the persona says who it is: "I'm Rosa, a patient sourdough baker." """
        return f"I'm {self.name}, {self.role}." if self.role else f"I'm {self.name}."

    @property
    def first_name(self) -> str:
        return self.name.split(" ")[0]


def kind_of(request: PersonaGenerationRequest) -> str:
    if request.generation_type == SUBFORUM_EXPERT:
        return EXPERT
    if request.generation_type == FROM_NAME_AND_DESCRIPTION:
        return CHARACTER
    return ASSISTANT


def hint_texts(request: PersonaGenerationRequest) -> tuple[str, ...]:
    """What the user typed about the persona's topic (not its name)."""
    keys = ("description_hint", "subforum_name", "subforum_description", "additional_directives")
    return tuple(request.detail(k) for k in keys if request.detail(k))


def build_brief(request: PersonaGenerationRequest, name: str) -> Brief:
    kind = kind_of(request)
    description = request.detail("description_hint")
    texts = hint_texts(request)
    directives = split_directives(request.detail("additional_directives"))
    may_be_ai = kind == ASSISTANT or any(_AI_WORDS.search(t) for t in texts)
    if kind == EXPERT:
        subforum = request.detail("subforum_name")
        topic = _topic_phrase(request.detail("subforum_description"))
        identity = [f"You are {name}, the resident expert of the {subforum} subforum."]
        if description:
            identity += identity_sentences(name, description)[1:] or []
        if topic:
            identity.append(f"Members come to you with questions about {topic}.")
        elif request.detail("subforum_description"):
            identity.append(_sentence(request.detail("subforum_description")))
        subject = topic or subforum
        if directives.focus:
            domain = f"You know a great deal about {subject}, especially {directives.focus[0]}"
        else:
            domain = f"You know a great deal about {subject}"
        # The model writes the rest of the sentence ("and how to ...") and what follows.
        return Brief(
            kind,
            name,
            _with_name_line(identity, name),
            domain,
            directives,
            frozenset(topic_words(texts)),
            may_be_ai,
            texts,
        )
    if kind == CHARACTER:
        identity = identity_sentences(name, description) if description else [f"You are {name}."]
    else:
        identity = [f"You are {name}, a general-purpose assistant."]
        if description:
            more = identity_sentences(name, description)
            # "Patient tutor for teenagers" -> "You are Milo, a patient tutor for teenagers."
            identity = more if more[0] != f"You are {name}." else [identity[0], *more[1:]]
    # The description's own subjects open the Knowledge Domain where it names some; left
    # to itself the model wrote "about the world" for a submarine captain.
    subjects = description_subjects(description, name) if description else ()
    if kind == CHARACTER and subjects:
        # "A grumpy medieval blacksmith who secretly writes poetry" names poetry as its
        # subject, not the smithing: the trade goes first ("a blacksmith's work and poetry").
        trade = _trade(identity[0] if identity else "", name, subjects)
        subjects = (trade, *subjects) if trade else subjects
    domain = "You know a great deal about"
    if directives.focus:
        domain = f"You know a great deal about {directives.focus[0]}"
    elif subjects:
        domain = f"You know a great deal about {_join(list(subjects))}"
    return Brief(
        kind,
        name,
        _with_name_line(identity, name),
        domain,
        directives,
        frozenset(topic_words(texts)),
        may_be_ai,
        texts,
    )


def _trade(first_sentence: str, name: str, subjects: Sequence[str]) -> str:
    """ "a blacksmith's work" for "You are Hawise, a grumpy medieval blacksmith who ...":
    the role's head noun as a subject, when none of the subjects is part of the role
    ("a patient sourdough baker" already says sourdough); "" when there is no role."""
    prefix = f"You are {name}, "
    if not first_sentence.startswith(prefix):
        return ""
    role = _ROLE_END.split(first_sentence[len(prefix) :].rstrip("."), maxsplit=1)[0]
    role = re.split(r" (?:and|or|for|in|on|at|of|from|turned|to)\b", role, maxsplit=1)[0]
    words = role.split()
    if len(words) < 2 or words[0].casefold() not in {"a", "an"}:
        return ""
    head = words[-1]
    if not re.fullmatch(r"[a-z][a-z-]+", head) or not _common_word(head):
        return ""
    role_words = {w.casefold() for w in words}
    if any(word.casefold() in role_words for s in subjects for word in s.split()):
        return ""
    return f"a {head}'s work"


def _with_name_line(identity: list[str], name: str) -> tuple[str, ...]:
    """The identity with "Your name is NAME." after its first sentence. Redundant to a
    reader, but with it the default model gives its name to "Who are you?" and "What is
    your name?" in 0.90 of answers instead of 0.82 (the same 34 stored personas re-checked
    with and without the line; putting it first, or asking to "always introduce yourself",
    did worse)."""
    return (identity[0], f"Your name is {name}.", *identity[1:])


def mentions_ai(text: str) -> bool:
    return bool(_AI_WORDS.search(text))


def words_in(text: str, words: Iterable[str]) -> int:
    """How many of ``words`` (hint words) ``text`` mentions, by stem: "fermenting" counts
    for "fermentation", "backup" for "backups"."""
    lowered = text.casefold()
    return sum(1 for w in words if stem(w) in lowered)


def stem(word: str) -> str:
    """A crude stem for matching mentions: at most the first six letters, less a plural."""
    word = word.casefold()
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:6] if len(word) > 6 else word
