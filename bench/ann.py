"""ANN benchmark: recall@10 against exact search, single-query latency, batch throughput, build
time and memory of FAISS indexes over N e5-small-like vectors (384 dims, inner product) on this
machine's cores. Writes bench/results/ann.md and ann_recall_latency.png; with --json the last
stdout line is one JSON object.

    .venv/bin/python bench/ann.py [--vectors 1000000] [--queries 1000] [--json]
"""

import argparse
import ctypes
import json
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import faiss
import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 20250606
TOP_K = 10
THREADS = 2
TARGET_RECALL = 0.95
TARGET_MS = 5.0
HNSW_M = 32
EF_SEARCH = (16, 32, 64, 128, 256, 512)
NPROBE = (16, 32, 64, 128, 256, 512)
PQ_NPROBE = (64, 128, 256, 512)
# 96 codes of 4 dimensions each: with 48 the PQ distances are too coarse for e5's narrow cosine
# band (top-1 ≈ 0.93 against ≈ 0.83 for a random pair), and no re-ranking recovers a top 10.
PQ_SUBQUANTIZERS = 96
REFINE_K_FACTOR = 32  # the PQ stage hands 320 candidates to the re-ranking for a top 10
SINGLE_QUERY_BUDGET_S = 8.0  # per setting and thread count; slow settings time fewer queries
MIN_TIMED_QUERIES = 100
ADD_CHUNK = 20_000
# The product's own `FaissVectorStore("ivfpq")` (IVF + 4-bit PQ fast scan + exact re-rank).
STORE_NPROBE = (256, 384, 512, 768)
STORE_RERANK = (640, 1280, 2560)  # PQ candidates re-ranked exactly for a top 10
FAMILIES = ("flat", "hnsw", "hnsw-sq8", "ivf-flat", "ivf-pq", "ivfpq-store")


@dataclass
class Row:
    index: str
    setting: str
    recall_at_10: float
    recall_at_10_real_queries: float
    p50_ms: float  # one query at a time, THREADS OpenMP threads
    p99_ms: float
    p50_ms_1_thread: float
    p99_ms_1_thread: float
    timed_queries: int
    batch_queries_per_s: float
    build_s: float
    index_mib: float  # faiss.serialize_index length
    rss_delta_mib: float  # resident memory the build added to this process
    measured: str = ""  # when: rows kept from an earlier run (--keep-rows) carry its date


