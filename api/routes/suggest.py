"""Answer suggestion: the articles that answer a question, and whether to answer or hand over."""

from fastapi import APIRouter

from api.auth import requires
from api.deps import MetricsDep, SettingsDep, SuggestionsDep
from api.openapi import problems
from api.schemas import SuggestRequest, SuggestResponse
from api.service import suggest_articles

router = APIRouter(tags=["suggest"], dependencies=[requires("widget")], responses=problems(503))


@router.post(
    "/suggest",
    response_model=SuggestResponse,
    summary="Knowledge-base articles that answer a question, with answer-or-hand-over",
)
def suggest(
    request: SuggestRequest,
    suggestions: SuggestionsDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> SuggestResponse:
    return suggest_articles(request, suggestions, settings, metrics)
