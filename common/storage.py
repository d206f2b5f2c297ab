"""Storage helpers: the SQL database every part of madoguchi keeps its records in."""

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, sessionmaker


class Base(DeclarativeBase):
    """Declarative base of every table madoguchi stores."""


def create_database_engine(database_url: str) -> Engine:
    """An engine for any SQLAlchemy URL. A SQLite file gets its folder created, WAL journaling
    (readers do not block the writer) and enforced foreign keys."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(connection, _record) -> None:  # noqa: ANN001 - DB-API connection
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    return engine


def create_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False)


def redact_database_url(database_url: str) -> str:
    """The URL with its password hidden, safe for logs and /ready."""
    return make_url(database_url).render_as_string(hide_password=True)
