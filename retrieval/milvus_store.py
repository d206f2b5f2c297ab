"""The vector store on Milvus, through pymilvus: the same interface as FaissVectorStore (add,
remove, ids, search by int64 chunk ids), so search, triage and the API do not change when
`MADOGUCHI_VECTOR_BACKEND=milvus`.

`MADOGUCHI_MILVUS_URI` is a Milvus server (`http://milvus:19530`, with `MADOGUCHI_MILVUS_TOKEN`
for a secured one) or a file path, which runs milvus-lite in this process (what the tests use).
One collection per encoder: its name carries a hash of the encoder's identity and its
properties the identity itself, so vectors of two encoders never meet; switching to a tuned
encoder (or back) finds that encoder's collection as it was. Several workers share the
collection: upserts by chunk id are idempotent, so each worker replaying the knowledge base's
change log (retrieval.index) leaves the same vectors behind."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from common.encoders import Encoder

MILVUS_INDEX_TYPES = ("flat", "hnsw", "ivf_flat")
ENCODER_PROPERTY = "madoguchi.encoder"
ID_BATCH = 16_384  # Milvus's largest query window
WRITE_BATCH = 2_000
FLUSH_AFTER = 1_000  # rows in one add() that make it a bulk load (see add)


@lru_cache(maxsize=8)
def milvus_client(uri: str, token: str = "") -> Any:  # noqa: ANN401 - pymilvus.MilvusClient
    """One client per address and process: milvus-lite serves a file to one client per
    process, and a server connection is worth sharing."""
    from pymilvus import MilvusClient

    return MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)


def collection_name(prefix: str, encoder_identity: str) -> str:
    digest = hashlib.sha256(encoder_identity.encode()).hexdigest()[:16]
    return f"{prefix}_{digest}"


class MilvusVectorStore:
    """Inner-product search over L2-normalised vectors in a Milvus collection.

    `flat` is exact search; `hnsw` (M, efConstruction, ef) and `ivf_flat` (nlist, nprobe) are
    Milvus's approximate indexes, for collections of millions of chunks."""

    def __init__(
        self,
        uri: str,
        dimension: int,
        encoder_identity: str,
        index_type: str = "flat",
        prefix: str = "madoguchi_chunks",
        token: str = "",
        hnsw_m: int = 32,
        hnsw_ef_search: int = 256,
        ivf_nlist: int = 1024,
        ivf_nprobe: int = 64,
        fresh: bool = False,
    ) -> None:
        """`uri`: a server address, or a file path (milvus-lite). `fresh`: drop whatever the
        collection held first (evaluations, benchmarks)."""
        if index_type not in MILVUS_INDEX_TYPES:
            raise ValueError(f"Milvus index type must be one of {', '.join(MILVUS_INDEX_TYPES)}")
        self.uri = uri
        self.dimension = dimension
        self.encoder_identity = encoder_identity
        self.index_type = index_type
        self.hnsw_m = hnsw_m
        self.hnsw_ef_search = hnsw_ef_search
        self.ivf_nlist = ivf_nlist
        self.ivf_nprobe = ivf_nprobe
        self.collection = collection_name(prefix, encoder_identity)
        if "://" not in uri:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        self._client = milvus_client(uri, token)
        self._lock = threading.Lock()
        if fresh and self._client.has_collection(self.collection):
            self._client.drop_collection(self.collection)
        self._open()

    # -- the collection ------------------------------------------------------------------------

    def _index_params(self) -> Any:  # noqa: ANN401 - pymilvus IndexParams
        params = self._client.prepare_index_params()
        if self.index_type == "hnsw":
            params.add_index(
                field_name="vector",
                index_type="HNSW",
                metric_type="IP",
                params={"M": self.hnsw_m, "efConstruction": 200},
            )
        elif self.index_type == "ivf_flat":
            params.add_index(
                field_name="vector",
                index_type="IVF_FLAT",
                metric_type="IP",
                params={"nlist": self.ivf_nlist},
            )
        else:
            params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        return params

    def _open(self) -> None:
        from pymilvus import DataType

        client = self._client
        if not client.has_collection(self.collection):
            schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
            client.create_collection(
                self.collection, schema=schema, index_params=self._index_params()
            )
            client.alter_collection_properties(
                self.collection, properties={ENCODER_PROPERTY: self.encoder_identity}
            )
        else:
            described = client.describe_collection(self.collection)
            stored = (described.get("properties") or {}).get(ENCODER_PROPERTY)
            if stored not in (None, self.encoder_identity):
                raise ValueError(
                    f"Milvus collection {self.collection} holds vectors of {stored}, not "
                    f"{self.encoder_identity}"
                )
            vector_field = next(f for f in described["fields"] if f["name"] == "vector")
            dimension = int(vector_field.get("params", {}).get("dim", self.dimension))
            if dimension != self.dimension:
                raise ValueError(
                    f"Milvus collection {self.collection} has dimension {dimension}, the "
                    f"encoder {self.dimension}"
                )
        client.load_collection(self.collection)

    def drop(self) -> None:
        """Remove the collection (and every vector in it)."""
        self._client.drop_collection(self.collection)

    # -- the VectorStore interface --------------------------------------------------------------

    def __len__(self) -> int:
        counted = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(counted[0]["count(*)"]) if counted else 0

    def ids(self) -> np.ndarray:
        found: list[int] = []
        iterator = self._client.query_iterator(
            self.collection, batch_size=ID_BATCH, filter="id >= 0", output_fields=["id"]
        )
        try:
            while batch := iterator.next():
                found.extend(int(row["id"]) for row in batch)
        finally:
            iterator.close()
        return np.asarray(sorted(found), dtype=np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace (upsert by id)."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"expected {len(ids)} vectors of dimension {self.dimension}")
        with self._lock:
            for start in range(0, len(ids), WRITE_BATCH):
                rows = [
                    {"id": int(vector_id), "vector": vector.tolist()}
                    for vector_id, vector in zip(
                        ids[start : start + WRITE_BATCH],
                        vectors[start : start + WRITE_BATCH],
                        strict=True,
                    )
                ]
                self._client.upsert(self.collection, rows)
            if len(ids) >= FLUSH_AFTER:
                # a bulk load: seal it into indexed segments now; left in the growing segment,
                # milvus-lite scans it row by row (0.5 s a query at 100k rows, 0.09 s sealed)
                self._client.flush(self.collection)

    def remove(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return
        with self._lock:
            for start in range(0, len(ids), WRITE_BATCH):
                self._client.delete(
                    self.collection, ids=[int(i) for i in ids[start : start + WRITE_BATCH]]
                )

    def _search_params(self) -> dict[str, Any]:
        if self.index_type == "hnsw":
            return {"metric_type": "IP", "params": {"ef": self.hnsw_ef_search}}
        if self.index_type == "ivf_flat":
            return {"metric_type": "IP", "params": {"nprobe": self.ivf_nprobe}}
        return {"metric_type": "IP"}

    def search(
        self, queries: np.ndarray, top_k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        shape = (len(queries), max(top_k, 0))
        scores = np.full(shape, -np.inf, dtype=np.float32)
        ids = np.full(shape, -1, dtype=np.int64)
        if top_k <= 0 or not len(queries):
            return np.zeros(shape, dtype=np.float32), ids
        if allowed_ids is not None and not len(allowed_ids):
            return scores, ids
        # a filter's chunks, searched by Milvus itself (a boolean expression on the primary key)
        where = (
            f"id in [{','.join(str(int(i)) for i in allowed_ids)}]"
            if allowed_ids is not None
            else ""
        )
        params = self._search_params()
        if self.index_type == "hnsw":  # HNSW needs ef ≥ k
            params["params"]["ef"] = max(self.hnsw_ef_search, top_k)
        answers = self._client.search(
            self.collection,
            data=queries.tolist(),
            limit=top_k,
            anns_field="vector",
            search_params=params,
            output_fields=[],
            filter=where,
        )
        for row, hits in enumerate(answers):
            for column, hit in enumerate(list(hits)[:top_k]):
                ids[row, column] = int(hit["id"])
                scores[row, column] = float(hit["distance"])
        return scores, ids

    def describe(self) -> dict[str, Any]:
        return {
            "engine": "milvus",
            "uri": self.uri if "://" not in self.uri else self.uri.split("@")[-1],
            "collection": self.collection,
            "index_type": self.index_type,
        }


def choose_milvus_index_type(requested: str, vector_count: int) -> str:
    """`auto`: exact search below 50,000 chunks (as with FAISS), HNSW above."""
    if requested == "auto":
        return "hnsw" if vector_count >= 50_000 else "flat"
    if requested not in MILVUS_INDEX_TYPES:
        raise ValueError(
            f"Milvus index type must be auto or one of {', '.join(MILVUS_INDEX_TYPES)}"
        )
    return requested


def milvus_store_factory(
    uri: str, index_type: str, prefix: str, token: str = ""
) -> Callable[[Encoder, int], MilvusVectorStore]:
    """What KnowledgeIndex calls to open the store of an encoder (given the chunk count, for
    `auto`)."""

    def open_store(encoder: Encoder, chunk_count: int) -> MilvusVectorStore:
        return MilvusVectorStore(
            uri,
            encoder.dimension,
            encoder.identity,
            choose_milvus_index_type(index_type, chunk_count),
            prefix=prefix,
            token=token,
        )

    return open_store
