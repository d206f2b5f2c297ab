"""The knowledge base: articles stored through SQLAlchemy, the source of truth every index
is built from."""

from collections.abc import Callable, Iterable
from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Engine, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from common.sample_data import JST_OFFSET, Article
from common.storage import Base, create_session_factory

JST = timezone(JST_OFFSET)


def _as_jst(moment: datetime) -> datetime:
    """SQLite hands back the stored JST wall time without its offset; PostgreSQL hands back UTC."""
    return moment.replace(tzinfo=JST) if moment.tzinfo is None else moment.astimezone(JST)


class ArticleRecord(Base):
    __tablename__ = "articles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    def to_article(self) -> Article:
        return Article(
            id=self.id,
            title=self.title,
            body=self.body,
            category=self.category,
            tags=self.tags,
            language=self.language,
            url=self.url,
            updated_at=_as_jst(self.updated_at),
        )


class KnowledgeBase:
    """Reads and writes articles; callers never see sessions or rows."""

    def __init__(self, engine: Engine) -> None:
        Base.metadata.create_all(engine, tables=[ArticleRecord.__table__])
        self._sessions: sessionmaker = create_session_factory(engine)

    def count(self) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count()).select_from(ArticleRecord)) or 0

    def get(self, article_id: str) -> Article | None:
        with self._sessions() as session:
            record = session.get(ArticleRecord, article_id)
            return record.to_article() if record else None

    def list(self, category: str | None = None, limit: int = 50, offset: int = 0) -> list[Article]:
        query = select(ArticleRecord).order_by(ArticleRecord.id).limit(limit).offset(offset)
        if category:
            query = query.where(ArticleRecord.category == category)
        with self._sessions() as session:
            return [record.to_article() for record in session.scalars(query)]

    def upsert_many(
        self, articles: Iterable[Article], on_progress: Callable[[int], None] | None = None
    ) -> int:
        """Insert or replace articles in one transaction; returns how many were written."""
        written = 0
        with self._sessions.begin() as session:
            for article in articles:
                fields = article.model_dump()
                fields["updated_at"] = _as_jst(article.updated_at)
                session.merge(ArticleRecord(**fields))
                written += 1
                if on_progress:
                    on_progress(written)
        return written
