"""Train the triage model: the four field classifiers on `train`, their calibration, the auto-apply
thresholds and the valid metrics on `valid`, the rules' precision on `train`; written as one
self-describing folder (models/triage-<YYYYMMDD-HHMMSS> by default)."""

import time
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from common.encoders import Encoder, configured_encoder
from common.labels import LabelSet
from common.settings import Settings
from common.storage import sha256_of_file
from training.triage_evaluation import (
    critical_metrics,
    expected_calibration_error,
    label_metrics,
    read_ticket_rows,
    row_text,
)
from triage.classifier import (
    TemperatureScaled,
    TicketFeatures,
    embedding_text,
    field_classifier,
    prepare_text,
)
from triage.cues import CueLexicon
from triage.model import (
    AUTO_APPLY_MIN_PRECISION,
    AUTO_APPLY_MIN_SUPPORT,
    TriageModel,
    auto_apply_threshold,
    describe_environment,
    triage_registry_for,
)
from triage.rules import RuleBook, rules_file_for

# progress(advance_by, total): total is given once known (as in cli.artifacts).
Progress = Callable[[int, int | None], None]
ENCODE_CHUNK = 128
# Seed 000: outages, security incidents and data loss are handled at once, so the urgency
# decision favours finding critical tickets over never raising a false alarm.
CRITICAL_RECALL_TARGET = 0.95
# The encoder reads each ticket's opening characters only (triage.classifier.embedding_text):
# see bench/results/classify.md for what each limit costs in time and in macro-F1.
EMBEDDING_MAX_CHARS = 160


def default_destination(settings: Settings) -> Path:
    """A new version folder in the triage registry (models/triage/<version>/)."""
    return triage_registry_for(settings).new_version_folder()


def register_first_champion(settings: Settings, folder: Path) -> bool:
    """Promote a freshly trained registry version when the registry has no champion yet (a new
    install); later versions stay candidates until `madoguchi train` or `madoguchi models
    promote` decides. Returns whether it was promoted."""
    registry = triage_registry_for(settings)
    if folder.parent != registry.root or registry.champion_version() is not None:
        return False
    registry.promote(folder.name, "first model of this install")
    return True


def training_encoder(settings: Settings) -> Encoder:
    """The configured encoder behind the on-disk cache, so retraining encodes nothing twice."""
    return configured_encoder(settings)


def labelled_rows(path: Path, label_set: LabelSet) -> list[dict[str, Any]]:
    """Tickets of a training file; each needs every field with a value from the label file."""
    rows = read_ticket_rows(path)
    for number, row in enumerate(rows, start=1):
        for name in label_set.field_names:
            if not label_set.is_valid(name, row.get(name)):
                raise ValueError(
                    f"{path}: ticket {row.get('id', number)} has {name}={row.get(name)!r}; "
                    f"training needs one of {label_set.values(name)}"
                )
    return rows


