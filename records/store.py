"""Storing resolved tickets and feedback: every row validated against the label file, duplicates
and tickets already seen skipped and counted, bad rows reported with their row number and never
stopping the good ones."""

import hashlib
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Engine, func, select

from common.json_types import IsoDateTime
from common.labels import LabelSet
from common.pii import PiiPolicy
from common.sample_data import JST_OFFSET
from common.storage import create_session_factory, migrate_database
from records.tables import FeedbackEventRecord, HandoffTicketRecord, ResolvedTicketRecord

JST = timezone(JST_OFFSET)
MAX_TEXT_CHARS = 100_000
ID_SLICE = 900  # SQLite's bound-parameter limit
FEEDBACK_KINDS = (
    "label_corrected",
    "label_accepted",
    "article_attached",
    "article_dismissed",
    "article_helpful",
    "suggestion_answered",
    "suggestion_handed_over",
)
LABEL_KINDS = ("label_corrected", "label_accepted")  # an agent set or confirmed a field's value
ARTICLE_KINDS = ("article_attached", "article_dismissed", "article_helpful")
SUGGESTION_KINDS = ("suggestion_answered", "suggestion_handed_over")


def _in_jst(value: datetime | None) -> datetime | None:
    """Exports often carry wall times without an offset: those are read as JST."""
    if value is None:
        return None
    return value.replace(tzinfo=JST) if value.tzinfo is None else value


class ResolvedTicket(BaseModel):
    """One resolved ticket as the API and `madoguchi ingest` accept it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    ticket_id: str = Field(min_length=1, max_length=128)
    subject: str = Field(default="", max_length=1000)
    body: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    channel: str | None = Field(default=None, max_length=32)
    plan: str | None = Field(default=None, max_length=32)
    language: str | None = Field(default=None, max_length=8)
    labels: dict[str, str] = Field(default_factory=dict)
    resolved_by_article: str | None = Field(default=None, max_length=64)
    created_at: IsoDateTime | None = None
    resolved_at: IsoDateTime | None = None

    _jst = field_validator("created_at", "resolved_at")(_in_jst)


class FeedbackEvent(BaseModel):
    """One feedback event; which fields it needs depends on its kind (see `problems`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    kind: Literal[
        "label_corrected",
        "label_accepted",
        "article_attached",
        "article_dismissed",
        "article_helpful",
        "suggestion_answered",
        "suggestion_handed_over",
    ]
    ticket_id: str | None = Field(default=None, min_length=1, max_length=128)
    field: str | None = Field(default=None, max_length=64)
    value: str | None = Field(default=None, max_length=128)
    previous_value: str | None = Field(default=None, max_length=128)
    article_id: str | None = Field(default=None, min_length=1, max_length=64)
    query: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT_CHARS)
    actor: str | None = Field(default=None, max_length=128)
    occurred_at: IsoDateTime | None = None

    _jst = field_validator("occurred_at")(_in_jst)

    def problems(self, label_set: LabelSet) -> list[str]:
        """What this event lacks for its kind, in words a caller can act on."""
        found = []
        if self.kind in LABEL_KINDS:
            if not self.ticket_id:
                found.append(f"ticket_id: {self.kind} names the ticket whose label it sets")
            if not self.field or self.field not in label_set.fields:
                found.append(f"field: one of {', '.join(label_set.fields)}")
            elif not self.value or not label_set.is_valid(self.field, self.value):
                allowed = ", ".join(label_set.values(self.field))
                found.append(f"value: {self.field} must be one of {allowed}")
        elif self.kind in ARTICLE_KINDS and not self.article_id:
            found.append(f"article_id: {self.kind} needs the article's id")
        elif self.kind in SUGGESTION_KINDS and not self.query:
            found.append(f"query: {self.kind} needs the question the suggestion answered")
        return found


@dataclass(frozen=True)
class RowProblem:
    """A refused row: `row` is its line number in a file, or its position (from 1) in a request."""

    row: int
    ticket_id: str | None
    errors: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "ticket_id": self.ticket_id, "errors": self.errors}


