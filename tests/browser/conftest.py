"""End-to-end fixtures: one live app (authentication on, sample knowledge base, the test
triage model) for the whole browser run, keys of each scope, and a Chromium page per test that
fails the test on any console error or uncaught exception. Run with `make test-browser`."""

import os
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from live_server import CHROMIUM_ARGS, chromium_path, live_server

from common.api_keys import KeyStore
from common.labels import LabelSet
from common.sample_data import load_articles
from common.settings import Settings
from common.storage import create_database_engine
from records.store import RecordStore
from retrieval.knowledge_base import KnowledgeBase

FIGURES: dict[str, list[float]] = {}  # reported at the end of the run, never asserted


def record_figure(name: str, value: float) -> None:
    FIGURES.setdefault(name, []).append(float(value))


def pytest_terminal_summary(terminalreporter: Any) -> None:  # noqa: ANN401 - pytest's reporter
    for name, values in FIGURES.items():
        if name.endswith("(1 = yes)"):
            terminalreporter.write_line(f"{name}: {sum(values):.0f} of {len(values)}")
            continue
        terminalreporter.write_line(
            f"{name}: median {statistics.median(values):.0f} ms, min {min(values):.0f}, "
            f"max {max(values):.0f} over {len(values)} questions "
            f"({', '.join(f'{value:.0f}' for value in values)})"
        )


class Site:
    def __init__(self, url: str, settings: Settings, keys: dict[str, str]) -> None:
        self.url = url
        self.settings = settings
        self.keys = keys
        engine = create_database_engine(settings.database_url)
        self.records = RecordStore(engine, LabelSet.from_file(settings.labels_file))


@pytest.fixture(scope="session")
def site(
    tmp_path_factory: pytest.TempPathFactory, triage_model_folder: Path, encoder_cache_file: Path
) -> Iterator[Site]:
    state_dir = tmp_path_factory.mktemp("browser") / "state"
    settings = Settings(
        state_dir=state_dir, encoder_cache_file=encoder_cache_file, auth_required=True
    )
    engine = create_database_engine(settings.database_url)
    KnowledgeBase(engine).upsert_many(load_articles(settings.data_dir))
    store = KeyStore(engine)
    keys = {scope: store.create(f"browser {scope}", scope)[1] for scope in ("widget", "write")}
    engine.dispose()
    settings.triage_model = triage_model_folder
    settings.demo_widget_key = keys["widget"]
    with live_server(settings) as url:
        yield Site(url, settings, keys)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        message = (
            "no Chromium here: install Debian's chromium package (apt-get install chromium) "
            "or set MADOGUCHI_CHROMIUM to its path"
        )
        if os.environ.get("MADOGUCHI_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class ConsoleErrors(list):
    """Console errors and uncaught exceptions seen on a page."""


@contextmanager
def _open_page(browser: Any, viewport: dict[str, int]) -> Iterator[tuple[Any, ConsoleErrors]]:
    context = browser.new_context(viewport=viewport, locale="ja-JP", timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors = ConsoleErrors()
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    yield page, errors
    context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A desktop-sized page; the test fails on any console error."""
    with _open_page(browser, {"width": 1280, "height": 860}) as (opened, errors):
        yield opened
        assert list(errors) == [], errors


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    """A page 375 px wide (a phone); the test fails on any console error."""
    with _open_page(browser, {"width": 375, "height": 740}) as (opened, errors):
        yield opened
        assert list(errors) == [], errors
