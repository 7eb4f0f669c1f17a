"""What a small model writes that a writer would strike out, struck out.

Each section is cut into units (sentences of prose, items of a list) and a unit is dropped
when it:

- repeats a unit already in the persona, word for word or nearly (small models loop: "no
  matter how big or small" four times);
- loops inside itself ("I'm a baker, and I'm a baker, and I'm a baker") - cut at the loop;
- ends on a fragment ("- Your team:", "... and the");
- makes a character an AI or an assistant when the user did not ("You are a creative AI
  assistant") - the persona would teach the model to say so;
- forbids the persona its own expertise ("Never discuss anything related to your
  expertise", "Never talk about sourdough" for a sourdough baker);
- names the persona something else ("My name is Elena") - the name is replaced;
- carries a template placeholder the user did not type.

Units the pipeline wrote itself (the user's words: identity, directives) are never dropped;
they are registered as seen, so the model's copies of them are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from persona_studio.engine.brief import is_common_word, stem

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_AI_SELF = re.compile(
    r"\b(?:ai|a\.i|artificial intelligence|(?:virtual |digital |ai |creative )?assistant|"
    r"language model|llm|chatbot|bot)s?\b",
    re.IGNORECASE,
)
_FRAGMENT_END = re.compile(
    r"(?:[:,;\-–—(]|\b(?:and|or|but|the|a|an|to|of|with|for|your|my|our|their|in|on|at|by|"
    r"as|from|that|which|who|is|are|be|like|such|including|e\.g|i\.e))\s*$",
    re.IGNORECASE,
)
_OWN_EXPERTISE = re.compile(
    r"\b(?:your|my)\s+(?:own\s+)?(?:expertise|knowledge|field|specialty|speciality|domain|"
    r"area of expertise|work|job|craft|passion|subject|topic|trade|profession)s?\b",
    re.IGNORECASE,
)
_TALK_VERBS = re.compile(
    r"\b(?:discuss|talk|tell|speak|say|write|cover|mention|answer|share|explain|teach|help|"
    r"advise|give advice|offer advice|bring up|engage)\w*\b",
    re.IGNORECASE,
)
# Words that make a prohibition about a part of the topic a real rule ("Never give unsafe
# advice about ZFS") rather than a ban on the topic itself.
_QUALIFIERS = re.compile(
    r"\b(?:unsafe|dangerous|illegal|harmful|false|misleading|wrong|incorrect|unverified|"
    r"untested|specific|personal|private|medical|legal|guarantee\w*|rude|offensive|"
    r"outdated|risky|reckless|made[- ]up|invented|fake|without)\b",
    re.IGNORECASE,
)
_OTHER_NAME = re.compile(
    r"\b(my name is|my name's|call me|known as|named|i am called|i'm called)\s+"
    r"([A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)?)"
)
# "You are Einar, ..." / "I'm Einar." for a persona called Egil: a name, not a word.
_OTHER_SELF = re.compile(r"(?<![\w'’])(You are|You're|I am|I'm) ([A-Z][a-z'’-]+)(?=[,.!])")
_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")
# A rule about answering "who are you" / "what is your name" ("When asked your name, say
# \"I'm a detective.\"") whose answer leaves the name out: it contradicts the introduction.
_ABOUT_NAME = re.compile(
    r"\b(?:your|their|his|her|my) (?:own )?name\b|\bwho (?:you|they) are\b", re.I
)
# How a rule about the persona's name tells it to answer otherwise, without quoting an
# answer: "respond with a smile", "simply shrug", "change the subject", "keep it a secret".
_EVADES = re.compile(
    r"\b(?:respond|answer|reply|react)(?:s|ed|ing)?\s+(?:only\s+|simply\s+|just\s+)?(?:with|by)\b"
    r"|\b(?:smile|shrug|nod|laugh|wink|ignore|deflect|dodge)s?\b|\bchange the subject\b"
    r"|\b(?:a|your) secret\b",
    re.I,
)
# ... or that names someone else, unquoted: "simply state that it is Πλαμπη" (for Ω-7).
_STATES_A_NAME = re.compile(
    r"\b(?:[Ss]ay|[Ss]tate|[Aa]nswer|[Rr]eply|[Rr]espond|[Tt]ell \w+)(?:s|ed)?(?: that)?\s+"
    r"(?:it is|it['’]s|you are|you['’]re|your name is)\s+([^\W\d_a-z][\w'’-]*)"
)
# A rule for being asked what the persona knows whose whole answer is a gesture: "When they
# ask about your expertise, answer with a smile" has the model dodge the very question its
# domain is for. ("... respond with a smile and explain what it is" answers it.)
_ABOUT_EXPERTISE = re.compile(
    r"\bask(?:s|ed)?\b[^.]*?\babout (?:your|their) (?:own )?(?:expertise|knowledge|skills?|"
    r"work|job|craft|trade|specialty|speciality|field|background)\b|\bwhat (?:you|they) know\b",
    re.I,
)
_ONLY_A_GESTURE = re.compile(
    r"(?:\b(?:with|by) (?:a|an) (?:[\w-]+ )?|\b(?:just|simply|only) )"
    r"(?:smile|nod|shrug|laugh|wink)s?\W*$|\bchange the subject\W*$",
    re.I,
)
# A question in a section written to "you" ("How has your day been?") is the model chatting.
_QUESTION = re.compile(r"\?\s*$")
# The model repeating what it was asked to write: "describe your speaking style".
_ECHO = re.compile(
    r"\b(?:describe|list|write|give)\s+(?:your|the persona'?s?|its)\s+(?:speaking style|"
    r"traits|personality traits|knowledge|expertise|core identity|example phrases|"
    r"interaction guidelines|forbidden)",
    re.IGNORECASE,
)
# The model starting a heading of its own inside a section: "- #Example Phrases: ...",
# "**# Name: ChefLumi**" (a hashtag such as "#ZFS" has no colon after it).
_HEADING_MARKUP = re.compile(r"#+\s*[A-Z][\w &']{0,40}:")
# Chat transcript residue: "Chat: (chat_character) Hannah Sears: Hello!".
_TRANSCRIPT = re.compile(
    r"(?:^|\s)(?:chat|user|assistant|system|bot|human|narrator|char)\s*:|\([a-z]+_[a-z_]+\)",
    re.IGNORECASE,
)
# Prohibitions of what any persona must do: "Never tell the truth", "Don't help".
_FORBIDS_VIRTUE = re.compile(
    r"^(?:never|don'?t|do not|avoid)\s+(?:(?:ever|always)\s+)?(?:tell(?:ing)? the truth|"
    r"be(?:ing)? (?:honest|kind|polite|helpful|respectful|truthful)|help(?:ing)?|"
    r"listen(?:ing)?|answer(?:ing)?)\b",
    re.IGNORECASE,
)
# A prohibition that forbids the persona to say who it is: "Never talk about yourself",
# "Never tell people that you are a master", "Never use your own name". It undoes
# the introduction and the identity. ("Never brag about your skills" is a real rule: stays.)
_FORBIDS_SELF = re.compile(
    r"^(?:never|don'?t|do not|avoid)\b.*?"
    r"\b(?:talk|speak|tell|say|share|mention|reveal|discuss|introduce|use|give|state)\w*\b.*?"
    r"(?:\byourself\b"
    r"|\byour (?:own |real |true )?(?:name|identity|skills?|talents?|abilities)\b"
    r"|\b(?:who|what) you are\b"
    # "that you are a master", not "advice that you are unsure of" nor "that you are an AI"
    r"|\bthat you are (?:a|an|the)\s+(?!(?:ai|bot|robot|machine|program|chatbot|assistant|"
    r"computer|language model)\b))",
    re.IGNORECASE,
)
# "poetry and poetry": the model ending the pipeline's "You know a great deal about poetry"
# with the same word. Idioms that double a word on purpose stay ("more and more").
_DOUBLED = re.compile(r"\b([^\W\d_][\w'-]{3,}(?: [^\W\d_][\w'-]+)?) (?:and|or) \1\b", re.I)
_DOUBLED_OK = {"more", "again", "over", "through", "round", "around", "less", "time", "little"}


def _collapse_doubled(unit: str) -> str:
    def fix(match: re.Match[str]) -> str:
        word = match.group(1)
        if word.casefold() in _DOUBLED_OK or word.casefold().endswith("er"):
            return match.group(0)
        return word

    return _DOUBLED.sub(fix, unit)


_PROHIBITION = re.compile(
    r"^(?:never|don'?t|do not|avoid|no(?!\s+(?:need|problem|worries|matter|doubt)\b)|not|"
    r"refuse|stop|under no|without)\b",
    re.IGNORECASE,
)
# The words of a prohibition that say only that it is one: "Never, never." forbids nothing.
_RULE_ONLY_WORDS = frozenset(
    {"never", "ever", "don't", "dont", "do", "not", "no", "avoid", "always", "refuse", "stop"}
    | {"under", "without", "anything", "something", "nothing", "everything", "thing", "things"}
    | {"that", "this", "these", "those"}
)
# "Never tell jokes about your hobby, but you're a great bartender": the rule ends where the
# model turns to musing (a reason, "because ...", stays).
_RULE_END = re.compile(r",?\s+(?:but|though|although|however|yet)\s+(?=\S)")
# An example phrase is a quotation in the persona's own voice, not "You are ..." about it.
_PHRASE = re.compile(r"^[\"“'‘](?!\s*you(?:'re| are)\b)", re.IGNORECASE)
# The persona is written to "you"; "I can help you" outside a quotation is the model
# slipping into the persona's voice (or its own).
_FIRST_PERSON = re.compile(r"(?<![\w'’])(?:I|I'm|I've|I'll|I'd|me|my|mine|myself)(?![\w'’])")
_QUOTED = re.compile(r"[\"“][^\"”]*[\"”]")
FORBIDDEN = "forbidden"
GUIDELINES = "guidelines"
PHRASES = "phrases"


def _before_heading_markup(unit: str) -> str:
    """``unit`` up to a heading the model began inside it (outside quotations): what came
    before it stands on its own, what follows belongs to no section."""
    masked = _QUOTED.sub(lambda m: " " * len(m.group()), unit)
    found = _HEADING_MARKUP.search(masked)
    if found is None:
        return unit
    return unit[: found.start()].rstrip(" *_")


def _first_sentence(unit: str) -> str:
    """'- Never discuss security. You're a very good person, but...' -> '- Never discuss
    security.': one instruction per item; what follows is the model musing."""
    unit = re.split(r"\s+[-–—]\s+(?=[A-Z])", unit, maxsplit=1)[0]  # "... - This is ..."
    parts = _SENTENCE.split(unit, maxsplit=1)
    return parts[0].strip() if parts else unit


