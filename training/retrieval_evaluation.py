"""Retrieval evaluation on any BEIR-style set (corpus, queries, qrels as JSON Lines): nDCG@10,
MRR@10, Recall@10/100 for keyword, dense and hybrid search, and the precision/coverage curve of
the answer-or-hand-over decision when out-of-scope queries (queries without qrels) are present."""

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.encoders import Encoder
from common.sample_data import Article
from common.text import detect_language
from retrieval.chunking import chunk_article
from retrieval.decision import decision_features
from retrieval.keyword import KeywordAnalyzer
from retrieval.search import METHODS, ArticleFacets, Fusion, HybridSearcher, SearchChunk
from retrieval.vector_store import VectorStore

ANSWER_RELEVANCE = 2  # a top article of relevance >= 2 answers the question (3 fully, 2 mostly)


@dataclass
class RetrievalSet:
    corpus: dict[str, Article]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> relevance

    @property
    def in_scope(self) -> list[str]:
        return [query_id for query_id in self.queries if self.qrels.get(query_id)]

    @property
    def out_of_scope(self) -> list[str]:
        return [query_id for query_id in self.queries if not self.qrels.get(query_id)]


def _first(row: dict, *keys: str, default=None):  # noqa: ANN001, ANN202 - any JSON value
    for key in keys:
        if key in row and row[key] is not None:
            return row[key]
    return default


def _rows(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number}: not JSON ({error})") from error
    return rows


def load_retrieval_set(corpus: Path, queries: Path, qrels: Path) -> RetrievalSet:
    """Corpus rows `id` (or `_id`), `title`?, `text` (or `body`); queries `id`, `text`; qrels
    `query_id`, `doc_id` (or `corpus-id`, `article_id`), `score` (or `relevance`)."""
    documents: dict[str, Article] = {}
    for row in _rows(corpus):
        doc_id = str(_first(row, "id", "_id", default=""))
        text = str(_first(row, "text", "body", default=""))
        if not doc_id or not text:
            raise ValueError(f"{corpus}: every row needs an id and a text; got {str(row)[:120]}")
        documents[doc_id] = Article(
            id=doc_id,
            title=str(_first(row, "title", default="")) or doc_id,
            body=text,
            category=str(_first(row, "category", default="")) or "-",
            tags=list(_first(row, "tags", default=[])),
            language=str(_first(row, "language", default="ja")),
            url=str(_first(row, "url", default="")),
            updated_at="2026-01-01T00:00:00+09:00",
        )
    questions = {
        str(_first(row, "id", "_id")): str(_first(row, "text", "query")) for row in _rows(queries)
    }
    judgements: dict[str, dict[str, int]] = {}
    for row in _rows(qrels):
        query_id = str(_first(row, "query_id", "query-id", "qid"))
        doc_id = str(_first(row, "doc_id", "corpus-id", "article_id", "docid"))
        relevance = int(_first(row, "score", "relevance", default=1))
        if relevance > 0:
            judgements.setdefault(query_id, {})[doc_id] = relevance
    return RetrievalSet(documents, questions, judgements)


def sample_retrieval_set(data_dir: Path) -> RetrievalSet:
    """The sample knowledge base with its chat queries and graded judgements."""
    queries = data_dir / "queries"
    return load_retrieval_set(
        data_dir / "kb" / "articles.jsonl", queries / "queries.jsonl", queries / "qrels.jsonl"
    )


