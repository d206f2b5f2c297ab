"""The knowledge base: list, read, create, replace and delete articles. Writes are searchable
by /v1/suggest as soon as the call returns."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.auth import requires
from api.deps import KnowledgeBaseDep, StateDep
from api.openapi import problems
from api.schemas import ARTICLE_ID_PATTERN, ArticleCreate, ArticleIn, ArticleList, ArticleOut
from api.service import article_not_found, create_article, delete_article, replace_article

router = APIRouter(tags=["articles"])
ArticleId = Annotated[
    str, Path(pattern=ARTICLE_ID_PATTERN, description="Letters, digits, '.', '_', '-'; ≤ 64")
]


@router.get(
    "/articles",
    response_model=ArticleList,
    summary="List knowledge-base articles",
    dependencies=[requires("read")],
)
def list_articles(
    knowledge_base: KnowledgeBaseDep,
    category: Annotated[str | None, Query(max_length=64, description="Only this category")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,  # a database integer
) -> ArticleList:
    articles = knowledge_base.list(category=category, limit=limit, offset=offset)
    return ArticleList(
        total=knowledge_base.count(),
        articles=[ArticleOut(**article.model_dump()) for article in articles],
    )


@router.get(
    "/articles/{article_id}",
    response_model=ArticleOut,
    summary="One article",
    dependencies=[requires("read")],
)
def get_article(article_id: ArticleId, knowledge_base: KnowledgeBaseDep) -> ArticleOut:
    article = knowledge_base.get(article_id)
    if article is None:
        raise article_not_found(article_id)
    return ArticleOut(**article.model_dump())


@router.post(
    "/articles",
    response_model=ArticleOut,
    status_code=201,
    summary="Create an article",
    responses=problems(409),
    dependencies=[requires("write")],
)
def post_article(request: ArticleCreate, state: StateDep) -> ArticleOut:
    return create_article(request, state)


@router.put(
    "/articles/{article_id}",
    response_model=ArticleOut,
    summary="Replace an article",
    dependencies=[requires("write")],
)
def put_article(article_id: ArticleId, request: ArticleIn, state: StateDep) -> ArticleOut:
    return replace_article(article_id, request, state)


@router.delete(
    "/articles/{article_id}",
    status_code=204,
    response_class=Response,
    summary="Delete an article",
    dependencies=[requires("write")],
)
def remove_article(article_id: ArticleId, state: StateDep) -> Response:
    delete_article(article_id, state)
    return Response(status_code=204)
