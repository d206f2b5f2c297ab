"""Reading helpdesk exports (JSONL or CSV) into resolved-ticket rows: each record keeps its line
number, a line that cannot be parsed is reported rather than dropped, and the columns go through
a field mapping (ours, Zendesk-like, Freshdesk-like, or a customer's own YAML file). Records are
held as a Hugging Face `datasets.Dataset` (one Arrow table, every value as text, because exports
mix numbers, strings and nulls in one column) and mapped batch by batch."""

import csv
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from records.store import IngestReport, RowProblem

if TYPE_CHECKING:
    from records.store import RecordStore

DEFAULT_MAPPINGS_FILE = Path(__file__).resolve().parent / "config" / "export_mappings.yaml"
LINE = "__line__"  # the column that carries each record's line number through the dataset
# `labels: fields` in a mapping: every field of the configured label file, from the column of
# its own name (or a `labels` object): madoguchi's own formats, whatever the taxonomy.
LABEL_FILE_FIELDS = "fields"
csv.field_size_limit(10_000_000)  # exported descriptions can be long


class ExportError(ValueError):
    """The file as a whole cannot be read (unknown format, no mapping fits); says what to do."""


@dataclass(frozen=True)
class ExportMapping:
    name: str
    detect: list[str]
    columns: dict[str, list[str]]
    labels: dict[str, str] | str  # field → column, or LABEL_FILE_FIELDS
    values: dict[str, dict[str, str]] = field(default_factory=dict)

    def fits(self, header: set[str]) -> bool:
        return set(self.detect) <= header

    def ticket_row(
        self, record: Mapping[str, Any], label_fields: Sequence[str] = ()
    ) -> dict[str, Any]:
        """A record of the export as a ResolvedTicket row (validation happens in the store).
        A mapping whose `labels` is `fields` reads each of `label_fields` (the configured label
        file's) from the column of that name, or from a `labels` object."""
        row: dict[str, Any] = {}
        for ours, theirs in self.columns.items():
            value = next((record[c] for c in theirs if record.get(c) not in (None, "")), None)
            if value is not None:
                row[ours] = value if ours != "ticket_id" else str(value)
        labels = {}
        columns = (
            {name: name for name in label_fields}
            if self.labels == LABEL_FILE_FIELDS
            else dict(self.labels)
        )
        if self.labels == LABEL_FILE_FIELDS and record.get("labels"):
            try:
                nested = json.loads(record["labels"])
            except (TypeError, json.JSONDecodeError):
                nested = None
            if not isinstance(nested, dict):
                row["labels"] = {"(labels)": "not a JSON object"}  # refused by the store
                return row
            record = {**record, **{name: nested.get(name) for name in label_fields}}
        for label_field, column in columns.items():
            value = record.get(column)
            if value in (None, ""):
                continue
            translated = self.values.get(label_field, {})
            labels[label_field] = translated.get(str(value), str(value))
        row["labels"] = labels
        return row


def load_mappings(path: Path | None = None) -> dict[str, ExportMapping]:
    # Every scalar as text: column names like `No` or `ID: 1` must not become booleans or numbers.
    raw = (
        yaml.load(  # noqa: S506 - BaseLoader builds only str, list and dict
            (path or DEFAULT_MAPPINGS_FILE).read_text(encoding="utf-8"), Loader=yaml.BaseLoader
        )
        or {}
    )
    mappings = {}
    for name, spec in raw.items():
        columns = {
            ours: [theirs] if isinstance(theirs, str) else list(theirs)
            for ours, theirs in spec.get("columns", {}).items()
        }
        if "ticket_id" not in columns or "body" not in columns:
            raise ExportError(f"mapping {name!r} must map at least ticket_id and body")
        labels = spec.get("labels", {})
        mappings[name] = ExportMapping(
            name,
            list(spec.get("detect", [])),
            columns,
            labels if labels == LABEL_FILE_FIELDS else dict(labels),
            {
                key: {str(k): str(v) for k, v in value.items()}
                for key, value in spec.get("values", {}).items()
            },
        )
    return mappings


@dataclass
class ExportFile:
    """A parsed export: the records as a dataset (each with its line number), the lines that
    could not be parsed, and the columns seen."""

    records: Any  # datasets.Dataset
    unreadable: list[tuple[int, str]]  # (line number, why)
    header: set[str]


