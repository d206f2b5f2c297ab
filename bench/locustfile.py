"""The mixed workload of bench/load.py: helpdesks classifying new tickets, chat widgets asking
for articles, editors writing articles (create, then replace or delete), in the proportions a
busy help desk sends them. Tickets and questions come from the sample test split and queries."""

import json
import random
import uuid
from pathlib import Path

from locust import HttpUser, between, task

ROOT = Path(__file__).resolve().parent.parent
TICKETS = [
    json.loads(line)
    for line in (ROOT / "data" / "tickets" / "test.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]
QUESTIONS = [
    json.loads(line)["text"]
    for line in (ROOT / "data" / "queries" / "queries.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip()
]


class HelpdeskUser(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.written: list[str] = []

    @task(4)
    def classify(self) -> None:
        ticket = random.choice(TICKETS)
        body = {key: ticket[key] for key in ("subject", "body", "channel", "plan")}
        self.client.post("/v1/classify", json=body, name="POST /v1/classify")

    @task(4)
    def suggest(self) -> None:
        self.client.post(
            "/v1/suggest", json={"text": random.choice(QUESTIONS)}, name="POST /v1/suggest"
        )

    @task(1)
    def write_article(self) -> None:
        if self.written and random.random() < 0.5:
            article_id = self.written.pop(random.randrange(len(self.written)))
            if random.random() < 0.5:
                self.client.delete(
                    f"/v1/articles/{article_id}", name="DELETE /v1/articles/{article_id}"
                )
                return
            self.client.put(
                f"/v1/articles/{article_id}",
                json=_article("改訂"),
                name="PUT /v1/articles/{article_id}",
            )
            self.written.append(article_id)
            return
        article_id = f"load-{uuid.uuid4().hex[:12]}"
        response = self.client.post(
            "/v1/articles", json={"id": article_id, **_article("新規")}, name="POST /v1/articles"
        )
        if response.status_code == 201:
            self.written.append(article_id)


def _article(kind: str) -> dict:
    topic = random.choice(["録音", "文字起こし", "請求書", "SSO", "話者分離", "共有リンク"])
    return {
        "title": f"{topic}についてのよくある質問（{kind}）",
        "body": f"## 概要\n{topic}の設定と、うまくいかないときの確認点です。\n\n"
        f"## 手順\n1. 管理画面を開きます。\n2. {topic}の設定を確認します。",
        "category": "faq",
        "tags": [topic],
    }
