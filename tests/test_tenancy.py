"""Tenant isolation. Two tenants (acme and beta) and the default one each get keys. acme writes
an article, classifies and hands over tickets, stores resolved tickets and feedback, has a
trained model version and a training job, each marked with a word nobody else uses. Then every
/v1 route is called with beta's key and with the default tenant's, pointed at acme's ids where
the route takes one: acme's marker must never come back, acme's ids must be 404, and acme's
records must be unchanged. Each check has its positive twin (acme's own key does see it), so the
test fails if the data was never there. A table covers every /v1 route: a new route fails the
test until it is added here."""

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ON_POSTGRES
from fastapi.testclient import TestClient
from sqlalchemy import text
from test_auth import route_scopes

from api.app import create_app
from api.training_jobs import TrainingJob
from common.api_keys import KeyStore
from common.encoders import RECOVERED_FOLDER_NAME
from common.registry import ModelRegistry
from common.settings import Settings
from common.storage import create_database_engine
from triage.model import TRIAGE_MODELS

MARKER = "ぺんぎん印の"  # in acme's texts only
ACME_ARTICLE = "kb-acme-1"
ACME_TICKET = "ACME-T-1"
ACME_MODEL_VERSION = "20990101-000000"
ACME_JOB = "acmejob00001"

ACME_ARTICLE_BODY = {
    "id": ACME_ARTICLE,
    "title": f"{MARKER}録音ボタンが灰色のまま押せないとき",
    "body": f"## 症状\n{MARKER}録音ボタンが灰色で押せません。\n\n## 対処\n"
    "ブラウザのマイク許可を確認し、ページを再読み込みしてください。",
    "category": "recording",
    "tags": ["録音", "マイク"],
}
ACME_TICKET_TEXT = {
    "subject": f"{MARKER}録音ボタンが押せない",
    "body": f"{MARKER}録音ボタンが灰色のままで押せません。会議が始められず困っています。",
}
# What others send: acme's words without the marker, close enough that a shared index or a
# shared table of recent tickets would bring acme's article and ticket back.
LOOKALIKE_TICKET = {key: value.replace(MARKER, "") for key, value in ACME_TICKET_TEXT.items()}
OTHER_ARTICLE = {
    "title": "録音ボタンが灰色のまま押せないとき",
    "body": "## 対処\nブラウザのマイク許可を確認してください。",
    "category": "recording",
}

# Every /v1 route: how beta (and the default tenant) call it, aimed at acme's data.
ROUTES: dict[tuple[str, str], tuple[str, dict | None]] = {
    ("GET", "/v1/labels"): ("/v1/labels", None),
    ("POST", "/v1/text/analyze"): ("/v1/text/analyze", {"text": "録音ボタンが押せない"}),
    ("POST", "/v1/mask"): ("/v1/mask", {"text": "録音ボタンが押せない"}),
    ("POST", "/v1/classify"): ("/v1/classify", LOOKALIKE_TICKET),
    ("POST", "/v1/classify/batch"): ("/v1/classify/batch", {"tickets": [LOOKALIKE_TICKET]}),
    ("GET", "/v1/articles"): ("/v1/articles?limit=500", None),
    ("POST", "/v1/articles"): ("/v1/articles", {**OTHER_ARTICLE, "id": "kb-other-2"}),
    ("GET", "/v1/articles/{article_id}"): (f"/v1/articles/{ACME_ARTICLE}", None),
    ("PUT", "/v1/articles/{article_id}"): (f"/v1/articles/{ACME_ARTICLE}", OTHER_ARTICLE),
    ("DELETE", "/v1/articles/{article_id}"): (f"/v1/articles/{ACME_ARTICLE}", None),
    ("POST", "/v1/suggest"): ("/v1/suggest", {"text": "録音ボタンが灰色で押せない"}),
    ("POST", "/v1/tickets/resolved"): (
        "/v1/tickets/resolved",
        {"tickets": [{"ticket_id": "OTHER-T-1", "body": "録音ボタンが押せない件", "labels": {}}]},
    ),
    ("POST", "/v1/feedback"): (
        "/v1/feedback",
        {"kind": "article_attached", "ticket_id": ACME_TICKET, "article_id": ACME_ARTICLE},
    ),
    ("POST", "/v1/handoff"): (
        "/v1/handoff",
        {"name": "beta 太郎", "email": "taro@beta.example", "message": "担当者と話したい"},
    ),
    ("GET", "/v1/session"): ("/v1/session", None),
    ("GET", "/v1/handoffs"): ("/v1/handoffs?limit=200", None),
    ("GET", "/v1/dashboard"): ("/v1/dashboard?days=90", None),
    ("POST", "/v1/admin/train"): None,  # starts a real training run: checked below on its own
    ("GET", "/v1/admin/train/{job_id}"): (f"/v1/admin/train/{ACME_JOB}", None),
    ("GET", "/v1/admin/models/triage"): ("/v1/admin/models/triage", None),
    ("POST", "/v1/admin/models/triage/promote"): (
        "/v1/admin/models/triage/promote",
        {"version": ACME_MODEL_VERSION, "reason": "beta tries acme's model"},
    ),
    ("POST", "/v1/admin/models/triage/rollback"): (
        "/v1/admin/models/triage/rollback",
        {"reason": "beta tries to roll acme back"},
    ),
}
ACME_IDS = (ACME_ARTICLE, ACME_TICKET, ACME_MODEL_VERSION, ACME_JOB)


