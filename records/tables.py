"""The record tables. Their schema changes only through the Alembic migrations in
common/migrations (never create_all), so SQLite and PostgreSQL databases stay the same shape."""

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from common.storage import Base


class ResolvedTicketRecord(Base):
    """A ticket as the helpdesk closed it: final labels, the article that solved it, timestamps.
    `ticket_id` is the helpdesk's own id and identifies the ticket; `content_hash` (subject +
    body, normalised) catches the same ticket exported twice under different ids."""

    __tablename__ = "resolved_tickets"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(128), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(32))
    plan: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)  # field -> final value
    resolved_by_article: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    source: Mapped[str] = mapped_column(String(32))  # api | ingest:<format>
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FeedbackEventRecord(Base):
    """One thing an agent or customer told us: a label corrected, an article attached,
    dismissed or marked helpful, a suggestion answered or handed over."""

    __tablename__ = "feedback_events"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    ticket_id: Mapped[str | None] = mapped_column(String(128), index=True)
    field: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(String(128))
    previous_value: Mapped[str | None] = mapped_column(String(128))
    article_id: Mapped[str | None] = mapped_column(String(64), index=True)
    query: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HandoffTicketRecord(Base):
    """A ticket the chat widget created when a customer asked for a person: the contact they
    left (kept as given: it is how the agent answers), their message (masked like other stored
    text), the question they asked first, and what triage made of it."""

    __tablename__ = "handoff_tickets"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    message: Mapped[str] = mapped_column(Text)
    question: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    plan: Mapped[str | None] = mapped_column(String(32))
    page_url: Mapped[str | None] = mapped_column(String(1000))
    type: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str | None] = mapped_column(String(8))
    first_response_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
