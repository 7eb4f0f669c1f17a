"""Names for personas: chosen for the ones given none, and judged wherever one comes from.

A 135M model asked to "choose a fitting name" writes the subforum's name, a sentence
fragment or "The AI assistant". Names are therefore chosen here, before any model runs, from
name lists made for the purpose: Faker's per-culture lists (first and last names of dozens of
locales) and, for what Faker has no list for (medieval, Norse, Victorian, fantasy, space, a
ship's computer, a short assistant name), the pools in ``resources/names.json``. Which list
is used follows cue words in the user's hints ("a grumpy medieval blacksmith" -> medieval
names, "a bonsai master in Kyoto" -> Japanese names), and so does the gender where the hints
say it ("she", "grandmother").

A name the user gave (a name hint or an exact override) is never replaced or altered: Ω-7,
Søren and 李白 are used as written.

``name_problems`` is the rule book for names a writer would not keep; the benchmark counts
them and the HTTP path uses it to decide whether the model's own name can stay.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from persona_studio import paths

CHARACTER = "character"
EXPERT = "expert"
ASSISTANT = "assistant"

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_faker_lock = threading.Lock()


@dataclass(frozen=True)
class NameSource:
    """Where candidates come from: a Faker locale, or a pool of ``resources/names.json``."""

    kind: str  # "locale" or "pool"
    key: str  # the locale ("ja_JP") or the pool's name ("medieval")
    romanized: bool = False
    native_order: bool = False  # the family name first, as the locale's own name() writes it


@cache
def _name_data() -> dict[str, Any]:
    path = paths.resources_dir() / "names.json"
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def _first_names() -> frozenset[str]:
    """First names of Faker's English-speaking locales and of our own pools, case-folded."""
    import importlib
    import pkgutil

    import faker.providers.person as person

    found: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        if not module.name.startswith("en"):
            continue
        provider = importlib.import_module(f"{person.__name__}.{module.name}").Provider
        for attribute in ("first_names", "first_names_female", "first_names_male"):
            found.update(getattr(provider, attribute, ()))
    for pool in _name_data()["pools"].values():
        for key in ("given", "female", "male"):
            found.update(pool.get(key, ()))
    return frozenset(n.casefold() for n in found)


def is_first_name(word: str) -> bool:
    """A first name people are given in English ("Dawn", "Grace", "Nova") or one of our
    pools' ("Einar"); "Warbler" and "Guide" are not."""
    return word.casefold() in _first_names()


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def pick_source(hint_text: str, kind: str) -> NameSource:
    """The name list that fits the hints best: the locale or pool whose cue words appear
    most often (ties go to the cue that appears first); assistants always get short names."""
    data = _name_data()
    if kind == ASSISTANT:
        return NameSource("pool", ASSISTANT)
    words = _words(hint_text)
    text = " ".join(words)
    best: tuple[int, int, NameSource] | None = None
    candidates: list[tuple[list[str], NameSource]] = [
        (
            entry["cues"],
            NameSource(
                "locale",
                entry["locale"],
                bool(entry.get("romanized")),
                bool(entry.get("native_order")),
            ),
        )
        for entry in data["locales"]
    ]
    candidates += [
        (pool["cues"], NameSource("pool", name))
        for name, pool in data["pools"].items()
        if pool.get("cues")
    ]
    for cues, source in candidates:
        hits = 0
        first = len(text) + 1
        for cue in cues:
            for match in re.finditer(rf"(?<!\w){re.escape(cue)}(?!\w)", text):
                hits += 1
                first = min(first, match.start())
        if hits and (best is None or (hits, -first) > (best[0], best[1])):
            best = (hits, -first, source)
    if best is not None:
        return best[2]
    return NameSource("locale", "")  # the default English-speaking locales


def guess_gender(hint_text: str) -> str | None:
    """'female', 'male', or None when the hints do not say (or say both)."""
    data = _name_data()
    words = set(_words(hint_text))
    female = bool(words & set(data["female_cues"]))
    male = bool(words & set(data["male_cues"]))
    if female == male:
        return None
    return "female" if female else "male"


def _faker(locale: str):
    from faker import Faker  # imported on first use: the window starts without it

    # Only the name provider: Faker's default set loads two hundred modules we never use.
    return Faker(locale, providers=["faker.providers.person"])


@cache
def _faker_cached(locale: str):
    return _faker(locale)


