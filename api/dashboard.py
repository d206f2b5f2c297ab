"""The dashboard's figures, from the database, so every worker shows the same and a restart
loses nothing: tickets classified per day by type and priority, the share applied without a
person, how widget conversations ended (answered or handed over), SLA deadlines at risk and the
knowledge gaps `madoguchi kb-gaps` found last."""

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from api.schemas import (
    DashboardOut,
    DayVolume,
    DeadlineAtRisk,
    KnowledgeGapOut,
    KnowledgeGapsOut,
    ShareOut,
)
from common.storage import create_session_factory, stored_in_jst
from records.store import RecordStore
from records.tables import ResolvedTicketRecord
from triage.similar import JST, RecentTicketRecord

DUE_SOON = timedelta(hours=4)
MAX_AT_RISK = 20
MAX_GAPS = 5
MAX_HANDED_OVER_QUESTIONS = 8


def _share(count: int, out_of: int) -> ShareOut:
    return ShareOut(count=count, out_of=out_of, share=round(count / out_of, 4) if out_of else None)


def _days(since: datetime, until: datetime) -> list[date]:
    first, last = since.date(), until.date()
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def read_knowledge_gaps(path: Path) -> tuple[datetime | None, list[KnowledgeGapOut]]:
    if not path.is_file():
        return None, []
    saved = json.loads(path.read_text(encoding="utf-8"))
    gaps = [
        KnowledgeGapOut(
            keywords=gap["keywords"],
            size=gap["size"],
            recent=gap["recent"],
            nearest_article=gap.get("nearest_article"),
            representatives=gap.get("representatives", [])[:2],
        )
        for gap in saved.get("gaps", [])[:MAX_GAPS]
    ]
    return datetime.fromisoformat(saved["generated_at"]), gaps


def build_dashboard(
    engine: Engine,
    records: RecordStore,
    knowledge_gaps_file: Path,
    days: int,
    field_names: Sequence[str],
    now: datetime | None = None,
) -> DashboardOut:
    until = (now or datetime.now(JST)).astimezone(JST)
    since = (until - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    sessions = create_session_factory(engine)
    with sessions() as session:
        tickets = list(
            session.scalars(
                select(RecentTicketRecord)
                .where(RecentTicketRecord.created_at >= since)
                .order_by(RecentTicketRecord.created_at)
            )
        )
        ids = [ticket.ticket_id for ticket in tickets]
        resolved = {
            ticket_id
            for chunk in range(0, len(ids), 900)  # SQLite's bound-parameter limit
            for ticket_id in session.scalars(
                select(ResolvedTicketRecord.ticket_id).where(
                    ResolvedTicketRecord.ticket_id.in_(ids[chunk : chunk + 900])
                )
            )
        }
    volumes = {day: DayVolume(date=day.isoformat(), total=0, by_type={}, by_priority={})
               for day in _days(since, until)}  # fmt: skip
    every_field = known = 0
    per_field = dict.fromkeys(field_names, 0)
    at_risk: list[DeadlineAtRisk] = []
    for ticket in tickets:
        created = stored_in_jst(ticket.created_at)
        row = volumes.get(created.date())
        if row is not None:
            row.total += 1
            row.by_type[ticket.type or "none"] = row.by_type.get(ticket.type or "none", 0) + 1
            priority = ticket.priority or "none"
            row.by_priority[priority] = row.by_priority.get(priority, 0) + 1
        if ticket.auto_applied is not None:
            known += 1
            applied = set(filter(None, ticket.auto_applied.split(",")))
            every_field += int(applied >= set(field_names))
            for name in applied & per_field.keys():
                per_field[name] += 1
        if ticket.ticket_id in resolved:
            continue
        for clock, stored in (
            ("first_response", ticket.first_response_due),
            ("resolution", ticket.resolution_due),
        ):
            due = stored and stored_in_jst(stored)
            if due is None or due - until > DUE_SOON:
                continue
            at_risk.append(
                DeadlineAtRisk(
                    ticket_id=ticket.ticket_id,
                    subject=ticket.subject,
                    priority=ticket.priority or "none",
                    clock=clock,
                    due=due,
                    state="passed" if due <= until else "due_soon",
                )
            )
    # what is still to come first (soonest first), then what has passed (latest first)
    at_risk.sort(key=lambda item: (item.state == "passed", abs((item.due - until).total_seconds())))
    events = records.feedback_events(("suggestion_answered", "suggestion_handed_over"), since=since)
    answered = sum(event.kind == "suggestion_answered" for event in events)
    handed_over = [event for event in events if event.kind == "suggestion_handed_over"]
    generated_at, gaps = read_knowledge_gaps(knowledge_gaps_file)
    return DashboardOut(
        window_days=days,
        since=since,
        until=until,
        tickets=len(tickets),
        volumes=list(volumes.values()),
        auto_apply=_share(every_field, known),
        auto_apply_by_field={name: _share(count, known) for name, count in per_field.items()},
        auto_apply_decisions=_share(sum(per_field.values()), known * len(per_field)),
        deflection=_share(answered, len(events)),
        handover=_share(len(handed_over), len(events)),
        sla_at_risk=at_risk[:MAX_AT_RISK],
        sla_due_soon=sum(item.state == "due_soon" for item in at_risk),
        sla_passed=sum(item.state == "passed" for item in at_risk),
        due_soon_hours=int(DUE_SOON.total_seconds() // 3600),
        knowledge_gaps=KnowledgeGapsOut(
            generated_at=generated_at,
            gaps=gaps,
            handed_over_questions=[event.query for event in reversed(handed_over) if event.query][
                :MAX_HANDED_OVER_QUESTIONS
            ],
        ),
    )
