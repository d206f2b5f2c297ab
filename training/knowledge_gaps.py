"""Knowledge gaps (seed 002 §3.4.6: frequent problems become knowledge-base articles): resolved
tickets that no article answered are clustered by meaning, each cluster is named by its most
distinctive Japanese keywords (class-based TF-IDF over content-word lemmas), and clusters are
ranked by how many tickets they hold, how recent they are and how far the nearest article is.

Which tickets count: those resolved without an article, of the types an article can answer
(how-to questions, technical issues, account and billing questions, feature requests), not
critical incidents."""

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from common.encoders import Encoder
from common.pii import mask_pii
from common.sample_data import JST_OFFSET
from common.text import content_words
from retrieval.chunking import chunk_article
from training.triage_evaluation import row_text
from triage.classifier import prepare_text

JST = timezone(JST_OFFSET)
ANSWERABLE_TYPES = ("how_to", "technical_issue", "account", "billing", "feature_request")
CLUSTER_DISTANCE = 0.08  # average-linkage cosine distance at which clusters stop merging
MIN_CLUSTER_SIZE = 2
KEYWORDS = 6
REPRESENTATIVES = 3
TREND_DAYS = 30
REPRESENTATIVE_CHARS = 160


@dataclass
class KnowledgeGap:
    keywords: list[str]
    size: int
    recent: int  # tickets in the last TREND_DAYS days of the data
    earlier: int  # tickets in the TREND_DAYS days before those
    nearest_article: str | None
    nearest_article_similarity: float
    value: float
    ticket_ids: list[str]
    representatives: list[str]  # masked opening of the tickets nearest the cluster's centre


def representative_text(text: str) -> str:
    """The opening of a ticket as the report shows it: personal data masked (common.pii) before
    it is cut, so no phone number is left half there."""
    return mask_pii(text).text[:REPRESENTATIVE_CHARS]


def gap_candidates(tickets: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [
        row
        for row in tickets
        if not row.get("resolved_by_article")
        and row.get("type") in ANSWERABLE_TYPES
        and row.get("urgency") != "critical"
    ]


def _clusters(vectors: np.ndarray) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    model = AgglomerativeClustering(
        n_clusters=None,
        metric="cosine",
        linkage="average",
        distance_threshold=CLUSTER_DISTANCE,
    )
    return model.fit_predict(vectors)


def class_keywords(documents: Mapping[int, list[str]], top: int = KEYWORDS) -> dict[int, list[str]]:
    """c-TF-IDF: a term's frequency in the cluster, weighted by log(1 + average cluster length
    / the term's frequency over all clusters), so words every cluster uses sink."""
    counts = {label: Counter(words) for label, words in documents.items()}
    overall = Counter()
    for counter in counts.values():
        overall.update(counter)
    average = sum(overall.values()) / max(len(counts), 1)
    keywords = {}
    for label, counter in counts.items():
        total = sum(counter.values()) or 1
        scored = {
            term: (count / total) * math.log(1 + average / overall[term])
            for term, count in counter.items()
        }
        keywords[label] = [term for term, _ in sorted(scored.items(), key=lambda kv: -kv[1])][:top]
    return keywords


def _when(row: Mapping[str, Any]) -> datetime | None:
    value = row.get("resolved_at") or row.get("created_at")
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    # SQLite hands stored times back without their offset; they were written as JST or UTC
    # wall times, which is close enough for a 30-day trend.
    return moment if moment.tzinfo else moment.replace(tzinfo=JST)


def find_gaps(
    tickets: Sequence[Mapping[str, Any]],
    articles: Sequence[Any],
    encoder: Encoder,
) -> list[KnowledgeGap]:
    """Knowledge gaps, most valuable first: value = size × (1 − nearest-article similarity) ×
    (1 + share of the cluster in the most recent TREND_DAYS days)."""
    candidates = gap_candidates(tickets)
    if not candidates:
        return []
    texts = [prepare_text(row_text(row)) for row in candidates]
    vectors = encoder.encode_queries(texts)
    labels = _clusters(vectors)
    titles = {article.id: article.title for article in articles}
    chunks = [chunk for article in articles for chunk in chunk_article(article)]
    chunk_vectors = encoder.encode_passages(
        [chunk.search_text(titles[chunk.article_id]) for chunk in chunks]
    )
    moments = [_when(row) for row in candidates]
    latest = max((moment for moment in moments if moment), default=None)
    members: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        members.setdefault(int(label), []).append(index)
    kept = {label: rows for label, rows in members.items() if len(rows) >= MIN_CLUSTER_SIZE}
    keywords = class_keywords(
        {
            label: [word for row in rows for word in content_words(texts[row])]
            for label, rows in members.items()
        }
    )
    gaps = []
    for label, rows in kept.items():
        centre = vectors[rows].mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        nearest_article, similarity = None, 0.0
        if len(chunks):
            scores = chunk_vectors @ centre
            best = int(scores.argmax())
            nearest_article, similarity = chunks[best].article_id, float(scores[best])
        recent = earlier = 0
        if latest is not None:
            for row in rows:
                moment = moments[row]
                if moment and moment > latest - timedelta(days=TREND_DAYS):
                    recent += 1
                elif moment and moment > latest - timedelta(days=2 * TREND_DAYS):
                    earlier += 1
        closest = sorted(rows, key=lambda row: -float(vectors[row] @ centre))[:REPRESENTATIVES]
        value = len(rows) * (1 - similarity) * (1 + recent / len(rows))
        gaps.append(
            KnowledgeGap(
                keywords=keywords[label],
                size=len(rows),
                recent=recent,
                earlier=earlier,
                nearest_article=nearest_article,
                nearest_article_similarity=round(similarity, 4),
                value=round(value, 4),
                ticket_ids=[str(candidates[row]["id"]) for row in rows],
                representatives=[representative_text(texts[row]) for row in closest],
            )
        )
    return sorted(gaps, key=lambda gap: -gap.value)


def write_gap_report(gaps: Sequence[KnowledgeGap], directory: Path, candidates: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Knowledge gaps",
        "",
        f"{candidates} resolved tickets had no solving article and were of a kind an article "
        f"could answer; {len(gaps)} clusters of at least {MIN_CLUSTER_SIZE}, most valuable first "
        "(size × distance from the nearest article × recent growth).",
        "",
        "| # | keywords | tickets | last 30 days | 30 days before | nearest article (cosine) "
        "| value |",
        "|---:|---|---:|---:|---:|---|---:|",
    ]
    for rank, gap in enumerate(gaps, start=1):
        lines.append(
            f"| {rank} | {'、'.join(gap.keywords)} | {gap.size} | {gap.recent} | {gap.earlier} | "
            f"{gap.nearest_article} ({gap.nearest_article_similarity}) | {gap.value} |"
        )
    for rank, gap in enumerate(gaps[:10], start=1):
        lines += ["", f"## {rank}. {'、'.join(gap.keywords[:3])}", ""]
        lines += [f"- {text}" for text in gap.representatives]
    path = directory / "knowledge_gaps.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def gaps_as_json(gaps: Sequence[KnowledgeGap]) -> list[dict[str, Any]]:
    return [asdict(gap) for gap in gaps]