def _one_rule(unit: str) -> str:
    """'- Never tell jokes about your hobby, but you're a great bartender.' -> '- Never tell
    jokes about your hobby.': a prohibition, without the turn the model took after it."""
    unit = _first_sentence(unit)
    cut = _RULE_END.split(unit, maxsplit=1)
    if len(cut) == 2 and len(_WORD.findall(_LIST_ITEM.sub("", cut[0]))) >= 3:
        return cut[0].rstrip(" ,;:") + "."
    return unit


def _quoted_only(unit: str) -> str:
    """'- "Let's bake!" - This shows her warmth.' -> '- "Let's bake!"': the quotation
    without the model's commentary after it."""
    match = re.match(r"^(\s*(?:[-*•]|\d+[.)])\s+)?([\"“])(.+?)([\"”])(?=\s|$)", unit)
    if match:
        return unit[: match.end()].rstrip()
    return unit


_SENTENCE = re.compile(r"(?<=[.!?…])[\"”)]*\s+(?=[\"“(]?[A-Z0-9])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def normalize(text: str) -> str:
    return " ".join(w.casefold() for w in _WORD.findall(text))


def _content_words(text: str) -> set[str]:
    return {w for w in normalize(text).split(" ") if len(w) >= 4}


def mentions_ai(text: str) -> bool:
    return bool(_AI_SELF.search(text))


def loop_cut(text: str, n: int = 3) -> str:
    """``text`` up to where a run of ``n`` words starts to repeat itself (a loop): "I'm a
    baker, and I'm a baker, and I'm a baker" -> "I'm a baker,"."""
    words = list(_WORD.finditer(text))
    seen: dict[tuple[str, ...], int] = {}
    for index in range(len(words) - n + 1):
        gram = tuple(w.group().casefold() for w in words[index : index + n])
        if gram in seen and index - seen[gram] >= n:
            return text[: words[index].start()].rstrip()
        seen.setdefault(gram, index)
    return text


def ends_on_fragment(text: str) -> bool:
    stripped = text.strip().strip("\"'”’“‘*_").strip()
    return not stripped or bool(_FRAGMENT_END.search(stripped))


# "I'm not a skald" (a Viking skald), "I'm not a ZFS fan" (a ZFS expert), "you're not a
# brooding voice": the persona saying it is not what the user asked for. A small model
# copies such a line when asked who it is. ("You are no ordinary engineer" stays.)
_SELF_DENIAL = re.compile(
    r"\b(?:i['’]m|i am|you['’]re|you are)\s+(?:not|never)\s+(?:really\s+|even\s+)?"
    r"(?:a|an|the)\s+(?:([\w'’-]+)\s+)?([\w'’-]+)",
    re.IGNORECASE,
)


def denies_topic(unit: str, topic_words: Iterable[str]) -> bool:
    """Whether ``unit`` says the persona is not a thing of its own topic: the noun after
    "not a", or the word before it ("a ZFS fan")."""
    stems = {stem(w) for w in topic_words}
    for found in _SELF_DENIAL.finditer(unit):
        said = [w for w in found.groups() if w]
        if any(stem(w.strip("'’")) in stems for w in said):
            return True
    return False


def forbids_own_expertise(item: str, topic_words: Iterable[str]) -> bool:
    """'Never discuss anything related to your expertise', 'Never talk about sourdough' (for
    a sourdough baker): a prohibition that would silence the persona on its own subject."""
    if _OWN_EXPERTISE.search(item):
        return True
    lowered = item.casefold()
    topical = [w for w in topic_words if stem(w) in lowered]
    if not topical or not _TALK_VERBS.search(item):
        return False
    # "personal" qualifies "personal details", not "personal finance" when that is the
    # subject: judge the qualifiers with the topic's own words taken out.
    rest = lowered
    for word in topical:
        rest = re.sub(rf"\b{re.escape(stem(word))}\w*", " ", rest)
    return not _QUALIFIERS.search(rest)


@dataclass
class Polisher:
    """Polishes one persona's sections in order, remembering what was already said.

    ``name``: the persona's name (other names for it are replaced). ``may_be_ai``: the user
    made it an AI or an assistant, so it may say so. ``topic_words``: the hints' content
    words, for prohibitions against the persona's own subject. ``user_text``: everything the
    user typed, so a ``{{...}}`` they wrote stays.
    """

    name: str
    may_be_ai: bool = False
    topic_words: frozenset[str] = frozenset()
    user_text: str = ""
    seen: list[tuple[str, set[str]]] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (unit, why), for tests

    def remember(self, text: str) -> None:
        """Text the pipeline wrote (the user's words): kept as is, and the model's copies
        of it are dropped later."""
        for unit in split_units(text, prose=True):
            self._add_seen(unit)

    def _add_seen(self, unit: str) -> None:
        key = normalize(_LIST_ITEM.sub("", unit))
        if key:
            self.seen.append((key, _content_words(key)))

    def _repeats(self, unit: str) -> bool:
        key = normalize(_LIST_ITEM.sub("", unit))
        if not key:
            return True
        words = _content_words(key)
        for seen_key, seen_words in self.seen:
            if key == seen_key:
                return True
            # Nearly the same sentence: most of its content words were said together before.
            if len(words) >= 3 and len(words & seen_words) >= 0.75 * len(words):
                return True
            # A long stretch said before: "not only a general-purpose advisor but also an
            # exceptional collaborator" inside another sentence.
            if len(key) >= 40 and (key in seen_key or (len(seen_key) >= 40 and seen_key in key)):
                return True
        return False

    @property
    def _first_name(self) -> str:
        """The name's first word, casefolded: what a phrase or a rule about the name must
        hold, and what a name the model wrote for the persona is compared with."""
        return self.name.split(" ")[0].casefold()

    def polish(self, text: str, *, kind: str, role: str = "", keep: int = 0) -> str:
        """The section ``text`` with the units a writer would strike dropped. ``kind``:
        "prose", "list" or "free". The first ``keep`` units were written by the pipeline
        and always stay. ``role``: FORBIDDEN or PHRASES for the sections with rules of
        their own (a prohibition per item; a quoted phrase per item)."""
        units = split_units(text, prose=kind == "prose")
        kept: list[str] = []
        for index, unit in enumerate(units):
            if index < keep:
                kept.append(unit)
                continue
            if role == PHRASES:
                unit = _quoted_only(unit)
            elif role == GUIDELINES:
                unit = _first_sentence(unit)
            elif role == FORBIDDEN:
                unit = _one_rule(unit)
            unit = _before_heading_markup(unit)
            why = self._why_drop(unit, role=role)
            if why:
                self.dropped.append((unit, why))
                continue
            unit = self._rename(_collapse_doubled(unit))
            kept.append(unit)
            self._add_seen(unit)
        joiner = " " if kind == "prose" else "\n"
        return joiner.join(kept).strip()

    def _why_drop(self, unit: str, *, role: str) -> str:
        body = _LIST_ITEM.sub("", unit).strip()
        if len(_WORD.findall(body)) < 2:
            return "too short"
        if any(p not in self.user_text for p in _PLACEHOLDER.findall(unit)):
            return "placeholder"
        if not self.may_be_ai and mentions_ai(body):
            return "calls the character an AI"
        if loop_cut(body) != body:
            return "loops"
        if ends_on_fragment(body):
            return "fragment"
        if role == FORBIDDEN and not _PROHIBITION.match(body):
            return "not a prohibition"
        if role == FORBIDDEN and not any(
            len(w) >= 3 and w.casefold() not in _RULE_ONLY_WORDS for w in _WORD.findall(body)
        ):
            return "forbids nothing"
        if denies_topic(body, self.topic_words):
            return "says it is not what it is"
        if role == FORBIDDEN and forbids_own_expertise(body, self.topic_words):
            return "forbids its own expertise"
        if role == FORBIDDEN and _FORBIDS_VIRTUE.match(body):
            return "forbids what every persona must do"
        if role == FORBIDDEN and _FORBIDS_SELF.match(body):
            return "forbids it to say who it is"
        if role != PHRASES and self._answers_name_otherwise(body):
            return "tells it to answer its name with something else"
        if role != PHRASES and _ABOUT_EXPERTISE.search(body) and _ONLY_A_GESTURE.search(body):
            return "tells it to dodge questions about what it knows"
        if role not in (PHRASES, GUIDELINES) and _QUESTION.search(_QUOTED.sub("", body)):
            return "a question, not a description"
        if _ECHO.search(body):
            return "echoes the instructions"
        if _TRANSCRIPT.search(body) or re.search(rf"\b{re.escape(self.name)}\s*:", body):
            return "chat transcript"
        if role == PHRASES and not _PHRASE.match(body):
            return "not something the persona says"
        if role == PHRASES and self._unsure_of_name(body):
            return "does not say its name"
        if role != PHRASES and _FIRST_PERSON.search(_QUOTED.sub("", body)):
            return "first person in a section written to 'you'"
        if self._repeats(unit):
            return "repeats"
        return ""

    def _unsure_of_name(self, body: str) -> bool:
        """A phrase about its name that does not give it: "I'm not really sure what my name
        is". ("My name is Elena" gives one, which ``_rename`` makes the persona's.)"""
        if not re.search(r"\bmy (?:own |real |true )?name\b", body, re.I):
            return False
        first = self._first_name
        return first not in body.casefold() and not re.search(r"\bmy name is\s+[A-Z]", body)

    def _answers_name_otherwise(self, body: str) -> bool:
        """A rule for "who are you" / "what is your name" whose answer is not the name: a
        quoted answer without it, an unquoted one that names another ("state that it is
        Πλαμπη"), or one that evades ("respond with a smile", "keep it a secret")."""
        if not _ABOUT_NAME.search(body):
            return False
        quotes = _QUOTED.findall(body)
        first = self._first_name
        if quotes:
            return not any(first in q.casefold() for q in quotes)
        if first in body.casefold():
            return False
        if _STATES_A_NAME.search(body):
            return True
        # "answer with your name and your trade", "tell them your name with a smile": the
        # rule done right names the name as the answer, besides the question.
        answer = _ABOUT_NAME.sub("", body, count=1)
        return bool(_EVADES.search(body)) and not re.search(r"\bname\b", answer, re.I)

    def _rename(self, unit: str) -> str:
        first = self._first_name

        def fix(match: re.Match[str]) -> str:
            said = match.group(2)
            if said.casefold().startswith(first) or self.name.casefold().startswith(
                said.casefold()
            ):
                return match.group(0)
            return f"{match.group(1)} {self.name}"

        unit = _OTHER_NAME.sub(fix, unit)

        def fix_self(match: re.Match[str]) -> str:
            said = match.group(2)
            if said.casefold() == first or self.name.casefold().startswith(said.casefold()):
                return match.group(0)
            if is_common_word(said):  # "You are Brave." is a sentence, not a name
                return match.group(0)
            return f"{match.group(1)} {self.name}"

        return _OTHER_SELF.sub(fix_self, unit)


def is_list(text: str) -> bool:
    """Whether ``text`` holds list items."""
    return any(_LIST_ITEM.match(line) for line in text.splitlines())


def split_units(text: str, *, prose: bool) -> list[str]:
    """Sentences of prose; items of a list (a continuation line joins its item)."""
    text = text.strip()
    if not text:
        return []
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if not prose and is_list(text):
        items: list[str] = []
        for line in lines:
            if _LIST_ITEM.match(line) or not items:
                items.append(line.strip())
            else:
                items[-1] += " " + line.strip()
        return items
    joined = " ".join(line.strip() for line in lines)
    return [s.strip() for s in _SENTENCE.split(joined) if s.strip()]
