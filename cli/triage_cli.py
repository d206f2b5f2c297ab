"""`madoguchi classify FILE.jsonl`: the API's triage over a file, with a progress bar."""

import json
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console

from cli.progress import progress_bar
from common.settings import Settings
from common.storage import create_database_engine


def classify_file(
    settings: Settings, source: Path, destination: Path, batch_size: int, console: Console
) -> int:
    from api.schemas import TicketIn
    from api.service import classify_tickets
    from cli.retrieval_commands import encoder_for
    from common.labels import LabelSet
    from triage.service import build_triage_service

    if not source.is_file():
        console.print(f"[red]{source} is not a file[/red]")
        return 2
    rows: list[tuple[int, TicketIn | str]] = []
    with source.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append((number, TicketIn.model_validate(json.loads(line), strict=False)))
            except (json.JSONDecodeError, ValidationError) as error:
                rows.append((number, f"line {number}: {str(error).splitlines()[0]}"))
    engine = create_database_engine(settings.database_url)
    try:
        triage = build_triage_service(settings, engine, encoder_for(settings))
        labels = LabelSet.from_file(settings.labels_file)
        failed = 0
        with (
            destination.open("w", encoding="utf-8") as out,
            progress_bar("[bold]classifying[/bold]", console) as progress,
        ):
            task = progress.add_task("classify", total=len(rows))
            for start in range(0, len(rows), batch_size):
                batch = rows[start : start + batch_size]
                good = [ticket for _, ticket in batch if isinstance(ticket, TicketIn)]
                results = iter(classify_tickets(good, triage, labels, settings) if good else [])
                for number, ticket in batch:
                    if isinstance(ticket, TicketIn):
                        out.write(next(results).model_dump_json() + "\n")
                    else:
                        failed += 1
                        console.print(f"[red]{ticket}[/red]")
                        out.write(json.dumps({"line": number, "error": ticket}) + "\n")
                progress.advance(task, len(batch))
    finally:
        engine.dispose()
    console.print(f"{len(rows) - failed} tickets classified into {destination}; {failed} refused")
    return 1 if failed else 0