def train_triage_model(
    settings: Settings,
    destination: Path | None = None,
    progress: Progress | None = None,
    encoder: Encoder | None = None,
    embedding_max_chars: int | None = EMBEDDING_MAX_CHARS,
    rows: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    data_description: Mapping[str, Any] | None = None,
    encoder_name: str | None = None,
) -> Path:
    """Train on data_dir/tickets/train.jsonl, calibrate and pick thresholds on valid.jsonl (or
    on `rows` {"train": [...], "valid": [...]}, described in the manifest by
    `data_description`), write the model folder atomically and return its path. `encoder`
    (named `encoder_name` in the manifest) defaults to the configured one behind the cache.
    Encoding dominates a first run (about a minute on two cores); with the cache warm the rest
    takes about half a minute."""
    started = time.perf_counter()
    report = progress or (lambda _advance, _total: None)
    destination = destination or default_destination(settings)
    label_set = LabelSet.from_file(settings.labels_file)
    rules_file = rules_file_for(label_set)
    rule_book = RuleBook.from_file(rules_file, label_set=label_set)
    fields = label_set.field_names
    if rows is None:
        files = {
            split: settings.data_dir / "tickets" / f"{split}.jsonl" for split in ("train", "valid")
        }
        rows = {split: labelled_rows(path, label_set) for split, path in files.items()}
        data_description = {
            split: {"file": path.name, "sha256": sha256_of_file(path), "tickets": len(rows[split])}
            for split, path in files.items()
        }
    texts = {split: [prepare_text(row_text(row)) for row in rows[split]] for split in rows}
    steps_after_encoding = len(fields) + 2  # fit each field, then thresholds, then save
    report(0, sum(len(split_texts) for split_texts in texts.values()) + steps_after_encoding)

    encoder = encoder or training_encoder(settings)
    features = {
        split: TicketFeatures.build(
            split_texts,
            encode_with_progress(
                encoder, [embedding_text(text, embedding_max_chars) for text in split_texts], report
            ),
        )
        for split, split_texts in texts.items()
    }
    cues = CueLexicon.from_file()
    classifiers: dict[str, TemperatureScaled] = {}
    for name in fields:
        classifier = field_classifier(label_set.values(name), name, cues)
        classifier.fit(features["train"], [row[name] for row in rows["train"]])
        classifiers[name] = TemperatureScaled(classifier).fit(
            features["valid"], [row[name] for row in rows["valid"]]
        )
        report(1, None)

    manifest: dict[str, Any] = {
        "model_version": destination.name,
        "parent_version": triage_registry_for(settings).champion_version(),
        "code_version": version("madoguchi"),
        "encoder": {
            "name": encoder_name or settings.encoder,
            "identity": encoder.identity,
            "dimension": encoder.dimension,
            "role": "query",  # texts are encoded with encode_queries
            "max_chars": embedding_max_chars,  # of each prepared text (None: all of it)
        },
        "labels": {"file": settings.labels_file.name, "fingerprint": label_set.fingerprint},
        "fields": fields,
        "data": dict(data_description or {}),
        "rules": {
            "fingerprint": rule_book.fingerprint,
            **rule_precision(rule_book, texts["train"], rows["train"]),
        },
        "auto_apply": {
            "chosen_on": "valid",
            "min_precision": AUTO_APPLY_MIN_PRECISION,
            "min_support": AUTO_APPLY_MIN_SUPPORT,
        },
        "thresholds": {},
        "classifier": {
            "kind": "stacked char / lemma / embedding (/ keyword cue) LinearSVC + logistic "
            "regression, temperature-scaled on valid",
            "params": {
                key: value
                for key, value in classifier.get_params().items()
                if key not in ("labels", "cues")
            },
            "views": {name: list(model.classifier.views) for name, model in classifiers.items()},
            "cues": {"fingerprint": cues.fingerprint, "fields": list(cues.fields)},
            "temperatures": {
                name: round(model.temperature_, 4) for name, model in classifiers.items()
            },
        },
        "environment": describe_environment(),
    }
    model = TriageModel(classifiers, rule_book, rules_file, manifest)
    valid_texts = [row_text(row) for row in rows["valid"]]
    manifest["decision_floors"] = {}
    if "urgency" in label_set.fields and "critical" in label_set.values("urgency"):
        manifest["decision_floors"]["urgency"] = {
            "critical": choose_critical_floor(
                model.predict_proba(valid_texts, features["valid"].embeddings)["urgency"],
                [bool(model.rule_book.decisions(text).get("urgency")) for text in texts["valid"]],
                [row["urgency"] for row in rows["valid"]],
                list(classifiers["urgency"].classes_),
            )
        }
    valid_predictions = model.predict(valid_texts, features["valid"].embeddings)
    manifest["thresholds"] = choose_thresholds(valid_predictions, rows["valid"], fields)
    manifest["metrics"] = {"valid": valid_metrics(valid_predictions, rows["valid"], fields)}
    report(1, None)
    manifest["training_seconds"] = round(time.perf_counter() - started, 1)
    model.save(destination)
    report(1, None)
    return destination


