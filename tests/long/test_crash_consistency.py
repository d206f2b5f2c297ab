"""Crash consistency: `madoguchi serve` is killed with SIGKILL while clients write articles and
feedback, then started again. Every write the server acknowledged must be in the database and
in the search index (found by its own words, counted in the index), and a write that was cut
off must be either whole or absent, never half there."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from common.settings import PROJECT_ROOT

KILLS = 3
WRITES_PER_ROUND = 360  # 3 rounds: over 1,000 acknowledged writes
WRITERS = 6


@dataclass
class Ledger:
    """What the clients sent, and which of it the server acknowledged."""

    articles_acked: dict[str, dict] = field(default_factory=dict)
    articles_cut: dict[str, dict] = field(default_factory=dict)
    feedback_acked: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acked(self) -> int:
        return len(self.articles_acked) + len(self.feedback_acked)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(port: int, method: str, path: str, body: dict | None = None, timeout: float = 30):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


class Server:
    def __init__(self, environment: dict[str, str], log: Path) -> None:
        self.environment = environment
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.port = free_port()
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "serve", "--port", str(self.port)],
                cwd=PROJECT_ROOT,
                env=self.environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if call(self.port, "GET", "/ready", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the server did not get ready; see {self.log}")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)


def write_until(server: Server, ledger: Ledger, target: int, round_number: int) -> None:
    """WRITERS threads write articles and feedback, alternately, until `target` writes are
    acknowledged in all; then the server is killed while they are still writing."""
    stop = threading.Event()

    def writer(number: int) -> None:
        sequence = 0
        while not stop.is_set():
            sequence += 1
            token = f"zq{uuid.uuid4().hex[:10]}"
            if sequence % 2:
                article = {
                    "id": f"crash-{round_number}-{number}-{sequence}",
                    "title": f"停電後の復旧手順 {token}",
                    "body": f"## 手順\n{token} の確認をしてから録音を再開します。\n\n"
                    "## 注意\n途中で止まった録音は下書きに残ります。",
                    "category": "recording",
                    "tags": ["crash-test"],
                }
                with ledger.lock:
                    ledger.articles_cut[article["id"]] = article
                try:
                    status, _ = call(server.port, "POST", "/v1/articles", article)
                except OSError:
                    continue
                if status == 201:
                    with ledger.lock:
                        ledger.articles_acked[article["id"]] = ledger.articles_cut.pop(
                            article["id"]
                        )
            else:
                feedback = {"kind": "suggestion_handed_over", "query": f"止まりました {token}"}
                try:
                    status, _ = call(server.port, "POST", "/v1/feedback", feedback)
                except OSError:
                    continue
                if status == 201:
                    with ledger.lock:
                        ledger.feedback_acked.add(token)

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(WRITERS)]
    for thread in threads:
        thread.start()
    while ledger.acked() < target:
        time.sleep(0.05)
    server.kill()  # mid-write: the writers are still sending
    stop.set()
    for thread in threads:
        thread.join()


def test_no_acknowledged_write_is_lost_over_three_kills(
    tmp_path: Path, triage_model_folder: Path, recovered_folder: Path
) -> None:
    environment = os.environ | {
        "MADOGUCHI_STATE_DIR": str(tmp_path / "state"),
        "MADOGUCHI_TRIAGE_MODEL": str(triage_model_folder),
        "MADOGUCHI_LOG_JSON": "true",
    }
    server = Server(environment, tmp_path / "server.log")
    ledger = Ledger()
    for round_number in range(1, KILLS + 1):
        server.start()
        write_until(server, ledger, WRITES_PER_ROUND * round_number, round_number)
    server.start()
    try:
        assert ledger.acked() >= 1000

        missing = []
        for article_id, sent in ledger.articles_acked.items():
            status, stored = call(server.port, "GET", f"/v1/articles/{article_id}")
            if status != 200 or (stored["title"], stored["body"]) != (sent["title"], sent["body"]):
                missing.append(article_id)
        assert missing == [], f"{len(missing)} acknowledged articles lost, e.g. {missing[:3]}"

        half_written = []
        for article_id, sent in ledger.articles_cut.items():
            status, stored = call(server.port, "GET", f"/v1/articles/{article_id}")
            whole = status == 200 and (stored["title"], stored["body"]) == (
                sent["title"],
                sent["body"],
            )
            if status != 404 and not whole:
                half_written.append(article_id)
        assert half_written == []

        # the index holds exactly the articles the database holds, and finds each by its words
        _, listed = call(server.port, "GET", "/v1/articles?limit=1")
        _, ready = call(server.port, "GET", "/ready")
        index = next(part for part in ready["components"] if part["name"] == "search_index")
        assert f"of {listed['total']} articles" in index["detail"], index["detail"]
        not_found = []
        for article_id, sent in list(ledger.articles_acked.items()):
            token = sent["title"].split()[-1]
            _, answer = call(server.port, "POST", "/v1/suggest", {"text": token, "top_k": 3})
            if article_id not in [article["id"] for article in answer["articles"]]:
                not_found.append(article_id)
        assert not_found == [], f"{len(not_found)} articles missing from the index"
    finally:
        server.stop()

    with sqlite3.connect(tmp_path / "state" / "madoguchi.db") as database:
        queries = {row[0] for row in database.execute("SELECT query FROM feedback_events")}
    lost = [token for token in ledger.feedback_acked if f"止まりました {token}" not in queries]
    assert lost == [], f"{len(lost)} acknowledged feedback events lost"
    print(
        f"{ledger.acked()} acknowledged writes ({len(ledger.articles_acked)} articles, "
        f"{len(ledger.feedback_acked)} feedback) over {KILLS} kills; "
        f"{len(ledger.articles_cut)} cut off mid-write, none half there"
    )
