"""The triage model: one classifier interface for all four fields, labels only from the label
file, calibration that keeps the label, auto-apply thresholds, and the saved folder.

A small model is trained once (240 train and 80 valid sample tickets) on a hash encoder that
stands in for the sentence encoder, so the tests need no model files and run in seconds."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from fakes import HashEncoder

from common.labels import LabelSet
from common.settings import PROJECT_ROOT, Settings
from training.triage_training import train_triage_model
from triage.classifier import (
    FIELDS,
    TemperatureScaled,
    TicketClassifier,
    TicketFeatures,
    prepare_text,
    ticket_text,
)
from triage.cues import CueLexicon
from triage.model import (
    FieldPrediction,
    TriageModel,
    apply_rules,
    auto_apply_threshold,
    newest_triage_model,
)

LABELS = LabelSet.from_file(Settings().labels_file)
SAMPLE = PROJECT_ROOT / "data" / "tickets"


def sample_rows(split: str, count: int) -> list[dict]:
    lines = (SAMPLE / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:count]]


def features_of(rows: list[dict]) -> TicketFeatures:
    texts = [prepare_text(ticket_text(row["subject"], row["body"])) for row in rows]
    return TicketFeatures.build(texts, HashEncoder().encode_queries(texts))


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("triage")
    tickets = root / "data" / "tickets"
    tickets.mkdir(parents=True)
    for split, count in (("train", 240), ("valid", 80)):
        lines = [json.dumps(row, ensure_ascii=False) for row in sample_rows(split, count)]
        (tickets / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = Settings(data_dir=root / "data", models_dir=root / "models", state_dir=root)
    return train_triage_model(
        settings, root / "models" / "triage-20260101-000000", encoder=HashEncoder()
    )


@pytest.fixture(scope="module")
def model(model_folder: Path) -> TriageModel:
    return TriageModel.load(model_folder, LABELS, HashEncoder())


def test_all_four_fields_are_instances_of_one_classifier_with_one_interface(
    model: TriageModel,
) -> None:
    features = features_of(sample_rows("valid", 12))
    assert list(model.classifiers) == list(FIELDS)
    for name, calibrated in model.classifiers.items():
        assert type(calibrated) is TemperatureScaled
        assert type(calibrated.classifier) is TicketClassifier
        assert list(calibrated.classes_) == LABELS.values(name)
        probabilities = calibrated.predict_proba(features)
        assert probabilities.shape == (12, len(LABELS.values(name)))
        assert np.allclose(probabilities.sum(axis=1), 1.0)
        predicted = calibrated.predict(features)
        assert list(predicted) == [calibrated.classes_[i] for i in probabilities.argmax(axis=1)]


def test_the_constructor_only_stores_parameters() -> None:
    classifier = TicketClassifier(labels=("a", "b"), char_c=2.0)
    assert classifier.get_params()["char_c"] == 2.0
    assert not [name for name in vars(classifier) if name.endswith("_")]


def test_fitting_with_a_label_outside_the_list_is_refused() -> None:
    rows = sample_rows("train", 40)
    labels = [row["urgency"] for row in rows]
    labels[3] = "urgent"
    with pytest.raises(ValueError, match="urgent"):
        TicketClassifier(labels=LABELS.values("urgency")).fit(features_of(rows), labels)


def test_fitting_without_an_example_of_some_label_is_refused() -> None:
    rows = [row for row in sample_rows("train", 120) if row["urgency"] != "critical"]
    with pytest.raises(ValueError, match="critical"):
        TicketClassifier(labels=LABELS.values("urgency")).fit(
            features_of(rows), [row["urgency"] for row in rows]
        )


def test_every_predicted_value_comes_from_the_label_file(model: TriageModel) -> None:
    rows = sample_rows("valid", 30)
    for fields in model.predict([ticket_text(row["subject"], row["body"]) for row in rows]):
        assert list(fields) == list(FIELDS)
        for name, prediction in fields.items():
            assert LABELS.is_valid(name, prediction.value)
            assert all(LABELS.is_valid(name, value) for value, _ in prediction.alternatives)
            assert len(prediction.alternatives) == 3
            assert 0.0 <= prediction.confidence <= 1.0


def test_loading_a_model_whose_classes_differ_from_the_label_file_is_refused(
    model_folder: Path, tmp_path: Path
) -> None:
    document = yaml.safe_load(Settings().labels_file.read_text(encoding="utf-8"))
    document["fields"]["urgency"]["values"]["emergency"] = {"display_name": "非常"}
    changed = tmp_path / "labels.yaml"
    changed.write_text(
        yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    with pytest.raises(ValueError, match="urgency classifier predicts"):
        TriageModel.load(model_folder, LabelSet.from_file(changed))


def test_loading_with_another_encoder_than_the_one_trained_on_is_refused(
    model_folder: Path,
) -> None:
    class OtherEncoder(HashEncoder):
        identity = "some-other-encoder"

    with pytest.raises(ValueError, match="some-other-encoder"):
        TriageModel.load(model_folder, LABELS, OtherEncoder())


def test_save_and_load_give_identical_probabilities(model: TriageModel, tmp_path: Path) -> None:
    texts = [ticket_text(row["subject"], row["body"]) for row in sample_rows("valid", 20)]
    copy = TriageModel.load(model.save(tmp_path / "copy"), LABELS, HashEncoder())
    before, after = model.predict_proba(texts), copy.predict_proba(texts)
    for name in FIELDS:
        assert np.array_equal(before[name], after[name])
    assert copy.manifest["thresholds"] == model.manifest["thresholds"]


def test_manifest_describes_the_model_and_holds_a_threshold_per_field(
    model_folder: Path,
) -> None:
    manifest = json.loads((model_folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "triage-model" and manifest["version"] == 1
    assert manifest["encoder"]["identity"] == "test-hash-encoder"
    assert manifest["labels"]["fingerprint"] == LABELS.fingerprint
    assert manifest["data"]["train"]["tickets"] == 240
    assert len(manifest["data"]["valid"]["sha256"]) == 64
    assert set(manifest["thresholds"]) == set(FIELDS)
    for threshold in manifest["thresholds"].values():
        assert threshold is None or 0.0 < threshold <= 1.0
    assert set(manifest["metrics"]["valid"]) == set(FIELDS)
    assert 0.1 <= manifest["decision_floors"]["urgency"]["critical"] <= 0.5
    assert (model_folder / "rules.yaml").is_file()
    assert newest_triage_model(model_folder.parent) == model_folder
    # which views each field read (no field reads the packaged keyword cues), and the cue file
    views = manifest["classifier"]["views"]
    assert views == {name: ["characters", "words", "embedding"] for name in FIELDS}
    assert manifest["classifier"]["cues"] == {
        "fingerprint": CueLexicon.from_file().fingerprint,
        "fields": [],
    }


def test_precomputed_embeddings_give_the_same_predictions_and_a_wrong_shape_is_refused(
    model: TriageModel,
) -> None:
    texts = [ticket_text(row["subject"], row["body"]) for row in sample_rows("valid", 8)]
    embeddings = model.embed(texts)
    assert model.predict(texts, embeddings) == model.predict(texts)
    with pytest.raises(ValueError, match="shape"):
        model.predict(texts, embeddings[:, :16])


def test_the_encoder_reads_only_the_opening_characters_the_model_was_trained_on(
    model: TriageModel,
) -> None:
    limit = model.embedding_max_chars
    assert limit == model.manifest["encoder"]["max_chars"] and limit > 0
    opening = "ログインできません。" * (limit // 10 + 1)
    # Whatever follows the opening `limit` characters does not move the embedding...
    same = model.embed_prepared([opening[:limit] + "以降は読まれない", opening])
    assert np.array_equal(same[0], same[1])
    # ...but the whole text still reaches the character and word views.
    features = TicketFeatures.build([opening + "請求書"], same[:1])
    assert "請求書" in features.texts[0]


def test_the_four_fields_transform_a_ticket_once_and_as_a_fresh_transform_would(
    model: TriageModel,
) -> None:
    features = features_of(sample_rows("valid", 12))
    shared = {name: clf.predict_proba(features) for name, clf in model.classifiers.items()}
    assert len(features.matrices) == 2  # characters and words, shared by all four fields
    for name, calibrated in model.classifiers.items():
        inner = calibrated.classifier
        alone = features_of(sample_rows("valid", 12))  # nothing cached: this field alone
        assert np.allclose(calibrated.predict_proba(alone), shared[name])
        vocabulary = inner.vectorizers_["characters"].transform(alone.texts)
        cached = features.matrices[inner.view_fingerprints_["characters"]]
        assert (vocabulary != cached).nnz == 0


def test_temperature_scaling_changes_confidence_but_never_the_label(model: TriageModel) -> None:
    features = features_of(sample_rows("valid", 40))
    for calibrated in model.classifiers.values():
        raw = calibrated.classifier.predict_proba(features)
        scaled = calibrated.predict_proba(features)
        assert np.array_equal(raw.argmax(axis=1), scaled.argmax(axis=1))
        assert calibrated.temperature_ > 0


def test_auto_apply_threshold_is_the_lowest_confidence_reaching_95_percent_precision() -> None:
    # 40 sure and right, then 20 at 0.6 of which half are wrong.
    confidences = [0.9] * 40 + [0.6] * 20
    correct = [True] * 40 + [True, False] * 10
    assert auto_apply_threshold(confidences, correct, min_support=30) == 0.9
    assert auto_apply_threshold(confidences, [True] * 60, min_support=30) == 0.6


def test_auto_apply_is_never_chosen_on_fewer_predictions_than_the_minimum_support() -> None:
    assert auto_apply_threshold([0.99] * 10, [True] * 10, min_support=30) is None


def test_a_critical_probability_above_the_floor_wins_over_the_top_label() -> None:
    classes = {"urgency": LABELS.values("urgency")}  # critical, high, medium, low
    probabilities = {"urgency": np.array([0.3, 0.6, 0.05, 0.05])}
    floored = apply_rules(classes, probabilities, {}, {}, {}, {"urgency": {"critical": 0.25}})
    assert floored["urgency"].value == "critical"
    assert floored["urgency"].confidence == 0.3
    assert floored["urgency"].top_value == "high"
    assert floored["urgency"].model_decision == "critical"
    unfloored = apply_rules(classes, probabilities, {}, {}, {}, {"urgency": {"critical": 0.4}})
    assert unfloored["urgency"].value == "high" and unfloored["urgency"].decided_by == "model"


def test_a_field_prediction_serialises_with_its_decider() -> None:
    prediction = FieldPrediction("bug", 0.8, [("bug", 0.8), ("how_to", 0.1)], True, "model")
    assert prediction.as_dict()["decided_by"] == "model"
    assert prediction.as_dict()["alternatives"][0] == ["bug", 0.8]


def test_the_same_tickets_train_the_same_classifier() -> None:
    """A model version is reproducible: refitting on the same data gives the same scores."""
    rows = sample_rows("train", 200)
    features = features_of(rows)
    labels = [row["type"] for row in rows]
    first = TicketClassifier(labels=LABELS.values("type")).fit(features, labels)
    second = TicketClassifier(labels=LABELS.values("type")).fit(features, labels)
    assert np.array_equal(first.decision_function(features), second.decision_function(features))