@pytest.fixture(scope="module")
def tenants(
    tmp_path_factory: pytest.TempPathFactory,
    triage_model_folder: Path,
    encoder_cache_file: Path,
    recovered_folder: Path,
    fresh_database_url: Callable[[str], str],
) -> Iterator[tuple[TestClient, dict[str, dict[str, str]], Settings]]:
    root = tmp_path_factory.mktemp("tenancy")
    models_dir = root / "models"
    models_dir.mkdir()
    (models_dir / RECOVERED_FOLDER_NAME).symlink_to(recovered_folder)
    settings = Settings(
        state_dir=root / "state",
        database_url=fresh_database_url(""),
        models_dir=models_dir,
        encoder_cache_file=encoder_cache_file,
        triage_model=triage_model_folder,
        auth_required=True,
    )
    store = KeyStore(create_database_engine(settings.database_url))
    for tenant in ("acme", "beta"):
        store.create_tenant(tenant)
    headers = {
        tenant: {"Authorization": f"Bearer {store.create(f'{tenant} admin', 'admin', tenant)[1]}"}
        for tenant in ("acme", "beta", "default")
    }
    # acme has a trained model version of its own, promoted in its own registry
    acme_registry = ModelRegistry(settings.for_tenant("acme").registry_dir, TRIAGE_MODELS)
    shutil.copytree(triage_model_folder, acme_registry.root / ACME_MODEL_VERSION)
    acme_registry.promote(ACME_MODEL_VERSION, f"{MARKER}acme's own model")
    with TestClient(create_app(settings)) as client:
        acme = headers["acme"]
        assert client.post("/v1/articles", json=ACME_ARTICLE_BODY, headers=acme).status_code == 201
        beta_article = {**ACME_ARTICLE_BODY, "id": "kb-beta-1", "title": "beta の録音の記事"}
        beta_article["body"] = "## 対処\n録音ボタンが押せないときはマイクの許可を確認します。"
        assert (
            client.post("/v1/articles", json=beta_article, headers=headers["beta"]).status_code
            == 201
        )
        ticket = {**ACME_TICKET_TEXT, "ticket_id": ACME_TICKET}
        assert client.post("/v1/classify", json=ticket, headers=acme).status_code == 200
        resolved = {
            "tickets": [
                {**ACME_TICKET_TEXT, "ticket_id": ACME_TICKET, "labels": {"type": "bug"},
                 "resolved_by_article": ACME_ARTICLE}
            ]
        }  # fmt: skip
        assert client.post("/v1/tickets/resolved", json=resolved, headers=acme).json()["stored"]
        attached = {"kind": "article_attached", "ticket_id": ACME_TICKET,
                    "article_id": ACME_ARTICLE}  # fmt: skip
        assert client.post("/v1/feedback", json=attached, headers=acme).status_code == 201
        handoff = {"name": "acme 花子", "email": "hanako@acme.example",
                   "message": f"{MARKER}録音の件で担当者と話したい",
                   "question": f"{MARKER}録音ボタンが押せない"}  # fmt: skip
        assert client.post("/v1/handoff", json=handoff, headers=acme).status_code == 201
        acme_state = client.app.state.tenants.get("acme")
        acme_state.training_jobs.jobs[ACME_JOB] = TrainingJob(
            ACME_JOB, status="promoted", finished_at=datetime.now(UTC),
            result={"promoted": True, "reason": MARKER},
        )  # fmt: skip
        yield client, headers, settings


