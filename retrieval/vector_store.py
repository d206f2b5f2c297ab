"""Dense vectors behind a small store interface (add, remove, search, save, load), so that
Milvus or another engine can take FAISS's place without touching search, triage or the API.

FaissVectorStore keeps stable int64 ids (the chunk ids of the database) in an IndexIDMap2 and
chooses its index by size: exact inner product for small knowledge bases, HNSW for large ones.
`ivfpq` is the setting for a million vectors and more: an inverted file whose lists hold 4-bit
product-quantisation codes scanned with SIMD ("fast scan"), whose best candidates are re-ranked
by exact inner product against the stored vectors. bench/ann.py measures it: at 1M e5-like
vectors it reaches recall@10 ≥ 0.95 within a few milliseconds per query on one core, where HNSW
with the same memory does not (see bench/results/ann.md)."""

import os
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np

from common.storage import artifact_folder, read_manifest, write_manifest

INDEX_TYPES = ("flat", "hnsw", "ivfpq")
VECTORS_FILE = "vectors.faiss"
HNSW_ABOVE = 50_000  # "auto": exact search is fast enough below this many vectors
IVFPQ_ABOVE = 500_000  # "auto": past this, IVF-PQ + re-rank beats HNSW (bench/results/ann.md)
IVF_TRAINING_PER_LIST = 40  # k-means sample: 40 vectors per list is plenty and keeps training short
IVF_MIN_TRAINING = 1000


