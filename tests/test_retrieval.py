"""Answer suggestion: chunking, the Japanese keyword side, the FAISS store, the index kept in
step with the database (across restarts), the /v1/suggest and article endpoints, bulk import and
the evaluation CLI. Searches run on the real encoder over a slice of the sample knowledge base."""

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app, shared_encoder
from cli.main import app as cli_app
from common.sample_data import Article, load_articles
from common.settings import Settings
from common.storage import create_database_engine
from retrieval.chunking import chunk_article
from retrieval.decision import FEATURE_NAMES, AnswerDecision
from retrieval.index import KnowledgeIndex, store_factory_for
from retrieval.keyword import BM25Index, KeywordAnalyzer, TermDictionary
from retrieval.knowledge_base import KnowledgeBase
from retrieval.search import ArticleFacets, SearchChunk, SearchFilters, snippet
from retrieval.vector_store import FaissVectorStore, choose_index_type
from training.retrieval_evaluation import ndcg_at, recall_at
from training.retrieval_tuning import choose_threshold

runner = CliRunner()
SLICE = 40  # articles of the sample knowledge base the service tests run on


def _article(article_id: str, title: str, body: str, **fields: object) -> Article:
    return Article(
        id=article_id,
        title=title,
        body=body,
        category=fields.get("category", "faq"),
        tags=fields.get("tags", []),
        language="ja",
        url="",
        updated_at="2026-11-01T10:00:00+09:00",
    )


# -- chunking --------------------------------------------------------------------------------


def test_chunks_follow_headings_and_keep_the_title() -> None:
    article = _article(
        "kb-x",
        "Zoom 連携",
        "連携の概要です。\n\n## 設定手順\n1. 管理画面を開く\n\n## うまくいかないとき\nE-3021 が出たら再接続します。",
    )
    chunks = chunk_article(article)
    assert [chunk.heading for chunk in chunks] == ["", "設定手順", "うまくいかないとき"]
    assert all(chunk.search_text("Zoom 連携").startswith("Zoom 連携\n") for chunk in chunks)
    assert "E-3021" in chunks[2].text


def test_a_long_section_is_split_between_sentences_not_inside_them() -> None:
    sentence = "録音データは暗号化して保存され、管理者だけが削除できます。"
    article = _article("kb-y", "保存", "## 保存\n" + sentence * 60)
    chunks = chunk_article(article, max_chars=300)
    assert len(chunks) > 1
    assert all(len(chunk.text) <= 300 for chunk in chunks)
    assert all(chunk.text.endswith("。") for chunk in chunks)


def test_headings_inside_code_blocks_do_not_split() -> None:
    body = "## API\n```\n# not a heading\ncurl -X POST\n```\n続きの説明です。"
    assert len(chunk_article(_article("kb-z", "API", body))) == 1


# -- keyword side ----------------------------------------------------------------------------


def test_product_terms_meet_across_spellings_and_languages() -> None:
    analyzer = KeywordAnalyzer()
    assert "⟨sso⟩" in analyzer.terms("シングルサインオンでログインできません")
    assert "⟨sso⟩" in analyzer.terms("SSO の設定")
    assert "⟨議事録⟩" in analyzer.terms("Can I share the meeting minutes?")
    assert "⟨文字起こし⟩" in analyzer.terms("文字起こしが遅い")


def test_latin_product_terms_match_whole_words_only() -> None:
    dictionary = TermDictionary({"マイク": ["mic"]})
    assert dictionary.canonical_terms("my mic is muted") == ["⟨マイク⟩"]
    assert dictionary.canonical_terms("Microsoft Teams") == []


def test_bm25_scores_match_the_formula() -> None:
    index = BM25Index(k1=1.2, b=0.75)
    documents = [["録音", "停止"], ["録音", "録音", "共有"], ["請求"]]
    index.add([10, 11, 12], documents)
    scores = index.scores(["録音"])
    average = sum(map(len, documents)) / 3
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))

    def expected(frequency: int, length: int) -> float:
        return idf * frequency * 2.2 / (frequency + 1.2 * (0.25 + 0.75 * length / average))

    assert scores[0] == pytest.approx(expected(1, 2), rel=1e-5)
    assert scores[1] == pytest.approx(expected(2, 3), rel=1e-5)
    assert scores[2] == 0


