"""The service skeleton: probes, labels, text analysis, articles, request ids and JSON logs."""

import io
import json
import logging

from conftest import ON_POSTGRES
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from common.json_logging import JsonFormatter
from common.sample_data import load_articles
from common.settings import Settings

SHIPPED_ARTICLES = len(load_articles(Settings().data_dir))


def test_health_answers_ok(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_lists_loaded_components_with_versions(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    components = {component["name"]: component for component in body["components"]}
    assert set(components) == {"labels", "text_pipeline", "database", "search_index", "triage"}
    assert "auto-apply thresholds" in components["triage"]["detail"]
    assert "e5-small" in components["search_index"]["version"]
    assert "flat index" in components["search_index"]["detail"]
    assert "unidic-lite" in components["text_pipeline"]["version"]
    assert components["database"]["version"] == ("postgresql" if ON_POSTGRES else "sqlite")
    assert f"{SHIPPED_ARTICLES} articles" in components["database"]["detail"]


def test_ready_reports_503_when_the_database_is_gone(client: TestClient) -> None:
    unreachable = create_engine("sqlite:////proc/no-such-dir/madoguchi.db")
    client.app.state.service.engine = unreachable
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    database = next(c for c in response.json()["components"] if c["name"] == "database")
    assert database["ready"] is False and database["detail"]


def test_labels_have_japanese_display_names(client: TestClient) -> None:
    fields = {field["field"]: field for field in client.get("/v1/labels").json()["fields"]}
    assert list(fields) == ["type", "urgency", "impact", "queue"]
    assert [value["value"] for value in fields["urgency"]["values"]] == [
        "critical",
        "high",
        "medium",
        "low",
    ]
    type_names = {value["value"]: value["display_name"] for value in fields["type"]["values"]}
    assert type_names["bug"] == "不具合"
    assert fields["queue"]["display_name"] == "担当キュー"


def test_analyze_cleans_a_messy_mail_and_reads_it(client: TestClient) -> None:
    mail = (
        "ﾛｸﾞｲﾝできません。SSOでＥ－４０１０が出ます\n\n--\n山田 太郎\n株式会社サンプル\n"
        "TEL 03-1234-5678"
    )
    response = client.post("/v1/text/analyze", json={"text": mail})
    assert response.status_code == 200
    body = response.json()
    assert body["language"]["code"] == "ja"
    assert body["cleaned"] == "ログインできません。SSOでE-4010が出ます"
    assert body["removed"][0]["kind"] == "signature"
    assert "4010" in body["content_words"] and "sso" in body["content_words"]
    assert any(token["lemma"] == "出る" for token in body["tokens"])


def test_analyze_can_leave_the_mail_as_it_is(client: TestClient) -> None:
    mail = "録音できません\n\n--\n山田\nTEL 03-1234-5678"
    body = client.post("/v1/text/analyze", json={"text": mail, "strip_email": False}).json()
    assert "TEL 03-1234-5678" in body["cleaned"]
    assert body["removed"] == []


def test_articles_are_listed_and_fetched_in_japanese(client: TestClient) -> None:
    listing = client.get("/v1/articles", params={"limit": 5}).json()
    assert listing["total"] == SHIPPED_ARTICLES
    assert len(listing["articles"]) == 5
    article = client.get(f"/v1/articles/{listing['articles'][0]['id']}").json()
    assert article["language"] == "ja"
    assert article["updated_at"].endswith("+09:00")


def test_articles_can_be_filtered_by_category(client: TestClient) -> None:
    listing = client.get("/v1/articles", params={"category": "billing", "limit": 500}).json()
    assert listing["articles"]
    assert {article["category"] for article in listing["articles"]} == {"billing"}


def test_request_id_is_taken_from_the_caller_or_made(client: TestClient) -> None:
    assert client.get("/health", headers={"X-Request-ID": "zd-4711"}).headers["x-request-id"] == (
        "zd-4711"
    )
    made = client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32


def test_every_request_is_logged_as_json_with_its_request_id(client: TestClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    access_logger = logging.getLogger("madoguchi.access")
    access_logger.addHandler(handler)
    access_logger.setLevel(logging.INFO)
    try:
        client.post("/v1/text/analyze", json={"text": "テスト"}, headers={"X-Request-ID": "r-1"})
    finally:
        access_logger.removeHandler(handler)
    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert entry["request_id"] == "r-1"
    assert entry["path"] == "/v1/text/analyze"
    assert entry["status"] == 200
    assert entry["duration_ms"] >= 0


def test_text_longer_than_the_limit_is_refused_with_advice(seeded_settings: Settings) -> None:
    from api.app import create_app

    limited = seeded_settings.model_copy(update={"max_text_chars": 100})
    with TestClient(create_app(limited)) as client:
        response = client.post("/v1/text/analyze", json={"text": "あ" * 101})
    assert response.status_code == 422
    assert response.json()["type"].endswith("text-too-long")
    assert "limit is 100" in response.json()["detail"]


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert "/v1/text/analyze" in client.get("/openapi.json").json()["paths"]
