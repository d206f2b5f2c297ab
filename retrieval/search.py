"""Hybrid search over chunks: dense vectors (multilingual, so English, Chinese and Korean
questions reach Japanese articles) fused with Japanese BM25, ranked per article.

The searcher holds everything in memory and knows nothing of the database: the live service feeds
it from the knowledge base (retrieval.index), the evaluation CLI from a BEIR-style corpus."""

import html
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from common.encoders import Encoder
from retrieval.keyword import BM25Index, KeywordAnalyzer
from retrieval.vector_store import FaissVectorStore, VectorStore

METHODS = ("bm25", "dense", "hybrid")
PLANS = ("free", "standard", "premium", "enterprise")
CANDIDATES = 100  # chunks fetched from each side before fusion
# A filter leaving at most this many chunks is searched among those chunks in the vector engine
# (exact, so a narrow filter never comes back empty); a broader one keeps most chunks anyway and
# is applied to a larger candidate list after the search.
ENGINE_FILTER_MAX = 5000


@dataclass(frozen=True)
class Fusion:
    """How dense and keyword ranks become one. `rrf`: weighted reciprocal rank fusion;
    `mix`: weighted sum of per-query min-max normalised scores."""

    method: str = "rrf"
    dense_weight: float = 0.5  # keyword weight is 1 - dense_weight
    rrf_k: int = 60

    def to_dict(self) -> dict:
        return {"method": self.method, "dense_weight": self.dense_weight, "rrf_k": self.rrf_k}


@dataclass(frozen=True)
class ArticleFacets:
    """What filtering, ranking and the answer need of an article, without its body."""

    id: str
    title: str
    url: str = ""
    category: str = ""
    tags: frozenset[str] = frozenset()  # lower-cased
    language: str = "ja"

    def matches(self, filters: "SearchFilters | None") -> bool:
        if filters is None:
            return True
        if filters.categories and self.category not in filters.categories:
            return False
        if filters.tags and not filters.tags <= self.tags:
            return False
        if filters.plan:
            plan_tags = self.tags & set(PLANS)
            # An article tagged with plans is about those plans only; untagged ones apply to all.
            if plan_tags and filters.plan not in plan_tags:
                return False
        return True


@dataclass(frozen=True)
class SearchFilters:
    categories: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()  # lower-cased; an article must carry all of them
    plan: str | None = None


@dataclass(frozen=True)
class SearchChunk:
    id: int
    article_id: str
    heading: str
    text: str
    search_text: str
    terms: list[str]


@dataclass
class ArticleHit:
    article_id: str
    score: float  # fused score (for `dense` and `bm25` alone: that side's score)
    dense_score: float  # best chunk cosine, 0 when not among the dense candidates
    keyword_score: float  # best chunk BM25, 0 when no term matched
    dense_rank: int | None
    keyword_rank: int | None
    best_chunk_id: int


@dataclass
class SearchResult:
    query_terms: list[str]
    hits: list[ArticleHit] = field(default_factory=list)


