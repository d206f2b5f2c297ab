"""FAISS against Milvus behind the product's own vector-store interface (FaissVectorStore,
MilvusVectorStore on milvus-lite in this process): loading N e5-small-like vectors (the sample
texts through the default encoder, then calibrated mixtures, as bench/ann.py makes them),
recall@10 against exact search, single-query latency (one query per call, as the API sends
them) and batch throughput. Writes bench/results/vector_backends.md; with --json the last
stdout line is one JSON object.

    .venv/bin/python bench/vector_backends.py [--vectors 100000] [--queries 300] [--json]

milvus-lite is Milvus's in-process edition (Python, FAISS segments underneath, gRPC-shaped
client): its figures show what the interface costs on one box, not what a Milvus cluster does.
"""

import argparse
import json
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ann import recall_at_k, rss_mib, synthetic_data  # noqa: E402

from retrieval.milvus_store import MilvusVectorStore  # noqa: E402
from retrieval.vector_store import FaissVectorStore, faiss_threads  # noqa: E402

TOP_K = 10
ENCODER = "bench-e5-like@1"


@dataclass
class Row:
    engine: str
    index: str
    load_s: float
    recall_at_10: float
    p50_ms: float
    p99_ms: float
    batch_queries_per_s: float
    rss_delta_mib: float


def _single_query_ms(store, queries: np.ndarray) -> np.ndarray:  # noqa: ANN001 - a store
    for query in queries[:5]:  # warm-up
        store.search(query[None, :], TOP_K)
    timings = []
    for query in queries:
        started = time.perf_counter()
        store.search(query[None, :], TOP_K)
        timings.append((time.perf_counter() - started) * 1000)
    return np.asarray(timings)


def measure(engine: str, index: str, make, base, queries, truth) -> Row:  # noqa: ANN001
    before = rss_mib()
    started = time.perf_counter()
    store = make()
    store.add(np.arange(1, len(base) + 1, dtype=np.int64), base)
    if len(store) != len(base):
        raise RuntimeError(f"{engine} {index} holds {len(store)} of {len(base)} vectors")
    load_s = time.perf_counter() - started
    rss_delta = rss_mib() - before
    timings = _single_query_ms(store, queries)
    started = time.perf_counter()
    _, found = store.search(queries, TOP_K)
    batch_s = time.perf_counter() - started
    recall = float(recall_at_k(found - 1, truth).mean())  # ids start at 1, rows at 0
    row = Row(
        engine,
        index,
        round(load_s, 1),
        round(recall, 4),
        round(float(np.percentile(timings, 50)), 2),
        round(float(np.percentile(timings, 99)), 2),
        round(len(queries) / batch_s, 1),
        round(rss_delta, 1),
    )
    print(row, file=sys.stderr)
    return row


def report(rows: list[Row], arguments: argparse.Namespace, path: Path) -> None:
    lines = [
        "# Vector back-ends: FAISS against Milvus (milvus-lite) behind the same interface",
        "",
        f"Measured {datetime.now():%Y-%m-%d %H:%M} on {platform.machine()}, "
        f"{arguments.vectors:,} vectors of 384 dimensions (e5-small-like: the sample texts "
        f"through the default encoder, then calibrated mixtures; bench/ann.py), "
        f"{arguments.queries} queries, top 10, inner product. One query per call for latency "
        "(as the API searches), all queries in one call for throughput. FAISS on 1 thread (as "
        "the service runs it). Command: `.venv/bin/python bench/vector_backends.py "
        f"--vectors {arguments.vectors} --queries {arguments.queries}`.",
        "",
        "| engine | index | load (s) | recall@10 | p50 (ms) | p99 (ms) | batch (q/s) "
        "| RSS added (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.engine} | {row.index} | {row.load_s} | {row.recall_at_10:.4f} | "
            f"{row.p50_ms} | {row.p99_ms} | {row.batch_queries_per_s} | {row.rss_delta_mib} |"
        )
    by_name = {(row.engine, row.index.split()[0].lower()): row for row in rows}
    faiss_flat, lite_flat = by_name.get(("faiss", "flat")), by_name.get(("milvus-lite", "flat"))
    if faiss_flat and lite_flat:
        lines += [
            "",
            f"Exact search returns the same neighbours on both (recall@10 "
            f"{faiss_flat.recall_at_10:.4f} and {lite_flat.recall_at_10:.4f}); one query costs "
            f"{lite_flat.p50_ms / faiss_flat.p50_ms:.1f}× as long on milvus-lite as on FAISS "
            "(median). milvus-lite answers each call through its gRPC-shaped client and scans "
            "its segments in Python: it is the engine for tests and laptops, not for serving. "
            "A bulk load is flushed into sealed segments at the end of `add`; left in the "
            "growing segment, milvus-lite scans it row by row (about five times slower per "
            "query here before that change).",
        ]
    lines += [
        "",
        "Recall is against exact inner-product search over the same vectors. Loading is "
        "`store.add` of every vector (Milvus: upserts of 2,000 rows, then the index is built "
        "on its segments). RSS is what the load added to this process (milvus-lite runs in it).",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="End with one JSON object.")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    arguments = parser.parse_args()
    faiss_threads(1)
    base, queries, _ = synthetic_data(arguments.vectors, arguments.queries)
    exact = FaissVectorStore.build(np.arange(len(base), dtype=np.int64), base, "flat")
    _, truth = exact.search(queries, TOP_K)
    del exact
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        uri = str(Path(folder) / "milvus.db")
        dimension = base.shape[1]
        for engine, index, make in (
            ("faiss", "flat", lambda: FaissVectorStore(dimension, "flat")),
            ("faiss", "hnsw (M 32, ef 256)", lambda: FaissVectorStore(dimension, "hnsw")),
            ("milvus-lite", "FLAT", lambda: MilvusVectorStore(uri, dimension, ENCODER, "flat")),
            (
                "milvus-lite",
                "HNSW (M 32, ef 256)",
                lambda: MilvusVectorStore(uri, dimension, ENCODER + "-hnsw", "hnsw"),
            ),
        ):
            rows.append(measure(engine, index, make, base, queries, truth))
    arguments.out.mkdir(parents=True, exist_ok=True)
    report(rows, arguments, arguments.out / "vector_backends.md")
    summary = {
        "vectors": arguments.vectors,
        "queries": arguments.queries,
        "rows": [asdict(row) for row in rows],
    }
    (arguments.out / "vector_backends.json").write_text(json.dumps(summary, indent=2))
    if arguments.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