def _locale_candidate(source: NameSource, gender: str | None, rng: random.Random) -> str:
    data = _name_data()
    locale = source.key or rng.choice(data["default_locales"])
    with _faker_lock:  # Faker instances keep their own random state
        fake = _faker_cached(locale)
        fake.seed_instance(rng.getrandbits(32))
        if source.native_order:
            full = {"female": fake.name_female, "male": fake.name_male}.get(gender or "", fake.name)
            return full()
        if source.romanized:
            first = {
                "female": getattr(fake, "first_romanized_name_female", None),
                "male": getattr(fake, "first_romanized_name_male", None),
            }.get(gender or "") or fake.first_romanized_name
            return f"{first()} {fake.last_romanized_name()}"
        first = {"female": fake.first_name_female, "male": fake.first_name_male}.get(
            gender or "", fake.first_name
        )
        return f"{first()} {fake.last_name()}"


def _pool_candidate(source: NameSource, gender: str | None, rng: random.Random) -> str:
    pool = _name_data()["pools"][source.key]
    if "given" in pool:
        given = pool["given"]
    elif gender in ("female", "male"):
        given = pool[gender]
    else:
        given = pool["female"] + pool["male"]
    first = rng.choice(given)
    surnames = pool.get("surnames") or []
    return f"{first} {rng.choice(surnames)}" if surnames else first


def candidates(hint_text: str, kind: str, rng: random.Random, count: int = 12) -> Iterable[str]:
    """Up to ``count`` candidate names that fit the hints (duplicates possible)."""
    source = pick_source(hint_text, kind)
    gender = guess_gender(hint_text)
    make = _pool_candidate if source.kind == "pool" else _locale_candidate
    for _ in range(count):
        name = clean_person_name(make(source, gender, rng))
        if name:
            yield name


def clean_person_name(name: str) -> str:
    """Faker's lists hold a few names with titles or odd spacing; keep a plain name."""
    name = re.sub(r"\s+", " ", name).strip()
    name = re.sub(r"^(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+", "", name)
    return name


def _key(name: str) -> str:
    return re.sub(r"\s+", " ", name).strip().casefold()


def choose_name(
    hint_text: str,
    kind: str,
    *,
    taken: Collection[str] = (),
    rng: random.Random | None = None,
) -> str:
    """A fresh name for a persona of ``kind`` fitting ``hint_text``, unlike any in ``taken``
    (whole names, and for people also their first names, so a file does not fill up with
    three Danas)."""
    rng = rng or random.Random()
    taken_keys = {_key(t) for t in taken if t}
    taken_firsts = {k.split(" ")[0] for k in taken_keys}
    fallback = ""
    for attempt in range(6):
        for name in candidates(hint_text, kind, rng, count=12 if attempt < 5 else 40):
            key = _key(name)
            if key in taken_keys or name_problems(name, hints=[hint_text]):
                continue
            if key.split(" ")[0] not in taken_firsts:
                return name
            fallback = fallback or name
        if kind == ASSISTANT and attempt >= 1:
            # Few short names: widen to every English first name before reusing one.
            kind = CHARACTER
            hint_text = ""
    if fallback:
        return fallback
    # Every candidate is taken (a file with thousands of personas): number the last one.
    base = next(iter(candidates(hint_text, kind, rng, count=1)), "Alex Morgan")
    number = 2
    while _key(f"{base} {number}") in taken_keys:
        number += 1
    return f"{base} {number}"


def rename_in(text: str, old: str, new: str, *, keep: Collection[str] = ()) -> str:
    """``text`` with the chosen name ``old`` made ``new``: the whole name, and its first
    name where it stands alone ("I'm Jeremy"), as whole words only ("Jeremy's" becomes
    "Ryan's", "Jeremyah" stays). A first name that is also a word of the user's hints
    (``keep``, casefolded), as Fern in a persona about ferns, is left where it stands
    alone: there it may be the word, not the name."""
    old, new = old.strip(), new.strip()
    if not old or old == new:
        return text
    old_first, new_first = old.split(" ")[0], new.split(" ")[0]
    keep_first = (
        old_first == old
        or len(old_first) < 2
        or old_first.casefold() in {k.casefold() for k in keep}
    )
    alternatives = [re.escape(old)] + ([] if keep_first else [re.escape(old_first)])
    # The whole name is tried first at each place, so "Jeremy Smith" is never read as
    # "Jeremy" followed by a stray "Smith".
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")
    return pattern.sub(lambda m: new if m.group(0) == old else new_first, text)


# -- judging names ----------------------------------------------------------------------------

