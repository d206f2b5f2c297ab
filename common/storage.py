"""Storage helpers: the SQL database, atomic file writes and self-describing artifact folders."""

import hashlib
import json
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, sessionmaker

JST = timezone(timedelta(hours=9))

MANIFEST_NAME = "manifest.json"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_migrated: "weakref.WeakSet[Engine]" = weakref.WeakSet()
_migration_lock = threading.Lock()


class Base(DeclarativeBase):
    """Declarative base of every table madoguchi stores."""


SCHEMA_OPTION = "-csearch_path="


def schema_database_url(database_url: str, schema: str) -> str:
    """The same PostgreSQL database with every table in `schema` (its search_path), which
    create_database_engine creates when missing: how a tenant gets its own tables on a shared
    server."""
    url = make_url(database_url).update_query_dict({"options": f"{SCHEMA_OPTION}{schema}"})
    return url.render_as_string(hide_password=False)


def create_database_engine(database_url: str) -> Engine:
    """An engine for any SQLAlchemy URL. A SQLite file gets its folder created, WAL journaling
    (readers do not block the writer) and enforced foreign keys. A PostgreSQL URL naming a
    schema (schema_database_url) gets that schema created."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True)
        options = url.query.get("options", "")
        if isinstance(options, str) and options.startswith(SCHEMA_OPTION):
            schema = options.removeprefix(SCHEMA_OPTION)
            with engine.begin() as connection:
                connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        return engine
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


def migrate_database(engine: Engine) -> None:
    """Bring the database to the newest schema with the Alembic migrations in
    common/migrations, once per engine and process. Every table madoguchi stores is created and
    changed there, so SQLite and PostgreSQL databases stay the same shape."""
    with _migration_lock:
        if engine in _migrated:
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        _migrated.add(engine)


def create_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False)


def stored_in_jst(moment: datetime) -> datetime:
    """A time read back from the database, in JST: SQLite hands back the stored JST wall time
    without its offset; PostgreSQL hands back UTC."""
    return moment.replace(tzinfo=JST) if moment.tzinfo is None else moment.astimezone(JST)


def redact_database_url(database_url: str) -> str:
    """The URL with its password hidden, safe for logs and /ready."""
    return make_url(database_url).render_as_string(hide_password=True)


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as handle:
        json.dump(payload, handle, ensure_ascii=False, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(handle.name, 0o644)  # temporary files are private; the result is not
    os.replace(handle.name, path)


@contextmanager
def artifact_folder(destination: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside `destination`; when the block succeeds the staging
    folder takes `destination`'s place by rename, when it fails it is removed and `destination`
    is left as it was. Readers never see a half-written artifact."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}."))
    staging.chmod(0o755)
    try:
        yield staging
        retired = destination.with_name(f".{destination.name}.retired")
        shutil.rmtree(retired, ignore_errors=True)
        if destination.exists():
            os.replace(destination, retired)
        os.replace(staging, destination)
        shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_manifest(folder: Path, kind: str, **fields: Any) -> dict[str, Any]:
    """Write the folder's manifest.json: its kind, when it was made, and whatever describes it
    (versions, the hash of what it came from, checks and metrics)."""
    manifest = {"kind": kind, "created_at": datetime.now(UTC).isoformat(), **fields}
    write_json_atomic(folder / MANIFEST_NAME, manifest)
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not an artifact folder: it has no {MANIFEST_NAME}")
    return json.loads(path.read_text(encoding="utf-8"))


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
