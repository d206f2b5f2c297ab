"""How good a triage model is on labelled tickets: accuracy and macro-F1 per field, critical
recall, priority agreement, calibration (ECE), auto-apply precision and coverage, the same for a
TF-IDF + LinearSVC baseline trained in the same run, and a Markdown report with pictures.

Tickets are read as raw JSON objects, so a file may leave out label fields: a field no row
carries is not scored.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.svm import LinearSVC

from common.labels import LabelSet
from common.settings import get_settings
from triage.classifier import prepare_text, ticket_text
from triage.model import FieldPrediction, TriageModel
from triage.priority import Prioritiser

ECE_BINS = 15


def read_ticket_rows(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines file of tickets; each needs a `body`. Labels are
    top-level fields (the sample files) or a `labels` object (`madoguchi ingest`'s format)."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not JSON ({error})") from error
        if not isinstance(row, dict) or not isinstance(row.get("body"), str):
            raise ValueError(f"{path}:{number}: a ticket needs a text `body`")
        if isinstance(row.get("labels"), dict):  # the resolved-ticket export format
            row = {"id": row.get("ticket_id")} | row | row["labels"]
        rows.append(row)
    if not rows:
        raise ValueError(f"{path} holds no tickets")
    return rows


def row_text(row: Mapping[str, Any]) -> str:
    return ticket_text(str(row.get("subject") or ""), row["body"])


def scored_fields(tickets: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> list[str]:
    """The model's fields that every ticket carries; only those are scored."""
    return [name for name in fields if all(row.get(name) is not None for row in tickets)]


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS
) -> float:
    """Top-label ECE: predictions grouped into `bins` equal-width confidence bins; the mean gap
    between each bin's accuracy and its mean confidence, weighted by the bin's share."""
    confidences = np.asarray(confidences, dtype=float)
    correct = np.asarray(correct, dtype=float)
    if len(confidences) == 0:
        return 0.0
    # Bins are (lower, upper]; confidence 0 joins the first bin.
    indices = np.clip(np.ceil(confidences * bins).astype(int) - 1, 0, bins - 1)
    error = 0.0
    for index in range(bins):
        members = indices == index
        if members.any():
            gap = abs(correct[members].mean() - confidences[members].mean())
            error += members.mean() * gap
    return float(error)


def reliability_bins(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS
) -> list[tuple[float, float, int]]:
    """(mean confidence, accuracy, count) of each non-empty bin, for the reliability diagram."""
    confidences = np.asarray(confidences, dtype=float)
    correct = np.asarray(correct, dtype=float)
    indices = np.clip(np.ceil(confidences * bins).astype(int) - 1, 0, bins - 1)
    return [
        (float(confidences[members].mean()), float(correct[members].mean()), int(members.sum()))
        for index in range(bins)
        if (members := indices == index).any()
    ]


def label_metrics(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    return {
        "macro_f1": round(float(f1_score(truth, predicted, average="macro")), 4),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
    }


def critical_metrics(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, float | None]:
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    actual, flagged = truth == "critical", predicted == "critical"
    return {
        "critical_recall": round(float((flagged & actual).sum() / actual.sum()), 4)
        if actual.any()
        else None,
        "critical_precision": round(float((flagged & actual).sum() / flagged.sum()), 4)
        if flagged.any()
        else None,
    }


def priority_metrics(
    tickets: Sequence[Mapping[str, Any]],
    chosen: Mapping[str, Sequence[str]],
    prioritiser: Prioritiser,
) -> dict[str, float]:
    """Share of tickets whose priority from the predicted fields (urgency × impact, or the
    taxonomy's priority field) equals the true one, and is at most one level off."""
    names = prioritiser.inputs
    distances = [
        prioritiser.distance(
            prioritiser.priority({name: row[name] for name in names}),
            prioritiser.priority({name: chosen[name][index] for name in names}),
        )
        for index, row in enumerate(tickets)
    ]
    return {
        "exact": round(float(np.mean([d == 0 for d in distances])), 4),
        "within_one": round(float(np.mean([d <= 1 for d in distances])), 4),
    }


def _has_priority(prioritiser: Prioritiser, chosen: Mapping[str, Any]) -> bool:
    return bool(prioritiser.inputs) and all(name in chosen for name in prioritiser.inputs)


@dataclass(frozen=True)
class ScoredTicket:
    """One ticket's labels (the fields its row carries) beside what the model said."""

    truth: dict[str, str]
    predicted: dict[str, FieldPrediction]


def triage_predictions(
    tickets: Sequence[Mapping[str, Any]],
    model: TriageModel,
    embeddings: np.ndarray | None = None,
) -> list[ScoredTicket]:
    predicted = model.predict([row_text(row) for row in tickets], embeddings)
    return [
        ScoredTicket({name: row[name] for name in fields if row.get(name) is not None}, fields)
        for row, fields in zip(tickets, predicted, strict=True)  # fields: name → prediction
    ]


def baseline_predictions(
    tickets: Sequence[Mapping[str, Any]],
    train_tickets: Sequence[Mapping[str, Any]],
    fields: Sequence[str],
) -> dict[str, list[str]]:
    """The baseline: TF-IDF over character 2-4-grams of the same prepared text + LinearSVC
    (class-balanced), one per field, trained here on `train_tickets`. Uncalibrated, so it has
    no ECE or auto-apply figures."""
    vectorizer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True
    )
    train_matrix = vectorizer.fit_transform([prepare_text(row_text(row)) for row in train_tickets])
    matrix = vectorizer.transform([prepare_text(row_text(row)) for row in tickets])
    predicted = {}
    for name in fields:
        svm = LinearSVC(class_weight="balanced")
        svm.fit(train_matrix, [row[name] for row in train_tickets])
        predicted[name] = [str(value) for value in svm.predict(matrix)]
    return predicted