class HybridSearcher:
    def __init__(
        self,
        encoder: Encoder,
        analyzer: KeywordAnalyzer,
        store: VectorStore | None = None,
        fusion: Fusion | None = None,
    ) -> None:
        self.encoder = encoder
        self.analyzer = analyzer
        self.store: VectorStore = store or FaissVectorStore(encoder.dimension, "flat")
        self.keyword = BM25Index()
        self.fusion = fusion or Fusion()
        self.chunks: dict[int, SearchChunk] = {}
        self.articles: dict[str, ArticleFacets] = {}
        self._chunks_of: dict[str, list[int]] = {}
        self._filtered: dict[SearchFilters, np.ndarray | None] = {}  # see _chunks_passing
        self._lock = threading.RLock()

    # -- keeping it current ------------------------------------------------------------------

    def add(
        self,
        chunks: Sequence[SearchChunk],
        articles: Iterable[ArticleFacets],
        vectors: np.ndarray | None = None,
        embed: bool = True,
    ) -> None:
        """Add chunks (replacing any earlier chunks of the same articles). Vectors are encoded
        here unless given, or the store already holds them (embed=False)."""
        articles = list(articles)
        if embed and vectors is None:
            vectors = self.encoder.encode_passages([chunk.search_text for chunk in chunks])
        with self._lock:
            self.remove_articles([article.id for article in articles])
            self._filtered.clear()
            for article in articles:
                self.articles[article.id] = article
            for chunk in chunks:
                self.chunks[chunk.id] = chunk
                self._chunks_of.setdefault(chunk.article_id, []).append(chunk.id)
            ids = np.asarray([chunk.id for chunk in chunks], dtype=np.int64)
            if vectors is not None:
                self.store.add(ids, vectors)
            self.keyword.add(ids.tolist(), [chunk.terms for chunk in chunks])

    def remove_articles(self, article_ids: Iterable[str]) -> None:
        with self._lock:
            self._filtered.clear()
            stale: list[int] = []
            for article_id in article_ids:
                self.articles.pop(article_id, None)
                stale.extend(self._chunks_of.pop(article_id, []))
            if stale:
                for chunk_id in stale:
                    self.chunks.pop(chunk_id, None)
                self.store.remove(np.asarray(stale, dtype=np.int64))
                self.keyword.remove(stale)

    # -- searching ---------------------------------------------------------------------------

    def search(
        self,
        text: str,
        top_k: int = 5,
        method: str = "hybrid",
        filters: SearchFilters | None = None,
        query_vector: np.ndarray | None = None,
    ) -> SearchResult:
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}")
        terms = self.analyzer.terms(text)
        if method != "bm25" and query_vector is None:
            query_vector = self.encoder.encode_queries([text])[0]
        fetch = CANDIDATES if filters is None else CANDIDATES * 4
        with self._lock:
            allowed = self._chunks_passing(filters) if method != "bm25" else None
            dense = self._dense(query_vector, fetch, allowed) if method != "bm25" else {}
            keyword = self._keyword(terms, fetch) if method != "dense" else {}
            hits = self._fuse(dense, keyword, method)
            hits = [hit for hit in hits if self.articles[hit.article_id].matches(filters)]
        return SearchResult(terms, hits[:top_k])

    def matched_share(self, result: SearchResult) -> float:
        """Share of the question's distinct terms found in the top article's best chunk."""
        wanted = set(result.query_terms)
        if not result.hits or not wanted:
            return 0.0
        chunk = self.chunks.get(result.hits[0].best_chunk_id)
        return len(wanted & set(chunk.terms)) / len(wanted) if chunk else 0.0

    def _chunks_passing(self, filters: SearchFilters | None) -> np.ndarray | None:
        """Ids of the chunks whose article passes the filters, when there are at most
        ENGINE_FILTER_MAX of them; None otherwise (or without filters). Kept per filter until
        the next write."""
        if filters is None:
            return None
        if filters not in self._filtered:
            passing = [
                chunk.id
                for chunk in self.chunks.values()
                if self.articles[chunk.article_id].matches(filters)
            ]
            found = (
                np.asarray(passing, dtype=np.int64) if len(passing) <= ENGINE_FILTER_MAX else None
            )
            if len(self._filtered) > 256:
                self._filtered.clear()
            self._filtered[filters] = found
        return self._filtered[filters]

    def _dense(
        self, query_vector: np.ndarray, fetch: int, allowed: np.ndarray | None = None
    ) -> dict[str, tuple[float, int]]:
        """Best chunk cosine per article, in rank order (among `allowed` chunks when given)."""
        if allowed is None:
            scores, ids = self.store.search(query_vector[None, :], fetch)
        else:
            scores, ids = self.store.search(query_vector[None, :], fetch, allowed_ids=allowed)
        best: dict[str, tuple[float, int]] = {}
        for score, chunk_id in zip(scores[0], ids[0], strict=True):
            chunk = self.chunks.get(int(chunk_id))
            if chunk is not None and chunk.article_id not in best:
                best[chunk.article_id] = (float(score), chunk.id)
        return best

    def _keyword(self, terms: list[str], fetch: int) -> dict[str, tuple[float, int]]:
        best: dict[str, tuple[float, int]] = {}
        for hit in self.keyword.search(terms, fetch):
            chunk = self.chunks.get(hit.doc_id)
            if chunk is not None and chunk.article_id not in best:
                best[chunk.article_id] = (hit.score, chunk.id)
        return best

    def _fuse(
        self,
        dense: dict[str, tuple[float, int]],
        keyword: dict[str, tuple[float, int]],
        method: str,
    ) -> list[ArticleHit]:
        dense_rank = {article_id: rank for rank, article_id in enumerate(dense)}
        keyword_rank = {article_id: rank for rank, article_id in enumerate(keyword)}
        hits = []
        for article_id in dict.fromkeys([*dense, *keyword]):
            dense_score, dense_chunk = dense.get(article_id, (0.0, -1))
            keyword_score, keyword_chunk = keyword.get(article_id, (0.0, -1))
            hits.append(
                ArticleHit(
                    article_id,
                    0.0,
                    dense_score,
                    keyword_score,
                    dense_rank.get(article_id),
                    keyword_rank.get(article_id),
                    keyword_chunk if keyword_chunk >= 0 else dense_chunk,
                )
            )
        if method == "dense":
            for hit in hits:
                hit.score = hit.dense_score
        elif method == "bm25":
            for hit in hits:
                hit.score = hit.keyword_score
        else:
            self._hybrid_scores(hits)
        hits.sort(key=lambda hit: (-hit.score, hit.article_id))
        return hits

    def _hybrid_scores(self, hits: list[ArticleHit]) -> None:
        if not hits:  # an empty knowledge base, or filters nothing passes
            return
        fusion = self.fusion
        weight = fusion.dense_weight
        if fusion.method == "rrf":
            for hit in hits:
                hit.score = sum(
                    part_weight / (fusion.rrf_k + rank + 1)
                    for part_weight, rank in (
                        (weight, hit.dense_rank),
                        (1 - weight, hit.keyword_rank),
                    )
                    if rank is not None
                )
            return
        dense = np.asarray([hit.dense_score for hit in hits])
        keyword = np.asarray([hit.keyword_score for hit in hits])
        dense_floor = dense[dense > 0].min() if (dense > 0).any() else 0.0
        dense_span = max(dense.max() - dense_floor, 1e-6)
        keyword_max = max(keyword.max(), 1e-6)
        for hit in hits:
            dense_part = max(0.0, hit.dense_score - dense_floor) / dense_span
            hit.score = weight * dense_part + (1 - weight) * hit.keyword_score / keyword_max