class VectorStore(Protocol):
    """What search needs from a vector engine. Ids are stable int64s chosen by the caller."""

    dimension: int

    def __len__(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def ids(self) -> np.ndarray: ...

    def search(
        self, queries: np.ndarray, top_k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (len(queries), top_k); missing results have id -1. With
        `allowed_ids`, only those ids are searched, in the engine (a filter's chunks)."""
        ...


def choose_index_type(requested: str, vector_count: int) -> str:
    if requested == "auto":
        if vector_count >= IVFPQ_ABOVE:
            return "ivfpq"
        return "hnsw" if vector_count >= HNSW_ABOVE else "flat"
    if requested not in INDEX_TYPES:
        raise ValueError(f"index type must be auto or one of {', '.join(INDEX_TYPES)}")
    return requested


class FaissVectorStore:
    """Inner-product search over L2-normalised vectors.

    HNSW and the IVF-PQ re-ranking stage cannot delete in place, so their deletions are
    tombstones filtered out of results until they pass a tenth of the index, when it is rebuilt
    from its own stored vectors (IVF-PQ retrains on them)."""

    def __init__(
        self,
        dimension: int,
        index_type: str = "flat",
        hnsw_m: int = 32,
        hnsw_ef_search: int = 256,
        ivf_nprobe: int = 512,
        ivf_rerank_candidates: int = 2560,
    ) -> None:
        if index_type not in INDEX_TYPES:
            raise ValueError(f"index type must be one of {', '.join(INDEX_TYPES)}")
        self.dimension = dimension
        self.index_type = index_type
        self.hnsw_m = hnsw_m
        self.hnsw_ef_search = hnsw_ef_search
        self.ivf_nprobe = ivf_nprobe
        # How many PQ candidates a search hands to the exact re-ranking (at least 2 per result).
        self.ivf_rerank_candidates = ivf_rerank_candidates
        self._tombstones: set[int] = set()
        # IVF-PQ learns its lists and codebooks from the first vectors added, so it starts empty.
        self._index = None if index_type == "ivfpq" else self._empty_index()

    def _empty_index(self, training: np.ndarray | None = None) -> faiss.IndexIDMap2:
        if self.index_type == "flat":
            inner = faiss.IndexFlatIP(self.dimension)
        elif self.index_type == "hnsw":
            inner = faiss.IndexHNSWFlat(self.dimension, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = 80
            inner.hnsw.efSearch = self.hnsw_ef_search
        else:
            inner = self._trained_ivfpq(training)
        return faiss.IndexIDMap2(inner)

    def _trained_ivfpq(self, training: np.ndarray | None) -> faiss.Index:
        """IVF lists (about 4·√n, spherical k-means) holding 4-bit PQ codes of two dimensions
        each, wrapped in an exact re-ranking stage that keeps the full vectors."""
        if training is None or len(training) < IVF_MIN_TRAINING:
            raise ValueError(
                f"an IVF-PQ index needs at least {IVF_MIN_TRAINING:,} vectors to train on"
            )
        nlist = max(16, int(4 * np.sqrt(len(training))))
        nlist = min(nlist, len(training) // 39)
        sample_size = min(len(training), IVF_TRAINING_PER_LIST * nlist)
        sample = training[
            np.random.default_rng(len(training)).choice(len(training), sample_size, replace=False)
        ]
        subquantizers = self.dimension // 2 if self.dimension % 2 == 0 else self.dimension
        quantizer = faiss.IndexFlatIP(self.dimension)
        ivf = faiss.IndexIVFPQFastScan(
            quantizer, self.dimension, nlist, subquantizers, 4, faiss.METRIC_INNER_PRODUCT
        )
        ivf.cp.spherical = True
        ivf.train(sample)
        refined = faiss.IndexRefineFlat(ivf)
        self._set_ivf_search(refined)
        return refined

    def _set_ivf_search(self, refined: faiss.Index) -> None:
        """Defaults stored in the index itself (searches here pass their own parameters)."""
        refined = faiss.downcast_index(refined)
        refined.k_factor = self._k_factor(10)
        faiss.downcast_index(refined.base_index).nprobe = self.ivf_nprobe

    def _k_factor(self, fetch: int) -> float:
        return max(2.0, self.ivf_rerank_candidates / max(fetch, 1))

    def _search_parameters(self, fetch: int) -> faiss.SearchParameters | None:
        if self.index_type != "ivfpq":
            return None
        return faiss.IndexRefineSearchParameters(
            k_factor=self._k_factor(fetch),
            base_index_params=faiss.SearchParametersIVF(nprobe=self.ivf_nprobe),
        )

    @classmethod
    def build(
        cls, ids: np.ndarray, vectors: np.ndarray, index_type: str = "auto", **options: Any
    ) -> "FaissVectorStore":
        """A store filled with these vectors, its index type chosen by their count."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        store = cls(vectors.shape[1], choose_index_type(index_type, len(vectors)), **options)
        store.add(ids, vectors)
        return store

    def __len__(self) -> int:
        return 0 if self._index is None else self._index.ntotal - len(self._tombstones)

    def ids(self) -> np.ndarray:
        """Every id the store answers with."""
        if self._index is None:
            return np.zeros(0, dtype=np.int64)
        stored = faiss.vector_to_array(self._index.id_map)
        if self._tombstones:
            stored = stored[~np.isin(stored, np.fromiter(self._tombstones, dtype=np.int64))]
        return stored

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"expected {len(ids)} vectors of dimension {self.dimension}")
        if self._index is None:
            self._index = self._empty_index(training=vectors)
        self.remove(ids)  # adding an existing id replaces it
        if self._tombstones.intersection(ids.tolist()):
            self._rebuild_without_tombstones()  # an HNSW id must be gone before it comes back
        self._index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids) or self._index is None:
            return
        if self.index_type == "flat":
            self._index.remove_ids(ids)
            return
        # HNSW cannot delete, nor can IVF-PQ's re-ranking stage: tombstones until compaction.
        present = [int(i) for i in ids if int(i) not in self._tombstones and self._has(int(i))]
        self._tombstones.update(present)
        if len(self._tombstones) > max(100, self._index.ntotal // 10):
            self._rebuild_without_tombstones()

    def _has(self, vector_id: int) -> bool:
        try:
            self._index.reconstruct(vector_id)
        except RuntimeError:
            return False
        return True

    def _rebuild_without_tombstones(self) -> None:
        id_map = faiss.vector_to_array(self._index.id_map)
        alive = ~np.isin(id_map, np.fromiter(self._tombstones, dtype=np.int64))
        keep = id_map[alive]
        vectors = self._index.index.reconstruct_n(0, self._index.ntotal)[alive]
        if self.index_type == "ivfpq":  # the lists and codebooks stay: only the entries go
            emptied = faiss.clone_index(self._index)
            emptied.reset()
            self._set_ivf_search(faiss.downcast_index(emptied).index)
            self._index = emptied
        else:
            self._index = self._empty_index()
        self._tombstones.clear()
        if len(keep):
            self._index.add_with_ids(vectors, keep)

    def search(
        self, queries: np.ndarray, top_k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self._index is None or self._index.ntotal == 0 or top_k <= 0:
            shape = (len(queries), max(top_k, 0))
            return np.zeros(shape, dtype=np.float32), np.full(shape, -1, dtype=np.int64)
        if allowed_ids is not None:
            return self._search_among(queries, top_k, allowed_ids)
        fetch = min(self._index.ntotal, top_k + len(self._tombstones))
        parameters = self._search_parameters(fetch)
        scores, ids = self._index.search(queries, fetch, params=parameters)
        if self._tombstones:
            dead = np.isin(ids, np.fromiter(self._tombstones, dtype=np.int64))
            scores, ids = np.where(dead, -np.inf, scores), np.where(dead, -1, ids)
            order = np.argsort(-scores, axis=1, kind="stable")
            scores = np.take_along_axis(scores, order, axis=1)
            ids = np.take_along_axis(ids, order, axis=1)
        if fetch < top_k:
            pad = top_k - fetch
            scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
            ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)
        return scores[:, :top_k].astype(np.float32), ids[:, :top_k]

    def _search_among(
        self, queries: np.ndarray, top_k: int, allowed_ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact search over the allowed ids only: their stored vectors, scored directly.
        Meant for filters that leave few chunks (the searcher passes at most
        ENGINE_FILTER_MAX ids), where searching everything and filtering after would miss."""
        stored = faiss.vector_to_array(self._index.id_map)
        wanted = np.asarray(allowed_ids, dtype=np.int64)
        present = wanted[np.isin(wanted, stored)]
        if self._tombstones:
            present = present[~np.isin(present, np.fromiter(self._tombstones, dtype=np.int64))]
        shape = (len(queries), top_k)
        scores = np.full(shape, -np.inf, dtype=np.float32)
        ids = np.full(shape, -1, dtype=np.int64)
        if not len(present):
            return scores, ids
        vectors = self._index.reconstruct_batch(present)
        similarity = queries @ vectors.T
        take = min(top_k, len(present))
        order = np.argsort(-similarity, axis=1, kind="stable")[:, :take]
        scores[:, :take] = np.take_along_axis(similarity, order, axis=1)
        ids[:, :take] = present[order]
        return scores, ids

    def save(self, folder: Path, **manifest_fields: Any) -> None:
        """Write the store as a self-describing folder, atomically (readers see the old folder
        or the new one, never half of one)."""
        with artifact_folder(folder) as staging:
            if self._index is not None:
                faiss.write_index(self._index, str(staging / VECTORS_FILE))
            write_manifest(
                staging,
                "vector-index",
                engine=f"faiss {faiss.__version__}",
                index_type=self.index_type,
                dimension=self.dimension,
                count=len(self),
                tombstones=sorted(self._tombstones),
                hnsw_m=self.hnsw_m,
                hnsw_ef_search=self.hnsw_ef_search,
                ivf_nprobe=self.ivf_nprobe,
                ivf_rerank_candidates=self.ivf_rerank_candidates,
                **manifest_fields,
            )

    @classmethod
    def load(cls, folder: Path) -> tuple["FaissVectorStore", dict[str, Any]]:
        manifest = read_manifest(folder)
        if manifest.get("kind") != "vector-index":
            raise ValueError(f"{folder} holds a {manifest.get('kind')!r}, not a vector index")
        store = cls(
            manifest["dimension"],
            manifest["index_type"],
            manifest.get("hnsw_m", 32),
            manifest.get("hnsw_ef_search", 256),
            manifest.get("ivf_nprobe", 512),
            manifest.get("ivf_rerank_candidates", 2560),
        )
        if (folder / VECTORS_FILE).is_file():
            store._index = faiss.read_index(str(folder / VECTORS_FILE))
        if store._index is None:
            pass
        elif store.index_type == "hnsw":
            faiss.downcast_index(store._index.index).hnsw.efSearch = store.hnsw_ef_search
        elif store.index_type == "ivfpq":
            store._set_ivf_search(store._index.index)
        store._tombstones = set(manifest.get("tombstones", []))
        return store, manifest


def faiss_threads(count: int | None) -> None:
    """Cap FAISS's OpenMP threads (the service shares its cores with the encoder)."""
    faiss.omp_set_num_threads(count or os.cpu_count() or 1)
