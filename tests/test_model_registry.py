"""The model registry: versioned folders, promotion, rejection and rollback, the `madoguchi models`
commands, and a running service that follows the champion without failing a request."""

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from api.app import create_app
from cli.main import app
from common.registry import ModelRegistry, ModelRegistryRecord, RegistryError
from common.settings import Settings
from common.storage import create_database_engine, migrate_database, write_manifest
from training.triage_training import train_triage_model


def make_version(registry: ModelRegistry, name: str) -> str:
    folder = registry.root / name
    folder.mkdir(parents=True)
    write_manifest(folder, "triage-model", metrics={"valid": {"type": {"macro_f1": 0.8}}})
    return name


def test_promote_reject_and_rollback_keep_a_history(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path, "triage")
    first, second, third = (make_version(registry, f"2026010{day}-000000") for day in (1, 2, 3))
    assert registry.champion() is None
    registry.promote(first, "first model")
    registry.promote(second, "better on held-out type macro-F1")
    registry.reject(third, "worse on urgency by 0.04")
    standing = {entry.version: (entry.status, entry.reason) for entry in registry.versions()}
    assert standing == {
        first: ("promoted earlier", "first model"),
        second: ("champion", "better on held-out type macro-F1"),
        third: ("rejected", "worse on urgency by 0.04"),
    }
    assert registry.rollback("bad in production") == first
    assert registry.champion() == registry.root / first
    assert registry.versions()[1].status == "rejected"
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        registry.rollback()  # the first champion had none before it
    assert [entry["action"] for entry in registry.history()] == ["promote", "promote", "rollback"]


def test_registry_refuses_unknown_versions_and_rejecting_the_champion(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path, "triage")
    with pytest.raises(RegistryError, match="no triage version 'nope'"):
        registry.promote("nope", "typo")
    version = make_version(registry, "20260101-000000")
    registry.promote(version, "first")
    with pytest.raises(RegistryError, match="roll back instead"):
        registry.reject(version, "x")
    with pytest.raises(RegistryError, match="already"):
        registry.promote(version, "again")


def test_models_commands_list_promote_and_roll_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MADOGUCHI_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("MADOGUCHI_STATE_DIR", str(tmp_path / "state"))
    registry = ModelRegistry(tmp_path, "triage")
    first, second = make_version(registry, "20260101-000000"), make_version(registry, "20260102-0")
    assert CliRunner().invoke(app, ["models", "promote", first]).exit_code == 0
    assert (
        CliRunner().invoke(app, ["models", "promote", second, "--reason", "retrained"]).exit_code
        == 0
    )
    listed = CliRunner().invoke(app, ["models", "list", "--json"])
    summary = json.loads(listed.stdout.strip().splitlines()[-1])
    assert summary["champion"] == second
    rolled = CliRunner().invoke(app, ["models", "rollback"])
    assert rolled.exit_code == 0 and f"{second} → {first}" in rolled.output
    assert registry.champion_version() == first
    unknown = CliRunner().invoke(app, ["models", "promote", "nope"])
    assert unknown.exit_code == 2 and "known:" in unknown.output


@pytest.fixture(scope="module")
def two_versions(
    tmp_path_factory: pytest.TempPathFactory,
    triage_model_folder: Path,
    recovered_folder: Path,
    encoder_cache_file: Path,
) -> tuple[Path, str, str]:
    """A models folder holding the encoder and two triage versions that predict differently:
    the session's model, and one that embeds whole tickets instead of their first characters."""
    models = tmp_path_factory.mktemp("models")
    (models / recovered_folder.name).symlink_to(recovered_folder)
    registry = ModelRegistry(models, "triage")
    first = registry.root / "20260101-000000"
    shutil.copytree(triage_model_folder, first)
    settings = Settings(encoder_cache_file=encoder_cache_file, models_dir=models)
    second = train_triage_model(
        settings, registry.root / "20260102-000000", embedding_max_chars=None
    )
    registry.promote(first.name, "first")
    return models, first.name, second.name


