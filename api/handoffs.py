"""The chat widget's hand-over: a customer who wants a person leaves a name, an e-mail and a
message; the ticket goes through the same triage as `/v1/classify` (so it gets a priority and
SLA deadlines, and counts on the dashboard), is kept for the agents, and the conversation is
recorded as handed over."""

from datetime import datetime

from api.errors import ProblemError
from api.metrics import ServiceMetrics
from api.schemas import HandoffList, HandoffOut, HandoffRequest, HandoffResponse
from common.settings import Settings
from common.storage import stored_in_jst
from records.store import FeedbackEvent, HandoffTicket, RecordStore
from triage.service import TicketInput, TriageService
from triage.similar import JST
from triage.sla import UnknownPlanError

SUBJECT_CHARS = 80


def hand_over(
    request: HandoffRequest,
    triage: TriageService,
    records: RecordStore,
    settings: Settings,
    metrics: ServiceMetrics | None = None,
) -> HandoffResponse:
    for name, value in (("message", request.message), ("question", request.question or "")):
        if len(value) > settings.max_text_chars:
            raise ProblemError(
                422,
                "text-too-long",
                "Text too long",
                f"{name} has {len(value):,} characters; send at most {settings.max_text_chars:,}.",
            )
    question = (request.question or "").strip()
    body = (
        request.message
        if not question or question in request.message
        else (f"{request.message}\n\n{question}")
    )
    created_at = datetime.now(JST)
    try:
        result = triage.classify(
            TicketInput(
                body=body,
                subject=(question or request.message)[:SUBJECT_CHARS],
                channel="chat",
                plan=request.plan,
                created_at=created_at,
                language=request.language,
            )
        )
    except UnknownPlanError as error:
        raise ProblemError(422, "unknown-plan", "Unknown plan", str(error)) from error
    if metrics is not None:
        metrics.record_classifications([result])
    records.add_handoff(
        HandoffTicket(
            ticket_id=result.ticket_id,
            name=request.name,
            email=request.email,
            message=request.message,
            created_at=created_at,
            question=question or None,
            language=request.language or result.language,
            plan=result.sla.plan,
            page_url=request.page_url,
            type=result.fields["type"].value if "type" in result.fields else None,
            priority=result.priority,
            first_response_due=result.sla.first_response_due,
        )
    )
    records.add_feedback(
        FeedbackEvent(
            kind="suggestion_handed_over",
            ticket_id=result.ticket_id,
            query=(question or request.message)[:5000],
            actor="customer",
        )
    )
    return HandoffResponse(
        ticket_id=result.ticket_id,
        priority=result.priority,
        plan=result.sla.plan,
        first_response_due=result.sla.first_response_due,
        resolution_due=result.sla.resolution_due,
        note=result.sla.note,
    )


def list_handoffs(records: RecordStore, limit: int) -> HandoffList:
    return HandoffList(
        handoffs=[
            HandoffOut(
                ticket_id=record.ticket_id,
                name=record.name,
                email=record.email,
                message=record.message,
                question=record.question,
                language=record.language,
                plan=record.plan,
                page_url=record.page_url,
                type=record.type,
                priority=record.priority,
                first_response_due=(
                    record.first_response_due and stored_in_jst(record.first_response_due)
                ),
                created_at=stored_in_jst(record.created_at),
            )
            for record in records.handoffs(limit)
        ]
    )
