"""Reading the knowledge base."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import KnowledgeBaseDep
from api.errors import ProblemError
from api.schemas import ArticleList, ArticleOut

router = APIRouter(tags=["articles"])


@router.get("/articles", response_model=ArticleList, summary="List knowledge-base articles")
def list_articles(
    knowledge_base: KnowledgeBaseDep,
    category: Annotated[str | None, Query(max_length=64, description="Only this category")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ArticleList:
    articles = knowledge_base.list(category=category, limit=limit, offset=offset)
    return ArticleList(
        total=knowledge_base.count(),
        articles=[ArticleOut(**article.model_dump()) for article in articles],
    )


@router.get("/articles/{article_id}", response_model=ArticleOut, summary="One article")
def get_article(article_id: str, knowledge_base: KnowledgeBaseDep) -> ArticleOut:
    article = knowledge_base.get(article_id)
    if article is None:
        raise ProblemError(
            404,
            "article-not-found",
            "Article not found",
            f"No article has id {article_id!r}. GET /v1/articles lists the ids.",
        )
    return ArticleOut(**article.model_dump())