def evaluate_triage(
    tickets: Sequence[Mapping[str, Any]],
    model: TriageModel,
    train_tickets: Sequence[Mapping[str, Any]],
    predictions: Sequence[ScoredTicket] | None = None,
    prioritiser: Prioritiser | None = None,
) -> dict[str, Any]:
    """Every figure of the model on `tickets` and of the baseline trained on `train_tickets`.
    `predictions` (from `triage_predictions`) can be passed to avoid predicting twice;
    `prioritiser` (default: the configured label file's) says how priority is found."""
    if predictions is None:
        predictions = triage_predictions(tickets, model)
    prioritiser = prioritiser or Prioritiser(LabelSet.from_file(get_settings().labels_file))
    fields = scored_fields(tickets, list(model.classifiers))
    result: dict[str, Any] = {"n": len(tickets), "fields": fields}
    chosen: dict[str, list[str]] = {}
    for name in fields:
        truth = [row[name] for row in tickets]
        field_predictions = [scored.predicted[name] for scored in predictions]
        chosen[name] = [prediction.value for prediction in field_predictions]
        confidences = [prediction.confidence for prediction in field_predictions]
        correct = [value == label for value, label in zip(chosen[name], truth, strict=True)]
        applied = [prediction.auto_apply for prediction in field_predictions]
        result[name] = label_metrics(truth, chosen[name]) | {
            "ece": round(expected_calibration_error(confidences, correct), 4),
            "auto_apply": {
                "precision": round(float(np.mean(np.asarray(correct)[applied])), 4)
                if any(applied)
                else None,
                "coverage": round(float(np.mean(applied)), 4),
                "threshold": model.thresholds.get(name),
            },
            "decided_by_rule": sum(p.decided_by != "model" for p in field_predictions),
        }
        if name == "urgency":
            result[name] |= critical_metrics(truth, chosen[name])
    if _has_priority(prioritiser, chosen):
        # with a priority field, its figures and the level agreement share one entry
        result["priority"] = result.get("priority", {}) | priority_metrics(
            tickets, chosen, prioritiser
        )
    if "urgency" in fields:
        result["rules"] = rules_effect(predictions)
    result["baseline"] = _baseline_result(tickets, train_tickets, fields, prioritiser)
    return result


def rules_effect(predictions: Sequence[ScoredTicket]) -> dict[str, dict[str, float | None]]:
    """Urgency three ways: "on" is what predict returns; "off" is the model's own decision
    (critical floor included) with no rule; "top_value_only" is the model's most probable
    value, with neither the floor nor the rules."""
    truth = [scored.truth["urgency"] for scored in predictions]
    effect = {}
    for setting, pick in (
        ("on", lambda p: p.value),
        ("off", lambda p: p.model_decision or p.value),
        ("top_value_only", lambda p: p.top_value),
    ):
        predicted = [pick(scored.predicted["urgency"]) for scored in predictions]
        effect[setting] = critical_metrics(truth, predicted) | {
            "urgency_macro_f1": label_metrics(truth, predicted)["macro_f1"]
        }
    effect["on"]["tickets_overruled"] = sum(
        any(
            p.decided_by != "model" and p.value != (p.model_decision or p.value)
            for p in scored.predicted.values()
        )
        for scored in predictions
    )
    return effect


def _baseline_result(
    tickets: Sequence[Mapping[str, Any]],
    train_tickets: Sequence[Mapping[str, Any]],
    fields: list[str],
    prioritiser: Prioritiser,
) -> dict[str, Any]:
    predicted = baseline_predictions(tickets, train_tickets, fields)
    baseline: dict[str, Any] = {}
    for name in fields:
        truth = [row[name] for row in tickets]
        baseline[name] = label_metrics(truth, predicted[name])
        if name == "urgency":
            baseline[name] |= critical_metrics(truth, predicted[name])
    if _has_priority(prioritiser, predicted):
        baseline["priority"] = baseline.get("priority", {}) | priority_metrics(
            tickets, predicted, prioritiser
        )
    return baseline


