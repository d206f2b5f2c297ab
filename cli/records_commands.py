"""`madoguchi ingest`: resolved tickets from a helpdesk export into the records."""

import json
from pathlib import Path

from rich.console import Console

from cli.progress import progress_bar
from common.labels import LabelSet
from common.settings import Settings
from common.storage import create_database_engine

console = Console(stderr=True, soft_wrap=True)
SHOWN_PROBLEMS = 50  # the rest go to --json


def ingest_file(
    settings: Settings,
    path: Path,
    export_format: str,
    mapping: Path | None,
    json_output: bool,
) -> int:
    """Returns the exit code: 0 all rows stored or skipped, 1 some refused, 2 unreadable."""
    from records.exports import ExportError, ingest_export, read_export
    from records.store import RecordStore

    if not path.is_file():
        console.print(f"[red]{path} is not a file[/red]")
        return 2
    engine = create_database_engine(settings.database_url)
    try:
        store = RecordStore(engine, LabelSet.from_file(settings.labels_file), settings.pii_policy)
        with progress_bar(f"[bold]ingesting {path.name}[/bold]", console) as progress:
            task = progress.add_task("ingest", total=None)
            try:
                export = read_export(path)
                progress.update(task, total=len(export.records))
                report, chosen = ingest_export(
                    path,
                    store,
                    export_format,
                    mapping,
                    progress=lambda count: progress.advance(task, count),
                    export=export,
                )
            except (ExportError, OSError, UnicodeDecodeError) as error:
                console.print(f"[red]{error}[/red]")
                return 2
    finally:
        engine.dispose()
    for problem in report.rejected[:SHOWN_PROBLEMS]:
        who = f" ({problem.ticket_id})" if problem.ticket_id else ""
        console.print(f"[red]line {problem.row}{who}[/red]: {'; '.join(problem.errors)}")
    if len(report.rejected) > SHOWN_PROBLEMS:
        console.print(f"… and {len(report.rejected) - SHOWN_PROBLEMS} more (see --json)")
    console.print(
        f"{report.received} rows read as [bold]{chosen.name}[/bold]: {report.stored} stored, "
        f"{report.skipped_already_seen} already seen, {report.skipped_duplicate} duplicates, "
        f"{len(report.rejected)} refused"
    )
    if json_output:
        print(json.dumps({"format": chosen.name, **report.as_dict()}, ensure_ascii=False))
    return 1 if report.rejected else 0


def save_knowledge_gaps(path: Path, candidates: int, gaps: list[dict]) -> None:
    """Keep the latest result where the dashboard reads it (settings.knowledge_gaps_file)."""
    from datetime import datetime, timedelta, timezone

    path.parent.mkdir(parents=True, exist_ok=True)
    saved = {
        "generated_at": datetime.now(timezone(timedelta(hours=9))).isoformat(timespec="seconds"),
        "candidates": candidates,
        "gaps": gaps,
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(saved, ensure_ascii=False, indent=1), encoding="utf-8")
    temporary.replace(path)


def knowledge_gaps(
    settings: Settings, report: Path | None, include_sample: bool, json_output: bool
) -> int:
    """Cluster the resolved tickets no article answered; print and optionally write the report."""
    from common.encoders import load_encoder
    from common.sample_data import load_articles
    from records.store import RecordStore, ticket_row
    from retrieval.knowledge_base import KnowledgeBase
    from training.knowledge_gaps import find_gaps, gap_candidates, gaps_as_json, write_gap_report
    from training.triage_evaluation import read_ticket_rows

    tickets = []
    if include_sample:
        for split in ("train", "valid", "test"):
            tickets += read_ticket_rows(settings.data_dir / "tickets" / f"{split}.jsonl")
    engine = create_database_engine(settings.database_url)
    try:
        store = RecordStore(engine, LabelSet.from_file(settings.labels_file), settings.pii_policy)
        seen = {row["id"] for row in tickets}
        for record in store.resolved_tickets():
            if record.ticket_id not in seen:
                tickets.append(ticket_row(record))
        articles = list(KnowledgeBase(engine).all_articles()) or load_articles(settings.data_dir)
    finally:
        engine.dispose()
    with progress_bar("[bold]clustering unanswered tickets[/bold]", console) as progress:
        progress.add_task("gaps", total=None)
        # Not through the vector cache: the int8 encoder quantises per batch, so vectors cached
        # from other batches would move the clusters from one run to the next.
        encoder = load_encoder(settings.encoder, settings.models_dir, settings.encoder_batch_size)
        gaps = find_gaps(tickets, articles, encoder)
    candidates = len(gap_candidates(tickets))
    save_knowledge_gaps(settings.knowledge_gaps_file, candidates, gaps_as_json(gaps))
    for rank, gap in enumerate(gaps[:15], start=1):
        console.print(
            f"{rank:>2}. {'、'.join(gap.keywords)}  [dim]{gap.size} tickets, {gap.recent} in the "
            f"last 30 days; nearest article {gap.nearest_article} "
            f"({gap.nearest_article_similarity})[/dim]"
        )
    if report:
        console.print(f"report: {write_gap_report(gaps, report, candidates)}")
    if json_output:
        print(
            json.dumps({"candidates": candidates, "gaps": gaps_as_json(gaps)}, ensure_ascii=False)
        )
    return 0
