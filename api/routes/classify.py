"""Triage on ticket creation: one ticket, or a batch of up to 1,000."""

from fastapi import APIRouter

from api.auth import requires
from api.deps import LabelsDep, MetricsDep, SettingsDep, TriageDep
from api.openapi import problems
from api.schemas import ClassifyBatchRequest, ClassifyBatchResponse, ClassifyResponse, TicketIn
from api.service import classify_tickets

router = APIRouter(tags=["triage"], dependencies=[requires("read")], responses=problems(503))


@router.post(
    "/classify",
    response_model=ClassifyResponse,
    summary="Type, urgency, impact, priority, queue, SLA deadlines and similar tickets",
)
def classify(
    ticket: TicketIn,
    triage: TriageDep,
    labels: LabelsDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> ClassifyResponse:
    return classify_tickets([ticket], triage, labels, settings, metrics)[0]


@router.post(
    "/classify/batch",
    response_model=ClassifyBatchResponse,
    summary="Classify up to 1,000 tickets in one call (encoded together: faster per ticket)",
)
def classify_batch(
    request: ClassifyBatchRequest,
    triage: TriageDep,
    labels: LabelsDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> ClassifyBatchResponse:
    return ClassifyBatchResponse(
        results=classify_tickets(request.tickets, triage, labels, settings, metrics)
    )