def test_bm25_forgets_removed_documents_and_replaces_updated_ones() -> None:
    index = BM25Index()
    index.add([1, 2], [["録音"], ["請求"]])
    index.remove([1])
    assert index.search(["録音"], 5) == []
    index.add([2], [["録音"]])
    assert [hit.doc_id for hit in index.search(["録音"], 5)] == [2]
    assert index.search(["請求"], 5) == []
    assert len(index) == 1


# -- vector store ----------------------------------------------------------------------------


def _unit_vectors(count: int, dimension: int = 16, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("index_type", ["flat", "hnsw", "ivfpq"])
def test_vector_store_keeps_stable_ids_through_updates_and_deletes(
    index_type: str, tmp_path: Path
) -> None:
    count = 1200 if index_type == "ivfpq" else 300  # IVF-PQ trains on its first 1,000+ vectors
    vectors = _unit_vectors(count)
    ids = np.arange(1000, 1000 + count, dtype=np.int64)
    store = FaissVectorStore(16, index_type)
    store.add(ids, vectors)
    _, found = store.search(vectors[:1], 1)
    assert found[0, 0] == 1000
    store.remove(np.asarray([1000]))
    _, found = store.search(vectors[:1], 5)
    assert 1000 not in found[0]
    store.add(np.asarray([1001]), vectors[:1])  # 1001 now holds 1000's old vector
    _, found = store.search(vectors[:1], 1)
    assert found[0, 0] == 1001
    assert len(store) == count - 1
    store.save(tmp_path / "index", encoder="test")
    loaded, manifest = FaissVectorStore.load(tmp_path / "index")
    assert manifest["count"] == count - 1 and manifest["index_type"] == index_type
    _, found = loaded.search(vectors[:1], 5)
    assert found[0, 0] == 1001 and 1000 not in found[0]


def test_ivfpq_store_finds_true_neighbours_and_survives_compaction(tmp_path: Path) -> None:
    vectors = _unit_vectors(3000, dimension=96)
    ids = np.arange(3000, dtype=np.int64)
    store = FaissVectorStore.build(ids, vectors, "ivfpq", ivf_nprobe=64, ivf_rerank_candidates=160)
    exact = FaissVectorStore.build(ids, vectors, "flat")
    queries = _unit_vectors(50, dimension=96, seed=1)

    def recall() -> float:
        _, approximate = store.search(queries, 10)
        _, truth = exact.search(queries, 10)
        pairs = zip(approximate, truth, strict=True)
        return float(np.mean([len(set(a) & set(t)) / 10 for a, t in pairs]))

    assert recall() > 0.9
    # Deleting past a tenth of the index compacts it, keeping the trained lists and codebooks.
    store.remove(ids[:400])
    exact.remove(ids[:400])
    assert len(store) == 2600 and not store._tombstones
    _, found = store.search(vectors[:400], 1)
    assert not np.isin(found, ids[:400]).any()
    assert recall() > 0.9
    store.save(tmp_path / "index")
    loaded, manifest = FaissVectorStore.load(tmp_path / "index")
    assert (manifest["ivf_nprobe"], manifest["ivf_rerank_candidates"]) == (64, 160)
    _, found = loaded.search(vectors[500:501], 1)
    assert found[0, 0] == 500


def test_index_type_follows_size_unless_forced() -> None:
    assert choose_index_type("auto", 1_000) == "flat"
    assert choose_index_type("auto", 200_000) == "hnsw"
    assert choose_index_type("auto", 1_000_000) == "ivfpq"
    assert choose_index_type("ivfpq", 10) == "ivfpq"
    with pytest.raises(ValueError):
        choose_index_type("annoy", 10)


# -- snippets, metrics, decision ---------------------------------------------------------------


def test_snippet_marks_matched_words_and_escapes_html() -> None:
    chunk = SearchChunk(1, "kb-1", "", "<b>請求書</b>は管理画面からダウンロードできます。", "", [])
    marked, matched = snippet(chunk, ["請求", "ダウンロード"])
    assert "<mark>ダウンロード</mark>" in marked
    assert "&lt;b&gt;" in marked and "<b>" not in marked
    assert "ダウンロード" in matched


def test_filters_keep_plan_specific_articles_to_their_plan() -> None:
    enterprise_only = ArticleFacets("kb-1", "SCIM", tags=frozenset({"enterprise", "scim"}))
    everyone = ArticleFacets("kb-2", "録音", tags=frozenset({"録音"}))
    standard = SearchFilters(plan="standard")
    assert not enterprise_only.matches(standard)
    assert everyone.matches(standard)
    assert enterprise_only.matches(SearchFilters(plan="enterprise", tags=frozenset({"scim"})))


def test_ranking_metrics_on_a_known_ranking() -> None:
    relevant = {"a": 3, "b": 1}
    assert ndcg_at(["a", "b"], relevant) == pytest.approx(1.0)
    assert ndcg_at(["b", "a"], relevant) < 1.0
    assert recall_at(["x", "a"], relevant, 10) == 0.5


def test_threshold_is_the_lowest_that_reaches_the_target_precision() -> None:
    confidences = np.linspace(0, 1, 100)
    correct = (confidences > 0.5).astype(int)  # everything above 0.5 is right
    threshold = choose_threshold(confidences, correct, target=0.9)
    answered = confidences >= threshold
    assert correct[answered].mean() >= 0.9
    assert threshold <= 0.47  # not needlessly strict: 0.9 precision allows some wrong answers


def test_threshold_hands_everything_over_when_the_target_is_out_of_reach() -> None:
    confidences = np.linspace(0, 1, 100)
    assert choose_threshold(confidences, np.zeros(100, dtype=int), target=0.9) == 1.0


def test_decision_round_trips_and_refuses_other_features() -> None:
    decision = AnswerDecision([0.5] * len(FEATURE_NAMES), -1.0, 0.7)
    again = AnswerDecision.from_dict(decision.to_dict())
    features = np.linspace(0, 1, len(FEATURE_NAMES))
    assert again.confidence(features) == pytest.approx(decision.confidence(features))
    assert again.decide(0.8)[0] == "answer" and again.decide(0.6)[0] == "handoff"
    with pytest.raises(ValueError):
        AnswerDecision.from_dict({**decision.to_dict(), "features": ["other"]})


# -- the live service --------------------------------------------------------------------------


@pytest.fixture
def slice_settings(settings: Settings, recovered_folder: Path) -> Settings:
    engine = create_database_engine(settings.database_url)
    KnowledgeBase(engine).upsert_many(load_articles(settings.data_dir)[:SLICE])
    engine.dispose()
    return settings


@pytest.fixture
def slice_client(slice_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(slice_settings)) as test_client:
        yield test_client


NEW_ARTICLE = {
    "id": "kb-9001",
    "title": "ペンギン型マイク「ペンマイク」の接続",
    "body": "ペンマイクは USB-C で接続します。\n\n## ペアリング\nBluetooth のペアリングは不要です。",
    "category": "faq",
    "tags": ["マイク"],
}
QUESTION = {"text": "ペンマイクってどうやってつなぐんですか？", "top_k": 3}


def _suggested_ids(client: TestClient, body: dict) -> list[str]:
    response = client.post("/v1/suggest", json=body)
    assert response.status_code == 200, response.text
    return [article["id"] for article in response.json()["articles"]]


def test_suggest_returns_the_article_that_answers_with_marked_snippet(
    slice_client: TestClient,
) -> None:
    response = slice_client.post(
        "/v1/suggest", json={"text": "会議の録音ファイルをアップロードしたい。対応している形式は？"}
    )
    body = response.json()
    assert body["articles"][0]["id"] == "kb-0006"
    assert "<mark>" in body["articles"][0]["snippet"]
    assert body["language"] == "ja"
    assert body["decision"] in {"answer", "handoff"}
    assert 0 <= body["confidence"] <= 1


def test_suggest_cleans_the_mail_before_searching(slice_client: TestClient) -> None:
    mail = (
        "お世話になっております。\n録音ファイルのアップロードの対応形式を教えてください。\n\n"
        "--\n山田 太郎\n株式会社サンプル\nTEL 03-1234-5678"
    )
    body = slice_client.post("/v1/suggest", json={"text": mail}).json()
    assert "TEL" not in body["cleaned_text"]
    assert body["articles"][0]["id"] == "kb-0006"


@pytest.mark.parametrize(
    ("question", "within"),
    [
        ("可以上传哪些格式的音频文件进行转写？", 1),
        ("녹음 파일을 업로드하려고 하는데 어떤 형식을 지원하나요?", 1),
        # English questions also match the English articles' words, which rank first here.
        ("Which audio file formats can I upload for transcription?", 5),
    ],
)
def test_foreign_language_question_reaches_the_japanese_article(
    slice_client: TestClient, question: str, within: int
) -> None:
    assert "kb-0006" in _suggested_ids(slice_client, {"text": question})[:within]


def test_new_article_is_suggested_at_once_after_restart_and_never_after_delete(
    slice_settings: Settings,
) -> None:
    with TestClient(create_app(slice_settings)) as client:
        assert "kb-9001" not in _suggested_ids(client, QUESTION)
        started = time.perf_counter()
        assert client.post("/v1/articles", json=NEW_ARTICLE).status_code == 201
        assert _suggested_ids(client, QUESTION)[0] == "kb-9001"
        assert time.perf_counter() - started < 5  # the acceptance's 1 s is measured in bench/
    with TestClient(create_app(slice_settings)) as client:  # a restart
        assert _suggested_ids(client, QUESTION)[0] == "kb-9001"
        assert client.delete("/v1/articles/kb-9001").status_code == 204
        assert "kb-9001" not in _suggested_ids(client, QUESTION)
        assert client.get("/v1/articles/kb-9001").status_code == 404
    with TestClient(create_app(slice_settings)) as client:
        assert "kb-9001" not in _suggested_ids(client, QUESTION)


def test_index_catches_up_with_writes_it_missed(slice_settings: Settings) -> None:
    """Another process (the CLI, a second worker) writes while this index is closed."""
    engine = create_database_engine(slice_settings.database_url)
    knowledge_base = KnowledgeBase(engine)
    encoder = shared_encoder(
        slice_settings.encoder,
        slice_settings.models_dir,
        slice_settings.encoder_batch_size,
        slice_settings.encoder_cache_file,
    )
    folder, engine_of = slice_settings.index_dir, store_factory_for(slice_settings)
    index = KnowledgeIndex(knowledge_base, encoder, folder, store_factory=engine_of).open()
    chunks_before = len(index.searcher.store)
    knowledge_base.create(
        Article(
            **{
                **NEW_ARTICLE,
                "language": "ja",
                "url": "",
                "updated_at": "2026-11-23T09:00:00+09:00",
            }
        )
    )
    knowledge_base.delete("kb-0006")
    assert index.catch_up() == 2
    assert "kb-0006" not in index.searcher.articles and "kb-9001" in index.searcher.articles
    index.save()
    reopened = KnowledgeIndex(knowledge_base, encoder, folder, store_factory=engine_of).open()
    assert len(reopened.searcher.store) == len(index.searcher.store) != chunks_before
    assert set(reopened.searcher.store.ids()) == {chunk.id for chunk in knowledge_base.chunks()}
    engine.dispose()


def test_updating_an_article_replaces_all_its_chunks(slice_client: TestClient) -> None:
    slice_client.post("/v1/articles", json=NEW_ARTICLE)
    replaced = {**NEW_ARTICLE, "body": "ペンマイクは販売を終了しました。"}
    replaced.pop("id")
    assert slice_client.put("/v1/articles/kb-9001", json=replaced).status_code == 200
    searcher = slice_client.app.state.service.knowledge_index.searcher
    texts = [chunk.text for chunk in searcher.chunks.values() if chunk.article_id == "kb-9001"]
    assert texts == ["ペンマイクは販売を終了しました。"]


def test_filters_narrow_the_suggestions(slice_client: TestClient) -> None:
    ids = _suggested_ids(
        slice_client,
        {"text": "請求書をダウンロードしたい", "top_k": 10, "filters": {"category": "billing"}},
    )
    articles = {a["id"]: a for a in slice_client.get("/v1/articles?limit=500").json()["articles"]}
    assert ids and all(articles[article_id]["category"] == "billing" for article_id in ids)


def test_a_narrow_filter_is_searched_in_the_vector_engine(
    slice_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filter leaving few chunks is handed to the engine as the chunks to search among (FAISS
    or Milvus), so the answer comes from that category however far down the whole ranking it
    sits; the engine's own search is watched, not replaced."""
    searcher = slice_client.app.state.service.knowledge_index.searcher
    filters = SearchFilters(categories=frozenset({"billing"}))
    asked: list = []
    engine_search = searcher.store.search

    def watched(queries, top_k, allowed_ids=None):  # noqa: ANN001, ANN202
        asked.append(allowed_ids)
        return engine_search(queries, top_k, allowed_ids=allowed_ids)

    monkeypatch.setattr(searcher.store, "search", watched)
    result = searcher.search("録音ボタンが押せない", 5, method="dense", filters=filters)
    billing_chunks = {
        chunk.id
        for chunk in searcher.chunks.values()
        if searcher.articles[chunk.article_id].category == "billing"
    }
    assert asked and asked[-1] is not None and set(asked[-1].tolist()) == billing_chunks
    assert len(result.hits) == 5
    assert all(searcher.articles[hit.article_id].category == "billing" for hit in result.hits)
    searcher.search("録音ボタンが押せない", 5, method="dense")
    assert asked[-1] is None  # no filter: the whole collection


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"text": ""}, 422, "text"),
        ({"text": "   "}, 422, "blank"),
        ({"text": "あ" * 100_001}, 422, "limit is 100000"),
        ({"text": "録音", "filters": {"colour": "red"}}, 422, "colour"),
        ({"text": "録音", "filters": {"category": "no-such"}}, 422, "no-such"),
        ({"text": "録音", "filters": {"plan": "platinum"}}, 422, "plan"),
        ({"text": "録音", "top_k": 0}, 422, "top_k"),
        ({"text": "録音", "top_k": 51}, 422, "at most 50"),
        ({"text": "録音", "language": "fr"}, 422, "language"),
    ],
)
def test_bad_suggest_requests_get_a_problem_that_says_what_to_fix(
    slice_client: TestClient, body: dict, status: int, says: str
) -> None:
    response = slice_client.post("/v1/suggest", json=body)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert says in response.text


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", "/v1/articles/bad id!", None, 422),
        ("get", "/v1/articles/" + "x" * 65, None, 422),
        ("delete", "/v1/articles/kb-0000-missing", None, 404),
        (
            "put",
            "/v1/articles/kb-0000-missing",
            {"title": "t", "body": "b", "category": "faq"},
            404,
        ),
        ("post", "/v1/articles", {**NEW_ARTICLE, "id": "bad id"}, 422),
        ("post", "/v1/articles", {**NEW_ARTICLE, "title": " "}, 422),
        ("post", "/v1/articles", {**NEW_ARTICLE, "updated_at": "2026-11-23T10:00:00"}, 422),
        ("post", "/v1/articles", {**NEW_ARTICLE, "id": "kb-0001"}, 409),
    ],
)
def test_bad_article_writes_get_a_problem(
    slice_client: TestClient, method: str, path: str, body: dict | None, status: int
) -> None:
    response = getattr(slice_client, method)(path, **({"json": body} if body else {}))
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")


