"""What the chat widget calls besides /v1/suggest and /v1/feedback: hand a conversation over to
a person. A `widget` key (the one in the page's script tag) may call it."""

from fastapi import APIRouter, status

from api.auth import requires
from api.deps import MetricsDep, RecordsDep, SettingsDep, TriageDep
from api.handoffs import hand_over
from api.openapi import problems
from api.schemas import HandoffRequest, HandoffResponse

router = APIRouter(tags=["widget"], dependencies=[requires("widget")], responses=problems(503))


@router.post(
    "/handoff",
    response_model=HandoffResponse,
    status_code=status.HTTP_201_CREATED,
    summary="A customer asks for a person: create the ticket through triage and say when to "
    "expect a reply",
)
def handoff(
    request: HandoffRequest,
    triage: TriageDep,
    records: RecordsDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> HandoffResponse:
    return hand_over(request, triage, records, settings, metrics)
