"""The knowledge backend: search and read policy and FAQ articles."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette

from mocks.common.app import Call, Handler, Reply, build_app
from mocks.common.contract import Contract
from mocks.common.faults import FaultConfig
from mocks.common.problems import not_found
from mocks.knowledge.search import ArticleIndex

CONTRACT = Path(__file__).with_name("openapi.yaml")
ARTICLES = Path(__file__).with_name("articles.yaml")
DEFAULT_LIMIT = 5


class Knowledge:
    """The operations of the knowledge contract over an article index."""

    def __init__(self, index: ArticleIndex) -> None:
        self.index = index

    def handlers(self) -> dict[str, Handler]:
        return {"searchArticles": self.search_articles, "getArticle": self.get_article}

    async def search_articles(self, call: Call) -> Reply:
        query = call.arg("q")
        hits = self.index.search(query, call.arg("category"), call.arg("limit", DEFAULT_LIMIT))
        return Reply(
            {
                "query": query,
                "results": [
                    {
                        "article_id": h.article.article_id,
                        "title": h.article.title,
                        "category": h.article.category,
                        "summary": h.article.summary,
                        "snippet": h.snippet,
                        "score": h.score,
                    }
                    for h in hits
                ],
            }
        )

    async def get_article(self, call: Call) -> Reply:
        article_id = call.arg("article_id")
        article = self.index.articles.get(article_id)
        if article is None:
            raise not_found("article", article_id)
        return Reply(article.to_json())


def create_app(
    faults: FaultConfig | None = None,
    validate_responses: bool = True,
    articles: Path = ARTICLES,
) -> Starlette:
    """The knowledge backend over the articles in ``articles`` (YAML)."""
    knowledge = Knowledge(ArticleIndex.load(articles))
    return build_app(
        "knowledge", Contract.load(CONTRACT), knowledge.handlers(), faults, validate_responses
    )
