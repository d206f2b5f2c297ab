"""What the chat widget, the agent console and the dashboard call: a `widget` key may suggest,
send the customer's feedback and hand over, and nothing that shows other customers' tickets;
a hand-over goes through triage and is kept for the agents; the dashboard counts what the
database holds; the pages and the widget script are served."""

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.dashboard import build_dashboard
from common.api_keys import KeyStore
from common.labels import LabelSet
from common.sample_data import load_articles
from common.settings import Settings
from common.storage import create_database_engine
from records.store import RecordStore
from retrieval.knowledge_base import KnowledgeBase
from triage.similar import JST


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
    triage_model_folder: Path,
    encoder_cache_file: Path,
    fresh_database_url: Callable[[str], str],
) -> Iterator[tuple[TestClient, dict[str, dict[str, str]], Settings]]:
    settings = Settings(
        state_dir=tmp_path_factory.mktemp("console") / "state",
        database_url=fresh_database_url(""),
        encoder_cache_file=encoder_cache_file,
        triage_model=triage_model_folder,
        auth_required=True,
        demo_widget_key="mdg_demo_<key>",
    )
    engine = create_database_engine(settings.database_url)
    KnowledgeBase(engine).upsert_many(load_articles(settings.data_dir))
    store = KeyStore(engine)
    headers = {
        scope: {"Authorization": f"Bearer {store.create(f'test {scope}', scope)[1]}"}
        for scope in ("widget", "read", "write")
    }
    with TestClient(create_app(settings)) as client:
        yield client, headers, settings


HANDOFF = {
    "name": "山田 花子",
    "email": "hanako.yamada@example.jp",
    "message": "請求書の宛名を変えたいのですが、記事の手順でうまくいきません。折り返しは 090-1234-5678 まで。",
    "question": "請求書の宛名を変更したい",
    "page_url": "https://help.example.jp/billing",
}


def test_a_widget_key_suggests_hands_over_and_sends_the_customers_feedback(served: tuple) -> None:
    client, headers, _ = served
    widget = headers["widget"]
    suggested = client.post("/v1/suggest", json={"text": "請求書の宛名を変えたい"}, headers=widget)
    assert suggested.status_code == 200 and suggested.json()["articles"]
    answered = client.post(
        "/v1/feedback",
        json={"kind": "suggestion_answered", "query": "請求書の宛名を変えたい",
              "article_id": suggested.json()["articles"][0]["id"]},
        headers=widget,
    )  # fmt: skip
    assert answered.status_code == 201
    created = client.post("/v1/handoff", json=HANDOFF, headers=widget)
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert ticket["priority"] in {"P1", "P2", "P3", "P4"} and ticket["plan"] == "standard"
    due = datetime.fromisoformat(ticket["first_response_due"])
    assert due.utcoffset() == timedelta(hours=9) and due > datetime.now(JST)


def test_a_widget_key_opens_nothing_that_shows_other_tickets_or_sets_labels(
    served: tuple,
) -> None:
    client, headers, _ = served
    widget = headers["widget"]
    refused = [
        client.post("/v1/classify", json={"body": "ログインできません"}, headers=widget),
        client.get("/v1/handoffs", headers=widget),
        client.get("/v1/dashboard", headers=widget),
        client.post(
            "/v1/feedback",
            json={"kind": "label_corrected", "ticket_id": "t-1", "field": "type", "value": "bug"},
            headers=widget,
        ),
    ]
    assert [response.status_code for response in refused] == [403, 403, 403, 403]
    assert "needs scope write" in refused[-1].json()["detail"]
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
    session = client.get("/v1/session", headers=widget).json()
    assert session["scope"] == "widget" and session["auth_required"] is True


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"email": "hanako.example.jp"}, "email"),
        ({"name": "   "}, "name"),
        ({"message": ""}, "message"),
        ({"plan": "platinum"}, "plan"),
        ({"phone": "03-1234-5678"}, "phone"),
    ],
)
def test_a_bad_handoff_is_a_4xx_problem_that_says_what_to_fix(
    served: tuple, change: dict, where: str
) -> None:
    client, headers, _ = served
    response = client.post("/v1/handoff", json=HANDOFF | change, headers=headers["widget"])
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert where in response.json()["detail"]


def test_handed_over_tickets_are_kept_for_agents_with_the_contact_and_masked_text(
    served: tuple,
) -> None:
    client, headers, settings = served
    created = client.post("/v1/handoff", json=HANDOFF, headers=headers["widget"]).json()
    listed = client.get("/v1/handoffs?limit=5", headers=headers["read"])
    assert listed.status_code == 200
    kept = next(t for t in listed.json()["handoffs"] if t["ticket_id"] == created["ticket_id"])
    assert kept["email"] == HANDOFF["email"] and kept["name"] == HANDOFF["name"]
    assert "090-1234-5678" not in kept["message"] and "請求書の宛名" in kept["message"]
    assert kept["priority"] == created["priority"] and kept["question"] == HANDOFF["question"]
    engine = create_database_engine(settings.database_url)
    store = RecordStore(engine, LabelSet.from_file(settings.labels_file))
    handed = store.feedback_events("suggestion_handed_over")
    assert created["ticket_id"] in {event.ticket_id for event in handed}
    assert client.get("/v1/handoffs?limit=0", headers=headers["read"]).status_code == 422


