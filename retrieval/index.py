"""The search index kept in step with the knowledge base. The database is the source of truth:
the index replays the knowledge base's change log while it runs, and on start it compares its
stored vector ids with the database's chunk ids, so after a crash or a restart it catches up
from the database and never the other way round.

The index folder (manifest.json + vectors.faiss) also holds what was tuned on dev queries: the
fusion weights and the answer-or-hand-over decision with its threshold."""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from common.encoders import Encoder
from common.settings import Settings
from common.storage import artifact_folder, read_manifest, write_manifest
from retrieval.decision import UNFITTED, AnswerDecision
from retrieval.keyword import KeywordAnalyzer
from retrieval.knowledge_base import KnowledgeBase, StoredChunk
from retrieval.milvus_store import MilvusVectorStore, milvus_store_factory
from retrieval.search import ArticleFacets, Fusion, HybridSearcher, SearchChunk
from retrieval.vector_store import FaissVectorStore, VectorStore, choose_index_type

logger = logging.getLogger(__name__)
DEFAULT_FUSION = Fusion("mix", 0.4)
ENCODE_BATCH = 64
Progress = Callable[[int, int], None]
StoreFactory = Callable[[Encoder, int], VectorStore]


def store_factory_for(settings: Settings) -> StoreFactory | None:
    """The configured vector engine: None for FAISS in the index folder, else a factory that
    opens the encoder's Milvus collection."""
    if settings.vector_backend != "milvus":
        return None
    return milvus_store_factory(
        settings.milvus_address,
        settings.milvus_index_type,
        settings.milvus_collection_prefix,
        settings.milvus_token,
    )


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """One writer at a time across processes (several workers on one box share the folder)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f".{folder.name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _search_chunk(chunk: StoredChunk) -> SearchChunk:
    return SearchChunk(
        chunk.id, chunk.article_id, chunk.heading, chunk.text, chunk.search_text, chunk.terms
    )


class KnowledgeIndex:
    def __init__(
        self,
        knowledge_base: KnowledgeBase,
        encoder: Encoder,
        folder: Path,
        index_type: str = "auto",
        save_every_seconds: float = 60.0,
        store_factory: StoreFactory | None = None,
    ) -> None:
        """`store_factory` opens another vector engine's store for the encoder (Milvus:
        retrieval.milvus_store); without one the vectors live in FAISS in `folder`."""
        self.knowledge_base = knowledge_base
        self.encoder = encoder
        self.folder = folder
        self.index_type = index_type
        self.save_every_seconds = save_every_seconds
        self.store_factory = store_factory
        self.analyzer: KeywordAnalyzer = knowledge_base.analyzer
        self.searcher = HybridSearcher(encoder, self.analyzer, fusion=DEFAULT_FUSION)
        self.decision: AnswerDecision = UNFITTED
        self.last_applied_change = 0
        self.tuning: dict = {}
        self._sync_lock = threading.Lock()
        self._dirty_since: float | None = None

    # -- start-up ----------------------------------------------------------------------------

    def open(self, progress: Progress | None = None) -> KnowledgeIndex:
        """Load the folder when it was made with this encoder, else start empty; then bring it
        level with the database (encoding only what the stored vectors lack)."""
        if self.knowledge_base.count() and not self.knowledge_base.chunk_count():
            # A knowledge base written before chunks existed: chunk it now, from its own rows.
            self.knowledge_base.upsert_many(list(self.knowledge_base.all_articles()))
        head = self.knowledge_base.last_change()
        store = None
        chunks = [_search_chunk(chunk) for chunk in self.knowledge_base.chunks()]
        articles = self._facets({chunk.article_id for chunk in chunks})
        if self.store_factory is not None:
            store = self.store_factory(self.encoder, len(chunks))  # its vectors live there
            if (self.folder / "manifest.json").is_file():
                manifest = read_manifest(self.folder)
                if manifest.get("encoder") == self.encoder.identity:
                    self._restore_tuning(manifest)
        elif (self.folder / "manifest.json").is_file():
            try:
                store, manifest = FaissVectorStore.load(self.folder)
            except (OSError, ValueError, RuntimeError) as error:
                logger.warning("index folder unreadable, rebuilding", extra={"error": str(error)})
            else:
                if manifest.get("encoder") != self.encoder.identity:
                    logger.info("index made with another encoder, rebuilding")
                    store = None
                self._restore_tuning(manifest)
        if store is None:
            store = FaissVectorStore(
                self.encoder.dimension, choose_index_type(self.index_type, len(chunks))
            )
        stored_ids = set(store.ids().tolist())
        current_ids = {chunk.id for chunk in chunks}
        stale = np.asarray(sorted(stored_ids - current_ids), dtype=np.int64)
        missing = [chunk for chunk in chunks if chunk.id not in stored_ids]
        store.remove(stale)
        self.searcher.store = store
        # Chunks whose vectors are stored go in as they are; the rest are encoded.
        self.searcher.add([c for c in chunks if c.id in stored_ids], articles, embed=False)
        if missing:
            self.searcher.add(missing, [], vectors=self._encode(missing, progress))
        self.last_applied_change = head
        if missing or len(stale) or not (self.folder / "manifest.json").is_file():
            self.save()
        logger.info(
            "index open",
            extra={"chunks": len(chunks), "encoded": len(missing), "dropped": int(len(stale))},
        )
        return self

    def _restore_tuning(self, manifest: dict) -> None:
        self.tuning = manifest.get("tuning", {})
        if fusion := self.tuning.get("fusion"):
            self.searcher.fusion = Fusion(**fusion)
        if decision := self.tuning.get("decision"):
            try:
                self.decision = AnswerDecision.from_dict(decision)
            except (KeyError, ValueError) as error:
                logger.warning("stored answer decision ignored", extra={"error": str(error)})

    def _encode(self, chunks: list[SearchChunk], progress: Progress | None) -> np.ndarray:
        parts = []
        for start in range(0, len(chunks), ENCODE_BATCH):
            batch = chunks[start : start + ENCODE_BATCH]
            parts.append(self.encoder.encode_passages([chunk.search_text for chunk in batch]))
            if progress:
                progress(start + len(batch), len(chunks))
        return np.vstack(parts) if parts else np.zeros((0, self.encoder.dimension), np.float32)

    def _facets(self, article_ids: Iterable[str]) -> list[ArticleFacets]:
        return [
            ArticleFacets(
                article.id,
                article.title,
                article.url,
                article.category,
                frozenset(tag.lower() for tag in article.tags),
                article.language,
            )
            for article in self.knowledge_base.get_many(article_ids).values()
        ]

    # -- while running -----------------------------------------------------------------------

    def catch_up(self) -> int:
        """Apply the knowledge base's changes since the last one applied; returns how many
        articles changed. Cheap when nothing did (one indexed query)."""
        if self.knowledge_base.last_change() <= self.last_applied_change:
            return 0
        with self._sync_lock:
            changed, head = self.knowledge_base.changed_since(self.last_applied_change)
            if not changed:
                return 0
            chunks = [_search_chunk(chunk) for chunk in self.knowledge_base.chunks(changed)]
            facets = self._facets(changed)
            present = {article.id for article in facets}
            self.searcher.remove_articles(changed - present)
            if chunks:
                self.searcher.add(chunks, facets, vectors=self._encode(chunks, None))
            self.last_applied_change = head
            self._dirty_since = self._dirty_since or time.monotonic()
        if time.monotonic() - self._dirty_since >= self.save_every_seconds:
            self.save()
        return len(changed)

    def save(self) -> None:
        """Persist vectors, the last change applied and the tuning, atomically. With another
        engine (Milvus) the vectors are already stored there: the folder keeps the rest."""
        store = self.searcher.store
        fields = {
            "encoder": self.encoder.identity,
            "analyzer": self.analyzer.fingerprint,
            "last_applied_change": self.last_applied_change,
            "articles": len(self.searcher.articles),
            "tuning": self.tuning,
        }
        with self._sync_lock, _folder_lock(self.folder):
            if isinstance(store, FaissVectorStore):
                store.save(self.folder, **fields)
            elif isinstance(store, MilvusVectorStore):
                with artifact_folder(self.folder) as staging:
                    write_manifest(
                        staging,
                        "vector-index",
                        dimension=store.dimension,
                        count=len(store),
                        **store.describe(),
                        **fields,
                    )
            else:
                return
            self._dirty_since = None

    def set_tuning(self, fusion: Fusion, decision: AnswerDecision, report: dict) -> None:
        self.searcher.fusion = fusion
        self.decision = decision
        self.tuning = {"fusion": fusion.to_dict(), "decision": decision.to_dict(), **report}
        self.save()

    def inherit_tuning(self, other: KnowledgeIndex, source: str) -> bool:
        """Start from another index's fusion weights and answer threshold when this one has
        none of its own yet (a new tenant's, until it is tuned on its own queries); the
        manifest says where they came from. Returns whether anything was taken."""
        if self.tuning or not other.tuning:
            return False
        self._restore_tuning({"tuning": {**other.tuning, "inherited_from": source}})
        self.save()
        return True

    def describe(self) -> dict:
        store = self.searcher.store
        return {
            "chunks": len(store),
            "articles": len(self.searcher.articles),
            "engine": "milvus" if isinstance(store, MilvusVectorStore) else "faiss",
            "index_type": getattr(store, "index_type", type(store).__name__),
            "encoder": self.encoder.identity,
            "last_applied_change": self.last_applied_change,
            "fusion": self.searcher.fusion.to_dict(),
            "answer_threshold": self.decision.threshold,
            "decision_fitted": self.decision is not UNFITTED,
        }