def _jsonl_records(path: Path, unreadable: list[tuple[int, str]]) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                unreadable.append((number, f"not valid JSON ({error.msg} at column {error.colno})"))
                continue
            if not isinstance(record, dict):
                unreadable.append((number, "not a JSON object"))
                continue
            yield {LINE: number, **record}


def _csv_records(path: Path, unreadable: list[tuple[int, str]]) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        start = 2  # the header is line 1; a record may span several lines (quoted newlines)
        for record in reader:
            if None in record:  # more cells than the header has columns
                unreadable.append((start, f"{len(record[None])} more cells than the header"))
            else:
                yield {LINE: start, **record}
            start = reader.line_num + 1


def _as_text(value: Any) -> str | None:
    """Exports mix numbers, strings and nulls in one column; Arrow needs one type per column."""
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def read_export(path: Path) -> ExportFile:
    """Parse a .jsonl/.json (one object per line) or .csv export."""
    from datasets import Dataset

    suffix = path.suffix.lower()
    if suffix not in {".jsonl", ".json", ".csv"}:
        raise ExportError(f"{path.name}: use a .jsonl or .csv export (one ticket per row)")
    unreadable: list[tuple[int, str]] = []
    reader = _csv_records if suffix == ".csv" else _jsonl_records
    rows = [
        {key: (value if key == LINE else _as_text(value)) for key, value in record.items()}
        for record in reader(path, unreadable)
    ]
    header = {key for row in rows for key in row} - {LINE}
    columns = sorted(header)
    records = Dataset.from_list(
        [{column: row.get(column) for column in [LINE, *columns]} for row in rows]
    )
    return ExportFile(records, unreadable, header)


def choose_mapping(
    header: set[str], mappings: Mapping[str, ExportMapping], name: str = "auto"
) -> ExportMapping:
    if name != "auto":
        if name not in mappings:
            raise ExportError(f"unknown export format {name!r}; use auto or {', '.join(mappings)}")
        return mappings[name]
    for mapping in mappings.values():
        if mapping.fits(header):
            return mapping
    raise ExportError(
        f"no mapping fits the columns {sorted(header)[:12]}: name one with --format "
        f"({', '.join(mappings)}) or write your own with --mapping FILE.yaml"
    )


def ticket_rows(
    export: ExportFile,
    mapping: ExportMapping,
    progress: Callable[[int], None] | None = None,
    label_fields: Sequence[str] = (),
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, resolved-ticket row) for every readable record, in file order, mapped in
    Arrow batches."""
    for batch in export.records.iter(batch_size=1000):
        count = len(batch[LINE])
        for index in range(count):
            record = {column: values[index] for column, values in batch.items()}
            yield record[LINE], mapping.ticket_row(record, label_fields)
        if progress:
            progress(count)


def ingest_export(
    path: Path,
    store: "RecordStore",
    export_format: str = "auto",
    mappings_file: Path | None = None,
    progress: Callable[[int], None] | None = None,
    chunk: int = 1000,
    export: ExportFile | None = None,
) -> tuple[IngestReport, ExportMapping]:
    """Read, map, validate and store an export chunk by chunk (each chunk one transaction; a
    later chunk sees the earlier ones as already stored). Lines that could not be parsed are
    counted as received and reported with their line numbers. Pass `export` when the file has
    been read already."""
    export = export or read_export(path)
    mapping = choose_mapping(export.header, load_mappings(mappings_file), export_format)
    report = IngestReport(received=len(export.unreadable))
    report.rejected.extend(RowProblem(line, None, [why]) for line, why in export.unreadable)
    lines: list[int] = []
    rows: list[dict[str, Any]] = []
    for line, row in ticket_rows(export, mapping, progress, store.label_set.field_names):
        lines.append(line)
        rows.append(row)
        if len(rows) >= chunk:
            report.merge(store.add_resolved(rows, f"ingest:{mapping.name}", lines))
            lines, rows = [], []
    if rows:
        report.merge(store.add_resolved(rows, f"ingest:{mapping.name}", lines))
    report.rejected.sort(key=lambda problem: problem.row)
    return report, mapping
