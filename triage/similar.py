"""Recent tickets in a vector index: the similar open tickets of a new one, and surges of
alike tickets in a short window (a possible major incident).

Tickets are stored in the database with their vector, so the index is rebuilt on start without
encoding anything. A ticket counts as open for `open_days` after it arrived (the service is told
about creation only).

Thresholds are cosine similarities of the default e5 encoder, whose vectors sit close together:
on the sample tickets the median pair is at 0.87 and 99.9 % of pairs solved by different articles
fall below 0.93, so 0.92 lists neighbours worth a look and 0.94 counts as the same problem."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import DateTime, Engine, Integer, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from common.pii import PiiPolicy
from common.sample_data import JST_OFFSET
from common.storage import Base, create_session_factory, migrate_database, stored_in_jst


class RecentTicketRecord(Base):
    __tablename__ = "recent_tickets"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(128), index=True)
    subject: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    type: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(4))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    # identity of the encoder that made `vector`; None for rows from before migration 0004
    encoder: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # for the dashboard (migration 0005); None for rows from before it
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # names of the fields confident enough to apply without a person, comma-separated
    auto_applied: Mapped[str | None] = mapped_column(String(500), nullable=True)
    first_response_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class SimilarTicket:
    ticket_id: str
    subject: str
    created_at: datetime
    type: str
    priority: str
    similarity: float


@dataclass
class SurgeCheck:
    possible_major_incident: bool
    similar_in_window: int
    window_minutes: int
    threshold: int
    ticket_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SimilarityPolicy:
    similar_min_cosine: float = 0.92
    surge_min_cosine: float = 0.94
    surge_count: int = 5  # this many alike tickets (the new one included) ...
    surge_window_minutes: int = 30  # ... within this many minutes
    open_days: int = 14
    max_similar: int = 5


@dataclass(frozen=True)
class NewRecentTicket:
    """A ticket just classified, as it is kept: what similarity needs (id, subject, time, type,
    priority, vector) and what the dashboard counts (channel, the fields applied without a
    person, SLA deadlines)."""

    ticket_id: str
    subject: str
    created_at: datetime
    type: str
    priority: str
    vector: np.ndarray
    channel: str | None = None
    auto_applied: tuple[str, ...] | None = None
    first_response_due: datetime | None = None
    resolution_due: datetime | None = None


@dataclass
class _Entry:
    ticket_id: str
    subject: str
    created_at: datetime
    type: str
    priority: str


JST = timezone(JST_OFFSET)


class RecentTickets:
    def __init__(
        self,
        engine: Engine,
        dimension: int,
        policy: SimilarityPolicy | None = None,
        pii: PiiPolicy | None = None,
        encoder_identity: str | None = None,
    ):
        """`encoder_identity`: the encoder whose vectors this instance compares; rows made by
        another encoder (before a switch to a tuned one, or back) are not loaded."""
        migrate_database(engine)
        self.encoder_identity = encoder_identity
        self.pii = pii or PiiPolicy()
        self._sessions = create_session_factory(engine)
        self.dimension = dimension
        self.policy = policy or SimilarityPolicy()
        self._lock = threading.Lock()
        self._buffer = np.zeros((1024, dimension), dtype=np.float32)  # grows by doubling
        self._entries: list[_Entry] = []
        self._load()

    def _load(self) -> None:
        since = datetime.now(JST) - timedelta(days=self.policy.open_days)
        with self._sessions() as session:
            records = list(
                session.scalars(
                    select(RecentTicketRecord)
                    .where(RecentTicketRecord.created_at >= since)
                    .where(
                        (RecentTicketRecord.encoder == self.encoder_identity)
                        | RecentTicketRecord.encoder.is_(None)
                    )
                    .order_by(RecentTicketRecord.id)
                )
            )
        for record in records:
            self._append(
                _Entry(
                    record.ticket_id,
                    record.subject,
                    stored_in_jst(record.created_at),
                    record.type,
                    record.priority,
                ),
                np.frombuffer(record.vector, dtype=np.float32),
            )

    def _append(self, entry: _Entry, vector: np.ndarray) -> None:
        if len(self._entries) == len(self._buffer):
            grown = np.zeros((2 * len(self._buffer), self.dimension), dtype=np.float32)
            grown[: len(self._buffer)] = self._buffer
            self._buffer = grown
        self._buffer[len(self._entries)] = vector
        self._entries.append(entry)

    def __len__(self) -> int:
        return len(self._entries)

    def similar(
        self, vector: np.ndarray, created_at: datetime, exclude: str | None = None
    ) -> tuple[list[SimilarTicket], SurgeCheck]:
        """Open tickets alike to this one (most alike first) and whether alike tickets surge."""
        policy = self.policy
        with self._lock:
            entries = list(self._entries)
            vectors = self._buffer[: len(entries)]
        open_since = created_at - timedelta(days=policy.open_days)
        window_start = created_at - timedelta(minutes=policy.surge_window_minutes)
        similarities = vectors @ vector.astype(np.float32) if len(entries) else np.zeros(0)
        candidates = [
            (float(similarity), entry)
            for similarity, entry in zip(similarities, entries, strict=True)
            if entry.ticket_id != exclude and open_since <= entry.created_at <= created_at
        ]
        candidates.sort(key=lambda pair: -pair[0])
        similar = [
            SimilarTicket(
                entry.ticket_id,
                entry.subject,
                entry.created_at,
                entry.type,
                entry.priority,
                round(similarity, 4),
            )
            for similarity, entry in candidates
            if similarity >= policy.similar_min_cosine
        ][: policy.max_similar]
        alike = [
            entry.ticket_id
            for similarity, entry in candidates
            if similarity >= policy.surge_min_cosine and entry.created_at >= window_start
        ]
        surge = SurgeCheck(
            possible_major_incident=len(alike) + 1 >= policy.surge_count,
            similar_in_window=len(alike),
            window_minutes=policy.surge_window_minutes,
            threshold=policy.surge_count,
            ticket_ids=alike[:50],
        )
        return similar, surge

    def add(self, tickets: list[NewRecentTicket]) -> None:
        """Record tickets in one transaction; subjects are kept masked (they are listed to
        other callers as similar tickets)."""
        tickets = [
            replace(
                ticket,
                subject=self.pii.mask("recent_ticket.subject", ticket.subject[:500]) or "",
                created_at=stored_in_jst(ticket.created_at),
            )
            for ticket in tickets
        ]
        with self._sessions.begin() as session:
            for ticket in tickets:
                session.add(
                    RecentTicketRecord(
                        ticket_id=ticket.ticket_id,
                        subject=ticket.subject[:500],
                        created_at=ticket.created_at,
                        type=ticket.type,
                        priority=ticket.priority,
                        vector=np.asarray(ticket.vector, dtype=np.float32).tobytes(),
                        encoder=self.encoder_identity,
                        channel=ticket.channel,
                        auto_applied=None
                        if ticket.auto_applied is None
                        else ",".join(ticket.auto_applied),
                        first_response_due=ticket.first_response_due,
                        resolution_due=ticket.resolution_due,
                    )
                )
        with self._lock:
            for ticket in tickets:
                entry = _Entry(
                    ticket.ticket_id,
                    ticket.subject[:500],
                    ticket.created_at,
                    ticket.type,
                    ticket.priority,
                )
                self._append(entry, np.asarray(ticket.vector, dtype=np.float32))
