"""The knowledge base: articles stored through SQLAlchemy, the source of truth every index
is built from. An article's chunks (with their keyword terms) are replaced together with it, and
every write appends to a change log that indexes replay to catch up."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timezone

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Text,
    delete,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from common.sample_data import JST_OFFSET, Article
from common.storage import Base, create_session_factory, migrate_database, stored_in_jst
from retrieval.chunking import chunk_article
from retrieval.keyword import KeywordAnalyzer

JST = timezone(JST_OFFSET)


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
            updated_at=stored_in_jst(self.updated_at),
        )


class ChunkRecord(Base):
    __tablename__ = "article_chunks"
    # AUTOINCREMENT: a deleted chunk's id is never handed out again, so an id in a vector index
    # always means the same text.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    search_text: Mapped[str] = mapped_column(Text)
    terms: Mapped[list[str]] = mapped_column(JSON)
    analyzer: Mapped[str] = mapped_column(String(32))


class ChangeRecord(Base):
    __tablename__ = "article_changes"
    __table_args__ = {"sqlite_autoincrement": True}

    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(String(64), index=True)
    operation: Mapped[str] = mapped_column(String(8))  # upsert | delete
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class StoredChunk:
    id: int
    article_id: str
    position: int
    heading: str
    text: str
    search_text: str
    terms: list[str]


class ArticleExistsError(ValueError):
    pass


class KnowledgeBase:
    """Reads and writes articles; callers never see sessions or rows."""

    def __init__(self, engine: Engine, analyzer: KeywordAnalyzer | None = None) -> None:
        migrate_database(engine)
        self._sessions: sessionmaker = create_session_factory(engine)
        self.analyzer = analyzer or KeywordAnalyzer()

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

    def categories(self) -> list[str]:
        with self._sessions() as session:
            return sorted(session.scalars(select(ArticleRecord.category).distinct()))

    def upsert_many(
        self, articles: Iterable[Article], on_progress: Callable[[int], None] | None = None
    ) -> int:
        """Insert or replace articles, with their chunks, in one transaction; returns how many
        were written."""
        written = 0
        with self._sessions.begin() as session:
            for article in articles:
                self._write(session, article)
                written += 1
                if on_progress:
                    on_progress(written)
        return written

    def create(self, article: Article) -> Article:
        with self._sessions.begin() as session:
            if session.get(ArticleRecord, article.id) is not None:
                raise ArticleExistsError(article.id)
            self._write(session, article)
        return article

    def update(self, article: Article) -> Article | None:
        """Replace an existing article; None when there is none with that id."""
        with self._sessions.begin() as session:
            if session.get(ArticleRecord, article.id) is None:
                return None
            self._write(session, article)
        return article

    def delete(self, article_id: str) -> bool:
        with self._sessions.begin() as session:
            record = session.get(ArticleRecord, article_id)
            if record is None:
                return False
            session.execute(delete(ChunkRecord).where(ChunkRecord.article_id == article_id))
            session.delete(record)
            session.add(ChangeRecord(article_id=article_id, operation="delete", changed_at=_now()))
        return True

    def _write(self, session, article: Article) -> None:  # noqa: ANN001 - a Session
        fields = article.model_dump()
        fields["updated_at"] = stored_in_jst(article.updated_at)
        session.merge(ArticleRecord(**fields))
        session.execute(delete(ChunkRecord).where(ChunkRecord.article_id == article.id))
        for chunk in chunk_article(article):
            search_text = chunk.search_text(article.title)
            session.add(
                ChunkRecord(
                    article_id=article.id,
                    position=chunk.position,
                    heading=chunk.heading,
                    text=chunk.text,
                    search_text=search_text,
                    terms=self.analyzer.terms(search_text),
                    analyzer=self.analyzer.fingerprint,
                )
            )
        session.add(ChangeRecord(article_id=article.id, operation="upsert", changed_at=_now()))

    # -- what indexes read -------------------------------------------------------------------

    def last_change(self) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.max(ChangeRecord.sequence))) or 0

    def changed_since(self, sequence: int) -> tuple[set[str], int]:
        """Ids of articles written or deleted after `sequence`, and the newest sequence."""
        with self._sessions() as session:
            rows = session.execute(
                select(ChangeRecord.article_id, ChangeRecord.sequence).where(
                    ChangeRecord.sequence > sequence
                )
            ).all()
        return {row.article_id for row in rows}, max(
            (row.sequence for row in rows), default=sequence
        )

    def chunks(
        self, article_ids: Iterable[str] | None = None, batch: int = 2000
    ) -> Iterator[StoredChunk]:
        """Chunks of these articles (all when None), in id order within each slice of 900
        articles (SQLite's parameter limit). Terms made by another analyzer (a changed term
        dictionary) are made again."""
        if article_ids is None:
            yield from self._chunks(select(ChunkRecord).order_by(ChunkRecord.id), batch)
            return
        wanted = list(article_ids)
        for start in range(0, len(wanted), 900):
            query = (
                select(ChunkRecord)
                .where(ChunkRecord.article_id.in_(wanted[start : start + 900]))
                .order_by(ChunkRecord.id)
            )
            yield from self._chunks(query, batch)

    def _chunks(self, query, batch: int) -> Iterator[StoredChunk]:  # noqa: ANN001 - a Select
        with self._sessions() as session:
            for record in session.scalars(query.execution_options(yield_per=batch)):
                terms = record.terms
                if record.analyzer != self.analyzer.fingerprint:
                    terms = self.analyzer.terms(record.search_text)
                yield StoredChunk(
                    record.id,
                    record.article_id,
                    record.position,
                    record.heading,
                    record.text,
                    record.search_text,
                    terms,
                )

    def chunk_count(self) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count()).select_from(ChunkRecord)) or 0

    def get_many(self, article_ids: Iterable[str]) -> dict[str, Article]:
        """Articles by id, asked in slices: SQLite refuses more than 32,766 parameters."""
        wanted = list(article_ids)
        found: dict[str, Article] = {}
        with self._sessions() as session:
            for start in range(0, len(wanted), 900):
                query = select(ArticleRecord).where(
                    ArticleRecord.id.in_(wanted[start : start + 900])
                )
                found.update({record.id: record.to_article() for record in session.scalars(query)})
        return found

    def all_articles(self) -> Iterator[Article]:
        with self._sessions() as session:
            for record in session.scalars(select(ArticleRecord).order_by(ArticleRecord.id)):
                yield record.to_article()


def _now() -> datetime:
    return datetime.now(UTC)
