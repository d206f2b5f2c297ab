"""Formats of the sample data (articles, labelled tickets, queries, qrels) and the checks that
keep it honest: schema, label values, disjoint splits, and references that resolve."""

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from common.labels import LabelSet

TICKET_SPLITS = ("train", "valid", "test")
JST_OFFSET = timedelta(hours=9)
Row = TypeVar("Row", bound=BaseModel)


def _require_jst(value: datetime) -> datetime:
    if value.utcoffset() != JST_OFFSET:
        raise ValueError("must be ISO 8601 with the +09:00 offset, e.g. 2026-09-14T10:30:00+09:00")
    return value


class Article(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    body: str = Field(min_length=1)
    category: str = Field(min_length=1)
    tags: list[str]
    language: Literal["ja", "en", "zh", "ko"]
    url: str
    updated_at: datetime

    _jst = field_validator("updated_at")(_require_jst)


class Ticket(BaseModel):
    """A labelled ticket. Label values are plain strings here and checked against the label
    file, because the label lists are configuration."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    channel: Literal["email", "chat", "web_form", "phone_memo"]
    subject: str
    body: str = Field(min_length=1)
    language: Literal["ja", "en", "zh", "ko"]
    plan: Literal["free", "standard", "premium", "enterprise"]
    created_at: datetime
    type: str
    urgency: str
    impact: str
    queue: str
    resolved_by_article: str | None

    _jst = field_validator("created_at")(_require_jst)


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    language: Literal["ja", "en", "zh", "ko"]


class Qrel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query_id: str
    article_id: str
    relevance: int = Field(ge=1, le=3)


class DataProblem(BaseModel):
    file: str
    line: int | None = None
    message: str


class DataReport(BaseModel):
    """What a data check found: counts per file and label, and every problem with its place."""

    counts: dict[str, int] = Field(default_factory=dict)
    label_counts: dict[str, dict[str, int]] = Field(default_factory=dict)
    problems: list[DataProblem] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_jsonl(
    path: Path, schema: type[Row], report: DataReport, name: str | None = None
) -> Iterator[tuple[int, Row]]:
    """Rows of a JSON Lines file that parse and match `schema`; the others go into the report
    under `name` (default: the file name) with their line numbers, so nothing is dropped
    silently."""
    name = name or path.name
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield line_number, schema.model_validate(json.loads(line))
            except json.JSONDecodeError as error:
                report.problems.append(
                    DataProblem(file=name, line=line_number, message=f"not JSON: {error}")
                )
            except ValidationError as error:
                details = "; ".join(
                    f"{'.'.join(map(str, item['loc'])) or 'row'}: {item['msg']}"
                    for item in error.errors()
                )
                report.problems.append(DataProblem(file=name, line=line_number, message=details))


def load_articles(data_dir: Path) -> list[Article]:
    report = DataReport()
    articles = [row for _, row in read_jsonl(data_dir / "kb" / "articles.jsonl", Article, report)]
    if not report.ok:
        raise ValueError(f"articles.jsonl has problems: {report.problems[0].message} (and others)")
    return articles


def check_sample_data(data_dir: Path, labels: LabelSet) -> DataReport:
    """Check every sample-data file that is present under data_dir."""
    report = DataReport()
    article_ids = _check_articles(data_dir / "kb" / "articles.jsonl", report)
    _check_tickets(data_dir / "tickets", labels, article_ids, report)
    _check_queries(data_dir / "queries", article_ids, report)
    return report


def _check_unique(ids: list[tuple[int, str]], file: str, report: DataReport) -> set[str]:
    seen: set[str] = set()
    for line, identifier in ids:
        if identifier in seen:
            report.problems.append(
                DataProblem(file=file, line=line, message=f"id {identifier!r} appears again")
            )
        seen.add(identifier)
    return seen


def _check_articles(path: Path, report: DataReport) -> set[str]:
    if not path.is_file():
        return set()
    rows = list(read_jsonl(path, Article, report, name="kb/articles.jsonl"))
    report.counts["articles"] = len(rows)
    return _check_unique([(line, row.id) for line, row in rows], "kb/articles.jsonl", report)


def _check_tickets(
    folder: Path, labels: LabelSet, article_ids: set[str], report: DataReport
) -> None:
    owner_of_id: dict[str, str] = {}
    owner_of_text: dict[str, str] = {}
    label_counts: dict[str, Counter] = {name: Counter() for name in labels.fields}
    for split in TICKET_SPLITS:
        path = folder / f"{split}.jsonl"
        if not path.is_file():
            continue
        file = f"tickets/{path.name}"
        rows = list(read_jsonl(path, Ticket, report, name=file))
        report.counts[f"tickets_{split}"] = len(rows)
        for line, ticket in rows:
            for name in labels.fields:
                value = getattr(ticket, name)
                label_counts[name][value] += 1
                if not labels.is_valid(name, value):
                    allowed = ", ".join(labels.values(name))
                    report.problems.append(
                        DataProblem(
                            file=file,
                            line=line,
                            message=f"{name}={value!r} is not one of {allowed}",
                        )
                    )
            reference = ticket.resolved_by_article
            if reference is not None and reference not in article_ids:
                report.problems.append(
                    DataProblem(
                        file=file, line=line, message=f"resolved_by_article {reference!r} not in kb"
                    )
                )
            if reference is not None and reference in f"{ticket.subject}\n{ticket.body}":
                report.problems.append(
                    DataProblem(
                        file=file,
                        line=line,
                        message=f"the text names its own resolved_by_article {reference!r}: "
                        "the answer leaks into the input",
                    )
                )
            if ticket.id in owner_of_id:
                report.problems.append(
                    DataProblem(
                        file=file,
                        line=line,
                        message=f"ticket id {ticket.id!r} is also in {owner_of_id[ticket.id]}",
                    )
                )
            owner_of_id[ticket.id] = split
            text = f"{ticket.subject}\n{ticket.body}".strip()
            if text in owner_of_text:
                report.problems.append(
                    DataProblem(
                        file=file,
                        line=line,
                        message=f"same subject and body as a ticket in {owner_of_text[text]}",
                    )
                )
            owner_of_text[text] = split
    report.label_counts = {
        name: dict(counter.most_common()) for name, counter in label_counts.items() if counter
    }


def _check_queries(folder: Path, article_ids: set[str], report: DataReport) -> None:
    queries_path, qrels_path = folder / "queries.jsonl", folder / "qrels.jsonl"
    query_ids: set[str] = set()
    if queries_path.is_file():
        rows = list(read_jsonl(queries_path, Query, report, name="queries/queries.jsonl"))
        report.counts["queries"] = len(rows)
        query_ids = _check_unique(
            [(line, row.id) for line, row in rows], "queries/queries.jsonl", report
        )
    if not qrels_path.is_file():
        return
    pairs: set[tuple[str, str]] = set()
    answered: set[str] = set()
    for line, qrel in read_jsonl(qrels_path, Qrel, report, name="queries/qrels.jsonl"):
        place = {"file": "queries/qrels.jsonl", "line": line}
        if qrel.query_id not in query_ids:
            report.problems.append(DataProblem(**place, message=f"unknown query {qrel.query_id!r}"))
        if qrel.article_id not in article_ids:
            report.problems.append(
                DataProblem(**place, message=f"unknown article {qrel.article_id!r}")
            )
        if (qrel.query_id, qrel.article_id) in pairs:
            report.problems.append(DataProblem(**place, message="the same pair is graded twice"))
        pairs.add((qrel.query_id, qrel.article_id))
        answered.add(qrel.query_id)
    report.counts["qrels"] = len(pairs)
    report.counts["queries_out_of_scope"] = len(query_ids - answered)