# --- the report ------------------------------------------------------------------------------


def write_report(
    result: Mapping[str, Any],
    predictions: Sequence[ScoredTicket],
    directory: Path,
    label_set: LabelSet | None = None,
) -> Path:
    """report.md with a table per field (model and baseline), a confusion matrix PNG per field
    and a reliability diagram PNG (15 bins, top label)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    label_set = label_set or LabelSet.from_file(get_settings().labels_file)
    fields = list(result.get("fields") or [])
    lines = [
        "# Triage evaluation",
        "",
        f"{result['n']} tickets. Baseline: TF-IDF character 2-4-grams + LinearSVC trained on "
        "the same training tickets (uncalibrated: no ECE or auto-apply).",
        "",
        "| field | macro-F1 | accuracy | baseline macro-F1 | baseline accuracy | ECE "
        "| auto-apply precision | auto-apply coverage | decided by a rule |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in fields:
        figures, baseline = result[name], result["baseline"][name]
        auto = figures["auto_apply"]
        lines.append(
            f"| {name} | {figures['macro_f1']} | {figures['accuracy']} | {baseline['macro_f1']} "
            f"| {baseline['accuracy']} | {figures['ece']} | {auto['precision']} "
            f"| {auto['coverage']} | {figures['decided_by_rule']} |"
        )
    if "urgency" in result:
        urgency = result["urgency"]
        lines += [
            "",
            f"Critical recall {urgency['critical_recall']} (precision "
            f"{urgency['critical_precision']}); baseline "
            f"{result['baseline']['urgency']['critical_recall']}.",
        ]
    if "rules" in result:
        rules = result["rules"]
        lines += [
            "",
            "Urgency with the rules on, off (the model with its critical floor) and with only the "
            "model's most probable value:",
            "",
            "| urgency decided by | critical recall | critical precision | urgency macro-F1 |",
            "|---|---|---|---|",
        ]
        for setting in ("on", "off", "top_value_only"):
            row = rules[setting]
            lines.append(
                f"| {setting} | {row['critical_recall']} | {row['critical_precision']} "
                f"| {row['urgency_macro_f1']} |"
            )
    if "exact" in result.get("priority", {}):
        lines += [
            "",
            f"Priority exact {result['priority']['exact']}, within one level "
            f"{result['priority']['within_one']} (baseline "
            f"{result['baseline']['priority']['exact']}, "
            f"{result['baseline']['priority']['within_one']}).",
        ]
    lines += ["", "## Confusion matrices", ""]
    for name in fields:
        picture = directory / f"confusion_{name}.png"
        _plot_confusion(plt, predictions, name, picture, label_set)
        lines.append(f"![{name}]({picture.name})")
    picture = directory / "reliability.png"
    _plot_reliability(plt, predictions, fields, picture)
    lines += ["", "## Reliability", "", f"![reliability]({picture.name})"]
    report = directory / "report.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report


def _plot_confusion(plt, predictions, name: str, path: Path, label_set: LabelSet) -> None:  # noqa: ANN001
    truth = [scored.truth[name] for scored in predictions]
    predicted = [scored.predicted[name].value for scored in predictions]
    seen = set(truth) | set(predicted)
    in_file_order = label_set.values(name) if name in label_set.fields else []
    labels = [label for label in in_file_order if label in seen] + sorted(seen - set(in_file_order))
    counts = confusion_matrix(truth, predicted, labels=labels)
    figure, axes = plt.subplots(figsize=(1.1 * len(labels) + 2.5, 1.0 * len(labels) + 2))
    axes.imshow(counts, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"{name}: confusion matrix")
    for row in range(len(labels)):
        for column in range(len(labels)):
            shade = "white" if counts[row, column] > counts.max() / 2 else "black"
            axes.text(column, row, counts[row, column], ha="center", va="center", color=shade)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _plot_reliability(plt, predictions, fields, path: Path) -> None:  # noqa: ANN001
    figure, axes = plt.subplots(figsize=(6, 6))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for name in fields:
        confidences = [scored.predicted[name].confidence for scored in predictions]
        correct = [scored.predicted[name].value == scored.truth[name] for scored in predictions]
        points = reliability_bins(confidences, correct)
        axes.plot(
            [point[0] for point in points],
            [point[1] for point in points],
            marker="o",
            label=f"{name} (ECE {expected_calibration_error(confidences, correct):.3f})",
        )
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_title(f"Reliability ({ECE_BINS} bins, top label)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
