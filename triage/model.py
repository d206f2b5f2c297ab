"""The saved triage model: four calibrated field classifiers, the rules that may overrule them and
the per-field confidence above which a prediction is applied without a person, in one
self-describing folder that `TriageModel.load` needs nothing else to read.

Folder layout: manifest.json (kind "triage-model", encoder identity, label file fingerprint,
data hashes, auto-apply thresholds, the critical decision floor, rule precision, metrics on
valid), classifiers/<field>.joblib and rules.yaml (the rules the model was measured with).
"""

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from common.encoders import Encoder
from common.labels import LabelSet
from common.registry import ModelRegistry, open_registry
from common.settings import Settings, get_settings
from common.storage import MANIFEST_NAME, artifact_folder, read_manifest, write_manifest
from triage.classifier import (
    FIELDS,
    TemperatureScaled,
    TicketFeatures,
    embedding_text,
    prepare_text,
)
from triage.rules import RuleBook, RuleMatch

MODEL_KIND = "triage-model"
MODEL_VERSION = 1
RULES_FILE_NAME = "rules.yaml"
# Auto-apply: the lowest confidence at which the predictions at or above it are right at least
# this often on valid, counted over at least this many predictions (fewer cannot show 95 %).
AUTO_APPLY_MIN_PRECISION = 0.95
AUTO_APPLY_MIN_SUPPORT = 30


@dataclass(frozen=True)
class FieldPrediction:
    """One field of one ticket: the value, how sure (a calibrated probability), the model's
    top-3 alternatives, whether it is safe to apply without review, and who decided it."""

    value: str
    confidence: float
    alternatives: list[tuple[str, float]]  # the model's three most likely values
    auto_apply: bool
    decided_by: str  # "model" or "rule:<rule id>"
    reason: str | None = None
    model_decision: str | None = None  # the model's value before any rule overruled it

    @property
    def top_value(self) -> str:
        """The model's most probable value (a decision floor or a rule may have chosen another)."""
        return self.alternatives[0][0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "confidence": self.confidence,
            "alternatives": [list(pair) for pair in self.alternatives],
            "auto_apply": self.auto_apply,
            "decided_by": self.decided_by,
            "reason": self.reason,
            "model_decision": self.model_decision,
        }


def apply_rules(
    classes: Mapping[str, Sequence[str]],
    probabilities: Mapping[str, np.ndarray],
    rule_decisions: Mapping[str, RuleMatch],
    thresholds: Mapping[str, float | None],
    rule_precision: Mapping[str, Mapping[str, float]],
    floors: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, FieldPrediction]:
    """One ticket's fields from the model's probabilities (one row per field) and the rules that
    fired on it.

    The model's value is its most probable one, except that a value with a decision floor (e.g.
    urgency critical) wins whenever its probability reaches the floor: missing a critical ticket
    costs more than a false alarm. A rule then decides the fields it sets; its confidence is its
    measured precision on training data for that field (or the model's probability for the
    value, if higher). A field is auto-applied when its confidence reaches the field's
    threshold."""
    predictions = {}
    for field_name, row in probabilities.items():
        labels = list(classes[field_name])
        order = np.argsort(-row, kind="stable")
        alternatives = [(labels[index], round(float(row[index]), 4)) for index in order[:3]]
        value, confidence = alternatives[0]
        decided_by, reason = "model", None
        for floored, floor in (floors or {}).get(field_name, {}).items():
            probability = float(row[labels.index(floored)])
            if floored != value and probability >= floor:
                value, confidence = floored, round(probability, 4)
                reason = (
                    f"P({floored}) {probability:.2f} >= decision floor {floor}: a missed "
                    f"{floored} ticket costs more than a false alarm"
                )
        model_decision = value
        match = rule_decisions.get(field_name)
        if match is not None:
            value = match.rule.sets[field_name]
            model_confidence = float(row[labels.index(value)])
            measured = rule_precision.get(match.rule.id, {}).get(field_name, 0.0)
            confidence = round(max(measured, model_confidence), 4)
            decided_by, reason = f"rule:{match.rule.id}", match.reason
        threshold = thresholds.get(field_name)
        predictions[field_name] = FieldPrediction(
            value=value,
            confidence=confidence,
            alternatives=alternatives,
            auto_apply=threshold is not None and confidence >= threshold,
            decided_by=decided_by,
            reason=reason,
            model_decision=model_decision,
        )
    return predictions


