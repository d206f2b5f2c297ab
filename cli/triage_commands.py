"""`madoguchi triage train` and `madoguchi eval triage`: typer-annotated functions that cli/main.py
registers as commands. With --json the last stdout line is one JSON object."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from cli.progress import progress_bar
from common.encoders import configured_encoder
from common.labels import LabelSet
from common.settings import Settings
from training.triage_evaluation import (
    evaluate_triage,
    read_ticket_rows,
    row_text,
    triage_predictions,
    write_report,
)
from training.triage_training import (
    encode_with_progress,
    register_first_champion,
    train_triage_model,
    training_encoder,
)
from triage.classifier import embedding_text, prepare_text
from triage.model import TRIAGE_MODELS, TriageModel, serving_triage_model_for
from triage.priority import Prioritiser
from triage.service import serving_encoder_name

console = Console(stderr=True, soft_wrap=True)


def _settings() -> Settings:
    from cli.main import load_settings  # cli.main registers these commands; import at call time

    return load_settings()


def _progress(label: str) -> Progress:
    return progress_bar(f"[bold]{label}[/bold]", console)


def _train(settings: Settings, destination: Path | None) -> Path:
    with _progress("training the triage model") as progress:
        task = progress.add_task("train", total=None)

        def report(advance: int, total: int | None) -> None:
            if total is not None:
                progress.update(task, total=total)
            progress.advance(task, advance)

        return train_triage_model(settings, destination, report)


def train_triage(
    destination: Annotated[
        Path | None,
        typer.Option(help="Model folder to write; default: a new version in models/triage/"),
    ] = None,
) -> None:
    """Train the triage model (type, urgency, impact, queue) on the train split, calibrate it
    and choose its auto-apply thresholds on valid, and write it as one model folder: a new
    version in models/triage/, which serves at once only when there is no champion yet."""
    settings = _settings()
    try:
        folder = _train(settings, destination)
        promoted = register_first_champion(settings, folder)
    except (OSError, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    table = Table("field", "valid macro-F1", "valid accuracy", "ECE", "auto-apply threshold")
    for name, figures in manifest["metrics"]["valid"].items():
        threshold = manifest["thresholds"].get(name)
        table.add_row(
            name,
            str(figures["macro_f1"]),
            str(figures["accuracy"]),
            str(figures["ece"]),
            "never" if threshold is None else str(threshold),
        )
    console.print(table)
    console.print(
        f"[green]✓[/green] triage model written to {folder} ({manifest['training_seconds']} s)"
    )
    if promoted:
        console.print("it is the first model of this install: promoted, it serves now")
    elif folder.parent.name == TRIAGE_MODELS:
        console.print(
            f"a candidate: serve it with `madoguchi models promote {folder.name}`, or let "
            "`madoguchi train` compare it with the champion"
        )


def eval_triage(
    tickets: Annotated[
        Path, typer.Option(help="JSONL of labelled tickets; label fields left out are not scored")
    ],
    model: Annotated[
        Path | None,
        typer.Option(
            help="Model folder; default: the serving one (champion), trained first if none"
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Folder for report.md, confusion matrices, reliability")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="End with one JSON object.")] = False,
) -> None:
    """Macro-F1 and accuracy per field, critical recall, priority agreement, calibration (ECE)
    and auto-apply precision and coverage, beside a TF-IDF + LinearSVC baseline trained on the
    train split in the same run."""
    settings = _settings()
    try:
        label_set = LabelSet.from_file(settings.labels_file)
        rows = read_ticket_rows(tickets)
        train_rows = _baseline_training_rows(settings, label_set)
    except (OSError, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    folder = model or serving_triage_model_for(settings)
    if folder is None:
        console.print(f"no triage model in {settings.models_dir}; training one first")
        folder = _train(settings, None)
        register_first_champion(settings, folder)
    # the encoder the model was trained on: a tuned one when it names one among the models
    encoder_name = serving_encoder_name(settings, folder)
    encoder = (
        training_encoder(settings)
        if encoder_name == settings.encoder
        else configured_encoder(settings, encoder_name)
    )
    try:
        loaded = TriageModel.load(folder, label_set, encoder=encoder)
    except (OSError, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    texts = [prepare_text(row_text(row)) for row in rows]
    with _progress(f"encoding {len(texts)} tickets") as progress:
        task = progress.add_task("encode", total=len(texts))
        embeddings = encode_with_progress(
            encoder,
            [embedding_text(text, loaded.embedding_max_chars) for text in texts],
            lambda advance, _total: progress.advance(task, advance),
        )
    predictions = triage_predictions(rows, loaded, embeddings)
    result = evaluate_triage(rows, loaded, train_rows, predictions, Prioritiser(label_set))
    result["model"] = str(folder)
    _print_result(result)
    if report:
        written = write_report(result, predictions, report, label_set)
        console.print(f"report written to {written}")
    if json_output:
        print(json.dumps(result, ensure_ascii=False))


def _baseline_training_rows(settings: Settings, label_set: LabelSet) -> list[dict[str, Any]]:
    """What the baseline is trained on: the sample train split when it is labelled in the
    configured taxonomy, else the stored resolved tickets `madoguchi train` trains on."""
    sample = read_ticket_rows(settings.data_dir / "tickets" / "train.jsonl")
    fits = [
        row
        for row in sample
        if all(label_set.is_valid(name, row.get(name)) for name in label_set.field_names)
    ]
    if fits:
        return fits
    from common.storage import create_database_engine
    from records.store import RecordStore
    from training.retraining import build_training_data

    engine = create_database_engine(settings.database_url)
    try:
        store = RecordStore(engine, label_set, settings.pii_policy)
        return build_training_data(settings, store, label_set=label_set).train
    finally:
        engine.dispose()


def _print_result(result: dict[str, Any]) -> None:
    table = Table(
        "field", "macro-F1", "accuracy", "baseline macro-F1", "ECE", "auto-apply prec.", "coverage"
    )
    for name in result.get("fields", []):
        figures, auto = result[name], result[name]["auto_apply"]
        table.add_row(
            name,
            str(figures["macro_f1"]),
            str(figures["accuracy"]),
            str(result["baseline"][name]["macro_f1"]),
            str(figures["ece"]),
            str(auto["precision"]),
            str(auto["coverage"]),
        )
    console.print(table)
    if "urgency" in result:
        console.print(
            f"critical recall {result['urgency']['critical_recall']} "
            f"(precision {result['urgency']['critical_precision']})"
        )
    if "exact" in result.get("priority", {}):
        console.print(
            f"priority exact {result['priority']['exact']}, "
            f"within one level {result['priority']['within_one']}"
        )
    console.print(f"{result['n']} tickets, model {result['model']}")


def retrain_triage(
    tolerance: Annotated[
        float, typer.Option(help="How much worse the challenger may be on the guarded figures")
    ] = 0.02,
    tune_encoder: Annotated[
        bool,
        typer.Option(
            "--tune-encoder",
            help="First fine-tune the encoder on ticket → solving-article pairs (CPU, bounded "
            "by --tune-minutes), rebuild the article index with it, and train on it",
        ),
    ] = False,
    tune_minutes: Annotated[
        float, typer.Option(min=0.1, max=120, help="Time budget of the encoder tuning")
    ] = 20.0,
    tune_epochs: Annotated[
        int, typer.Option(min=1, max=20, help="Passes over the pairs, within the budget")
    ] = 3,
    json_output: Annotated[bool, typer.Option("--json", help="End with one JSON object.")] = False,
) -> None:
    """Retrain triage on the sample tickets plus the stored resolved tickets and corrections;
    the challenger replaces the champion only if it is better on the held-out tickets (type
    macro-F1) and not worse beyond --tolerance on the others. Exit code 0 promoted, 1 rejected."""
    from training.retraining import retrain

    settings = _settings()
    with _progress("training a challenger") as progress:
        task = progress.add_task("train", total=None)
        tuning_task = progress.add_task("tune encoder", total=None, visible=tune_encoder)

        def report(advance: int, total: int | None) -> None:
            if total is not None:
                progress.update(task, total=total)
            progress.advance(task, advance)

        def tuning(steps: int, planned: int, loss: float) -> None:
            progress.update(
                tuning_task, completed=steps, total=planned, description=f"loss {loss:.3f}"
            )

        try:
            result = retrain(
                settings,
                report,
                tolerance=tolerance,
                tune_encoder=tune_encoder,
                tune_minutes=tune_minutes,
                tune_epochs=tune_epochs,
                tuning_progress=tuning,
            )
        except (OSError, ValueError) as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from error
    if "retrieval" in result.encoder:
        retrieval = result.encoder["retrieval"]
        console.print(
            f"encoder {result.encoder['name']}: nDCG@10 on the sample queries, untuned → tuned: "
            + "; ".join(
                f"{method} {retrieval['before'][split][method]['ndcg@10']} → "
                f"{retrieval['after'][split][method]['ndcg@10']} ({label})"
                for method in ("dense", "hybrid")
                for split, label in (("all", "all"), ("held_out", "held-out half"))
            )
        )
    table = Table("metric", "champion", "challenger", "difference")
    for row in result.verdict.table:
        table.add_row(
            row["metric"], str(row["champion"]), str(row["challenger"]), str(row["difference"])
        )
    console.print(table)
    outcome = "[green]promoted[/green]" if result.verdict.promote else "[yellow]rejected[/yellow]"
    console.print(f"{result.version}: {outcome}: {result.verdict.reason}")
    console.print(f"report: {result.report}")
    if json_output:
        print(
            json.dumps(
                {
                    "version": result.version,
                    "champion_before": result.champion,
                    "promoted": result.verdict.promote,
                    "reason": result.verdict.reason,
                    "table": result.verdict.table,
                    "data": result.data,
                    "encoder": result.encoder,
                    "report": str(result.report),
                },
                ensure_ascii=False,
            )
        )
    raise typer.Exit(0 if result.verdict.promote else 1)