@dataclass
class IngestReport:
    received: int = 0
    stored: int = 0
    skipped_already_seen: int = 0  # the ticket id is stored already
    skipped_duplicate: int = 0  # same content as a stored ticket, or twice in this input
    rejected: list[RowProblem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "stored": self.stored,
            "skipped_already_seen": self.skipped_already_seen,
            "skipped_duplicate": self.skipped_duplicate,
            "rejected": [problem.as_dict() for problem in self.rejected],
        }

    def merge(self, other: "IngestReport") -> None:
        self.received += other.received
        self.stored += other.stored
        self.skipped_already_seen += other.skipped_already_seen
        self.skipped_duplicate += other.skipped_duplicate
        self.rejected.extend(other.rejected)


@dataclass(frozen=True)
class HandoffTicket:
    """A ticket the chat widget created for a customer who asked for a person."""

    ticket_id: str
    name: str
    email: str
    message: str
    created_at: datetime
    question: str | None = None
    language: str | None = None
    plan: str | None = None
    page_url: str | None = None
    type: str | None = None
    priority: str | None = None
    first_response_due: datetime | None = None


class FeedbackError(ValueError):
    """A feedback event that cannot be stored; the message lists what to fix."""


def content_hash(subject: str, body: str) -> str:
    """Equal for the same ticket text whatever its width forms, case or spacing."""
    text = unicodedata.normalize("NFKC", f"{subject}\n{body}").casefold()
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def _validation_messages(error: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(part) for part in problem['loc']) or 'row'}: {problem['msg']}"
        for problem in error.errors()
    ]


def _label_problems(labels: Mapping[str, str], label_set: LabelSet) -> list[str]:
    found = []
    for name, value in labels.items():
        if name not in label_set.fields:
            found.append(f"labels.{name}: not a labelled field (use {', '.join(label_set.fields)})")
        elif not label_set.is_valid(name, value):
            allowed = ", ".join(label_set.values(name))
            found.append(f"labels.{name}: {value!r} is not one of {allowed}")
    return found


def _stored(session, column, values: Sequence[str]) -> set[str]:  # noqa: ANN001 - SQLAlchemy
    """Which of `values` the column holds already, asked in slices SQLite accepts."""
    found: set[str] = set()
    for start in range(0, len(values), ID_SLICE):
        found.update(
            session.scalars(select(column).where(column.in_(values[start : start + ID_SLICE])))
        )
    return found


def ticket_row(record: ResolvedTicketRecord) -> dict[str, Any]:
    """A stored resolved ticket in the sample-ticket row format (labels as top-level fields)."""
    return {
        "id": record.ticket_id,
        "subject": record.subject,
        "body": record.body,
        "channel": record.channel,
        "plan": record.plan,
        "language": record.language,
        "created_at": record.created_at,
        "resolved_at": record.resolved_at,
        "resolved_by_article": record.resolved_by_article,
        **record.labels,
    }


