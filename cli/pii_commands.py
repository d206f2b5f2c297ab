"""`madoguchi eval pii`: recall and precision of the PII masker per kind on labelled texts."""

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from common.pii import PII_KINDS
from common.settings import PROJECT_ROOT
from training.pii_evaluation import evaluate_pii, read_labelled_pii

console = Console(stderr=True, soft_wrap=True)
# Written by two writers (the rules were tuned on it), and a third set written afterwards by
# another writer and measured before the rules saw it (then tuned on as well): see
# tests/data/README.md.
DEFAULT_SETS = {
    "dev": PROJECT_ROOT / "tests" / "data" / "pii_dev.jsonl",
    "heldout": PROJECT_ROOT / "tests" / "data" / "pii_heldout.jsonl",
}


def eval_pii(
    files: Annotated[
        list[Path] | None,
        typer.Option(
            "--file",
            help="Labelled JSONL (id, text, spans); repeatable. Default: the sets in tests/data",
        ),
    ] = None,
    misses: Annotated[int, typer.Option(help="List this many missed spans and false alarms")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="End with one JSON object.")] = False,
) -> None:
    """Recall and precision of PII masking per kind: a labelled span counts as found when 80 %
    of it is masked, a masked span as right when half of it is labelled."""
    sets = {path.stem: path for path in files} if files else DEFAULT_SETS
    results = {}
    for name, path in sets.items():
        try:
            labelled = read_labelled_pii(path)
        except (OSError, ValueError, KeyError) as error:
            console.print(f"[red]{path}: {error}[/red]")
            raise typer.Exit(2) from error
        result = evaluate_pii(labelled)
        _print_table(name, path, result)
        for kind in ("misses", "false_alarms"):
            for item in result[kind][:misses]:
                console.print(f"  {kind[:-2] if kind == 'misses' else 'false alarm'} {item}")
        results[name] = {
            key: value for key, value in result.items() if key not in {"misses", "false_alarms"}
        }
    if json_output:
        print(json.dumps(results, ensure_ascii=False))


def _print_table(name: str, path: Path, result: dict) -> None:
    table = Table(
        "kind",
        "labelled",
        "masked",
        "recall",
        "precision",
        title=f"{name}: {path.name} ({result['texts']} texts)",
    )
    for kind in PII_KINDS:
        figures = result["kinds"][kind]
        table.add_row(
            kind,
            str(figures["labelled"]),
            str(figures["predicted"]),
            str(figures["recall"]),
            str(figures["precision"]),
        )
    overall = result["overall"]
    table.add_row(
        "all",
        str(overall["labelled"]),
        str(overall["predicted"]),
        str(overall["recall"]),
        str(overall["precision"]),
    )
    console.print(table)
