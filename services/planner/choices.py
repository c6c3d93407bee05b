"""Answers to "which one is it?": a choice named by its position or by what the list showed.

When a lookup found several items, the reply lists them ("ZGGJQS (UA1658 MIA→MSP on Fri 4 Dec);
DMJ5SB (UA457 ORD→SFO on Wed 25 Nov)") and the session keeps, for one turn, the values offered and
the facts shown of each (:class:`Shown`). The next message may then name one:

- **by position**, said on its own: "the second one", "2nd please", "the last reservation", "#2",
  "number 2", a bare "2" (:func:`chosen_position`). "wait a second" or "I have 2 bags" are no
  answer. A bare numeric ordinal ("the 4th") is a position, never a day of the month.
- **by what the list showed**, said on its own (:func:`read_content`): the value itself or a word
  shown ("the UA457 one", "UA 457"); a time of day shown ("the 21:10 one", "the 9:10 pm one");
  a part of the day, of the time shown ("the morning one", "the evening flight"; morning 5 to 12,
  afternoon 12 to 17, evening 17 to 21, night 21 to 5), of the local time where one was shown (a
  time of day may name either the UTC or the local time shown); the date ("the December one",
  "the one on the 14th", "the 4 Dec one", "Dec 4", "the Friday one", "tomorrow's"); a place, by
  its code or by a name the flow file's ``places`` give it ("the one to Denver", "the MIA one",
  "from Chicago"; "to" and "from" tie it to the destination or the origin, otherwise it may be
  either). Everything said must hold for the choice picked, and exactly one choice may fit.
- **by assent**, when a single choice was offered (an action's only option is still offered, never
  taken on its own): "yes", "that one", "ok book it", "the later one is fine" name it
  (:func:`assents`). With several offered, such an answer fits all of them and is asked again.

An answer that names none or several of the choices, or whose words cannot all be read while it is
plainly shaped as an answer ("the blue one", "the one to Paris", "the <PERSON_1> one" where the
pii service masked a word), is :attr:`Choice.again`: the flow asks again, never guesses. A message
that is no such answer at all ("what's the weather in Denver?") is ``None``: it is served as any
other message. Text is the masked text: a masked word is never read as a fact.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from services.planner.dates import ORDINAL_DAY, WEEKDAYS, day_number
from services.tool_broker.dates import MONTHS

#: shown facts with a meaning of their own; any other kind is a word matched as written
DATE, TIME, ORIGIN, DESTINATION = "date", "time", "origin", "destination"
#: a time of day shown as the place's local time, beside ``time``: an answer may name either
LOCAL = "local"
CLOCKS = (TIME, LOCAL)
PLACES = (ORIGIN, DESTINATION)

# Words that open an answer: "it's the second one", "I mean the December one", "book the 12:40"
# ("book DL2207" names a flight, which the flow's own pattern reads, offered or not).
_LEAD_IN = (
    r"(?:(?:it['’]?s|it is|that['’]?s|i['’]?ll take|i['’]?d like|i want|make it|"
    r"(?:let['’]?s )?go with|i mean|(?:please\s+)?(?:book(?: me on)?|take|pick|choose)(?=\s+the\b))"
    r"\s+)?"
)
# "..., please", "... is fine": after the answer, never part of it.
_COURTESY = (
    r"(?:[^\w<>]+(?:(?:is|would be)\s+)?(?:please|thanks|thank you|fine|good|great|perfect))?"
)

# A position named on its own, as the answer to "which one is it?": "the second one", "2nd
# please", "the last reservation", "#2", "number 2", a bare "2". Anchored to the whole message, so
# that an ordinal or a number inside another sentence ("wait a second", "2 bags") is no choice.
_POSITION = re.compile(
    r"^\W*" + _LEAD_IN + r"(?:the\s+)?"
    r"(?:(?P<word>first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|last|"
    r"1st|2nd|3rd|[4-9]th)(?:\s+(?:one|reservation|booking|trip|flight|option))?"
    r"|(?:(?:number|no\.?|option|#)\s*)?(?P<number>[1-9]))" + _COURTESY + r"\W*$",
    re.IGNORECASE,
)
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")

# The words of an answer between its lead-in and its courtesy; a placeholder's brackets are words.
_ANSWER = re.compile(
    r"^[^\w<]*" + _LEAD_IN + r"(?P<body>.*?)" + _COURTESY + r"[^\w>]*$", re.I | re.S
)
# "UA 457", "UA-457" as written in capitals (lower case "on 14" is two words): one word.
_SPACED_CODE = re.compile(r"\b([A-Z]{2}|[A-Z][0-9]|[0-9][A-Z])[ -]([0-9]{1,4})\b")
_TOKEN = re.compile(
    r"<[A-Z][A-Z0-9_]*_[0-9]+>|[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{1,2}:[0-9]{2}|[^\W_]+(?:'[^\W_]+)*"
)
# "21:10", "9:10pm", "9pm" (a meridiem written apart, "9:10 pm", is read with the next word).
_CLOCK = re.compile(r"(?P<hour>[0-9]{1,2})(?::(?P<minute>[0-5][0-9]))?(?P<ampm>[ap]m)?")
# Words that name the only choice offered, said on their own: "yes", "that one", "ok book it".
_ASSENT_WORDS = frozenset("yes yeah yep yup sure ok okay alright".split())
_COURTESY_WORDS = frozenset("please thanks thank you then fine great perfect good".split())
_ASSENT_PHRASES = frozenset(
    (
        "",
        "that",
        "that one",
        "this one",
        "that's the one",
        "that's it",
        "that one works",
        "that works",
        "book it",
        "book that",
        "book that one",
        "book me on it",
        "book me on that one",
        "take it",
        "i'll take it",
        "i'll take that one",
        "go ahead",
        "do it",
        "sounds good",
        "let's do it",
        "let's do that",
    )
)
_MOVES_ON = re.compile(
    r"(?i)\b(?:never\s?mind|forget (?:it|that|about (?:it|that))|scratch that|cancel that|"
    r"instead|rather)\b"
)
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*_[0-9]+>")
_CODE_SHAPED = re.compile(r"(?=[a-z]*[0-9])(?=[0-9]*[a-z])[a-z0-9]{3,8}")

# Words an answer is made of besides its facts ("the one on the 14th", "no, the Denver flight").
_FILLERS = frozenset(
    "the one ones flight flights reservation reservations booking bookings trip trips on in of "
    "for at my that this it it's its is one's flight's trip's leaving departing going flying "
    "and a an no yes yeah oh ok okay sorry um uh well please thanks utc".split()
)
#: parts of the day, as hours [from, to) of the time shown: "the evening one"
_PARTS = {"morning": (5, 12), "afternoon": (12, 17), "evening": (17, 21), "night": (21, 5)}
_NOUNS = frozenset("one flight reservation booking trip".split())
_PREPOSITIONS = frozenset("to from on in for at of".split())
_DIRECTIONS = {"to": DESTINATION, "from": ORIGIN}


@dataclass(frozen=True)
class Shown:
    """One choice a reply listed: the value it stands for and the facts shown of it
    (``{"flight": "UA457", "date": "2026-11-25", "origin": "ORD", "destination": "SFO"}``)."""

    value: str
    facts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Choice:
    """How an answer reads against the listed choices: the one it picks (``index``), or
    ``again``: it answers, but names none or several of them (``fits`` says which), or cannot be
    read. Either way the flow waits for the slot."""

    index: int | None = None
    again: bool = False
    fits: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Fact:
    """One thing an answer says: a date part, a place (with its direction) or a word."""

    kind: str  # "month" | "day" | "weekday" | "date" | "time" | "hour" | "part" | "place" | "word"
    value: str
    direction: str = ""  # for a place: ORIGIN, DESTINATION or "" (either)

    def holds(self, choice: Shown) -> bool:
        facts = choice.facts
        if self.kind in ("time", "hour"):
            clocks = [facts.get(kind, "") for kind in CLOCKS]
            if self.kind == "time":
                return self.value in clocks
            return any(clock[:3] == self.value + ":" for clock in clocks)
        if self.kind == "part":
            # Of the day where the flight leaves, when the list showed its local time.
            clock = facts.get(LOCAL) or facts.get(TIME, "")
            if not re.fullmatch(r"[0-9]{2}:[0-9]{2}", clock):
                return False
            start, end = _PARTS[self.value]
            hour = int(clock[:2])
            return start <= hour < end if start < end else hour >= start or hour < end
        if self.kind == "word":
            shown = [v for k, v in facts.items() if k not in (DATE, *CLOCKS) and k not in PLACES]
            return any(self.value == v.casefold() for v in [choice.value, *shown])
        if self.kind == "place":
            kinds = [self.direction] if self.direction else list(PLACES)
            return any(facts.get(k, "").casefold() == self.value for k in kinds)
        day = _iso(facts.get(DATE, ""))
        if day is None:
            return False
        if self.kind == "date":
            return day.isoformat() == self.value
        part = {"month": day.month, "day": day.day, "weekday": day.weekday()}[self.kind]
        return part == int(self.value)


@dataclass
class _Reading:
    facts: list[_Fact] = field(default_factory=list)
    unread: int = 0  # words that are no fact and no filler, masked words included
    later: bool = False  # "the later one": true of any flight offered to replace an earlier one
    said_no: bool = False  # "no, the ...": never read as assent
    framed: bool = False  # shaped as an answer: "the <up to 3 words> one [to|on ... <2 words>]"


def choose(
    text: str,
    choices: Sequence[Shown],
    places: Mapping[tuple[str, ...], str] | None = None,
    today: date | None = None,
) -> Choice | None:
    """The choice the (masked) text names among those listed, or None when it names none at all.

    A position comes first ("the second one"); a position past the list is asked again. Then
    assent ("yes", "that one"), which names the only choice and fits every one of several. Then
    what the list showed, when it showed facts (see the module's docstring); an answer framed as one
    ("the later one") that says nothing the list showed is read as assent.
    """
    if not choices:
        return None
    position = chosen_position(text, len(choices))
    if position is not None:
        return Choice(index=position) if position < len(choices) else Choice(again=True)
    everyone = tuple(range(len(choices)))
    if assents(text):
        return Choice(index=0) if len(choices) == 1 else Choice(again=True, fits=everyone)
    if not any(c.facts for c in choices):
        return None
    reading = read_content(text, choices, places or {}, today or date.today())
    if reading is None:
        return None
    if reading.unread:
        return Choice(again=True) if reading.framed else None
    if not reading.facts:
        if not reading.framed or reading.said_no or not (len(choices) == 1 or reading.later):
            return None  # "the one" of several, or "no, the one", says nothing
        return Choice(index=0) if len(choices) == 1 else Choice(again=True, fits=everyone)
    fits = tuple(i for i, c in enumerate(choices) if all(f.holds(c) for f in reading.facts))
    if len(fits) == 1:
        return Choice(index=fits[0])
    return Choice(again=True, fits=fits)


def moves_on(text: str) -> bool:
    """Whether the message leaves what waited for an answer behind ("never mind, is my flight on
    time?", "what's my balance instead?"): no question about it follows the reply."""
    return _MOVES_ON.search(text) is not None


def chosen_position(text: str, count: int) -> int | None:
    """The 0-based position a message names on its own among ``count`` listed choices, or None.

    "the second one" -> 1, "the last" -> count - 1, "#3" -> 2; a position past the list is
    returned as it is (the caller asks again rather than guess).
    """
    match = _POSITION.match(text.strip())
    if match is None or count < 1:
        return None
    if match.group("number"):
        return int(match.group("number")) - 1
    word = match.group("word").casefold()
    if word == "last":
        return count - 1
    if word in _ORDINALS:
        return _ORDINALS.index(word)
    return int(word[:-2]) - 1


def assents(text: str) -> bool:
    """Whether the message, on its own, only agrees to what was offered: "yes", "that one",
    "ok book it", "yes please, go ahead". A number, a name or "no" is no assent."""
    words = [w.casefold().replace("’", "'") for w in re.findall(r"[\w'’]+", text)]
    if not words:
        return False
    start, end = 0, len(words)
    while start < end and words[start] in _ASSENT_WORDS | _COURTESY_WORDS:
        start += 1
    while end > start and words[end - 1] in _ASSENT_WORDS | _COURTESY_WORDS:
        end -= 1
    phrase = " ".join(words[start:end])
    # "thanks" or "great" alone is no choice: something must agree or point.
    said = phrase or any(w in _ASSENT_WORDS for w in words)
    return bool(said) and phrase in _ASSENT_PHRASES


def read_content(
    text: str,
    choices: Sequence[Shown],
    places: Mapping[tuple[str, ...], str],
    today: date,
) -> _Reading | None:
    """What the text says of the choice it means, word by word; None when it is empty."""
    match = _ANSWER.match(text.strip())
    body = _SPACED_CODE.sub(r"\1\2", match.group("body") if match else text).replace("’", "'")
    words = [w.casefold() for w in _TOKEN.findall(body)]
    said_no = words[:1] == ["no"]
    while words and words[0] in ("no", "yes", "yeah", "oh", "ok", "okay", "sorry", "um", "well"):
        words = words[1:]
    if not words:
        return None
    shown_words = {
        v.casefold()
        for c in choices
        for v in [c.value, *(v for k, v in c.facts.items() if k not in (DATE, *CLOCKS, *PLACES))]
    }
    codes = {v.casefold() for c in choices for k in PLACES if (v := c.facts.get(k))}
    reading = _Reading(framed=_framed(words), said_no=said_no)
    direction = ""
    i = 0
    while i < len(words):
        word = words[i]
        if _PLACEHOLDER.fullmatch(word.upper()):
            reading.unread += 1  # a word the pii service masked: never read as a fact
            i += 1
            continue
        if word in _DIRECTIONS:
            direction = _DIRECTIONS[word]
            i += 1
            continue
        clock = _time_fact(words, i)
        if clock is not None:
            fact, i = clock
            reading.facts.append(fact)
            continue
        dated = _date_facts(words, i, today)
        if dated is not None:
            facts, i = dated
            reading.facts += facts
            continue
        place = _place(words, i, places, codes)
        if place is not None:
            code, i = place
            reading.facts.append(_Fact("place", code, direction))
            direction = ""
            continue
        if word in _PARTS and _part_of_answer(words, i):
            reading.facts.append(_Fact("part", word))
        elif word == "later":
            reading.later = True
        elif word in shown_words or _CODE_SHAPED.fullmatch(word):
            # A shown word ("ua457"), or one shaped like one that fits none ("ua999").
            reading.facts.append(_Fact("word", word))
        elif word not in _FILLERS:
            reading.unread += 1
        i += 1
    return reading


def _part_of_answer(words: list[str], i: int) -> bool:
    """Whether the part of the day at ``words[i]`` names a choice ("the evening one", "in the
    morning"), not greets ("good morning", "morning!")."""
    before = words[i - 1] if i > 0 else ""
    after = words[i + 1] if i + 1 < len(words) else ""
    return before in ("the", "this", "that") or after in _NOUNS


def _framed(words: list[str]) -> bool:
    """Whether the words are shaped as an answer to "which one": "the <up to three words> one",
    "the flight", then nothing, or one preposition and at most two words ("to Paris")."""
    if not words or words[0] != "the":
        return False
    noun = next((i for i, w in enumerate(words[:5]) if w in _NOUNS), None)
    if noun is None:
        return False
    tail = words[noun + 1 :]
    return not tail or (tail[0] in _PREPOSITIONS and 1 <= len(tail) - 1 <= 2)


def _time_fact(words: list[str], i: int) -> tuple[_Fact, int] | None:
    """The time of day said at ``words[i]`` ("21:10", "9:10 pm", "9pm") and the position after
    it, or None: a bare number is no time. Without minutes it names the hour ("the 9pm one")."""
    match = _CLOCK.fullmatch(words[i])
    if match is None:
        return None
    ampm, after = match.group("ampm"), i + 1
    if ampm is None and after < len(words) and words[after] in ("am", "pm"):
        ampm, after = words[after], after + 1
    minute = match.group("minute")
    if minute is None and ampm is None:
        return None
    hour = int(match.group("hour"))
    if ampm is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23:
        return None
    if minute is None:
        return _Fact("hour", f"{hour:02d}"), after
    return _Fact("time", f"{hour:02d}:{minute}"), after


def _date_facts(words: list[str], i: int, today: date) -> tuple[list[_Fact], int] | None:
    """The date parts said at ``words[i]`` and the position after them, or None."""
    word = words[i]
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", word):
        exact = _iso(word)
        return ([_Fact("date", exact.isoformat())], i + 1) if exact else None
    name = word.removesuffix("'s")  # "tomorrow's", "the Friday's one"
    if name in ("today", "tomorrow"):
        exact = today + timedelta(days=0 if name == "today" else 1)
        return [_Fact("date", exact.isoformat())], i + 1
    if name in WEEKDAYS:
        return [_Fact("weekday", str(WEEKDAYS[name]))], i + 1
    if word in MONTHS:
        facts = [_Fact("month", str(MONTHS[word]))]
        following = day_number(words[i + 1]) if i + 1 < len(words) else None
        if following is not None:  # "Dec 14", "December 14th"
            return [*facts, _Fact("day", str(following))], i + 2
        return facts, i + 1
    day = day_number(word)
    if day is None:
        return None
    ordinal = ORDINAL_DAY.fullmatch(word) is not None
    after = words[i + 1 : i + 3]
    month = next((w for w in after[: 2 if after[:1] == ["of"] else 1] if w in MONTHS), None)
    if month is not None:  # "14 Dec", "14th of December"
        skip = 3 if after[:1] == ["of"] else 2
        return [_Fact("day", str(day)), _Fact("month", str(MONTHS[month]))], i + skip
    if ordinal:  # "the one on the 14th"; a bare number is no day
        return [_Fact("day", str(day))], i + 1
    return None


def _place(
    words: list[str], i: int, places: Mapping[tuple[str, ...], str], codes: set[str]
) -> tuple[str, int] | None:
    """The place code named at ``words[i]`` (the longest name first) and the position after it."""
    for length in range(min(4, len(words) - i), 0, -1):
        code = places.get(tuple(words[i : i + length]))
        if code is not None:
            return code.casefold(), i + length
    if words[i] in codes:
        return words[i], i + 1
    return None


def place_names(places: Mapping[str, Sequence[str]]) -> dict[tuple[str, ...], str]:
    """A flow file's ``places`` (code -> names) as the words of each name and the code itself ->
    the code: ``{("denver",): "DEN", ("den",): "DEN", ("new", "york"): "JFK", ...}``."""
    found: dict[tuple[str, ...], str] = {}
    for code, names in places.items():
        for name in [code, *names]:
            found[tuple(w.casefold() for w in _TOKEN.findall(name))] = code
    return found


def _iso(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
