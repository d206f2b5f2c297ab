"""What happened after triage: resolved tickets (bulk) and feedback events, the learning loop's
input."""

from fastapi import APIRouter, Request, status

from api.auth import caller_may, requires
from api.deps import KnowledgeBaseDep, RecordsDep
from api.errors import ProblemError
from api.schemas import FeedbackStored, ResolvedTicketsRequest, ResolvedTicketsResponse
from api.service import record_feedback, store_resolved_tickets
from records.store import FeedbackEvent

router = APIRouter(tags=["learning"])
# what a customer tells the chat widget; a `widget` key may send these and nothing else
CUSTOMER_FEEDBACK = (
    "suggestion_answered",
    "suggestion_handed_over",
    "article_helpful",
    "article_dismissed",
)


@router.post(
    "/tickets/resolved",
    dependencies=[requires("write")],
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
    dependencies=[requires("widget")],
    summary="Record a label corrected or accepted, an article attached / dismissed / marked "
    "helpful, or a suggestion answered / handed over (a widget key: the customer's kinds only, "
    "a suggestion answered or handed over, an article helpful or dismissed)",
)
def feedback(
    event: FeedbackEvent,
    request: Request,
    records: RecordsDep,
    knowledge_base: KnowledgeBaseDep,
) -> FeedbackStored:
    if event.kind not in CUSTOMER_FEEDBACK and not caller_may(request, "write"):
        raise ProblemError(
            403,
            "insufficient-scope",
            "This key may not do that",
            f"a widget key may send feedback of kinds {', '.join(CUSTOMER_FEEDBACK)}; "
            f"{event.kind} needs scope write",
        )
    return record_feedback(event, records, knowledge_base)