def _acme_unchanged(client: TestClient, headers: dict) -> None:
    article = client.get(f"/v1/articles/{ACME_ARTICLE}", headers=headers["acme"])
    assert article.status_code == 200 and article.json()["title"] == ACME_ARTICLE_BODY["title"]
    models = client.get("/v1/admin/models/triage", headers=headers["acme"]).json()
    assert models["champion"] == ACME_MODEL_VERSION


def test_the_table_covers_every_v1_route(tenants: tuple) -> None:
    client, _, _ = tenants
    assert set(ROUTES) == set(route_scopes(client.app))


def test_acme_sees_its_own_data_on_the_routes_that_show_it(tenants: tuple) -> None:
    """The positive twin: the marker and ids are there to be found."""
    client, headers, _ = tenants
    acme = headers["acme"]
    shown = {
        "article": client.get(f"/v1/articles/{ACME_ARTICLE}", headers=acme).text,
        "articles": client.get("/v1/articles?limit=500", headers=acme).text,
        "suggest": client.post(
            "/v1/suggest", json=ROUTES[("POST", "/v1/suggest")][1], headers=acme
        ).text,  # fmt: skip
        "classify": client.post("/v1/classify", json=LOOKALIKE_TICKET, headers=acme).text,
        "handoffs": client.get("/v1/handoffs?limit=200", headers=acme).text,
        "dashboard": client.get("/v1/dashboard?days=90", headers=acme).text,
        "models": client.get("/v1/admin/models/triage", headers=acme).text,
        "job": client.get(f"/v1/admin/train/{ACME_JOB}", headers=acme).text,
    }
    assert MARKER in shown["article"] and ACME_ARTICLE in shown["articles"]
    assert ACME_ARTICLE in shown["suggest"]
    assert ACME_TICKET in shown["classify"]  # acme's own earlier ticket is similar
    assert MARKER in shown["handoffs"] and MARKER in shown["dashboard"]
    assert ACME_MODEL_VERSION in shown["models"] and ACME_JOB in shown["job"]
    assert client.get("/v1/session", headers=acme).json()["tenant"] == "acme"
    assert "kb-beta-1" not in shown["articles"] and "kb-beta-1" not in shown["suggest"]


@pytest.mark.parametrize("viewer", ["beta", "default"])
def test_no_route_shows_another_tenant_anything(tenants: tuple, viewer: str) -> None:
    client, headers, _ = tenants
    leaks = {}
    for (method, path), call in ROUTES.items():
        if call is None:
            continue
        url, body = call
        response = client.request(method, url, json=body, headers=headers[viewer])
        assert response.status_code < 500, (path, response.text)
        # what comes back that the caller did not send (a 404 names the id it was asked for)
        sent = url + json.dumps(body, ensure_ascii=False)
        found = [w for w in (MARKER, *ACME_IDS) if w in response.text and w not in sent]
        if found:
            leaks[f"{method} {path}"] = (response.status_code, found)
    assert leaks == {}
    _acme_unchanged(client, headers)


@pytest.mark.parametrize("viewer", ["beta", "default"])
def test_acmes_ids_are_not_found_for_others(tenants: tuple, viewer: str) -> None:
    client, headers, _ = tenants
    other = headers[viewer]
    assert client.get(f"/v1/articles/{ACME_ARTICLE}", headers=other).status_code == 404
    assert client.delete(f"/v1/articles/{ACME_ARTICLE}", headers=other).status_code == 404
    assert client.get(f"/v1/admin/train/{ACME_JOB}", headers=other).status_code == 404
    promote = ROUTES[("POST", "/v1/admin/models/triage/promote")][1]
    assert client.post("/v1/admin/models/triage/promote", json=promote,
                       headers=other).status_code == 404  # fmt: skip
    attached = ROUTES[("POST", "/v1/feedback")][1]
    assert client.post("/v1/feedback", json=attached, headers=other).status_code in {404, 422}
    _acme_unchanged(client, headers)


