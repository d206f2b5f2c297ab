"""`madoguchi train --tune-encoder`: pairs and batches, a tuned encoder folder that serves
through the int8 path, the verdict guarding answer search, and a running service that follows a
champion onto its tuned encoder (and back) without failing a request."""

import json
import random
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from common.encoders import OnnxEncoder, OnnxInt8Encoder, configured_encoder, load_encoder
from common.registry import ModelRegistry
from common.sample_data import load_articles
from common.settings import Settings
from common.storage import create_database_engine
from retrieval.knowledge_base import KnowledgeBase
from training.encoder_tuning import (
    TUNED_ENCODERS,
    TuningPair,
    batches_without_repeats,
    build_tuned_encoder,
    fine_tune,
    tuning_pairs,
)
from training.retraining import RETRIEVAL_METRIC, compare, encoder_section
from training.triage_evaluation import read_ticket_rows
from training.triage_training import train_triage_model

DATA = Settings().data_dir


def test_batches_never_hold_one_article_twice_and_use_each_pair_at_most_once() -> None:
    pairs = [
        TuningPair(f"T-{number}", f"kb-{number % 7}", f"q{number}", f"p{number % 7}")
        for number in range(60)
    ]
    batches = batches_without_repeats(pairs, 5, random.Random(1))
    used = [index for batch in batches for index in batch]
    assert len(used) == len(set(used)) >= 55  # only leftover singletons are dropped
    for batch in batches:
        articles = [pairs[index].article_id for index in batch]
        assert len(articles) == len(set(articles)) and 2 <= len(batch) <= 5


def test_a_pair_is_a_ticket_and_the_section_of_its_solving_article_closest_to_it(
    settings: Settings,
) -> None:
    articles = {article.id: article for article in load_articles(DATA)}
    rows = read_ticket_rows(DATA / "tickets" / "train.jsonl")[:40]
    pairs = tuning_pairs(rows, articles, configured_encoder(settings))
    solved = [row for row in rows if row.get("resolved_by_article") in articles]
    assert len(pairs) == len(solved) > 10  # tickets without an article give no pair
    for pair in pairs:
        article = articles[pair.article_id]
        assert pair.passage.startswith(article.title)
        assert pair.passage.split("\n")[-1] in article.body


@pytest.fixture(scope="module")
def tuned_models(
    tmp_path_factory: pytest.TempPathFactory, recovered_folder: Path, encoder_cache_file: Path
) -> tuple[Path, str]:
    """A models folder with the recovered encoder and one tuned on 24 sample tickets (two
    steps: enough to change the vectors, cheap enough for every run)."""
    models = tmp_path_factory.mktemp("tuned") / "models"
    models.mkdir()
    (models / recovered_folder.name).symlink_to(recovered_folder)
    settings = Settings(models_dir=models, encoder_cache_file=encoder_cache_file)
    articles = {article.id: article for article in load_articles(DATA)}
    rows = read_ticket_rows(DATA / "tickets" / "train.jsonl")[:80]
    parent = configured_encoder(settings)
    pairs = tuning_pairs(rows, articles, parent)[:24]
    assert len(pairs) == 24
    tuned = build_tuned_encoder(
        models, recovered_folder, parent, pairs, {"tickets": len(rows)}, minutes=5, epochs=1
    )
    return models, tuned.name


def test_a_tuned_encoder_is_a_self_describing_folder_served_by_its_onnx_graph(
    tuned_models: tuple[Path, str], settings: Settings
) -> None:
    models, name = tuned_models
    assert name.startswith(f"{TUNED_ENCODERS}/")
    manifest = json.loads((models / name / "manifest.json").read_text(encoding="utf-8"))
    parent = configured_encoder(settings)
    assert manifest["parent"]["identity"] == parent.identity
    assert manifest["tuning"]["pairs"] == 24
    tuning = manifest["tuning"]
    assert tuning["steps"] == tuning["steps_planned"] >= 2 and not tuning["stopped_by_budget"]
    assert len(manifest["tuning"]["data"]["pairs_sha256"]) == 64
    tuned = load_encoder(name, models)
    assert type(tuned) is OnnxEncoder and not isinstance(tuned, OnnxInt8Encoder)
    assert tuned.identity == f"{manifest['identity']}+onnx-fp32" != parent.identity
    assert manifest["checks"]["cosine_onnx_vs_sentence_transformers"]["min"] > 0.99
    texts = ["ログインできません", "請求書の宛名を変えたい", "録音が途中で止まる"]
    before, after = parent.encode_queries(texts), tuned.encode_queries(texts)
    assert after.shape == (3, 384)
    assert np.allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-4)
    cosines = np.sum(before * after, axis=1)
    assert np.all(cosines > 0.8) and np.any(cosines < 0.999)  # moved, not replaced


def test_tuning_stops_at_its_time_budget(recovered_folder: Path, tmp_path: Path) -> None:
    pairs = [TuningPair(str(n), f"kb-{n}", f"質問{n}", f"答え{n}") for n in range(40)]
    run = fine_tune(recovered_folder, pairs, tmp_path / "out", minutes=0.0, epochs=3)
    assert run.steps == 0 and run.stopped_by_budget and run.steps_planned > 0
    assert (tmp_path / "out" / "modules.json").is_file()