def split_queries(query_ids: list[str], held_out_share: float = 0.5) -> tuple[list[str], list[str]]:
    """A fixed split of queries by hash of the id: (tuning, held out)."""
    tuning, held_out = [], []
    for query_id in query_ids:
        bucket = int(hashlib.sha256(query_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        (held_out if bucket < held_out_share else tuning).append(query_id)
    return tuning, held_out


def build_searcher(
    corpus: dict[str, Article],
    encoder: Encoder,
    analyzer: KeywordAnalyzer | None = None,
    progress: Callable[[int, int], None] | None = None,
    store: VectorStore | None = None,
) -> HybridSearcher:
    """A searcher over `corpus`; its vectors in `store` (default: exact FAISS in memory)."""
    analyzer = analyzer or KeywordAnalyzer()
    searcher = HybridSearcher(encoder, analyzer, store=store)
    chunks: list[SearchChunk] = []
    for article in corpus.values():
        for chunk in chunk_article(article):
            search_text = chunk.search_text(article.title)
            chunks.append(
                SearchChunk(
                    len(chunks),
                    article.id,
                    chunk.heading,
                    chunk.text,
                    search_text,
                    analyzer.terms(search_text),
                )
            )
    vectors = []
    batch = 64
    for start in range(0, len(chunks), batch):
        part = chunks[start : start + batch]
        vectors.append(encoder.encode_passages([chunk.search_text for chunk in part]))
        if progress:
            progress(min(start + batch, len(chunks)), len(chunks))
    facets = [
        ArticleFacets(
            a.id, a.title, a.url, a.category, frozenset(t.lower() for t in a.tags), a.language
        )
        for a in corpus.values()
    ]
    searcher.add(chunks, facets, np.vstack(vectors) if vectors else None)
    return searcher


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    gains = sum(
        (2 ** relevant.get(doc, 0) - 1) / math.log2(i + 2) for i, doc in enumerate(ranked[:k])
    )
    ideal = sorted(relevant.values(), reverse=True)[:k]
    best = sum((2**rel - 1) / math.log2(i + 2) for i, rel in enumerate(ideal))
    return gains / best if best else 0.0


def mrr_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    for i, doc in enumerate(ranked[:k]):
        if doc in relevant:
            return 1.0 / (i + 1)
    return 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    return len(set(ranked[:k]) & set(relevant)) / len(relevant) if relevant else 0.0


def ranking_metrics(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict:
    query_ids = [query_id for query_id in rankings if qrels.get(query_id)]
    if not query_ids:
        return {
            "ndcg@10": None,
            "mrr@10": None,
            "recall@10": None,
            "recall@100": None,
            "queries": 0,
        }

    def mean(metric: Callable[[list[str], dict[str, int]], float]) -> float:
        return round(float(np.mean([metric(rankings[q], qrels[q]) for q in query_ids])), 4)

    return {
        "ndcg@10": mean(ndcg_at),
        "mrr@10": mean(mrr_at),
        "recall@10": mean(lambda r, q: recall_at(r, q, 10)),
        "recall@100": mean(lambda r, q: recall_at(r, q, 100)),
        "queries": len(query_ids),
    }


@dataclass
class QueryRun:
    """One query's rankings per method and the hybrid top answer's decision features."""

    query_id: str
    language: str
    rankings: dict[str, list[str]]
    features: np.ndarray | None


def run_queries(
    searcher: HybridSearcher,
    queries: dict[str, str],
    methods: tuple[str, ...] = METHODS,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, QueryRun]:
    ids = list(queries)
    vectors = searcher.encoder.encode_queries([queries[query_id] for query_id in ids])
    runs: dict[str, QueryRun] = {}
    for number, (query_id, vector) in enumerate(zip(ids, vectors, strict=True), start=1):
        text = queries[query_id]
        rankings, features = {}, None
        for method in methods:
            result = searcher.search(text, top_k=100, method=method, query_vector=vector)
            rankings[method] = [hit.article_id for hit in result.hits]
            if method == "hybrid":
                features = decision_features(result, searcher.matched_share(result))
        runs[query_id] = QueryRun(query_id, detect_language(text).language, rankings, features)
        if progress:
            progress(number, len(ids))
    return runs


def rerank_hybrid(
    searcher: HybridSearcher, runs: dict[str, QueryRun], queries: dict[str, str], fusion: Fusion
) -> dict[str, list[str]]:
    """Hybrid rankings under another fusion setting, reusing nothing but the searcher (fast:
    the query vectors are cached by the encoder)."""
    saved, searcher.fusion = searcher.fusion, fusion
    try:
        return {
            query_id: [hit.article_id for hit in searcher.search(queries[query_id], top_k=100).hits]
            for query_id in runs
        }
    finally:
        searcher.fusion = saved


def answer_labels(runs: dict[str, QueryRun], qrels: dict[str, dict[str, int]]) -> np.ndarray:
    """1 where the hybrid top article answers the question (relevance >= 2), else 0; an
    out-of-scope question is always 0: any answer to it is wrong."""
    labels = []
    for query_id, run in runs.items():
        top = run.rankings["hybrid"][:1]
        labels.append(int(bool(top) and qrels.get(query_id, {}).get(top[0], 0) >= ANSWER_RELEVANCE))
    return np.asarray(labels)


def precision_coverage_curve(confidences: np.ndarray, correct: np.ndarray) -> list[dict]:
    """For each threshold: precision of the answers given, and the share of questions answered."""
    points = []
    for threshold in np.round(np.linspace(0, 1, 101), 2):
        answered = confidences >= threshold
        if not answered.any():
            points.append({"threshold": float(threshold), "precision": None, "coverage": 0.0})
            continue
        points.append(
            {
                "threshold": float(threshold),
                "precision": round(float(correct[answered].mean()), 4),
                "coverage": round(float(answered.mean()), 4),
            }
        )
    return points


def decision_quality(
    threshold: float,
    confidences: np.ndarray,
    runs: dict[str, QueryRun],
    labels: np.ndarray,
    in_scope: set[str],
) -> dict:
    """Precision and coverage of `answer` at a threshold, given each query's confidence."""
    answered = confidences >= threshold
    ids = list(runs)
    in_scope_mask = np.asarray([query_id in in_scope for query_id in ids])
    return {
        "threshold": threshold,
        "precision": round(float(labels[answered].mean()), 4) if answered.any() else None,
        "coverage": round(float(answered.mean()), 4),
        "coverage_in_scope": round(float(answered[in_scope_mask].mean()), 4)
        if in_scope_mask.any()
        else None,
        "out_of_scope_answered": int((answered & ~in_scope_mask).sum()),
        "out_of_scope": int((~in_scope_mask).sum()),
        "queries": len(ids),
    }


def plot_precision_coverage(curve: list[dict], decision_threshold: float, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [p for p in curve if p["precision"] is not None]
    figure, axis = plt.subplots(figsize=(6, 4.5))
    axis.plot([p["coverage"] for p in points], [p["precision"] for p in points], marker=".")
    chosen = min(points, key=lambda p: abs(p["threshold"] - decision_threshold))
    axis.scatter(
        [chosen["coverage"]],
        [chosen["precision"]],
        color="red",
        zorder=3,
        label=f"default threshold {decision_threshold:.2f}",
    )
    axis.axhline(0.9, color="grey", linestyle="--", linewidth=0.8, label="precision 0.90")
    axis.set_xlabel("coverage (share of questions answered automatically)")
    axis.set_ylabel("precision of `answer`")
    axis.set_ylim(0, 1.02)
    axis.set_xlim(0, 1.02)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower left")
    axis.set_title("Answer or hand over: precision vs coverage")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
