"""API keys and scopes: every /v1 route declares one; with authentication required a read key
is refused (403) on every write and admin route, read from the route table so a new route
cannot be forgotten; no key or a revoked one is 401; `serve` refuses a public bind without auth."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.auth import ScopeRequirement
from cli.main import app as cli
from cli.main import is_loopback
from common.api_keys import KeyStore
from common.settings import Settings
from common.storage import create_database_engine


def route_scopes(application) -> dict[tuple[str, str], list[str]]:  # noqa: ANN001
    """(method, path) → the scopes its dependencies require, for every /v1 route."""
    routes = []
    for item in application.routes:
        if isinstance(item, APIRoute):
            routes.append(item)
        elif hasattr(item, "effective_route_contexts"):  # an included router (FastAPI ≥ 0.16x)
            routes.extend(item.effective_route_contexts())
    scopes = {}
    for route in routes:
        if route.path.startswith("/v1"):
            required = [
                dependency.call.scope
                for dependency in route.dependant.dependencies
                if isinstance(dependency.call, ScopeRequirement)
            ]
            for method in route.methods:
                scopes[(method, route.path)] = required
    return scopes


def test_every_v1_route_declares_exactly_one_scope() -> None:
    scopes = route_scopes(create_app(Settings()))
    assert len(scopes) >= 15
    assert {key: value for key, value in scopes.items() if len(value) != 1} == {}
    assert scopes[("POST", "/v1/classify")] == ["read"]
    assert scopes[("POST", "/v1/articles")] == ["write"]
    assert scopes[("POST", "/v1/admin/train")] == ["admin"]


@pytest.fixture
def secured(seeded_settings: Settings, triage_model_folder: Path) -> Iterator[tuple]:
    seeded_settings.triage_model = triage_model_folder
    seeded_settings.auth_required = True
    store = KeyStore(create_database_engine(seeded_settings.database_url))
    tokens = {
        scope: store.create(f"test {scope}", scope)[1] for scope in ("read", "write", "admin")
    }
    with TestClient(create_app(seeded_settings)) as client:
        yield client, tokens, store


# Read from the route table when the tests are collected: a new write or admin route gets
# its own test case without anyone adding it.
WRITE_AND_ADMIN_ROUTES = sorted(
    (method, path, scopes[0])
    for (method, path), scopes in route_scopes(create_app(Settings())).items()
    if scopes and scopes[0] in ("write", "admin")
)


@pytest.fixture(scope="module")
def secured_once(
    tmp_path_factory: pytest.TempPathFactory,
    triage_model_folder: Path,
    encoder_cache_file: Path,
    fresh_database_url: Callable[[str], str],
) -> Iterator[tuple]:
    settings = Settings(
        state_dir=tmp_path_factory.mktemp("auth") / "state",
        database_url=fresh_database_url(""),
        encoder_cache_file=encoder_cache_file,
        triage_model=triage_model_folder,
        auth_required=True,
    )
    store = KeyStore(create_database_engine(settings.database_url))
    token = store.create("test read", "read")[1]
    with TestClient(create_app(settings)) as client:
        yield client, token


def test_the_route_table_has_write_and_admin_routes_to_refuse() -> None:
    assert len(WRITE_AND_ADMIN_ROUTES) >= 9
    assert {scope for _, _, scope in WRITE_AND_ADMIN_ROUTES} == {"write", "admin"}


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    WRITE_AND_ADMIN_ROUTES,
    ids=[f"{method} {path}" for method, path, _ in WRITE_AND_ADMIN_ROUTES],
)
def test_a_read_key_is_refused_on_every_write_and_admin_route(
    secured_once: tuple, method: str, path: str, needed: str
) -> None:
    client, token = secured_once
    response = client.request(
        method,
        path.replace("{", "no-such-").replace("}", ""),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403, (method, path, response.text[:200])
    assert response.headers["content-type"] == "application/problem+json"
    assert "needs " + needed in response.json()["detail"]


def test_keys_open_their_scope_and_everything_below(secured: tuple) -> None:
    client, tokens, _ = secured
    ticket = {"body": "ログインできません"}
    assert (
        client.post("/v1/classify", json=ticket, headers={"X-API-Key": tokens["read"]}).status_code
        == 200
    )
    article = {
        "id": "kb-auth-1",
        "title": "鍵のテスト",
        "body": "本文",
        "category": "faq",
        "tags": [],
    }
    created = client.post("/v1/articles", json=article, headers={"X-API-Key": tokens["write"]})
    assert created.status_code == 201
    listed = client.get("/v1/admin/models/triage", headers={"X-API-Key": tokens["admin"]})
    assert listed.status_code == 200
    assert client.get("/v1/articles", headers={"X-API-Key": tokens["admin"]}).status_code == 200


def test_no_key_an_unknown_key_or_a_revoked_key_is_401(secured: tuple) -> None:
    client, tokens, store = secured
    assert client.get("/health").status_code == 200  # health and readiness stay open
    missing = client.post("/v1/suggest", json={"text": "請求書"})
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "madoguchi keys create" in missing.json()["detail"]
    forged = tokens["admin"][:-4] + "AAAA"
    assert (
        client.post(
            "/v1/suggest", json={"text": "請求書"}, headers={"X-API-Key": forged}
        ).status_code
        == 401
    )
    key_id = tokens["read"].split("_")[1]
    assert store.revoke(key_id)
    revoked = client.post(
        "/v1/suggest", json={"text": "請求書"}, headers={"X-API-Key": tokens["read"]}
    )
    assert revoked.status_code == 401


def test_keys_are_stored_hashed_and_managed_from_the_cli(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MADOGUCHI_STATE_DIR", str(settings.state_dir))
    created = CliRunner().invoke(cli, ["keys", "create", "--name", "widget", "--scope", "read"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("mdg_")
    database = (settings.state_dir / "madoguchi.db").read_bytes()
    assert token.split("_", 2)[2].encode() not in database  # only the secret's hash is kept
    listed = CliRunner().invoke(cli, ["keys", "list"])
    assert "widget" in listed.output
    key_id = token.split("_")[1]
    assert CliRunner().invoke(cli, ["keys", "revoke", key_id]).exit_code == 0
    assert CliRunner().invoke(cli, ["keys", "revoke", key_id]).exit_code == 2
    bad = CliRunner().invoke(cli, ["keys", "create", "--name", "x", "--scope", "root"])
    assert bad.exit_code == 2


def test_serve_refuses_a_public_address_without_authentication() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 2 and "MADOGUCHI_AUTH_REQUIRED" in result.output


def test_a_key_past_its_rate_limit_gets_429_with_retry_after(
    seeded_settings: Settings, triage_model_folder: Path
) -> None:
    seeded_settings.triage_model = triage_model_folder
    seeded_settings.auth_required = True
    seeded_settings.rate_limit_per_minute = 3
    store = KeyStore(create_database_engine(seeded_settings.database_url))
    busy, other = store.create("busy", "read")[1], store.create("other", "read")[1]
    with TestClient(create_app(seeded_settings)) as client:
        codes = [
            client.get("/v1/labels", headers={"X-API-Key": busy}).status_code for _ in range(4)
        ]
        limited = client.get("/v1/labels", headers={"X-API-Key": busy})
        assert codes == [200, 200, 200, 429] and limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 20
        assert limited.headers["content-type"] == "application/problem+json"
        assert client.get("/v1/labels", headers={"X-API-Key": other}).status_code == 200


def test_cors_answers_only_the_configured_widget_origins(settings: Settings) -> None:
    settings.cors_origins = ["https://help.koemoji.example"]
    with TestClient(create_app(settings)) as client:
        preflight = {"Access-Control-Request-Method": "POST"}
        allowed = client.options(
            "/v1/suggest", headers={"Origin": "https://help.koemoji.example", **preflight}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://help.koemoji.example"
        other = client.options(
            "/v1/suggest", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in other.headers