def sample_texts() -> tuple[list[str], list[str]]:
    """(passages, queries): article paragraphs under their title, ticket subject + body, and the
    sample queries."""
    from common.sample_data import load_articles
    from common.settings import Settings

    data_dir = Settings().data_dir
    passages = []
    for article in load_articles(data_dir):
        for paragraph in re.split(r"\n\s*\n", article.body):
            if paragraph.strip():
                passages.append(f"{article.title}\n{paragraph.strip()}")
    for path in sorted((data_dir / "tickets").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                ticket = json.loads(line)
                passages.append(f"{ticket['subject']}\n{ticket['body']}")
    queries_file = data_dir / "queries" / "queries.jsonl"
    queries = [
        json.loads(line)["text"]
        for line in queries_file.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return passages, queries


def real_vectors() -> tuple[np.ndarray, np.ndarray]:
    """The sample texts through the default encoder, cached so that a rerun encodes nothing."""
    from common.encoders import CachedEncoder, load_encoder
    from common.settings import Settings

    settings = Settings()
    encoder = CachedEncoder(
        load_encoder("e5-small-int8", settings.models_dir),
        settings.state_dir / "bench" / "ann-embeddings.sqlite",
    )
    passages, queries = sample_texts()
    print(f"encoding {len(passages)} passages and {len(queries)} queries …", file=sys.stderr)
    return encoder.encode_passages(passages), encoder.encode_queries(queries)


def normalised(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def mixtures(sources: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Unnormalised mixtures of 2 or 3 random source rows with Dirichlet(1) weights."""
    picks = rng.integers(len(sources), size=(count, 3))
    weights = rng.gamma(1.0, size=(count, 3)).astype(np.float32)
    weights[rng.random(count) < 0.5, 2] = 0.0
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("ck,ckd->cd", weights, sources[picks])


def noise_shape(passages: np.ndarray) -> np.ndarray:
    """The square root of the real passages' covariance, scaled to unit trace: noise drawn
    through it varies where real texts vary (isotropic noise would spread into directions e5
    hardly uses) and has expected length 1."""
    covariance = np.cov(passages, rowvar=False)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    root = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T
    return (root / np.sqrt(np.trace(covariance))).astype(np.float32)


def gaussian_noise(count: int, shape: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((count, len(shape)), dtype=np.float32) @ shape


def nearest_cosines(
    vectors: np.ndarray, against: np.ndarray | None = None, count: int = 1
) -> np.ndarray:
    """Each row's `count` highest cosines to `against` (or to the other rows when that is
    None), highest first."""
    similarities = vectors @ (vectors if against is None else against).T
    if against is None:
        np.fill_diagonal(similarities, -np.inf)
    nearest = -np.partition(-similarities, count - 1, axis=1)[:, :count]
    return -np.sort(-nearest, axis=1)


def top1_cosines(vectors: np.ndarray, against: np.ndarray | None = None) -> np.ndarray:
    return nearest_cosines(vectors, against)[:, 0]


def local_dimension(cosines: np.ndarray) -> np.ndarray:
    """Maximum-likelihood local intrinsic dimension (Levina & Bickel) from each row's nearest
    cosines, highest first: how many directions the neighbourhood spreads in. The higher it
    is, the less a graph or a cluster narrows the search."""
    distances = np.sqrt(np.clip(2 - 2 * cosines.astype(np.float64), 1e-12, None))
    return -1 / np.mean(np.log(distances[:, :-1] / distances[:, -1:]), axis=1)


def calibrate_noise(
    mixed: np.ndarray, noise: np.ndarray, target: float, against: np.ndarray | None
) -> float:
    """The noise scale at which the mixtures' median top-1 cosine equals the real one; more
    noise lowers it monotonically, so bisection finds it."""
    low, high = 0.0, 4.0
    for _ in range(30):
        scale = (low + high) / 2
        median = float(np.median(top1_cosines(normalised(mixed + scale * noise), against)))
        low, high = (scale, high) if median > target else (low, scale)
    return (low + high) / 2


def principal_components(vectors: np.ndarray, share: float) -> int:
    """How many principal components carry `share` of the variance (of up to 5,000 rows)."""
    rows = vectors[np.random.default_rng(SEED).permutation(len(vectors))[:5000]]
    variances = np.linalg.svd(rows - rows.mean(axis=0), compute_uv=False) ** 2
    return int(np.searchsorted(np.cumsum(variances) / variances.sum(), share)) + 1


def similarity_profile(vectors: np.ndarray, against: np.ndarray | None = None) -> dict:
    nearest = nearest_cosines(vectors, against, TOP_K)
    top1 = nearest[:, 0]
    rng = np.random.default_rng(SEED)
    other = against if against is not None else vectors
    pairs = rng.integers(len(vectors), size=5000), rng.integers(len(other), size=5000)
    random_pairs = np.einsum("nd,nd->n", vectors[pairs[0]], other[pairs[1]])
    return {
        "top1_p10": round(float(np.percentile(top1, 10)), 3),
        "top1_median": round(float(np.median(top1)), 3),
        "top1_p90": round(float(np.percentile(top1, 90)), 3),
        "random_pair_median": round(float(np.median(random_pairs)), 3),
        # the spread of a set on its own; a query-to-passage row has none
        "components_50": principal_components(vectors, 0.5) if against is None else None,
        "components_90": principal_components(vectors, 0.9) if against is None else None,
        "local_dimension": round(float(np.median(local_dimension(nearest))), 1),
    }


def synthetic_data(vector_count: int, query_count: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """(base, queries, calibration): the real passages followed by calibrated mixtures up to
    vector_count, and the real queries followed by calibrated query mixtures."""
    passages, real_queries = real_vectors()
    rng = np.random.default_rng(SEED)
    dimension = passages.shape[1]
    shape = noise_shape(passages)

    probe_mixed = mixtures(passages, len(passages), rng)
    probe_noise = gaussian_noise(len(passages), shape, rng)
    passage_target = float(np.median(top1_cosines(passages)))
    passage_noise = calibrate_noise(probe_mixed, probe_noise, passage_target, None)
    query_mixed = mixtures(real_queries, len(real_queries), rng)
    query_noise_rows = gaussian_noise(len(real_queries), shape, rng)
    query_target = float(np.median(top1_cosines(real_queries, passages)))
    query_noise = calibrate_noise(query_mixed, query_noise_rows, query_target, passages)

    base = np.empty((vector_count, dimension), dtype=np.float32)
    real_rows = min(len(passages), vector_count)
    base[:real_rows] = passages[:real_rows]
    chunk = 50_000
    for start in tqdm(range(real_rows, vector_count, chunk), desc="synthesising vectors"):
        count = min(chunk, vector_count - start)
        mixed = mixtures(passages, count, rng) + passage_noise * gaussian_noise(count, shape, rng)
        base[start : start + count] = normalised(mixed)

    real_query_rows = min(len(real_queries), query_count)
    synthetic_count = query_count - real_query_rows
    synthetic_queries = normalised(
        mixtures(real_queries, synthetic_count, rng)
        + query_noise * gaussian_noise(synthetic_count, shape, rng)
    )
    queries = np.vstack([real_queries[:real_query_rows], synthetic_queries]).astype(np.float32)
    calibration = {
        "real_passages": len(passages),
        "real_queries": len(real_queries),
        "real_queries_used": real_query_rows,
        "passage_noise": round(passage_noise, 4),
        "query_noise": round(query_noise, 4),
        "profiles": {
            "real passages among themselves": similarity_profile(passages),
            "synthetic passages among themselves (same count)": similarity_profile(
                normalised(probe_mixed + passage_noise * probe_noise)
            ),
            "real queries to real passages": similarity_profile(real_queries, passages),
            "real queries to synthetic passages (same count)": similarity_profile(
                real_queries, normalised(probe_mixed + passage_noise * probe_noise)
            ),
            "synthetic queries to real passages": similarity_profile(
                normalised(query_mixed + query_noise * query_noise_rows), passages
            ),
        },
    }
    return base, queries, calibration


def rss_mib() -> float:
    """Resident memory now; freed heap pages go back to the system first, so a build that
    reuses memory an earlier index freed still shows its own size."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def serialized_mib(index: faiss.Index) -> float:
    return round(len(faiss.serialize_index(index)) / 2**20, 1)


def add_in_chunks(index: faiss.Index, base: np.ndarray, description: str) -> None:
    """Add with a progress bar; ids are the row numbers, given explicitly where the index
    stores its own ids (IVF, IndexIDMap2), as the product would."""
    takes_ids = isinstance(index, faiss.IndexIDMap2 | faiss.IndexIVF)
    for start in tqdm(range(0, len(base), ADD_CHUNK), desc=description):
        rows = base[start : start + ADD_CHUNK]
        if takes_ids:
            index.add_with_ids(rows, np.arange(start, start + len(rows), dtype=np.int64))
        else:
            index.add(rows)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per query: the share of the exact top-k that the index returned."""
    return np.array(
        [
            len(set(row) & set(true_row)) / truth.shape[1]
            for row, true_row in zip(found, truth, strict=True)
        ]
    )


def single_query_ms(index: faiss.Index, queries: np.ndarray, threads: int) -> np.ndarray:
    """Latency of one query per call, as the API sends them, until the time budget is spent."""
    faiss.omp_set_num_threads(threads)
    order = np.random.default_rng(SEED).permutation(len(queries))
    for position in order[:5]:  # warm-up
        index.search(queries[position : position + 1], TOP_K)
    timings = []
    started = time.perf_counter()
    for position in order:
        query = queries[position : position + 1]
        before = time.perf_counter()
        index.search(query, TOP_K)
        timings.append((time.perf_counter() - before) * 1000)
        spent = time.perf_counter() - started
        if spent > SINGLE_QUERY_BUDGET_S and len(timings) >= MIN_TIMED_QUERIES:
            break
    faiss.omp_set_num_threads(THREADS)
    return np.array(timings)


@dataclass
class Built:
    index: faiss.Index
    build_s: float
    index_mib: float
    rss_delta_mib: float


def build(make: Callable[[], faiss.Index]) -> Built:
    before = rss_mib()
    started = time.perf_counter()
    index = make()
    build_s = time.perf_counter() - started
    return Built(index, round(build_s, 1), serialized_mib(index), round(rss_mib() - before))


def measure(name: str, setting: str, built: Built, search_index: faiss.Index, context: dict) -> Row:
    queries, truth, real_rows = context["queries"], context["truth"], context["real_rows"]
    search_index.search(queries[:10], TOP_K)  # warm-up
    started = time.perf_counter()
    _, found = search_index.search(queries, TOP_K)
    batch_s = time.perf_counter() - started
    recalls = recall_at_k(found, truth)
    two_threads = single_query_ms(search_index, queries, THREADS)
    one_thread = single_query_ms(search_index, queries, 1)
    row = Row(
        index=name,
        setting=setting,
        recall_at_10=round(float(recalls.mean()), 4),
        recall_at_10_real_queries=round(float(recalls[:real_rows].mean()), 4),
        p50_ms=round(float(np.median(two_threads)), 3),
        p99_ms=round(float(np.percentile(two_threads, 99)), 3),
        p50_ms_1_thread=round(float(np.median(one_thread)), 3),
        p99_ms_1_thread=round(float(np.percentile(one_thread, 99)), 3),
        timed_queries=min(len(two_threads), len(one_thread)),
        batch_queries_per_s=round(len(queries) / batch_s, 1),
        build_s=built.build_s,
        index_mib=built.index_mib,
        rss_delta_mib=built.rss_delta_mib,
    )
    tqdm.write(
        f"{name:<28} {setting:<24} recall@10 {row.recall_at_10:.4f}  p50 {row.p50_ms:8.3f} ms"
        f"  p50 1 thread {row.p50_ms_1_thread:8.3f} ms",
        file=sys.stderr,
    )
    return row


def hnsw_rows(base: np.ndarray, ef_construction: int, context: dict, sq8: bool) -> list[Row]:
    dimension = base.shape[1]

    def make() -> faiss.Index:
        if sq8:
            inner = faiss.IndexHNSWSQ(
                dimension, faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT
            )
            inner.train(base[: min(len(base), 100_000)])
        else:
            inner = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = ef_construction
        wrapped = faiss.IndexIDMap2(inner)
        add_in_chunks(wrapped, base, f"HNSW{'-SQ8' if sq8 else ''} add")
        return wrapped

    built = build(make)
    inner = faiss.downcast_index(built.index.index)
    name = f"HNSW{HNSW_M}{',SQ8' if sq8 else ''} efC={ef_construction}, IDMap2"
    rows = []
    for ef_search in EF_SEARCH:
        inner.hnsw.efSearch = ef_search
        rows.append(measure(name, f"efSearch={ef_search}", built, built.index, context))
    if not sq8:
        # The wrapper's cost: the same graph searched without it, at the first efSearch that
        # reaches the recall target (or the widest one).
        ef_search = next(
            (int(row.setting.split("=")[1]) for row in rows if row.recall_at_10 >= TARGET_RECALL),
            EF_SEARCH[-1],
        )
        inner.hnsw.efSearch = ef_search
        bare = Built(inner, built.build_s, serialized_mib(inner), built.rss_delta_mib)
        rows.append(
            measure(
                f"HNSW{HNSW_M} efC={ef_construction}, bare",
                f"efSearch={ef_search}",
                bare,
                inner,
                context,
            )
        )
    return rows


def coarse_centroids(base: np.ndarray, nlist: int) -> tuple[np.ndarray, float]:
    """Spherical k-means on a sample, shared by every IVF index (its time is added to each)."""
    rng = np.random.default_rng(SEED)
    sample = base[rng.choice(len(base), size=min(len(base), 40 * nlist), replace=False)]
    print(f"k-means: {nlist} lists from {len(sample)} vectors …", file=sys.stderr)
    started = time.perf_counter()
    kmeans = faiss.Kmeans(
        base.shape[1], nlist, niter=20, spherical=True, seed=SEED % 2**31, verbose=False
    )
    kmeans.train(sample)
    return kmeans.centroids, time.perf_counter() - started


def ivf_rows(base: np.ndarray, families: set[str], context: dict) -> list[Row]:
    dimension = base.shape[1]
    nlist = int(round(4 * np.sqrt(len(base))))
    centroids, kmeans_s = coarse_centroids(base, nlist)
    context["kmeans_s"] = round(kmeans_s, 1)
    context["nlist"] = nlist
    rng = np.random.default_rng(SEED + 1)
    train_rows = base[rng.choice(len(base), size=min(len(base), 100_000), replace=False)]

    def quantizer() -> faiss.Index:
        flat = faiss.IndexFlatIP(dimension)
        flat.add(centroids)
        return flat

    def with_kmeans(built: Built) -> Built:
        built.build_s = round(built.build_s + kmeans_s, 1)
        return built

    rows = []
    if "ivf-flat" in families:

        def make_flat() -> faiss.Index:
            index = faiss.IndexIVFFlat(quantizer(), dimension, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(train_rows)  # the quantizer is trained already: no k-means here
            add_in_chunks(index, base, "IVF-Flat add")
            return index

        built = with_kmeans(build(make_flat))
        for nprobe in NPROBE:
            built.index.nprobe = nprobe
            rows.append(
                measure(f"IVF{nlist},Flat", f"nprobe={nprobe}", built, built.index, context)
            )
        del built
    if "ivf-pq" in families:

        def make_pq() -> faiss.Index:
            index = faiss.IndexIVFPQ(
                quantizer(), dimension, nlist, PQ_SUBQUANTIZERS, 8, faiss.METRIC_INNER_PRODUCT
            )
            print("training PQ …", file=sys.stderr)
            index.train(train_rows)
            add_in_chunks(index, base, "IVF-PQ add")
            return index

        built = with_kmeans(build(make_pq))
        name = f"IVF{nlist},PQ{PQ_SUBQUANTIZERS}"
        for nprobe in PQ_NPROBE:
            built.index.nprobe = nprobe
            rows.append(measure(name, f"nprobe={nprobe}", built, built.index, context))
        pq = built.index
        for refine_name, make_refine in (
            ("Flat", lambda: faiss.IndexFlatIP(dimension)),
            (
                "SQ8",
                lambda: faiss.IndexScalarQuantizer(
                    dimension, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
                ),
            ),
        ):

            def make_refined(make_refine: Callable[[], faiss.Index] = make_refine) -> faiss.Index:
                refine = make_refine()
                refine.train(train_rows)
                add_in_chunks(refine, base, f"re-rank {refine.__class__.__name__} add")
                refined = faiss.IndexRefine(pq, refine)
                refined.k_factor = REFINE_K_FACTOR
                return refined

            refined = build(make_refined)
            # The PQ part was built before: its time and memory belong to this index too (its
            # serialized size is already inside).
            refined.build_s = round(refined.build_s + built.build_s, 1)
            refined.rss_delta_mib += built.rss_delta_mib
            for nprobe in PQ_NPROBE:
                pq.nprobe = nprobe
                rows.append(
                    measure(
                        f"{name} + {refine_name} re-rank ×{REFINE_K_FACTOR}",
                        f"nprobe={nprobe}",
                        refined,
                        refined.index,
                        context,
                    )
                )
            del refined
    return rows


def store_rows(base: np.ndarray, context: dict) -> list[Row]:
    """The product's IVF-PQ store, built and searched through retrieval.vector_store exactly as
    the service does (its own k-means sample, training and id handling)."""
    from retrieval.vector_store import FaissVectorStore

    def make() -> faiss.Index:
        store = FaissVectorStore(base.shape[1], "ivfpq")
        print("FaissVectorStore('ivfpq'): training and adding …", file=sys.stderr)
        store.add(np.arange(len(base), dtype=np.int64), base)
        context["store"] = store
        return store._index

    built = build(make)
    store = context.pop("store")
    inner = faiss.downcast_index(built.index.index)
    ivf = faiss.downcast_index(inner.base_index)
    name = f"store ivfpq: IVF{ivf.nlist},PQ{ivf.pq.M}x4fs + exact re-rank"
    rows = []
    for nprobe in STORE_NPROBE:
        for rerank in STORE_RERANK:
            store.ivf_nprobe, store.ivf_rerank_candidates = nprobe, rerank
            rows.append(measure(name, f"nprobe={nprobe}, re-rank {rerank}", built, store, context))
    return rows


def flat_rows(base: np.ndarray, queries: np.ndarray, context: dict) -> tuple[list[Row], Built]:
    def make() -> faiss.Index:
        index = faiss.IndexFlatIP(base.shape[1])
        add_in_chunks(index, base, "Flat add")
        return index

    built = build(make)
    truth_distances, truth = [], []
    started = time.perf_counter()
    for start in tqdm(range(0, len(queries), 100), desc="exact top-10 (ground truth)"):
        distances, labels = built.index.search(queries[start : start + 100], TOP_K)
        truth_distances.append(distances)
        truth.append(labels)
    context["truth"] = np.vstack(truth)
    context["truth_distances"] = np.vstack(truth_distances)
    context["truth_s"] = time.perf_counter() - started
    return [measure("Flat (exact)", "-", built, built.index, context)], built


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return f"{cpu}, {os.cpu_count()} cores, {memory_kib / 2**20:.0f} GiB RAM"


def thread_count(threads: int) -> str:
    return f"{threads} thread{'s' if threads > 1 else ''}"


def p50(row: Row, threads: int) -> float:
    return row.p50_ms if threads == THREADS else row.p50_ms_1_thread


def meets_target(row: Row, threads: int = THREADS) -> bool:
    return row.recall_at_10 >= TARGET_RECALL and p50(row, threads) <= TARGET_MS


def verdict(rows: list[Row], threads: int) -> list[str]:
    """Which settings meet the target with single queries at this thread count, or the
    closest ones when none does."""
    passing = sorted(
        (row for row in rows if meets_target(row, threads)), key=lambda row: p50(row, threads)
    )
    target = f"recall@10 ≥ {TARGET_RECALL} at p50 ≤ {TARGET_MS:g} ms/query"
    if passing:
        lines = [
            f"**{thread_count(threads)}: {len(passing)} settings meet {target}.** Fastest first:"
        ]
        lines += [
            f"- {row.index}, {row.setting}: recall@10 {row.recall_at_10:.4f}, p50 "
            f"{p50(row, threads):.2f} ms, {row.index_mib:,.0f} MiB"
            for row in passing
        ]
        smallest = min(passing, key=lambda row: row.index_mib)
        lines.append(
            f"- Smallest that meets it: {smallest.index}, {smallest.setting} "
            f"({smallest.index_mib:,.0f} MiB)."
        )
        return lines
    lines = [f"**{thread_count(threads)}: no setting meets {target}.**"]
    accurate = [row for row in rows if row.recall_at_10 >= TARGET_RECALL]
    fast = [row for row in rows if p50(row, threads) <= TARGET_MS]
    if accurate:
        row = min(accurate, key=lambda row: p50(row, threads))
        lines.append(
            f"- Fastest with the recall: {row.index}, {row.setting}: {p50(row, threads):.2f} ms"
        )
    if fast:
        row = max(fast, key=lambda row: row.recall_at_10)
        lines.append(
            f"- Best recall within {TARGET_MS:g} ms: {row.index}, {row.setting}: "
            f"{row.recall_at_10:.4f}"
        )
    return lines


def wrapper_cost(rows: list[Row]) -> list[str]:
    """The IndexIDMap2 wrapper against the same HNSW graph searched bare."""
    bare = next((row for row in rows if row.index.endswith(", bare")), None)
    if bare is None:
        return []
    wrapped = next(
        row
        for row in rows
        if row.index == bare.index.replace(", bare", ", IDMap2") and row.setting == bare.setting
    )
    return [
        f"- IndexIDMap2 around HNSW ({bare.setting}): p50 {wrapped.p50_ms:.2f} ms wrapped vs "
        f"{bare.p50_ms:.2f} ms bare with {THREADS} threads, {wrapped.p50_ms_1_thread:.2f} vs "
        f"{bare.p50_ms_1_thread:.2f} ms with 1; serialized {wrapped.index_mib - bare.index_mib:.1f}"
        " MiB more (8 bytes an id). The wrapper translates ids in an OpenMP parallel loop even "
        "for one query, and entering a parallel region waits for the second thread, which a busy "
        "machine hands over only after a scheduler slice; IVF indexes keep their own ids and "
        "need no wrapper.",
    ]


def plot(rows: list[Row], path: Path, vector_count: int) -> None:
    """Recall against single-query p50, one panel per thread count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, panels = plt.subplots(1, 2, figsize=(13, 5.5), sharey=True)
    for panel, threads in zip(panels, (THREADS, 1), strict=True):
        for name in dict.fromkeys(row.index for row in rows):
            family = [row for row in rows if row.index == name]
            panel.plot(
                [p50(row, threads) for row in family],
                [row.recall_at_10 for row in family],
                marker="o",
                label=name,
            )
        panel.axhline(TARGET_RECALL, color="grey", linestyle="--", linewidth=1)
        panel.axvline(TARGET_MS, color="grey", linestyle="--", linewidth=1)
        panel.set_xscale("log")
        panel.set_xlabel(f"p50 ms per single query, {thread_count(threads)} (log scale)")
        panel.grid(True, which="both", alpha=0.3)
    panels[0].set_ylabel("recall@10 against exact search")
    panels[1].legend(fontsize=7, loc="lower right")
    figure.suptitle(f"FAISS at {vector_count:,} vectors × 384 dims, inner product")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def report(
    rows: list[Row], context: dict, arguments: argparse.Namespace, load: tuple[str, str]
) -> str:
    calibration = context["calibration"]
    truth_top1 = context["truth_distances"][:, 0]
    gaps = truth_top1 - context["truth_distances"][:, TOP_K - 1]
    real = context["real_rows"]
    lines = [
        f"# ANN search at {arguments.vectors:,} vectors ({os.cpu_count()} cores, "
        f"faiss {faiss.__version__})",
        "",
        f"- Machine: {machine()}; load average {load[0]} at start, {load[1]} at end (the cores "
        "are shared, so timings carry the neighbours' noise).",
        f"- Date: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
        + (
            "; rows of indexes not rebuilt in this run are kept from the run dated in their "
            "`measured` column (same seed, so the same vectors and queries)"
            if len({row.measured for row in rows}) > 1
            else ""
        )
        + ".",
        f"- Vectors: {arguments.vectors:,} × 384 float32, L2-normalised, inner product; "
        f"{arguments.queries:,} queries ({real} real), top {TOP_K}.",
        f"- Threads: faiss.omp_set_num_threads({THREADS}) for building, batch search and the "
        "p50/p99 columns; the `1 thr` columns time the same single queries with 1 thread.",
        f"- Latency: one query per `search` call (what the API sends), in a fixed shuffled "
        f"order, up to {SINGLE_QUERY_BUDGET_S:g} s per setting and thread count (at least "
        f"{MIN_TIMED_QUERIES} queries; `timed` says how many). Batch q/s: all queries in one "
        "call.",
        "- Memory: `index MiB` is the length of faiss.serialize_index; `RSS Δ` is the resident "
        "memory the build added to the process (sweep rows share their index's figures).",
        f"- Command: `.venv/bin/python bench/ann.py {' '.join(sys.argv[1:])}`",
        "",
        "## Vectors: real ones, multiplied",
        "",
        "Encoding a million real texts is out of reach on two cores, so the base is grown from "
        f"real vectors. {calibration['real_passages']:,} sample texts (every knowledge-base "
        "paragraph under its article title, and every ticket's subject + body) are encoded as "
        "passages, and the sample queries as queries, with `e5-small-int8` (multilingual-e5-"
        "small) through `CachedEncoder`. The base holds those real passages plus synthetic "
        "vectors, each the normalised mixture of 2 or 3 random real passages (Dirichlet(1) "
        "weights) plus Gaussian noise shaped by the real passages' covariance (so the noise "
        "varies where e5 vectors vary; isotropic noise spreads into directions e5 hardly uses). "
        f"The noise length ({calibration['passage_noise']}) is set by bisection so that, in a "
        "synthetic set as large as the real one, the median cosine of each vector to its "
        "nearest neighbour equals the real passages' median. Queries are the real query "
        f"embeddings, then mixtures of 2–3 real queries plus noise ({calibration['query_noise']}"
        ") calibrated so that their median top-1 cosine to the real passages equals the real "
        f"queries'. No query is in the base. Seed {SEED}. Ground truth: exact top {TOP_K} by "
        "IndexFlatIP. Each real passage seeds about "
        f"{2.5 * arguments.vectors / calibration['real_passages']:,.0f} synthetic vectors, so "
        "the base is dense around a few thousand topics: for the median query the 1st and "
        f"10th neighbours differ by {np.median(gaps):.3f} in cosine ({np.median(gaps[:real]):.3f}"
        " for the real queries), a hard case for approximate search.",
        "",
        f"Local intrinsic dimension is the median maximum-likelihood estimate from the {TOP_K} "
        "nearest neighbours: it is what makes approximate search hard, and the calibration does "
        "not fit it.",
        "",
        "| vectors | top-1 cosine p10 | median | p90 | random pair median "
        "| components for 50% / 90% of variance | local intrinsic dimension |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, profile in calibration["profiles"].items():
        spread = (
            f"{profile['components_50']} / {profile['components_90']}"
            if profile["components_50"]
            else ""
        )
        lines.append(
            f"| {label} | {profile['top1_p10']} | {profile['top1_median']} | "
            f"{profile['top1_p90']} | {profile['random_pair_median']} | {spread} | "
            f"{profile['local_dimension']} |"
        )
    base_dimension = local_dimension(context["truth_distances"])
    for label, part in (("real", slice(0, real)), ("synthetic", slice(real, None))):
        top1 = truth_top1[part]
        if len(top1):
            lines.append(
                f"| {label} queries to the {arguments.vectors:,} base | "
                f"{np.percentile(top1, 10):.3f} | {np.median(top1):.3f} | "
                f"{np.percentile(top1, 90):.3f} | | | {np.median(base_dimension[part]):.1f} |"
            )
    lines += [
        f"| the {arguments.vectors:,} base | | | | | {context['base_components'][0]} / "
        f"{context['base_components'][1]} | |",
        "",
        "## Results",
        "",
    ]
    store = next((row for row in rows if row.index.startswith("store ivfpq")), None)
    if store is not None:
        lines += [
            "`store ivfpq` rows are the product's own `FaissVectorStore('ivfpq')` (what "
            "`MADOGUCHI_VECTOR_INDEX_TYPE=ivfpq` builds), trained, filled and searched through "
            "retrieval/vector_store.py with a top 10: an inverted file over spherical k-means "
            "lists whose entries are 4-bit product-quantisation codes of two dimensions each, "
            "scanned with SIMD (fast scan); the best `re-rank` candidates of the scan are "
            "re-scored exactly against the stored vectors. Its defaults are nprobe=512, "
            "re-rank 2560. Its build s includes its own k-means.",
            "",
        ]
    if "kmeans_s" in context:
        lines += [
            f"IVF indexes share one spherical k-means ({context['nlist']} lists, "
            f"{context['kmeans_s']} s, counted in each one's build s). Re-ranked PQ rows count "
            f"the PQ index's build and memory too; the re-rank stage looks at "
            f"{REFINE_K_FACTOR}×{TOP_K} PQ candidates.",
            "",
        ]
    lines += [
        "| index | setting | recall@10 | recall@10 real q | p50 ms | p99 ms | p50 ms 1 thr "
        "| p99 ms 1 thr | timed | batch q/s | build s | index MiB | RSS Δ MiB | measured |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        mark = {
            (True, True): " ✅",
            (False, True): " (✅ 1 thr)",
            (True, False): " (✅ 2 thr)",
        }.get((meets_target(row), meets_target(row, 1)), "")
        lines.append(
            f"| {row.index} | {row.setting}{mark} | {row.recall_at_10:.4f} | "
            f"{row.recall_at_10_real_queries:.4f} | {row.p50_ms:.2f} | {row.p99_ms:.2f} | "
            f"{row.p50_ms_1_thread:.2f} | {row.p99_ms_1_thread:.2f} | {row.timed_queries} | "
            f"{row.batch_queries_per_s:,.0f} | {row.build_s:,.1f} | {row.index_mib:,.0f} | "
            f"{row.rss_delta_mib:,.0f} | {row.measured} |"
        )
    lines += ["", "![recall against latency](ann_recall_latency.png)", "", "## Verdict", ""]
    lines += verdict(rows, THREADS) + [""] + verdict(rows, 1) + ["", "## Notes", ""]
    lines += wrapper_cost(rows)
    profiles = calibration["profiles"]
    lines.append(
        "- The synthetic vectors are harder to search than real ones: around the real queries "
        "their local intrinsic dimension is "
        f"{profiles['real queries to synthetic passages (same count)']['local_dimension']} in a "
        "synthetic set as large as the real one, against "
        f"{profiles['real queries to real passages']['local_dimension']} among the real "
        f"passages, and {np.median(base_dimension[:real]):.1f} in the {arguments.vectors:,} "
        "base: the noise that fits the nearest-neighbour cosines at real size fills more "
        "directions as the base grows. Recall here is a pessimistic estimate for a real corpus "
        "of the same size."
    )
    flat = rows[0]
    if flat.recall_at_10 < 1:
        lines.append(
            f"- Flat reads {flat.recall_at_10:.4f}, not 1: near-duplicate vectors tie at the 10th "
            "place, and batches of another size sum in another order and break the tie the other "
            "way."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000, help="Base size N.")
    parser.add_argument("--queries", type=int, default=1000, help="Query count.")
    parser.add_argument(
        "--ef-construction",
        type=int,
        default=80,
        help="HNSW efConstruction (80 is what retrieval/vector_store.py builds with).",
    )
    parser.add_argument(
        "--indexes",
        default=",".join(FAMILIES),
        help=f"Comma-separated subset of {', '.join(FAMILIES)} (flat is always built).",
    )
    parser.add_argument(
        "--keep-rows",
        type=Path,
        help="An earlier run's ann.json: its rows for indexes not rebuilt now are kept in the "
        "report, each with the date it was measured (same seed, so the same vectors).",
    )
    parser.add_argument("--json", action="store_true", help="End with one JSON object.")
    arguments = parser.parse_args()
    families = set(arguments.indexes.split(","))
    unknown = families - set(FAMILIES)
    if unknown:
        parser.error(f"unknown index families {sorted(unknown)}; use {', '.join(FAMILIES)}")

    load_at_start = Path("/proc/loadavg").read_text().split()[0]
    faiss.omp_set_num_threads(THREADS)
    base, queries, calibration = synthetic_data(arguments.vectors, arguments.queries)
    context = {
        "queries": queries,
        "real_rows": calibration["real_queries_used"],
        "calibration": calibration,
    }
    context["base_components"] = (
        principal_components(base, 0.5),
        principal_components(base, 0.9),
    )
    rows, flat = flat_rows(base, queries, context)
    del flat
    if "hnsw" in families:
        rows += hnsw_rows(base, arguments.ef_construction, context, sq8=False)
    if "hnsw-sq8" in families:
        rows += hnsw_rows(base, arguments.ef_construction, context, sq8=True)
    if families & {"ivf-flat", "ivf-pq"}:
        rows += ivf_rows(base, families, context)
    if "ivfpq-store" in families:
        rows += store_rows(base, context)
    load_at_end = Path("/proc/loadavg").read_text().split()[0]
    now = f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    for row in rows:
        row.measured = row.measured or now
    if arguments.keep_rows:
        rebuilt = {row.index for row in rows}
        kept = json.loads(arguments.keep_rows.read_text(encoding="utf-8"))["rows"]
        rows += [Row(**row) for row in kept if row["index"] not in rebuilt]

    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    plot(rows, results / "ann_recall_latency.png", arguments.vectors)
    text = report(rows, context, arguments, (load_at_start, load_at_end))
    (results / "ann.md").write_text(text, encoding="utf-8")
    print(text)
    summary = {
        "vectors": arguments.vectors,
        "queries": arguments.queries,
        "dimension": int(base.shape[1]),
        "faiss": faiss.__version__,
        "threads": THREADS,
        "calibration": calibration,
        "rows": [asdict(row) for row in rows],
        "meets_target": [asdict(row) for row in rows if meets_target(row)],
        "meets_target_1_thread": [asdict(row) for row in rows if meets_target(row, 1)],
    }
    (results / "ann.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    if arguments.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