# -- bulk import and evaluation CLI ------------------------------------------------------------


def test_kb_import_reads_jsonl_csv_and_markdown_and_lists_refused_rows(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MADOGUCHI_STATE_DIR", str(settings.state_dir))
    jsonl = tmp_path / "articles.jsonl"
    jsonl.write_text(
        json.dumps(
            {"id": "imp-1", "title": "録音の保存先", "body": "録音はクラウドに保存されます。"},
            ensure_ascii=False,
        )
        + "\n{broken\n"
        + json.dumps({"id": "imp-2", "title": "", "body": "タイトルがない"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    csv_file = tmp_path / "articles.csv"
    csv_file.write_text(
        'id,title,body,category,tags\nimp-3,請求書の宛名,宛名は管理画面で変更できます。,billing,"請求書,宛名"\n',
        encoding="utf-8",
    )
    folder = tmp_path / "md" / "security"
    folder.mkdir(parents=True)
    (folder / "imp-4.md").write_text(
        "---\ntags: [SSO]\n---\n# SSO の設定\n\n## 手順\nIdP を登録します。\n", encoding="utf-8"
    )
    first = runner.invoke(cli_app, ["kb", "import", str(jsonl), "--no-index", "--json"])
    assert first.exit_code == 1  # two rows refused
    report = json.loads(first.stdout.strip().splitlines()[-1])
    assert report["imported"] == 1
    assert [problem["place"] for problem in report["refused"]] == [
        "articles.jsonl:2",
        "articles.jsonl:3",
    ]
    assert runner.invoke(cli_app, ["kb", "import", str(csv_file), "--no-index"]).exit_code == 0
    assert (
        runner.invoke(cli_app, ["kb", "import", str(tmp_path / "md"), "--no-index"]).exit_code == 0
    )
    engine = create_database_engine(settings.database_url)
    knowledge_base = KnowledgeBase(engine)
    assert knowledge_base.get("imp-3").tags == ["請求書", "宛名"]
    markdown = knowledge_base.get("imp-4")
    assert (markdown.title, markdown.category, markdown.tags) == ("SSO の設定", "security", ["SSO"])
    engine.dispose()


def test_eval_retrieval_reports_every_method_and_ends_with_json(
    tmp_path: Path,
    recovered_folder: Path,
    encoder_cache_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MADOGUCHI_ENCODER_CACHE_FILE", str(encoder_cache_file))
    sample = Settings().data_dir
    articles = load_articles(sample)[:SLICE]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"id": a.id, "title": a.title, "text": a.body}, ensure_ascii=False) + "\n"
            for a in articles
        ),
        encoding="utf-8",
    )
    keep = {a.id for a in articles}
    qrels = [
        json.loads(line) for line in (sample / "queries" / "qrels.jsonl").read_text().splitlines()
    ]
    qrels = [row for row in qrels if row["article_id"] in keep]
    asked = {row["query_id"] for row in qrels}
    queries = [
        json.loads(line)
        for line in (sample / "queries" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    (tmp_path / "queries.jsonl").write_text(
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queries if q["id"] in asked),
        encoding="utf-8",
    )
    (tmp_path / "qrels.jsonl").write_text(
        "".join(
            json.dumps(
                {"query_id": r["query_id"], "doc_id": r["article_id"], "score": r["relevance"]}
            )
            + "\n"
            for r in qrels
        ),
        encoding="utf-8",
    )
    result = runner.invoke(
        cli_app,
        [
            "eval",
            "retrieval",
            "--corpus",
            str(corpus),
            "--queries",
            str(tmp_path / "queries.jsonl"),
            "--qrels",
            str(tmp_path / "qrels.jsonl"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for method in ("bm25", "dense", "hybrid"):
        assert 0 < figures[method]["ndcg@10"] <= 1
        assert figures[method]["queries"] == len(asked)
    assert figures["hybrid"]["recall@100"] >= figures["hybrid"]["recall@10"]


def test_an_empty_knowledge_base_hands_every_question_over(settings: Settings) -> None:
    """A new install before any article is written: no hits, no crash, a person answers."""
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/suggest", json={"text": "請求書の宛名を変更したい"})
    assert response.status_code == 200
    assert response.json()["decision"] == "handoff" and response.json()["articles"] == []
