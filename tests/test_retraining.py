"""`madoguchi train`: the training data it builds from sample and stored tickets, the
champion/challenger verdict, and a deliberately worse challenger refused end to end."""

import json
import random
import shutil
from pathlib import Path

from common.labels import LabelSet
from common.registry import ModelRegistry
from common.settings import Settings
from common.storage import create_database_engine
from records.store import FeedbackEvent, RecordStore
from training.retraining import GUARDED_METRICS, build_training_data, compare, retrain

LABELS = LabelSet.from_file(Settings().labels_file)


def figures(type_f1: float, **others: float) -> dict:
    result = {"type": {"macro_f1": type_f1}}
    for metric in GUARDED_METRICS:
        value = others.get(f"{metric[0]}_{metric[1]}", 0.7)
        result.setdefault(metric[0], {})[metric[1]] = value
    return result


def test_a_challenger_better_on_type_and_close_elsewhere_is_promoted() -> None:
    verdict = compare(figures(0.80), figures(0.82, impact_macro_f1=0.685))
    assert verdict.promote and "0.8 → 0.82" in verdict.reason
    assert verdict.table[0] == {
        "metric": "type.macro_f1", "champion": 0.8, "challenger": 0.82, "difference": 0.02
    }  # fmt: skip


def test_a_challenger_not_better_or_worse_elsewhere_is_rejected_with_the_figures() -> None:
    same = compare(figures(0.80), figures(0.80))
    assert not same.promote and "not better on type.macro_f1" in same.reason
    worse = compare(figures(0.80), figures(0.83, urgency_critical_recall=0.60))
    assert not worse.promote
    assert "urgency.critical_recall -0.1000" in worse.reason
    assert compare(None, figures(0.5)).promote  # nothing to beat: the first model serves


def test_training_data_holds_out_the_newest_stored_tickets_and_applies_corrections(
    settings: Settings, database_url: str
) -> None:
    store = RecordStore(create_database_engine(database_url), LABELS)
    labels = {"type": "bug", "urgency": "high", "impact": "individual", "queue": "technical"}
    rows = [
        {
            "ticket_id": f"N-{day:02d}",
            "body": f"{day}日目の録音が途中で止まりました",
            "labels": labels,
            "resolved_at": f"2026-10-{day:02d}T12:00:00+09:00",
        }
        for day in range(1, 11)
    ]
    rows.append({"ticket_id": "N-99", "body": "ラベルが足りない", "labels": {"type": "bug"}})
    store.add_resolved(rows, source="test")
    store.add_feedback(
        FeedbackEvent(kind="label_corrected", ticket_id="N-02", field="urgency", value="critical")
    )
    data = build_training_data(settings, store, held_out_share=0.2)
    stored_train = [row for row in data.train if row["id"].startswith("N-")]
    stored_held_out = [row for row in data.held_out if row["id"].startswith("N-")]
    assert [row["id"] for row in stored_held_out] == ["N-09", "N-10"]  # the newest two
    assert len(stored_train) == 8
    assert next(row for row in stored_train if row["id"] == "N-02")["urgency"] == "critical"
    assert data.description["stored_skipped"]["incomplete_labels"] == 1
    assert data.description["held_out"]["sample_test"] > 300


def test_a_challenger_trained_on_shuffled_labels_is_rejected_and_kept_with_the_reason(
    triage_model_folder: Path,
    recovered_folder: Path,
    encoder_cache_file: Path,
    tmp_path: Path,
    database_url: str,
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / recovered_folder.name).symlink_to(recovered_folder)
    registry = ModelRegistry(models, "triage")
    shutil.copytree(triage_model_folder, registry.root / "20260101-000000")
    registry.promote("20260101-000000", "first")
    settings = Settings(
        state_dir=tmp_path / "state",
        models_dir=models,
        encoder_cache_file=encoder_cache_file,
        database_url=database_url,
    )

    def shuffled(rows: list[dict]) -> list[dict]:
        types = [row["type"] for row in rows]
        random.Random(7).shuffle(types)
        return [row | {"type": value} for row, value in zip(rows, types, strict=True)]

    result = retrain(settings, transform_train=shuffled)
    assert not result.verdict.promote
    assert "not better on type.macro_f1" in result.verdict.reason
    assert result.verdict.table[0]["difference"] < -0.2  # shuffled types learn next to nothing
    assert registry.champion_version() == "20260101-000000"
    standing = {entry.version: entry for entry in registry.versions()}
    assert standing[result.version].status == "rejected"
    assert standing[result.version].reason == result.verdict.reason
    report = result.report.read_text(encoding="utf-8")
    assert "**Rejected.**" in report and "| type.macro_f1 |" in report
    assert (result.report.parent / "learning_curve.png").stat().st_size > 0
    assert (result.report.parent / "challenger" / "confusion_type.png").is_file()
    manifest = json.loads((result.folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parent_version"] == "20260101-000000"
    assert manifest["data"]["held_out"]["sample_test"] > 300
    assert len(manifest["data"]["sha256"]) == 64