def test_the_verdict_guards_answer_search_when_the_encoder_was_tuned() -> None:
    def figures(type_f1: float, ndcg: float | None) -> dict:
        result = {"type": {"macro_f1": type_f1}}
        if ndcg is not None:
            result["retrieval"] = {"hybrid_ndcg@10": ndcg}
        return result

    worse_search = compare(figures(0.80, 0.78), figures(0.82, 0.70))
    assert not worse_search.promote and "retrieval.hybrid_ndcg@10 -0.0800" in worse_search.reason
    assert compare(figures(0.80, 0.78), figures(0.82, 0.79)).promote
    untuned = compare(figures(0.80, None), figures(0.82, None))
    assert ".".join(RETRIEVAL_METRIC) not in [row["metric"] for row in untuned.table]


def test_the_report_shows_ndcg_untuned_and_tuned() -> None:
    def split(dense: float, hybrid: float) -> dict:
        return {
            method: {"ndcg@10": value, "queries": 100}
            for method, value in (("dense", dense), ("hybrid", hybrid))
        }

    encoder = {
        "name": "encoders/e5-small-tuned-x",
        "parent": "e5-small-int8",
        "tuning": {
            "pairs": 800, "articles": 200, "steps": 150, "epochs_completed": 3.0,
            "seconds": 600.0, "stopped_by_budget": False,
        },
        "retrieval": {
            "before": {"all": split(0.67, 0.78), "held_out": split(0.68, 0.77)},
            "after": {"all": split(0.70, 0.80), "held_out": split(0.69, 0.79)},
        },
    }  # fmt: skip
    lines = "\n".join(encoder_section(encoder))
    assert "| dense | all (100) | 0.67 | 0.7 | +0.0300 |" in lines
    assert "| hybrid | held-out half (100) | 0.77 | 0.79 | +0.0200 |" in lines
    assert "not tuned" in encoder_section({"name": "e5-small-int8"})[0]


def test_the_service_follows_a_champion_onto_its_tuned_encoder_and_back(
    tuned_models: tuple[Path, str],
    triage_model_folder: Path,
    encoder_cache_file: Path,
    tmp_path: Path,
) -> None:
    models, name = tuned_models
    registry = ModelRegistry(models, "triage")
    shutil.copytree(triage_model_folder, registry.root / "20260101-000000")
    registry.promote("20260101-000000", "first")
    settings = Settings(
        state_dir=tmp_path / "state", models_dir=models, encoder_cache_file=encoder_cache_file
    )
    # 40 articles: switching encoders encodes the knowledge base once more, so keep it small
    engine = create_database_engine(settings.database_url)
    KnowledgeBase(engine).upsert_many(load_articles(DATA)[:40])
    engine.dispose()
    rows = {
        split: read_ticket_rows(DATA / "tickets" / f"{split}.jsonl")[:limit]
        for split, limit in (("train", 300), ("valid", 100))
    }
    tuned_model = train_triage_model(
        settings,
        registry.root / "20260102-000000",
        encoder=configured_encoder(settings, name),
        rows=rows,
        data_description={"train": {"tickets": 300}, "valid": {"tickets": 100}},
        encoder_name=name,
    )
    tuned_identity = load_encoder(name, models).identity
    question = {"text": "登録の確認メールが届きません", "top_k": 3}
    ticket = {"subject": "録音が止まる", "body": "会議の録音が30分くらいで止まってしまいます。"}

    def serving(client: TestClient) -> tuple[str, str]:
        ready = client.get("/ready").json()["components"]
        versions = {component["name"]: component["version"] for component in ready}
        return versions["triage"], versions["search_index"]

    def wait_for(client: TestClient, version: str) -> None:
        deadline = time.monotonic() + 120  # opening the other encoder's index may encode it
        while time.monotonic() < deadline:
            if client.post("/v1/classify", json=ticket).json()["model_version"] == version:
                return
            time.sleep(0.2)
        raise AssertionError(f"the service did not switch to {version} within 120 s")

    with TestClient(create_app(settings)) as client:
        first_triage, first_index = serving(client)
        first_answers = client.post("/v1/suggest", json=question).json()["articles"]
        failures: list[int] = []
        stop = threading.Event()

        def keep_asking() -> None:
            while not stop.is_set():
                for path, body in (("/v1/classify", ticket), ("/v1/suggest", question)):
                    response = client.post(path, json=body)
                    if response.status_code != 200:
                        failures.append(response.status_code)

        background = threading.Thread(target=keep_asking)
        background.start()
        try:
            registry.promote(tuned_model.name, "test: trained on the tuned encoder")
            wait_for(client, tuned_model.name)
            tuned_triage, tuned_index = serving(client)
            tuned_answers = client.post("/v1/suggest", json=question).json()["articles"]
            registry.rollback("test: back to the first")
            wait_for(client, "20260101-000000")
        finally:
            stop.set()
            background.join()
        back_triage, back_index = serving(client)
        back_answers = client.post("/v1/suggest", json=question).json()["articles"]

    assert failures == []
    assert first_triage == "20260101-000000" and tuned_triage == tuned_model.name
    assert tuned_index == tuned_identity != first_index
    assert tuned_answers  # answer search runs on the tuned encoder's own index
    assert (back_triage, back_index) == (first_triage, first_index)
    assert [a["id"] for a in back_answers] == [a["id"] for a in first_answers]
    assert settings.index_dir_for(name) != settings.index_dir
    assert (settings.index_dir_for(name) / "manifest.json").is_file()
