"""The knowledge base's search: the article on what was asked comes first, or a weak hit."""

from __future__ import annotations

import pytest

from mocks.knowledge.app import ARTICLES
from mocks.knowledge.search import ArticleIndex, terms


@pytest.fixture(scope="module")
def index() -> ArticleIndex:
    return ArticleIndex.load(ARTICLES)


def test_common_endings_are_folded_alike_in_questions_and_articles() -> None:
    assert terms("How many bags can I check?") == ["many", "bag", "check"]
    assert terms("checked bags") == terms("check bag")
    assert terms("cancelled") == terms("cancel") and terms("charged") == terms("charge")
    assert terms("travelling pets") == terms("travel pet")


@pytest.mark.parametrize(
    ("question", "article"),
    [
        ("how many bags can I check?", "KB-1001"),
        ("how much is an extra bag?", "KB-1001"),
        ("can I bring my dog on the plane?", "KB-1004"),
        ("is there a fee for pets?", "KB-1004"),
        ("my suitcase is damaged", "KB-1003"),
        ("what's the size limit for hand luggage?", "KB-1002"),
    ],
)
def test_the_article_on_the_question_comes_first(
    index: ArticleIndex, question: str, article: str
) -> None:
    hits = index.search(question, "baggage", 3)
    assert hits[0].article.article_id == article, [(h.article.article_id, h.score) for h in hits]


def test_a_question_without_an_article_finds_at_most_a_passing_mention(
    index: ArticleIndex,
) -> None:
    # Every hit shares a word with the question ("bring"), and nothing more: a low score. The
    # baggage flow answers from an article only from 2.75 (packs/flows/airline.yaml).
    for question in ("can I bring my surfboard?", "can I bring my golf clubs?"):
        hits = index.search(question, "baggage", 3)
        assert [h.article.article_id for h in hits] == ["KB-1004"], question
        assert 0 < hits[0].score < 2.5, hits
