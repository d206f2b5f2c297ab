"""Several workers kept consistent: two API processes (two machines, each with its own state
folder and search index) on one real PostgreSQL database. An article written through one is
suggested by the other within a second, and a deletion likewise: the database is the source of
truth and every worker's index replays its change log before it searches. Run with
`make test-scale`."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from common.sample_data import load_articles
from common.settings import Settings
from common.storage import create_database_engine
from retrieval.knowledge_base import KnowledgeBase

ARTICLE = {
    "id": "kb-9101",
    "title": "ペンギン型マイク「ペンマイク」の接続",
    "body": "ペンマイクは USB-C で接続します。Bluetooth のペアリングは不要です。",
    "category": "faq",
    "tags": ["マイク"],
}
QUESTION = {"text": "ペンマイクってどうやってつなぐんですか？", "top_k": 3}
WITHIN_SECONDS = 1.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_worker(environment: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    return subprocess.Popen(
        command,
        env={**os.environ, **environment},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2],
    )


def _wait_ready(url: str, process: subprocess.Popen, log: Path, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited: {log.read_text()[-2000:]}")
        try:
            if httpx2.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"worker not ready within {seconds} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def two_workers(
    postgres_server,  # noqa: ANN001 - tests/postgres.PostgresServer
    tmp_path_factory: pytest.TempPathFactory,
    triage_model_folder: Path,
    encoder_cache_file: Path,
) -> Iterator[tuple[str, str]]:
    database_url = postgres_server.create_database("two_workers")
    engine = create_database_engine(database_url)
    KnowledgeBase(engine).upsert_many(load_articles(Settings().data_dir))
    engine.dispose()
    urls, processes = [], []
    try:
        for name in ("a", "b"):
            folder = tmp_path_factory.mktemp(f"worker-{name}")
            port = _free_port()
            environment = {
                "MADOGUCHI_STATE_DIR": str(folder / "state"),
                "MADOGUCHI_DATABASE_URL": database_url,
                "MADOGUCHI_TRIAGE_MODEL": str(triage_model_folder),
                "MADOGUCHI_ENCODER_CACHE_FILE": str(encoder_cache_file),
            }
            log = folder / "worker.log"
            processes.append((_start_worker(environment, port, log), log))
            urls.append(f"http://127.0.0.1:{port}")
        for url, (process, log) in zip(urls, processes, strict=True):
            _wait_ready(url, process, log)
        yield urls[0], urls[1]
    finally:
        for process, _ in processes:
            process.terminate()
        for process, _ in processes:
            process.wait(timeout=30)


def _suggested(url: str) -> list[str]:
    answer = httpx2.post(f"{url}/v1/suggest", json=QUESTION, timeout=10).json()
    return [article["id"] for article in answer["articles"]]


def _seconds_until(condition, limit: float = 5.0) -> float:  # noqa: ANN001 - a callable
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > limit:
            return float("inf")
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_write_through_one_worker_is_found_through_the_other_within_a_second(
    two_workers: tuple[str, str],
) -> None:
    worker_a, worker_b = two_workers
    assert ARTICLE["id"] not in _suggested(worker_b)
    created = httpx2.post(f"{worker_a}/v1/articles", json=ARTICLE, timeout=30)
    assert created.status_code == 201, created.text
    seen_after = _seconds_until(lambda: ARTICLE["id"] in _suggested(worker_b))
    print(f"worker B suggested the article {seen_after * 1000:.0f} ms after worker A stored it")
    assert seen_after <= WITHIN_SECONDS

    deleted = httpx2.delete(f"{worker_b}/v1/articles/{ARTICLE['id']}", timeout=30)
    assert deleted.status_code == 204, deleted.text
    gone_after = _seconds_until(lambda: ARTICLE["id"] not in _suggested(worker_a))
    print(f"worker A stopped suggesting it {gone_after * 1000:.0f} ms after worker B deleted it")
    assert gone_after <= WITHIN_SECONDS