def snippet(chunk: SearchChunk, query_terms: list[str], width: int = 160) -> tuple[str, list[str]]:
    """A window of the chunk (as written) around its first matched term, HTML-escaped, with every
    matched word wrapped in <mark>; and the matched words as they appear. Matching is by the
    question's terms as text, case-insensitive: cheap enough for every article shown."""
    words = sorted(
        {term for term in query_terms if not term.startswith("⟨") and len(term) > 1},
        key=len,
        reverse=True,
    )
    text = chunk.text or chunk.heading
    spans = (
        [
            match.span()
            for match in re.finditer("|".join(map(re.escape, words)), text, re.IGNORECASE)
        ]
        if words
        else []
    )
    start = max(0, spans[0][0] - width // 4) if spans else 0
    end = min(len(text), start + width)
    pieces, cursor, matched = [], start, []
    for span_start, span_end in spans:
        if span_start < start or span_end > end:
            continue
        pieces.append(html.escape(text[cursor:span_start]))
        pieces.append(f"<mark>{html.escape(text[span_start:span_end])}</mark>")
        matched.append(text[span_start:span_end])
        cursor = span_end
    pieces.append(html.escape(text[cursor:end]))
    body = "".join(pieces).replace("\n", " ")
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else ""), list(
        dict.fromkeys(matched)
    )
