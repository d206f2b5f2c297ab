"""Evaluating triage: calibration error, fields a file does not label are skipped, the baseline
is scored beside the model, the report has its pictures, and `eval triage --json` ends with one
JSON object."""

import json
from pathlib import Path

import numpy as np
import pytest
from fakes import HashEncoder

from cli import triage_commands
from common.settings import PROJECT_ROOT, Settings
from training.triage_evaluation import (
    evaluate_triage,
    expected_calibration_error,
    read_ticket_rows,
    triage_predictions,
    write_report,
)
from training.triage_training import train_triage_model
from triage.model import TriageModel

SAMPLE = PROJECT_ROOT / "data" / "tickets"


def first_rows(split: str, count: int) -> list[dict]:
    return read_ticket_rows(SAMPLE / f"{split}.jsonl")[:count]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("triage-eval")
    write_rows(root / "data" / "tickets" / "train.jsonl", first_rows("train", 200))
    write_rows(root / "data" / "tickets" / "valid.jsonl", first_rows("valid", 60))
    settings = Settings(data_dir=root / "data", models_dir=root / "models", state_dir=root)
    return train_triage_model(settings, root / "models" / "triage-test", encoder=HashEncoder())


@pytest.fixture(scope="module")
def model(model_folder: Path) -> TriageModel:
    return TriageModel.load(model_folder, encoder=HashEncoder())


def test_perfectly_calibrated_confidences_have_an_ece_near_zero() -> None:
    # Each bin is right exactly as often as it claims: 4 of 5 at 0.8, 3 of 5 at 0.6.
    confidences = [0.8] * 5 + [0.6] * 5
    correct = [True, True, True, True, False, True, True, True, False, False]
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.0, abs=1e-12)
    rng = np.random.default_rng(0)
    sampled = rng.uniform(0.3, 1.0, size=200_000)
    assert expected_calibration_error(sampled, rng.uniform(size=sampled.size) < sampled) < 0.01


def test_overconfidence_shows_as_the_gap_between_confidence_and_accuracy() -> None:
    confidences = [0.9] * 10
    correct = [True] * 6 + [False] * 4
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.3)


def test_a_file_without_queue_labels_is_scored_on_the_other_fields_only(
    model: TriageModel,
) -> None:
    tickets = [
        {key: value for key, value in row.items() if key != "queue"}
        for row in first_rows("valid", 60)[20:50]
    ]
    result = evaluate_triage(tickets, model, first_rows("train", 200))
    assert "queue" not in result and "queue" not in result["baseline"]
    assert result["n"] == 30
    for name in ("type", "urgency", "impact"):
        figures = result[name]
        assert 0.0 <= figures["macro_f1"] <= 1.0 and 0.0 <= figures["accuracy"] <= 1.0
        assert 0.0 <= figures["ece"] <= 1.0
        assert 0.0 <= figures["auto_apply"]["coverage"] <= 1.0
        assert "macro_f1" in result["baseline"][name]
    assert "critical_recall" in result["urgency"]
    assert 0.0 <= result["priority"]["exact"] <= result["priority"]["within_one"] <= 1.0
    assert set(result["rules"]) == {"on", "off", "top_value_only"}


def test_a_file_without_urgency_has_no_priority_or_critical_recall(model: TriageModel) -> None:
    tickets = [
        {key: value for key, value in row.items() if key != "urgency"}
        for row in first_rows("valid", 20)
    ]
    result = evaluate_triage(tickets, model, first_rows("train", 200))
    assert "urgency" not in result and "priority" not in result and "rules" not in result
    assert "type" in result


def test_the_report_has_a_confusion_matrix_per_field_and_a_reliability_diagram(
    model: TriageModel, tmp_path: Path
) -> None:
    tickets = first_rows("valid", 60)[:30]
    predictions = triage_predictions(tickets, model)
    result = evaluate_triage(tickets, model, first_rows("train", 200), predictions)
    report = write_report(result, predictions, tmp_path / "report")
    text = report.read_text(encoding="utf-8")
    for name in ("type", "urgency", "impact", "queue"):
        picture = tmp_path / "report" / f"confusion_{name}.png"
        assert picture.read_bytes()[:4] == b"\x89PNG"
        assert f"confusion_{name}.png" in text
    assert (tmp_path / "report" / "reliability.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_triage_with_json_ends_with_one_json_object(
    model_folder: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(triage_commands, "training_encoder", lambda _settings: HashEncoder())
    rows = [{k: v for k, v in row.items() if k != "queue"} for row in first_rows("valid", 25)]
    tickets = write_rows(tmp_path / "tickets.jsonl", rows)
    triage_commands.eval_triage(tickets, model_folder, tmp_path / "report", json_output=True)
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(last_line)
    assert result["n"] == 25 and "queue" not in result
    assert result["model"] == str(model_folder)
    assert (tmp_path / "report" / "report.md").is_file()


def test_eval_triage_embeds_tickets_as_the_model_was_trained_to(
    model_folder: Path,
    model: TriageModel,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command encodes each ticket's opening characters only, as the model does itself (a
    whole-ticket embedding would score a model on vectors it never saw)."""
    monkeypatch.setattr(triage_commands, "training_encoder", lambda _settings: HashEncoder())
    rows = [row for row in first_rows("valid", 60) if len(row["body"]) > 200][:25]
    assert model.embedding_max_chars and len(rows) == 25
    tickets = write_rows(tmp_path / "tickets.jsonl", rows)
    triage_commands.eval_triage(tickets, model_folder, None, json_output=True)
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    expected = evaluate_triage(rows, model, rows, triage_predictions(rows, model))
    for name in ("type", "urgency", "impact", "queue"):
        assert printed[name]["macro_f1"] == expected[name]["macro_f1"]
        assert printed[name]["ece"] == expected[name]["ece"]


def test_the_second_annotator_bench_scores_a_reader_against_the_published_labels() -> None:
    """bench/annotator_agreement.py uses the evaluation's own metric functions; a reader who
    gives the published labels agrees fully, and the shipped second annotator does not."""
    import importlib.util

    path = PROJECT_ROOT / "bench" / "annotator_agreement.py"
    spec = importlib.util.spec_from_file_location("annotator_agreement", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    tickets = [json.loads(line) for line in bench.TICKETS.read_text("utf-8").splitlines()][:60]
    same = bench.agreement(tickets, tickets)
    assert same["type"]["macro_f1"] == 1.0
    assert same["priority"] == {"exact": 1.0, "within_one": 1.0}
    second = {
        row["id"]: row for row in map(json.loads, bench.ANNOTATIONS.read_text("utf-8").splitlines())
    }
    other = bench.agreement(tickets, [second[row["id"]] for row in tickets])
    assert 0.5 < other["priority"]["exact"] < 1.0