def test_the_service_follows_promotion_and_rollback_without_failing_a_request(
    two_versions: tuple[Path, str, str], settings: Settings
) -> None:
    models, first, second = two_versions
    registry = ModelRegistry(models, "triage")
    settings.models_dir = models
    bodies = [
        {"ticket_id": f"S-{number}", "subject": subject, "body": body}
        for number, (subject, body) in enumerate(
            [
                ("ログインできない", "今朝からパスワードを入れてもログインできません。"),
                ("請求書", "先月分の請求書の宛名を会社名に変えてほしいです。"),
                ("録音が止まる", "会議の録音が30分くらいで止まってしまいます。全員です。"),
                ("要望", "議事録をPowerPointにも書き出せるようにしてほしい。"),
            ]
        )
    ]

    def predictions(client: TestClient) -> list[dict]:
        answers = [client.post("/v1/classify", json=body).json() for body in bodies]
        return [
            {name: (answer[name]["value"], answer[name]["confidence"]) for name in
             ("type", "urgency", "impact", "queue")} | {"version": answer["model_version"]}
            for answer in answers
        ]  # fmt: skip

    def wait_for(client: TestClient, version: str) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if client.post("/v1/classify", json=bodies[0]).json()["model_version"] == version:
                return
            time.sleep(0.1)
        raise AssertionError(f"the service did not switch to {version} within 10 s")

    with TestClient(create_app(settings)) as client:
        before = predictions(client)
        assert {row["version"] for row in before} == {first}
        failures: list[int] = []
        served: list[str] = []
        stop = threading.Event()

        def keep_asking() -> None:
            while not stop.is_set():
                response = client.post("/v1/classify", json=bodies[2])
                served.append(response.json().get("model_version", ""))
                if response.status_code != 200:
                    failures.append(response.status_code)

        background = threading.Thread(target=keep_asking)
        background.start()
        try:
            registry.promote(second, "test: a challenger")
            wait_for(client, second)
            promoted = predictions(client)
            registry.rollback("test: back to the first")
            wait_for(client, first)
        finally:
            stop.set()
            background.join()
        after = predictions(client)
        ready = client.get("/ready").json()

    assert failures == []
    assert {first, second} <= set(served)
    assert {row.pop("version") for row in promoted} == {second}
    assert {row.pop("version") for row in after} == {row.pop("version") for row in before}
    assert promoted != before  # the second version does predict differently...
    assert after == before  # ...and the rollback brings back exactly the first one's answers
    triage = next(component for component in ready["components"] if component["name"] == "triage")
    assert triage["version"] == first


def test_admin_routes_list_promote_roll_back_and_refuse_what_cannot_be_done(
    two_versions: tuple[Path, str, str], settings: Settings
) -> None:
    models, first, second = two_versions
    settings.models_dir = models
    with TestClient(create_app(settings)) as client:
        listed = client.get("/v1/admin/models/triage").json()
        assert listed["champion"] == first
        assert {entry["version"] for entry in listed["versions"]} >= {first, second}
        unknown = client.post("/v1/admin/models/triage/promote", json={"version": "nope"})
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
        promoted = client.post("/v1/admin/models/triage/promote", json={"version": second})
        assert promoted.status_code == 200 and promoted.json()["champion"] == second
        rolled = client.post("/v1/admin/models/triage/rollback", json={})
        assert rolled.json()["champion"] == first
        again = client.post("/v1/admin/models/triage/rollback", json={})
        assert again.status_code == 409 and "nothing to roll back" in again.json()["detail"]
        assert client.get("/v1/admin/train/nope").status_code == 404


def test_admin_train_runs_madoguchi_train_in_the_background(
    two_versions: tuple[Path, str, str], settings: Settings
) -> None:
    models, first, _ = two_versions
    settings.models_dir = models
    registry = ModelRegistry(models, "triage")
    with TestClient(create_app(settings)) as client:
        started = client.post("/v1/admin/train", json={"tolerance": 0.02})
        assert started.status_code == 202
        job = started.json()
        busy = client.post("/v1/admin/train", json={})
        assert busy.status_code == 409
        deadline = time.monotonic() + 600
        while job["status"] == "running" and time.monotonic() < deadline:
            time.sleep(2)
            job = client.get(f"/v1/admin/train/{job['id']}").json()
    assert job["status"] in {"promoted", "rejected"}, job
    version = job["result"]["version"]
    standing = {entry.version: entry.status for entry in registry.versions()}
    assert standing[version] == ("champion" if job["status"] == "promoted" else "rejected")
    assert job["result"]["champion_before"] == first
    assert job["result"]["table"][0]["metric"] == "type.macro_f1"


def test_in_the_database_every_registry_on_it_sees_each_change(
    tmp_path: Path, database_url: str
) -> None:
    """Two processes (two machines sharing the model folders) each open the registry on one
    database: a promotion through one is the champion for the other, and its token moves. A
    registry.json from before is taken in on the first change, and kept as a readable copy."""
    legacy = ModelRegistry(tmp_path, "triage")  # an install from before: state in the file
    first, second = make_version(legacy, "20260101-000000"), make_version(legacy, "20260102-0")
    legacy.promote(first, "first model")
    engine_a = create_database_engine(database_url)
    engine_b = create_database_engine(database_url)
    migrate_database(engine_a)
    worker_a, worker_b = (
        ModelRegistry(tmp_path, "triage", engine_a),
        ModelRegistry(tmp_path, "triage", engine_b),
    )
    assert worker_b.champion_version() == first  # read from the file until the first change
    token = worker_b.token()
    worker_a.promote(second, "retrained")
    assert worker_b.champion_version() == second and worker_b.token() != token
    assert [entry["action"] for entry in worker_b.history()] == ["promote", "promote"]
    with engine_a.connect() as connection:
        stored = connection.execute(
            select(ModelRegistryRecord.state).where(ModelRegistryRecord.kind == "triage")
        ).scalar_one()
    assert stored["champion"] == second
    # the file is a copy now: editing it by hand changes nothing that serves
    legacy.file.write_text(legacy.file.read_text().replace(second, first))
    assert worker_b.champion_version() == second
    assert worker_b.rollback("bad in production") == first
    assert worker_a.champion_version() == first and legacy.champion_version() == first
    with pytest.raises(RegistryError, match="already"):
        worker_b.promote(first, "again")  # a refused change leaves the state as it was
    assert worker_a.token() == worker_b.token()
    engine_a.dispose()
    engine_b.dispose()
