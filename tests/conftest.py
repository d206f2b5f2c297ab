"""Shared fixtures: settings pointing at a temporary database, and a client of the real app."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from common.sample_data import load_articles
from common.settings import Settings
from common.storage import create_database_engine
from retrieval.knowledge_base import KnowledgeBase


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state", log_json=True)


@pytest.fixture
def seeded_settings(settings: Settings) -> Settings:
    engine = create_database_engine(settings.database_url)
    KnowledgeBase(engine).upsert_many(load_articles(settings.data_dir))
    engine.dispose()
    return settings


@pytest.fixture
def client(seeded_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(seeded_settings)) as test_client:
        yield test_client