def encode_with_progress(
    encoder: Encoder, texts: Sequence[str], report: Progress | None = None
) -> np.ndarray:
    """Query embeddings of prepared texts, reporting each chunk done. Texts go to the encoder
    shortest first, so each batch pads to a similar length, and come back in their order."""
    order = np.argsort([len(text) for text in texts], kind="stable")
    vectors = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    for start in range(0, len(order), ENCODE_CHUNK):
        chunk = order[start : start + ENCODE_CHUNK]
        vectors[chunk] = encoder.encode_queries([texts[index] for index in chunk])
        if report:
            report(len(chunk), None)
    return vectors


def rule_precision(
    rule_book: RuleBook, prepared_texts: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """How often each rule fires on the training tickets and, per field it sets, how often the
    label agrees, smoothed as (agreed + 1) / (fired + 2) so that 12 of 12 reads 0.93, not a
    certainty: that is the confidence a rule's decision carries."""
    fired: dict[str, int] = {rule.id: 0 for rule in rule_book.rules}
    agreed: dict[str, dict[str, int]] = {
        rule.id: dict.fromkeys(rule.sets, 0) for rule in rule_book.rules
    }
    for text, row in zip(prepared_texts, rows, strict=True):
        for match in rule_book.matches(text):
            fired[match.rule.id] += 1
            for name, value in match.rule.sets.items():
                agreed[match.rule.id][name] += row[name] == value
    return {
        "fired_on_train": fired,
        "precision_on_train": {
            rule_id: {
                name: round((count + 1) / (fired[rule_id] + 2), 4) for name, count in fields.items()
            }
            for rule_id, fields in agreed.items()
            if fired[rule_id]
        },
    }


def choose_critical_floor(
    urgency_probabilities: np.ndarray,
    rule_says_critical: Sequence[bool],
    truth: Sequence[str],
    classes: Sequence[str],
) -> float:
    """The highest probability floor (0.10-0.50) at which calling every ticket with
    P(critical) >= floor critical, rules included, still finds CRITICAL_RECALL_TARGET of the
    critical tickets in valid; 0.10 when none does (the floor never goes lower, or precision
    would collapse)."""
    critical = np.asarray(truth) == "critical"
    probability = urgency_probabilities[:, list(classes).index("critical")]
    top = np.asarray(classes)[urgency_probabilities.argmax(axis=1)] == "critical"
    by_rule = np.asarray(rule_says_critical, dtype=bool)
    for floor in np.round(np.arange(0.50, 0.095, -0.01), 2):
        flagged = top | by_rule | (probability >= floor)
        if critical.any() and (flagged & critical).sum() / critical.sum() >= CRITICAL_RECALL_TARGET:
            return float(floor)
    return 0.10


def choose_thresholds(
    predictions: Sequence[Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
    fields: Sequence[str],
) -> dict[str, float | None]:
    """Per field, the auto-apply threshold on valid (see triage.model.auto_apply_threshold),
    over the final predictions, rules included."""
    thresholds = {}
    for name in fields:
        confidences = [prediction[name].confidence for prediction in predictions]
        correct = [p[name].value == row[name] for p, row in zip(predictions, rows, strict=True)]
        threshold = auto_apply_threshold(confidences, correct)
        thresholds[name] = round(threshold, 4) if threshold is not None else None
    return thresholds


def valid_metrics(
    predictions: Sequence[Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
    fields: Sequence[str],
) -> dict[str, dict[str, Any]]:
    metrics = {}
    for name in fields:
        truth = [row[name] for row in rows]
        predicted = [prediction[name].value for prediction in predictions]
        confidences = [prediction[name].confidence for prediction in predictions]
        correct = [value == label for value, label in zip(predicted, truth, strict=True)]
        metrics[name] = label_metrics(truth, predicted) | {
            "ece": round(expected_calibration_error(confidences, correct), 4)
        }
        if name == "urgency":
            metrics[name] |= critical_metrics(truth, predicted)
    return metrics
