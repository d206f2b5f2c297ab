"""POST /v1/classify and /v1/classify/batch on the real model (trained once per run): fields with
confidence and alternatives, rules that overrule, priority and SLA deadlines that follow, similar
tickets and surges, and bad input."""

from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from common.settings import Settings

OUTAGE = {
    "subject": "【至急】全社で録音できません",
    "body": "本日朝から全社で録音が開始できません。録音ボタンを押すと E-5000 が表示されます。"
    "500名ほどが影響を受けています。\n\n--\n情報システム部 山田\nTEL 03-0000-0000",
    "channel": "email",
    "plan": "enterprise",
    "created_at": "2026-11-21T03:00:00+09:00",  # a Saturday night
}


@pytest.fixture
def triage_client(settings: Settings, triage_model_folder: Path) -> TestClient:
    settings.triage_model = triage_model_folder
    with TestClient(create_app(settings)) as client:
        yield client


def test_outage_on_enterprise_is_p1_with_a_15_minute_first_response(
    triage_client: TestClient,
) -> None:
    response = triage_client.post("/v1/classify", json=OUTAGE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["urgency"]["value"] == "critical"
    assert body["impact"]["value"] == "organization"
    assert body["priority"]["value"] == "P1"
    assert body["sla"]["first_response_due"] == "2026-11-21T03:15:00+09:00"
    assert body["sla"]["first_response_clock"] == "24x7"
    assert "TEL" not in body["cleaned_text"]
    assert body["language"] == "ja"
    for name in ("type", "urgency", "impact", "queue"):
        field = body[name]
        assert len(field["alternatives"]) == 3
        assert field["alternatives"][0]["confidence"] >= field["alternatives"][1]["confidence"]
        assert field["needs_review"] is (not field["auto_apply"])
    assert any("priority matrix" in reason for reason in body["reasons"])


def test_a_rule_that_decides_says_so(triage_client: TestClient) -> None:
    body = triage_client.post(
        "/v1/classify",
        json={
            "body": "管理者アカウントが乗っ取られ、見覚えのないログインと全録音のダウンロード履歴があります。"
        },
    ).json()
    assert body["urgency"]["value"] == "critical"
    assert body["urgency"]["decided_by"].startswith("rule:")
    assert body["urgency"]["reason"]


def test_how_to_question_on_standard_gets_business_hour_deadlines(
    triage_client: TestClient,
) -> None:
    body = triage_client.post(
        "/v1/classify",
        json={
            "subject": "議事録の共有方法",
            "body": "作成した議事録を社外の取引先に共有したいのですが、どこから設定できますか？",
            "plan": "standard",
            "created_at": "2026-11-20T17:30:00+09:00",  # Friday, half an hour before closing
        },
    ).json()
    assert body["type"]["value"] == "how_to"
    assert body["priority"]["value"] in {"P3", "P4"}
    due = datetime.fromisoformat(body["sla"]["first_response_due"])
    assert due.utcoffset().total_seconds() == 9 * 3600
    assert due.weekday() < 5 and 9 <= due.hour <= 18  # a business hour, after the weekend
    assert body["sla"]["first_response_clock"] == "business_hours"


def test_free_plan_has_no_deadlines(triage_client: TestClient) -> None:
    body = triage_client.post(
        "/v1/classify", json={"body": "請求書の宛名を変えたい", "plan": "free"}
    ).json()
    assert body["sla"]["first_response_due"] is None and body["sla"]["note"]


def test_alike_tickets_in_a_short_window_flag_a_possible_major_incident(
    triage_client: TestClient,
) -> None:
    responses = [
        triage_client.post(
            "/v1/classify",
            json={
                **OUTAGE,
                "ticket_id": f"T-{minute}",
                "body": f"全社で録音が開始できません。E-5000 が表示されます。（拠点{minute}）",
                "created_at": f"2026-11-21T03:{minute:02d}:00+09:00",
            },
        ).json()
        for minute in range(5)
    ]
    assert not responses[0]["major_incident"]["possible_major_incident"]
    last = responses[-1]
    assert last["major_incident"]["possible_major_incident"]
    assert set(last["major_incident"]["ticket_ids"]) == {"T-0", "T-1", "T-2", "T-3"}
    assert last["similar_tickets"][0]["ticket_id"].startswith("T-")
    unrelated = triage_client.post(
        "/v1/classify",
        json={"body": "領収書の宛名を変更したいです", "created_at": "2026-11-21T03:06:00+09:00"},
    ).json()
    assert not unrelated["major_incident"]["possible_major_incident"]


def test_batch_returns_one_result_per_ticket_in_order(triage_client: TestClient) -> None:
    tickets = [{"body": "請求書の宛名を変えたい", "ticket_id": "a"}, {**OUTAGE, "ticket_id": "b"}]
    body = triage_client.post("/v1/classify/batch", json={"tickets": tickets}).json()
    assert [result["ticket_id"] for result in body["results"]] == ["a", "b"]
    assert body["results"][1]["priority"]["value"] == "P1"


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("/v1/classify", {"body": ""}, "body"),
        ("/v1/classify", {"body": "  \n "}, "blank"),
        ("/v1/classify", {"subject": "件名だけ"}, "body"),
        ("/v1/classify", {"body": "x", "plan": "gold"}, "known plans"),
        ("/v1/classify", {"body": "x", "created_at": "yesterday"}, "created_at"),
        ("/v1/classify", {"body": "x", "created_at": "2026-11-21T03:00:00"}, "offset"),
        ("/v1/classify", {"body": "x", "channel": "fax"}, "channel"),
        ("/v1/classify", {"body": "x" * 100_001}, "limit is 100000"),
        ("/v1/classify/batch", {"tickets": []}, "tickets"),
        ("/v1/classify/batch", {"tickets": [{"body": "x"}] * 1001}, "at most 1000"),
        ("/v1/classify/batch", {"tickets": [{"body": "x"}, {"body": "x", "plan": "gold"}]}, "gold"),
    ],
)
def test_bad_tickets_get_a_problem_that_says_what_to_fix(
    triage_client: TestClient, path: str, body: dict, says: str
) -> None:
    response = triage_client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert says in response.text


def test_a_rejected_batch_records_nothing(triage_client: TestClient) -> None:
    triage = triage_client.app.state.service.triage
    before = len(triage.recent_tickets)
    triage_client.post(
        "/v1/classify/batch", json={"tickets": [{"body": "x"}, {"body": "x", "plan": "gold"}]}
    )
    assert len(triage.recent_tickets) == before
