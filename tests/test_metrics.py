"""GET /metrics for Prometheus: latency per route template, the versions serving, the share of
triage fields applied without review and of suggestions handed over, SLA deadlines due soon;
and nothing of a request's text in it."""

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.metrics import JST, ServiceMetrics

SECRET_PHRASE = "機密プロジェクト青嵐の議事録"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_requests_decisions_versions_and_deadlines(client: TestClient) -> None:
    outage = {
        "subject": "【至急】全社で録音できません",
        "body": f"本日朝から全社で録音が開始できません。{SECRET_PHRASE}が作れず困っています。",
        "plan": "enterprise",
    }
    assert client.post("/v1/classify", json=outage).status_code == 200
    suggested = client.post("/v1/suggest", json={"text": "請求書の宛名を変更したい"})
    article_id = client.app.state.service.knowledge_base.list(limit=1)[0].id
    assert client.get(f"/v1/articles/{article_id}").status_code == 200
    assert client.get("/v1/nowhere").status_code == 404

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert SECRET_PHRASE not in response.text and article_id not in response.text
    found = samples(response.text)
    count = "madoguchi_http_request_duration_seconds_count"
    for route, status in (
        ("/v1/classify", "200"),
        ("/v1/suggest", "200"),
        ("/v1/articles/{article_id}", "200"),
        ("unmatched", "404"),
    ):
        method = "GET" if "articles" in route or route == "unmatched" else "POST"
        key = (count, (("method", method), ("route", route), ("status", status)))
        assert found.get(key) == 1.0, (route, sorted(k for k in found if k[0] == count))
    decisions = {
        labels: value
        for (name, labels), value in found.items()
        if name == "madoguchi_triage_field_decisions_total"
    }
    assert sum(decisions.values()) == 4.0  # type, urgency, impact, queue of one ticket
    decision = suggested.json()["decision"]
    assert found[("madoguchi_suggestions_total", (("decision", decision),))] == 1.0
    assert found[("madoguchi_suggest_handoff_share", ())] == (1.0 if decision == "handoff" else 0.0)
    versions = {
        dict(labels)["component"] for (name, labels) in found if name == "madoguchi_component_info"
    }
    assert {"triage", "search_index", "labels"} <= versions
    due = {
        dict(labels)["priority"]: value
        for (name, labels), value in found.items()
        if name == "madoguchi_sla_deadlines" and dict(labels)["clock"] == "first_response"
    }
    assert due == {"P1": 1.0}  # an enterprise P1 is due within 15 minutes


def test_deadlines_count_due_soon_and_passed_for_recent_tickets_only() -> None:
    metrics = ServiceMetrics(open_days=14)
    now = datetime(2026, 11, 24, 10, 0, tzinfo=JST)
    metrics._deadlines.extend(
        [
            (
                now - timedelta(minutes=5),
                "P1",
                now + timedelta(minutes=10),
                now + timedelta(hours=4),
            ),
            (now - timedelta(hours=3), "P2", now - timedelta(minutes=1), None),
            (now - timedelta(days=20), "P3", now - timedelta(days=19), None),  # not recent
            (now, "P4", now + timedelta(days=2), now + timedelta(days=5)),  # not due soon
        ]
    )
    assert metrics.deadline_counts(now) == {
        ("first_response", "due_soon", "P1"): 1,
        ("first_response", "passed", "P2"): 1,
    }
