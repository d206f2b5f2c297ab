"""One contract for every vector engine: FAISS in the index folder and Milvus (milvus-lite in
this process, the same client API as a Milvus server). Stable ids through replace and delete,
exact search equal between the two, one collection per encoder."""

from pathlib import Path

import numpy as np
import pytest

from retrieval.milvus_store import MilvusVectorStore, choose_milvus_index_type
from retrieval.vector_store import FaissVectorStore

DIMENSION = 16


def _unit(rows: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(params=["faiss", "milvus"])
def store(request: pytest.FixtureRequest, tmp_path: Path):  # noqa: ANN201 - either store
    if request.param == "faiss":
        return FaissVectorStore(DIMENSION, "flat")
    return MilvusVectorStore(str(tmp_path / "milvus.db"), DIMENSION, "test-encoder@1")


def test_ids_stay_stable_through_replace_and_delete(store) -> None:  # noqa: ANN001
    vectors = _unit(50, 1)
    ids = np.arange(100, 150, dtype=np.int64)
    store.add(ids, vectors)
    assert len(store) == 50 and store.ids().tolist() == ids.tolist()
    store.add(ids[:5], _unit(5, 2))  # replacing keeps the count
    store.remove(ids[10:20])
    assert len(store) == 40
    assert set(store.ids().tolist()) == set(ids.tolist()) - set(ids[10:20].tolist())
    scores, found = store.search(vectors[30:31], 3)
    assert found[0, 0] == 130 and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    _, found = store.search(vectors[12:13], 5)
    assert not set(found[0].tolist()) & set(ids[10:20].tolist())  # deleted never come back
    scores, found = store.search(_unit(1, 3), 60)  # asking for more than there is
    assert (found[0] >= 0).sum() == 40 and (found[0, 40:] == -1).all()


def test_exact_search_gives_the_same_neighbours_on_faiss_and_milvus(tmp_path: Path) -> None:
    vectors, queries = _unit(500, 4), _unit(20, 5)
    ids = np.arange(1, 501, dtype=np.int64)
    faiss_store = FaissVectorStore.build(ids, vectors, "flat")
    milvus_store = MilvusVectorStore(str(tmp_path / "milvus.db"), DIMENSION, "test-encoder@1")
    milvus_store.add(ids, vectors)
    faiss_scores, faiss_ids = faiss_store.search(queries, 10)
    milvus_scores, milvus_ids = milvus_store.search(queries, 10)
    assert (faiss_ids == milvus_ids).mean() >= 0.99  # ties may swap
    np.testing.assert_allclose(faiss_scores, milvus_scores, atol=1e-5)


def test_each_encoder_has_its_own_collection_and_a_reopened_one_keeps_its_vectors(
    tmp_path: Path,
) -> None:
    uri = str(tmp_path / "milvus.db")
    first = MilvusVectorStore(uri, DIMENSION, "encoder-a@1")
    first.add(np.arange(1, 11, dtype=np.int64), _unit(10, 6))
    other = MilvusVectorStore(uri, DIMENSION, "encoder-b@1")
    assert len(other) == 0 and other.collection != first.collection
    again = MilvusVectorStore(uri, DIMENSION, "encoder-a@1")
    assert len(again) == 10
    with pytest.raises(ValueError, match="dimension"):
        MilvusVectorStore(uri, DIMENSION * 2, "encoder-a@1")
    assert len(MilvusVectorStore(uri, DIMENSION, "encoder-a@1", fresh=True)) == 0


def test_milvus_index_type_follows_size_unless_forced() -> None:
    assert choose_milvus_index_type("auto", 1_000) == "flat"
    assert choose_milvus_index_type("auto", 200_000) == "hnsw"
    assert choose_milvus_index_type("ivf_flat", 10) == "ivf_flat"
    with pytest.raises(ValueError, match="one of"):
        choose_milvus_index_type("ivfpq", 10)


@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_a_search_among_allowed_ids_is_exact_and_skips_deleted_ones(
    tmp_path: Path, index_type: str
) -> None:
    """What a narrow filter asks of the engine (FAISS by its stored vectors, Milvus by an
    expression on the primary key): the true nearest among those ids, never another id."""
    vectors, queries = _unit(400, 6), _unit(5, 7)
    ids = np.arange(1000, 1400, dtype=np.int64)
    allowed = ids[::7]  # 58 of them, spread through the collection
    stores = [
        FaissVectorStore.build(ids, vectors, index_type),
        MilvusVectorStore(str(tmp_path / "milvus.db"), DIMENSION, "test-encoder@1"),
    ]
    stores[1].add(ids, vectors)
    for store in stores:
        store.remove(allowed[:3])
        scores, found = store.search(queries, 10, allowed_ids=allowed)
        live = allowed[3:]
        exact = queries @ vectors[np.isin(ids, live)].T
        expected = live[np.argsort(-exact, axis=1)[:, :10]]
        assert set(found.ravel().tolist()) <= set(live.tolist())
        assert (found == expected).mean() >= 0.98  # ties may swap
        np.testing.assert_allclose(scores, np.sort(exact, axis=1)[:, ::-1][:, :10], atol=1e-5)
        _, none = store.search(queries, 5, allowed_ids=np.array([], dtype=np.int64))
        assert (none == -1).all()
        _, few = store.search(queries[:1], 10, allowed_ids=live[:4])
        assert sorted(few[0, :4].tolist()) == sorted(live[:4].tolist()) and (few[0, 4:] == -1).all()
