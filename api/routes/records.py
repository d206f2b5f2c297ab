"""What happened after triage: resolved tickets (bulk) and feedback events, the learning loop's
input."""

from fastapi import APIRouter, status

from api.auth import requires
from api.deps import KnowledgeBaseDep, RecordsDep
from api.schemas import FeedbackStored, ResolvedTicketsRequest, ResolvedTicketsResponse
from api.service import record_feedback, store_resolved_tickets
from records.store import FeedbackEvent

router = APIRouter(tags=["learning"], dependencies=[requires("write")])


@router.post(
    "/tickets/resolved",
    response_model=ResolvedTicketsResponse,
    summary="Store up to 1,000 resolved tickets with their final labels (duplicates skipped)",
)
def resolved_tickets(
    request: ResolvedTicketsRequest, records: RecordsDep
) -> ResolvedTicketsResponse:
    return store_resolved_tickets(request.tickets, records)


@router.post(
    "/feedback",
    response_model=FeedbackStored,
    status_code=status.HTTP_201_CREATED,
    summary="Record a label correction, an article attached / dismissed / marked helpful, or a "
    "suggestion answered / handed over",
)
def feedback(
    event: FeedbackEvent, records: RecordsDep, knowledge_base: KnowledgeBaseDep
) -> FeedbackStored:
    return record_feedback(event, records, knowledge_base)
