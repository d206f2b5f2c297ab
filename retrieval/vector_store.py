"""Dense vectors behind a small store interface (add, remove, search, save, load), so that
Milvus or another engine can take FAISS's place without touching search, triage or the API.

FaissVectorStore keeps stable int64 ids (the chunk ids of the database) in an IndexIDMap2 and
chooses its index by size: exact inner product for small knowledge bases, HNSW for large ones,
IVF-PQ where memory matters more than the last point of recall."""

import os
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np

from common.storage import artifact_folder, read_manifest, write_manifest

INDEX_TYPES = ("flat", "hnsw", "ivfpq")
VECTORS_FILE = "vectors.faiss"
HNSW_ABOVE = 50_000  # "auto": exact search is fast enough below this many vectors


class VectorStore(Protocol):
    """What search needs from a vector engine. Ids are stable int64s chosen by the caller."""

    dimension: int

    def __len__(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def ids(self) -> np.ndarray: ...

    def search(self, queries: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (len(queries), top_k); missing results have id -1."""
        ...


def choose_index_type(requested: str, vector_count: int) -> str:
    if requested == "auto":
        return "hnsw" if vector_count >= HNSW_ABOVE else "flat"
    if requested not in INDEX_TYPES:
        raise ValueError(f"index type must be auto or one of {', '.join(INDEX_TYPES)}")
    return requested


class FaissVectorStore:
    """Inner-product search over L2-normalised vectors.

    HNSW cannot delete in place, so its deletions are tombstones filtered out of results until
    they pass a tenth of the index, when it is rebuilt from its own stored vectors."""

    def __init__(
        self,
        dimension: int,
        index_type: str = "flat",
        hnsw_m: int = 32,
        hnsw_ef_search: int = 256,
        ivf_nprobe: int = 16,
    ) -> None:
        if index_type not in INDEX_TYPES:
            raise ValueError(f"index type must be one of {', '.join(INDEX_TYPES)}")
        self.dimension = dimension
        self.index_type = index_type
        self.hnsw_m = hnsw_m
        self.hnsw_ef_search = hnsw_ef_search
        self.ivf_nprobe = ivf_nprobe
        self._tombstones: set[int] = set()
        # IVF-PQ learns its codebooks from the first vectors added, so it starts without an index.
        self._index = None if index_type == "ivfpq" else self._empty_index()

    def _empty_index(self, training: np.ndarray | None = None) -> faiss.IndexIDMap2:
        if self.index_type == "flat":
            inner = faiss.IndexFlatIP(self.dimension)
        elif self.index_type == "hnsw":
            inner = faiss.IndexHNSWFlat(self.dimension, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = 80
            inner.hnsw.efSearch = self.hnsw_ef_search
        else:
            if training is None or len(training) < 1000:
                raise ValueError("an IVF-PQ index needs at least 1,000 vectors to train on")
            nlist = max(16, int(4 * np.sqrt(len(training))))
            nlist = min(nlist, len(training) // 39)
            quantizer = faiss.IndexFlatIP(self.dimension)
            subquantizers = next(
                m for m in (48, 32, 24, 16, 12, 8, 4, 2, 1) if self.dimension % m == 0
            )
            inner = faiss.IndexIVFPQ(
                quantizer, self.dimension, nlist, subquantizers, 8, faiss.METRIC_INNER_PRODUCT
            )
            inner.train(training)
            inner.nprobe = self.ivf_nprobe
        return faiss.IndexIDMap2(inner)

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
        if self.index_type != "hnsw":
            self._index.remove_ids(ids)
            return
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
        keep = np.asarray([i for i in id_map if int(i) not in self._tombstones], dtype=np.int64)
        vectors = (
            np.vstack([self._index.reconstruct(int(i)) for i in keep])
            if len(keep)
            else np.zeros((0, self.dimension), dtype=np.float32)
        )
        self._index = self._empty_index()
        self._tombstones.clear()
        if len(keep):
            self._index.add_with_ids(vectors, keep)

    def search(self, queries: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self._index is None or self._index.ntotal == 0 or top_k <= 0:
            shape = (len(queries), max(top_k, 0))
            return np.zeros(shape, dtype=np.float32), np.full(shape, -1, dtype=np.int64)
        fetch = min(self._index.ntotal, top_k + len(self._tombstones))
        scores, ids = self._index.search(queries, fetch)
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
            manifest.get("ivf_nprobe", 16),
        )
        if (folder / VECTORS_FILE).is_file():
            store._index = faiss.read_index(str(folder / VECTORS_FILE))
        if store._index is None:
            pass
        elif store.index_type == "hnsw":
            faiss.downcast_index(store._index.index).hnsw.efSearch = store.hnsw_ef_search
        elif store.index_type == "ivfpq":
            faiss.downcast_index(store._index.index).nprobe = store.ivf_nprobe
        store._tombstones = set(manifest.get("tombstones", []))
        return store, manifest


def faiss_threads(count: int | None) -> None:
    """Cap FAISS's OpenMP threads (the service shares its cores with the encoder)."""
    faiss.omp_set_num_threads(count or os.cpu_count() or 1)