# Role words: a persona called "Rust Programming Expert" or "AI-Bella Assistant" has a
# label, not a name.
_GENERIC = {
    "ai",
    "assistant",
    "bot",
    "chatbot",
    "expert",
    "persona",
    "character",
    "helper",
    "advisor",
    "adviser",
    "specialist",
    "enthusiast",
    "model",
    "system",
    "community",
    "subforum",
    "forum",
    "user",
    "name",
    "unknown",
    "generated",
    "general",
    "general-purpose",
}
_FUNCTION_WORDS = {
    "a",
    "an",
    "the",
    "and",
    "or",
    "of",
    "to",
    "with",
    "for",
    "in",
    "on",
    "at",
    "by",
    "is",
    "are",
    "was",
    "be",
    "who",
    "that",
    "which",
    "my",
    "your",
    "our",
    "its",
    "as",
    "from",
}
# Lower-case words that belong in names ("Leonardo da Vinci", "Godric of Ashby").
_NAME_PARTICLES = {
    "al",
    "bin",
    "bint",
    "da",
    "das",
    "de",
    "del",
    "della",
    "der",
    "di",
    "do",
    "dos",
    "du",
    "el",
    "ibn",
    "la",
    "le",
    "of",
    "san",
    "st",
    "van",
    "von",
    "y",
    "zu",
}
_SENTENCE_START = re.compile(
    r"^(?:the|a|an|my|your|our|this|that|these|i|i'm|i am|you|you're|we|it|it's|name|"
    r"persona|hello|hi|welcome)\b",
    re.IGNORECASE,
)
# Words of four letters or more that say nothing about a topic: the persona check counts
# an answer as in the domain when it holds a hint word, so "loves" (of "a retired nurse
# who runs a cat shelter and loves crosswords") made "I have a deep love for people" a
# domain hit, and "will" or "just" would match almost any answer.
_STOP = {
    "about", "above", "after", "again", "also", "among", "and", "because", "been",
    "before", "being", "below", "between", "both", "could", "does", "doing", "down",
    "during", "each", "enjoys", "from", "further", "have", "having", "here", "hers",
    "into", "itself", "just", "likes", "loves", "more", "most", "much", "must", "once",
    "only", "other", "over", "same", "should", "some", "such", "than", "that", "their",
    "them", "then", "there", "these", "they", "this", "those", "through", "under", "until",
    "very", "were", "what", "when", "where", "which", "while", "whom", "will", "with",
    "would", "your",
}  # fmt: skip


def topic_words(texts: Iterable[str]) -> set[str]:
    """Content words of the hints: four letters or more, common words left out, and
    acronyms of any length ("ZFS", "NAS"), which often name the topic itself."""
    found: set[str] = set()
    for text in texts:
        for word in _WORD.findall(text):
            lowered = word.casefold()
            if (len(word) >= 4 and lowered not in _STOP) or (len(word) >= 2 and word.isupper()):
                found.add(lowered)
    return found


def name_problems(name: str, *, subforum_name: str = "", hints: Iterable[str] = ()) -> list[str]:
    """Why a writer would not keep ``name`` as a persona's name; empty when it is fine.

    The rules (issue 11): not empty, no ``{{...}}`` leftover, not the subforum's own name
    nor built on it, not a sentence or a fragment of one ("The ...", "My name is ...",
    "Home Lab is a community", "... and"), not a label ("Rust Programming Expert",
    "Personal Finance": role words, or the topic words of the hints), at most five words.
    ``hints``: the texts the user typed about the topic (not a name hint).
    """
    text = re.sub(r"\s+", " ", name or "").strip()
    if not text or not re.search(r"\w", text):
        return ["empty"]
    problems: list[str] = []
    if "{{" in text or "}}" in text:
        problems.append("template placeholder")
    words = text.split(" ")
    lowered = [w.casefold().strip(".,;:!?\"'()") for w in words]
    if subforum_name.strip():
        sub = _key(subforum_name)
        if _key(text) == sub or sub in _key(text):
            problems.append("the subforum's own name")
    if _SENTENCE_START.match(text):
        problems.append("starts like a sentence")
    if any(
        w[:1].islower() and w.strip(".,;:!?\"'()").casefold() not in _NAME_PARTICLES
        for w in words[1:]
    ):
        problems.append("reads like a sentence")
    if lowered[-1] in _FUNCTION_WORDS or text.endswith((",", ":", ";", "-")):
        problems.append("ends on a fragment")
    if len(words) > 5:
        problems.append("too long for a name")
    parts = {p for w in lowered for p in re.split(r"[-_]", w) if p}
    if parts & _GENERIC:
        problems.append("a role, not a name")
    elif parts & topic_words(hints):
        problems.append("made of the topic's words")
    return problems
