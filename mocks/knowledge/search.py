"""Articles and a small ranked full-text search over them (BM25 over title, tags and body)."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by can do does for from how i if in is it my of on or the to what "
    "when where which who why will with you your me we our".split()
)
# Title and tag words count as if they appeared this many times in the body.
_TITLE_WEIGHT, _TAG_WEIGHT = 3, 2
_K1, _B = 1.2, 0.75


def terms(text: str) -> list[str]:
    return [_fold(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


def _fold(word: str) -> str:
    """A word's common endings folded away, the same in questions and articles: "bags" finds
    "bag", "check" finds "checked", "cancelled" finds "cancel", "charge" finds "charged"."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for ending in ("ing", "ed"):
        if len(word) > len(ending) + 2 and word.endswith(ending):
            word = word[: -len(ending)]
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] != "s":
        word = word[:-1]  # "cancell" (from "cancelled") -> "cancel"
    return word


@dataclass(frozen=True)
class Article:
    article_id: str
    title: str
    category: str
    tags: tuple[str, ...]
    summary: str
    body: str
    updated_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "title": self.title,
            "category": self.category,
            "tags": list(self.tags),
            "summary": self.summary,
            "body": self.body.strip(),
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Hit:
    article: Article
    score: float
    snippet: str


class ArticleIndex:
    """The articles and their term statistics."""

    def __init__(self, articles: list[Article]) -> None:
        self.articles = {a.article_id: a for a in articles}
        self._counts = {a.article_id: self._document_terms(a) for a in articles}
        self._lengths = {k: sum(c.values()) for k, c in self._counts.items()}
        self._average = sum(self._lengths.values()) / max(len(self._lengths), 1)
        frequency: Counter[str] = Counter()
        for counts in self._counts.values():
            frequency.update(counts.keys())
        total = len(articles)
        self._idf = {t: math.log(1 + (total - n + 0.5) / (n + 0.5)) for t, n in frequency.items()}

    @classmethod
    def load(cls, path: Path) -> ArticleIndex:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(
            [
                Article(
                    article_id=item["article_id"],
                    title=item["title"],
                    category=item["category"],
                    tags=tuple(item.get("tags", ())),
                    summary=item["summary"],
                    body=item["body"],
                    updated_at=str(item["updated_at"]),
                )
                for item in raw
            ]
        )

    def search(self, query: str, category: str | None, limit: int) -> list[Hit]:
        wanted = set(terms(query))
        hits = []
        for article_id, counts in self._counts.items():
            article = self.articles[article_id]
            if category and article.category != category:
                continue
            norm = _K1 * (1 - _B + _B * self._lengths[article_id] / self._average)
            score = sum(
                self._idf[t] * counts[t] * (_K1 + 1) / (counts[t] + norm)
                for t in wanted
                if t in counts
            )
            if score > 0:
                hits.append(Hit(article, round(score, 4), _snippet(article.body, wanted)))
        hits.sort(key=lambda h: (-h.score, h.article.article_id))
        return hits[:limit]

    @staticmethod
    def _document_terms(article: Article) -> Counter[str]:
        counts = Counter(terms(article.body) + terms(article.summary))
        for term in terms(article.title):
            counts[term] += _TITLE_WEIGHT
        for term in terms(" ".join(article.tags)):
            counts[term] += _TAG_WEIGHT
        return counts


def _snippet(body: str, wanted: set[str]) -> str:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(body.split())) if s]
    if not sentences:
        return ""
    return max(sentences, key=lambda s: len(wanted.intersection(terms(s))))