def test_each_tenants_records_live_apart(tenants: tuple) -> None:
    """Below the API: acme's resolved tickets, feedback and hand-overs are in acme's database
    only; the default tenant's database holds none of them and no copy of acme's article."""
    client, headers, settings = tenants
    acme_state = client.app.state.tenants.get("acme")
    default_state = client.app.state.service
    assert acme_state.settings.database_url != default_state.settings.database_url
    assert acme_state.engine.dialect.name == ("postgresql" if ON_POSTGRES else "sqlite")
    if ON_POSTGRES:  # acme's tables are in its own schema of the same database
        assert "search_path%3Dtenant_acme" in acme_state.settings.database_url
    for state, expected in ((acme_state, 1), (default_state, 0)):
        with state.engine.connect() as connection:
            for table, column in (
                ("resolved_tickets", "body"),
                ("handoff_tickets", "message"),
                ("recent_tickets", "subject"),
                ("articles", "title"),
            ):
                count = connection.execute(
                    text(f"SELECT count(*) FROM {table} WHERE {column} LIKE :marker"),
                    {"marker": f"%{MARKER}%"},
                ).scalar()
                assert (count > 0) == bool(expected), (state.tenant, table, count)
            feedback = connection.execute(
                text(
                    "SELECT count(*) FROM feedback_events WHERE ticket_id = :ticket AND "
                    "kind = 'article_attached'"
                ),
                {"ticket": ACME_TICKET},
            ).scalar()
        assert (feedback > 0) == bool(expected), state.tenant
    beta = headers["beta"]
    assert client.get("/v1/articles?limit=500", headers=beta).json()  # beta has its own


def test_the_same_ids_in_two_tenants_are_two_things(tenants: tuple) -> None:
    """beta may use an article id and a ticket id acme uses: nothing says acme has them."""
    client, headers, _ = tenants
    beta = headers["beta"]
    created = client.post("/v1/articles", json={**OTHER_ARTICLE, "id": ACME_ARTICLE},
                          headers=beta)  # fmt: skip
    assert created.status_code == 201, created.text
    resolved = {"tickets": [{"ticket_id": ACME_TICKET, "body": "beta の別件", "labels": {}}]}
    stored = client.post("/v1/tickets/resolved", json=resolved, headers=beta).json()
    assert stored["stored"] == 1 and stored["skipped_already_seen"] == 0
    assert (
        client.get(f"/v1/articles/{ACME_ARTICLE}", headers=beta).json()["title"]
        == (OTHER_ARTICLE["title"])
    )
    assert client.delete(f"/v1/articles/{ACME_ARTICLE}", headers=beta).status_code == 204
    _acme_unchanged(client, headers)


def test_a_key_of_a_tenant_that_is_not_served_is_refused(tenants: tuple) -> None:
    client, _, settings = tenants
    store = KeyStore(create_database_engine(settings.database_url))
    store.create_tenant("gamma")
    token = store.create("gamma read", "read", "gamma")[1]
    with store._sessions.begin() as session:  # the tenant removed behind the service's back
        from common.api_keys import TenantRecord

        session.delete(session.get(TenantRecord, "gamma"))
    refused = client.get("/v1/articles", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403 and refused.json()["type"].endswith("unknown-tenant")


def test_tenant_names_are_checked_and_keys_need_a_tenant_that_exists(settings: Settings) -> None:
    store = KeyStore(create_database_engine(settings.database_url))
    with pytest.raises(ValueError, match="lower-case"):
        store.create_tenant("Acme Corp")
    with pytest.raises(ValueError, match="no tenant"):
        store.create("k", "read", "nobody")
    store.create_tenant("acme")
    with pytest.raises(ValueError, match="exists already"):
        store.create_tenant("acme")
    assert [tenant.name for tenant in store.tenants()] == ["default", "acme"]


def test_tenant_settings_point_nowhere_the_default_reads() -> None:
    base = Settings(database_url="postgresql+psycopg://madoguchi@db.internal/madoguchi")
    acme = base.for_tenant("acme")
    assert "search_path%3Dtenant_acme" in acme.database_url
    assert acme.state_dir == base.state_dir / "tenants" / "acme"
    assert acme.index_dir == acme.state_dir / "index"
    assert acme.registry_dir == base.models_dir / "tenants" / "acme"
    assert acme.milvus_collection_prefix == f"{base.milvus_collection_prefix}_acme"
    assert acme.knowledge_gaps_file.parent == acme.state_dir
    assert base.for_tenant("default") is base
    with pytest.raises(ValueError):
        acme.for_tenant("beta")
