"""A deployment's own taxonomy, with only the label file changed (MADOGUCHI_LABELS_FILE): an
English IT service desk with ITIL types (Incident / Request / Problem / Change), its own five
queues and a low/medium/high priority set directly. Its 520 resolved tickets
(tests/data/itil_export.jsonl) go through ingest → train → classify → eval unchanged."""

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from cli.main import app
from common.labels import LabelSet
from common.settings import PROJECT_ROOT, Settings

ITIL_LABELS = PROJECT_ROOT / "common" / "config" / "taxonomies" / "itil-en.yaml"
ITIL_EXPORT = PROJECT_ROOT / "tests" / "data" / "itil_export.jsonl"


def test_the_example_taxonomy_declares_its_own_fields_and_priority() -> None:
    labels = LabelSet.from_file(ITIL_LABELS)
    assert list(labels.fields) == ["type", "queue", "priority"]
    assert labels.values("type") == ["Incident", "Request", "Problem", "Change"]
    assert labels.priority is not None and labels.priority.field == "priority"
    assert labels.priority.sla_levels == {"high": "P2", "medium": "P3", "low": "P4"}
    default = LabelSet.from_file(Settings().labels_file)
    assert default.priority is None and default.priority_mode == "matrix"
    assert labels.priority_mode == "field"


def test_a_priority_block_naming_an_unknown_field_or_level_is_refused(tmp_path: Path) -> None:
    text = ITIL_LABELS.read_text(encoding="utf-8")
    wrong_field = tmp_path / "wrong-field.yaml"
    wrong_field.write_text(text.replace("field: priority ", "field: severity "), encoding="utf-8")
    with pytest.raises(ValueError, match="severity"):
        LabelSet.from_file(wrong_field)
    wrong_level = tmp_path / "wrong-level.yaml"
    wrong_level.write_text(text.replace("high: P2", "high: P9"), encoding="utf-8")
    with pytest.raises(ValueError, match="P9"):
        LabelSet.from_file(wrong_level)


def test_an_export_in_another_taxonomy_goes_through_ingest_train_classify_and_eval(
    tmp_path: Path,
    recovered_folder: Path,
    encoder_cache_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / recovered_folder.name).symlink_to(recovered_folder)
    environment = {
        "MADOGUCHI_LABELS_FILE": str(ITIL_LABELS),  # the one configuration that changes
        "MADOGUCHI_STATE_DIR": str(tmp_path / "state"),
        "MADOGUCHI_MODELS_DIR": str(models),
        "MADOGUCHI_ENCODER_CACHE_FILE": str(encoder_cache_file),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    rows = [json.loads(line) for line in ITIL_EXPORT.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 500

    ingested = CliRunner().invoke(app, ["ingest", str(ITIL_EXPORT), "--json"])
    assert ingested.exit_code == 0, ingested.output
    summary = json.loads(ingested.stdout.strip().splitlines()[-1])
    assert summary["stored"] == len(rows) and summary["rejected"] == []

    trained = CliRunner().invoke(app, ["train", "--json"])
    assert trained.exit_code == 0, trained.output  # the first model of this taxonomy serves
    verdict = json.loads(trained.stdout.strip().splitlines()[-1])
    data = verdict["data"]
    assert data["sample_skipped"]["train"] > 1000  # the Koemoji sample fits another taxonomy
    assert data["train"]["stored"] > 300 and data["valid"]["stored"] > 30
    assert data["held_out"]["stored_newest"] >= 100
    metrics = {row["metric"] for row in verdict["table"]}
    assert {"type.macro_f1", "queue.macro_f1", "priority.macro_f1"} <= metrics
    assert not any(metric.startswith(("urgency", "impact")) for metric in metrics)
    manifest = json.loads(
        (models / "triage" / verdict["version"] / "manifest.json").read_text(encoding="utf-8")
    )
    assert manifest["fields"] == ["type", "queue", "priority"]

    settings = Settings()
    with TestClient(create_app(settings)) as client:
        answer = client.post(
            "/v1/classify",
            json={
                "subject": "VPN down for the whole Osaka office",
                "body": "Since 9:10 nobody in Osaka can connect to tyo-vpn-gw1. Shipping "
                "labels cannot print because the WMS is unreachable. Please help asap!!",
                "plan": "standard",
                "created_at": "2026-11-24T10:00:00+09:00",
            },
        )
        labels = client.get("/v1/labels").json()
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert set(result["fields"]) == {"type", "queue", "priority"}
    assert result["type"]["value"] in {"Incident", "Request", "Problem", "Change"}
    assert result["urgency"] is None and result["impact"] is None
    assert result["priority"]["value"] == result["fields"]["priority"]["value"]
    assert result["priority"]["value"] in {"high", "medium", "low"}
    level = {"high": "P2", "medium": "P3", "low": "P4"}[result["priority"]["value"]]
    assert result["priority"]["sla_level"] == level
    assert result["sla"]["first_response_due"] is not None  # the standard plan's clock for it
    assert "Incident" in json.dumps(labels)

    held_out = tmp_path / "held_out.jsonl"
    held_out.write_text(
        "\n".join(json.dumps(row, ensure_ascii=False) for row in rows[-100:]), encoding="utf-8"
    )
    evaluated = CliRunner().invoke(app, ["eval", "triage", "--tickets", str(held_out), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    figures = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert figures["n"] == 100
    for name in ("type", "queue", "priority"):
        assert 0.3 < figures[name]["macro_f1"] <= 1.0
        assert name in figures["baseline"]
    assert "urgency" not in figures
    # the field named priority is scored as a field and as the priority (levels in file order)
    priority = figures["priority"]
    assert priority["exact"] == priority["accuracy"] <= priority["within_one"] <= 1.0