def test_an_agent_accepts_a_label_and_retraining_reads_it_as_the_ticket_label(
    served: tuple,
) -> None:
    from training.retraining import _latest_corrections

    client, headers, settings = served
    write = headers["write"]
    event = {"kind": "label_accepted", "ticket_id": "t-accept", "field": "urgency", "value": "low"}
    assert client.post("/v1/feedback", json=event, headers=write).status_code == 201
    corrected = event | {"kind": "label_corrected", "value": "high", "previous_value": "low"}
    assert client.post("/v1/feedback", json=corrected, headers=write).status_code == 201
    bad = event | {"value": "urgent"}
    assert client.post("/v1/feedback", json=bad, headers=write).status_code == 422
    store = RecordStore(
        create_database_engine(settings.database_url), LabelSet.from_file(settings.labels_file)
    )
    assert _latest_corrections(store)[("t-accept", "urgency")] == "high"  # the last one counts


def test_the_dashboard_counts_what_the_database_holds(tmp_path: Path, served: tuple) -> None:
    client, headers, settings = served
    now = datetime.now(JST)
    tickets = [
        {"ticket_id": f"dash-{n}", "body": body, "created_at": (now - timedelta(days=days)).isoformat()}
        for n, (body, days) in enumerate(
            [
                ("本日朝から全社で録音が開始できません。E-5000 が表示されます。", 0),
                ("請求書の宛名を変更したいです", 1),
                ("パスワードを忘れました。再設定の方法を教えてください", 1),
                ("話者分離の精度を上げる方法はありますか", 3),
                ("去年の議事録を見たい", 40),  # outside a 14-day window
            ]
        )
    ]  # fmt: skip
    classified = client.post(
        "/v1/classify/batch", json={"tickets": tickets}, headers=headers["read"]
    )
    assert classified.status_code == 200
    results = {r["ticket_id"]: r for r in classified.json()["results"]}
    resolved = {"ticket_id": "dash-2", "body": tickets[2]["body"], "labels": {"type": "account"}}
    stored = client.post(
        "/v1/tickets/resolved", json={"tickets": [resolved]}, headers=headers["write"]
    )
    assert stored.status_code == 200
    gaps = {"generated_at": now.isoformat(), "candidates": 9, "gaps": [
        {"keywords": ["宛名", "請求書"], "size": 4, "recent": 3, "nearest_article": "kb-0020",
         "representatives": ["請求書の宛名を変えたい"], "value": 2.0}]}  # fmt: skip
    settings.knowledge_gaps_file.write_text(json.dumps(gaps, ensure_ascii=False), encoding="utf-8")

    response = client.get("/v1/dashboard?days=14", headers=headers["read"])
    assert response.status_code == 200
    board = response.json()
    engine = create_database_engine(settings.database_url)
    records = RecordStore(engine, LabelSet.from_file(settings.labels_file))
    field_names = LabelSet.from_file(settings.labels_file).field_names
    expected = build_dashboard(engine, records, settings.knowledge_gaps_file, 14, field_names)
    assert board["tickets"] == expected.tickets
    # every ticket classified in this module within the window, the 40-day-old one left out
    days = {row["date"]: row for row in board["volumes"]}
    assert len(days) == 14 and sum(row["total"] for row in board["volumes"]) == board["tickets"]
    today, yesterday = now.date().isoformat(), (now - timedelta(days=1)).date().isoformat()
    assert days[yesterday]["total"] == 2
    p1 = results["dash-0"]["priority"]["value"]
    assert days[today]["by_priority"].get(p1, 0) >= 1
    assert sum(days[today]["by_type"].values()) == days[today]["total"]
    assert board["auto_apply"]["out_of"] == board["tickets"]
    decisions = board["auto_apply_decisions"]
    assert decisions["out_of"] == 4 * board["tickets"]
    assert decisions["count"] == sum(s["count"] for s in board["auto_apply_by_field"].values())
    applied_to_p1 = {
        name for name, field in results["dash-0"]["fields"].items() if field["auto_apply"]
    }
    assert applied_to_p1 <= set(board["auto_apply_by_field"])
    # one conversation answered in the widget, two handed over (the tests above)
    assert (
        board["deflection"]["count"] + board["handover"]["count"] == board["deflection"]["out_of"]
    )
    assert board["handover"]["count"] >= 1 and board["deflection"]["count"] >= 1
    at_risk = {(item["ticket_id"], item["clock"]) for item in board["sla_at_risk"]}
    assert ("dash-0", "first_response") in at_risk  # a P1: one hour from now
    assert not any(ticket_id == "dash-2" for ticket_id, _ in at_risk)  # resolved since
    assert board["knowledge_gaps"]["gaps"][0]["keywords"] == ["宛名", "請求書"]
    assert HANDOFF["question"] in board["knowledge_gaps"]["handed_over_questions"]
    assert client.get("/v1/dashboard?days=0", headers=headers["read"]).status_code == 422


def test_the_pages_and_the_widget_script_are_served(served: tuple) -> None:
    client, _, _ = served
    for path in ("/console", "/console/dashboard", "/demo"):
        page = client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "{{" not in page.text  # every placeholder filled
    assert 'data-key="mdg_demo_&lt;key&gt;"' in client.get("/demo").text  # escaped
    assert 'data-auth-required="true"' in client.get("/console").text
    script = client.get("/widget.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert client.get("/ui/console.js").status_code == 200
    missing = client.get("/ui/secrets.txt")
    assert missing.status_code == 404 and "console.css" in missing.json()["detail"]
