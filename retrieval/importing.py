"""Reading articles for bulk import: JSON Lines, CSV, or a folder of Markdown files (front
matter optional). Rows that cannot be read are reported with their place, never dropped
silently."""

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from pydantic import ValidationError

from common.sample_data import Article
from retrieval.knowledge_base import JST

IMPORT_FORMATS = ("jsonl", "csv", "markdown")


@dataclass(frozen=True)
class ImportProblem:
    place: str  # file and line, or file
    message: str


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "markdown"
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix in {".md", ".markdown"}:
        return "markdown"
    raise ValueError(
        f"cannot tell the format of {path.name}: use .jsonl, .csv, a .md file or a folder of them"
    )


def _article(fields: dict, now: datetime) -> Article:
    fields = {key: value for key, value in fields.items() if value not in (None, "")}
    tags = fields.get("tags", [])
    if isinstance(tags, str):
        tags = json.loads(tags) if tags.strip().startswith("[") else tags.split(",")
    fields["tags"] = [str(tag).strip() for tag in tags if str(tag).strip()]
    fields.setdefault("language", "ja")
    fields.setdefault("url", "")
    fields.setdefault("category", "general")
    updated_at = fields.get("updated_at") or now
    if isinstance(updated_at, str):
        updated_at = datetime.fromisoformat(updated_at)
    if updated_at.tzinfo is None:
        raise ValueError("updated_at needs a UTC offset, e.g. 2026-11-23T10:00:00+09:00")
    fields["updated_at"] = updated_at.astimezone(JST)
    return Article.model_validate(fields)


def _describe(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, item['loc'])) or 'row'}: {item['msg']}" for item in error.errors()
        )
    return str(error)


def _markdown_article(path: Path, root: Path, now: datetime) -> Article:
    text = path.read_text(encoding="utf-8")
    front: dict = {}
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end > 0:
            front = yaml.safe_load(text[4:end]) or {}
            text = text[end + 4 :].lstrip("\n")
    lines = text.splitlines()
    title = front.get("title")
    if not title and lines and lines[0].startswith("# "):
        title, text = lines[0][2:].strip(), "\n".join(lines[1:]).strip()
    category = front.get("category") or (path.parent.name if path.parent != root else "general")
    return _article(
        {
            **front,
            "id": str(front.get("id") or path.stem),
            "title": title or path.stem,
            "body": text,
            "category": category,
        },
        now,
    )


def read_articles(path: Path, problems: list[ImportProblem]) -> Iterator[Article]:
    """Articles from a file or folder; unreadable rows go into `problems`."""
    now = datetime.now(JST)
    kind = detect_format(path)
    if kind == "jsonl":
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield _article(json.loads(line), now)
                except (ValueError, ValidationError) as error:
                    problems.append(ImportProblem(f"{path.name}:{number}", _describe(error)))
    elif kind == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                try:
                    yield _article(dict(row), now)
                except (ValueError, ValidationError) as error:
                    problems.append(ImportProblem(f"{path.name}:{number}", _describe(error)))
    else:
        files = sorted(path.rglob("*.md")) if path.is_dir() else [path]
        root = path if path.is_dir() else path.parent
        for file in files:
            try:
                yield _markdown_article(file, root, now)
            except (ValueError, ValidationError, yaml.YAMLError, UnicodeDecodeError) as error:
                problems.append(ImportProblem(str(file.relative_to(root)), _describe(error)))