class RecordStore:
    """Resolved tickets and feedback events in the database. Free text is masked by `pii`
    before it is written (common.pii); the duplicate check hashes the text as received, so a
    ticket exported twice is still caught."""

    def __init__(self, engine: Engine, label_set: LabelSet, pii: PiiPolicy | None = None) -> None:
        migrate_database(engine)
        self.engine = engine
        self.label_set = label_set
        self.pii = pii or PiiPolicy()
        self._sessions = create_session_factory(engine)

    # --- resolved tickets ------------------------------------------------------------------

    def validate_resolved(
        self, rows: Sequence[Mapping[str, Any]], row_numbers: Sequence[int] | None = None
    ) -> tuple[list[tuple[int, ResolvedTicket]], list[RowProblem]]:
        """(row number, ticket) of the valid rows, and the problems of the others."""
        numbers = list(row_numbers) if row_numbers is not None else range(1, len(rows) + 1)
        valid, refused = [], []
        for number, row in zip(numbers, rows, strict=True):
            ticket_id = row.get("ticket_id") if isinstance(row, Mapping) else None
            try:
                ticket = ResolvedTicket.model_validate(row)
            except ValidationError as error:
                refused.append(RowProblem(number, ticket_id, _validation_messages(error)))
                continue
            problems = _label_problems(ticket.labels, self.label_set)
            if problems:
                refused.append(RowProblem(number, ticket.ticket_id, problems))
            else:
                valid.append((number, ticket))
        return valid, refused

    def add_resolved(
        self,
        rows: Sequence[Mapping[str, Any]],
        source: str,
        row_numbers: Sequence[int] | None = None,
    ) -> IngestReport:
        """Validate and store, in one transaction; returns what was stored, skipped, refused."""
        valid, refused = self.validate_resolved(rows, row_numbers)
        report = IngestReport(received=len(rows), rejected=refused)
        now = datetime.now(UTC)
        with self._sessions.begin() as session:
            digests = [content_hash(ticket.subject, ticket.body) for _, ticket in valid]
            ids = [ticket.ticket_id for _, ticket in valid]
            seen_ids = _stored(session, ResolvedTicketRecord.ticket_id, ids)
            seen_hashes = _stored(session, ResolvedTicketRecord.content_hash, digests)
            for (_, ticket), digest in zip(valid, digests, strict=True):
                if ticket.ticket_id in seen_ids:
                    report.skipped_already_seen += 1
                    continue
                if digest in seen_hashes:
                    report.skipped_duplicate += 1
                    continue
                seen_ids.add(ticket.ticket_id)
                seen_hashes.add(digest)
                session.add(
                    ResolvedTicketRecord(
                        ticket_id=ticket.ticket_id,
                        content_hash=digest,
                        subject=self.pii.mask("resolved_ticket.subject", ticket.subject),
                        body=self.pii.mask("resolved_ticket.body", ticket.body),
                        channel=ticket.channel,
                        plan=ticket.plan,
                        language=ticket.language,
                        labels=ticket.labels,
                        resolved_by_article=ticket.resolved_by_article,
                        created_at=ticket.created_at,
                        resolved_at=ticket.resolved_at,
                        source=source,
                        stored_at=now,
                    )
                )
                report.stored += 1
        return report

    def resolved_tickets(self) -> Iterator[ResolvedTicketRecord]:
        """Every stored resolved ticket, oldest resolution first."""
        with self._sessions() as session:
            query = select(ResolvedTicketRecord).order_by(
                ResolvedTicketRecord.resolved_at, ResolvedTicketRecord.id
            )
            yield from session.scalars(query)

    def count_resolved(self) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count()).select_from(ResolvedTicketRecord)) or 0

    # --- feedback --------------------------------------------------------------------------

    def add_feedback(self, event: FeedbackEvent) -> FeedbackEventRecord:
        problems = event.problems(self.label_set)
        if problems:
            raise FeedbackError("; ".join(problems))
        now = datetime.now(UTC)
        fields = event.model_dump(exclude={"occurred_at"})
        fields["query"] = self.pii.mask("feedback.query", fields.get("query"))
        actor = self.pii.mask("feedback.actor", fields.get("actor"))
        fields["actor"] = actor[:128] if actor else actor  # a mask token is longer than 山田
        record = FeedbackEventRecord(
            **fields,
            occurred_at=event.occurred_at or now,
            stored_at=now,
        )
        with self._sessions.begin() as session:
            session.add(record)
        return record

    def feedback_events(
        self, kind: str | Sequence[str] | None = None, since: datetime | None = None
    ) -> list[FeedbackEventRecord]:
        """Events in the order they were stored; only of `kind` (one or several), only those
        that occurred at or after `since`."""
        with self._sessions() as session:
            query = select(FeedbackEventRecord).order_by(FeedbackEventRecord.id)
            if kind:
                kinds = [kind] if isinstance(kind, str) else list(kind)
                query = query.where(FeedbackEventRecord.kind.in_(kinds))
            if since is not None:
                query = query.where(FeedbackEventRecord.occurred_at >= since)
            return list(session.scalars(query))

    # --- tickets handed over from the chat widget --------------------------------------------

    def add_handoff(self, handoff: "HandoffTicket") -> HandoffTicketRecord:
        record = HandoffTicketRecord(
            **asdict(handoff)
            | {
                "message": self.pii.mask("handoff.message", handoff.message) or "",
                "question": self.pii.mask("handoff.message", handoff.question),
            }
        )
        with self._sessions.begin() as session:
            session.add(record)
        return record

    def handoffs(self, limit: int = 50) -> list[HandoffTicketRecord]:
        """The newest handed-over tickets first."""
        with self._sessions() as session:
            query = select(HandoffTicketRecord).order_by(HandoffTicketRecord.id.desc()).limit(limit)
            return list(session.scalars(query))
