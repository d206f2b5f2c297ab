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
        store = RecordStore(engine, LabelSet.from_file(settings.labels_file))
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