def auto_apply_threshold(
    confidences: Sequence[float],
    correct: Sequence[bool],
    min_precision: float = AUTO_APPLY_MIN_PRECISION,
    min_support: int = AUTO_APPLY_MIN_SUPPORT,
) -> float | None:
    """The lowest confidence t such that predictions with confidence >= t are right at least
    `min_precision` of the time, over at least `min_support` of them; None when there is none
    (that field is then never auto-applied)."""
    confidences = np.asarray(confidences, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    for threshold in np.unique(confidences):
        chosen = confidences >= threshold
        if chosen.sum() < min_support:
            return None
        if correct[chosen].mean() >= min_precision:
            return float(threshold)
    return None


class TriageModel:
    """Predicts the label file's fields of tickets (type, urgency, impact and queue by
    default), with rules on top."""

    def __init__(
        self,
        classifiers: Mapping[str, TemperatureScaled],
        rule_book: RuleBook,
        rules_file: Path,
        manifest: dict[str, Any],
        encoder: Encoder | None = None,
    ) -> None:
        self.classifiers = dict(classifiers)
        self.rule_book = rule_book
        self.rules_file = rules_file
        self.manifest = manifest
        self._encoder = encoder

    # --- predicting ------------------------------------------------------------------------

    @property
    def thresholds(self) -> dict[str, float | None]:
        return self.manifest.get("thresholds", {})

    @property
    def floors(self) -> dict[str, dict[str, float]]:
        return self.manifest.get("decision_floors", {})

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            raise RuntimeError(
                "this TriageModel has no encoder: pass embeddings to predict(), or load it with "
                "TriageModel.load(folder, encoder=...)"
            )
        return self._encoder

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The embeddings predict() needs for raw ticket texts (prepared, encoded as queries), so
        a caller can encode a ticket once and reuse the vectors elsewhere."""
        return self.embed_prepared([prepare_text(text) for text in texts])

    @property
    def embedding_max_chars(self) -> int | None:
        """How much of each prepared ticket the model was trained to embed (None: all)."""
        return self.manifest["encoder"].get("max_chars")

    def embed_prepared(self, prepared: Sequence[str]) -> np.ndarray:
        """As `embed`, for texts already through `prepare_text`."""
        limit = self.embedding_max_chars
        return self.encoder.encode_queries([embedding_text(text, limit) for text in prepared])

    def predict_proba(
        self, texts: Sequence[str], embeddings: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """The calibrated model probabilities per field (rows: texts; columns: the field's
        classes), without rules."""
        prepared = [prepare_text(text) for text in texts]
        features = self._features(prepared, embeddings)
        return {name: model.predict_proba(features) for name, model in self.classifiers.items()}

    def predict(
        self, texts: Sequence[str], embeddings: np.ndarray | None = None
    ) -> list[dict[str, FieldPrediction]]:
        """Each ticket's fields. `texts` are raw tickets (`ticket_text(subject, body)`); pass
        `embeddings` (from `embed`) to skip encoding."""
        return self.predict_prepared([prepare_text(text) for text in texts], embeddings)

    def predict_prepared(
        self, prepared: Sequence[str], embeddings: np.ndarray | None = None
    ) -> list[dict[str, FieldPrediction]]:
        """As `predict`, for texts already through `prepare_text` (the service cleans each
        ticket once for the model, the encoder and its response)."""
        if not prepared:
            return []
        prepared = list(prepared)
        features = self._features(prepared, embeddings)
        probabilities = {
            name: model.predict_proba(features) for name, model in self.classifiers.items()
        }
        classes = {name: list(model.classes_) for name, model in self.classifiers.items()}
        rule_precision = self.manifest.get("rules", {}).get("precision_on_train", {})
        return [
            apply_rules(
                classes,
                {name: rows[index] for name, rows in probabilities.items()},
                self.rule_book.decisions(text),
                self.thresholds,
                rule_precision,
                self.floors,
            )
            for index, text in enumerate(prepared)
        ]

    def _features(self, prepared: list[str], embeddings: np.ndarray | None) -> TicketFeatures:
        if embeddings is None:
            embeddings = self.embed_prepared(prepared)
        dimension = self.manifest["encoder"]["dimension"]
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape != (len(prepared), dimension):
            raise ValueError(
                f"embeddings must have shape ({len(prepared)}, {dimension}) from the encoder "
                f"{self.manifest['encoder']['identity']}; got {embeddings.shape}"
            )
        return TicketFeatures.build(prepared, embeddings)

    # --- saving and loading ----------------------------------------------------------------

    def save(self, folder: Path) -> Path:
        """Write the model folder atomically (readers see the old folder or the new one)."""
        with artifact_folder(folder) as staging:
            (staging / "classifiers").mkdir()
            for name, model in self.classifiers.items():
                joblib.dump(model, staging / "classifiers" / f"{name}.joblib")
            shutil.copyfile(self.rules_file, staging / RULES_FILE_NAME)
            described = {
                key: value
                for key, value in self.manifest.items()
                if key not in ("kind", "version", "created_at")
            }
            self.manifest = write_manifest(staging, MODEL_KIND, version=MODEL_VERSION, **described)
        self.rules_file = folder / RULES_FILE_NAME
        return folder

    @classmethod
    def load(
        cls, folder: Path, label_set: LabelSet | None = None, encoder: Encoder | None = None
    ) -> "TriageModel":
        """Read a model folder, refusing one whose classes differ from `label_set` (default: the
        configured label file; it changed since training: retrain) or whose encoder differs from
        `encoder`."""
        label_set = label_set or LabelSet.from_file(get_settings().labels_file)
        manifest = read_manifest(folder)
        if manifest.get("kind") != MODEL_KIND:
            raise ValueError(f"{folder} holds a {manifest.get('kind')!r}, not a {MODEL_KIND}")
        if manifest.get("version") != MODEL_VERSION:
            raise ValueError(
                f"{folder} is triage model version {manifest.get('version')}; this code reads "
                f"version {MODEL_VERSION}: retrain with `madoguchi triage train`"
            )
        if encoder is not None and encoder.identity != manifest["encoder"]["identity"]:
            raise ValueError(
                f"{folder} was trained on embeddings of {manifest['encoder']['identity']}, but "
                f"the encoder given is {encoder.identity}; retrain or configure that encoder"
            )
        fields = list(manifest.get("fields") or FIELDS)  # models before taxonomies: FIELDS
        if set(fields) != set(label_set.field_names):
            raise ValueError(
                f"{folder} predicts the fields {fields}, but the label file has "
                f"{label_set.field_names}; retrain for this taxonomy with `madoguchi train`"
            )
        classifiers = {}
        for name in fields:
            model = joblib.load(folder / "classifiers" / f"{name}.joblib")
            expected = label_set.values(name)
            if set(model.classes_) != set(expected):  # the order is the model's own concern
                raise ValueError(
                    f"{folder}: the {name} classifier predicts {list(model.classes_)}, but the "
                    f"label file lists {expected}; retrain with `madoguchi triage train`"
                )
            classifiers[name] = model
        rules_file = folder / RULES_FILE_NAME
        rule_book = RuleBook.from_file(rules_file, label_set=label_set)
        return cls(classifiers, rule_book, rules_file, manifest, encoder)


TRIAGE_MODELS = "triage"  # models/triage/<version>/ and models/triage/registry.json


def serving_triage_model(
    models_dir: Path, registry_dir: Path | None = None, database_url: str = ""
) -> Path | None:
    """The folder the service should load: the champion of the registry in `registry_dir`
    (a tenant's; default `models_dir`) as that database records it (its registry.json without
    one), else the install's base model (base_triage_model)."""
    root = registry_dir or models_dir
    registry = (
        open_registry(root, TRIAGE_MODELS, database_url)
        if database_url
        else ModelRegistry(root, TRIAGE_MODELS)
    )
    return registry.champion() or base_triage_model(models_dir)


def serving_triage_model_for(settings: Settings) -> Path | None:
    """serving_triage_model for these settings' tenant and database."""
    return serving_triage_model(settings.models_dir, settings.registry_dir, settings.database_url)


def triage_registry_for(settings: Settings) -> ModelRegistry:
    """The triage registry these settings (this tenant) read and write, state in its database."""
    return open_registry(settings.registry_dir, TRIAGE_MODELS, settings.database_url)


def base_triage_model(models_dir: Path) -> Path | None:
    """The model every tenant starts from before it trains its own: the first champion of
    models/triage/ (what `madoguchi build` trained on the sample tickets, as its registry.json
    records it), else, for installs from before the registry, the newest
    models/triage-<YYYYMMDD-HHMMSS> folder."""
    registry = ModelRegistry(models_dir, TRIAGE_MODELS)
    first = next((entry["version"] for entry in registry.history()), None)
    if first is not None and (registry.root / first / MANIFEST_NAME).is_file():
        return registry.root / first
    return registry.champion() or newest_triage_model(models_dir)


def trained_encoder_name(folder: Path) -> str | None:
    """The encoder a triage model folder was trained on, as the manifest names it
    (`e5-small-int8`, or `encoders/<version>` for a tuned one); None when it names none."""
    if not (folder / MANIFEST_NAME).is_file():
        return None
    return read_manifest(folder).get("encoder", {}).get("name")


def newest_triage_model(models_dir: Path) -> Path | None:
    """The most recent models/triage-<YYYYMMDD-HHMMSS> folder that holds a triage model (the
    layout before the registry)."""
    for folder in sorted(models_dir.glob("triage-*"), reverse=True):
        is_model = (folder / MANIFEST_NAME).is_file() and read_manifest(folder).get("kind")
        if is_model == MODEL_KIND:
            return folder
    return None


def describe_environment() -> dict[str, str]:
    """Library versions that the pickled classifiers depend on."""
    return {name: version(name) for name in ("scikit-learn", "numpy", "scipy", "joblib")}
