"""Keyword cues for urgency and impact: what each cue reads in Japanese, Chinese, Korean and English
tickets, the cue file's checks, and the fourth view they give the urgency and impact classifiers
(saved inside the classifier; a model saved before cues still predicts)."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml
from fakes import HashEncoder

import triage.cues as cues_module
from common.labels import LabelSet
from common.settings import PROJECT_ROOT, Settings
from training.triage_training import train_triage_model
from triage.classifier import (
    CUE_VIEW,
    FIELDS,
    VIEWS,
    TicketFeatures,
    field_classifier,
    prepare_text,
    ticket_text,
)
from triage.cues import DEFAULT_CUES_FILE, CueLexicon
from triage.model import TriageModel

LABELS = LabelSet.from_file(Settings().labels_file)
CUES = CueLexicon.from_file()
# The packaged file lists no field (see its header for why); a customer lists the fields to use.
URGENCY_AND_IMPACT = CueLexicon(CUES.cues, ("urgency", "impact"), CUES.opening_chars, "test")


def features(text: str) -> dict[str, float]:
    return dict(zip(CUES.feature_names, CUES.matrix([prepare_text(text)])[0], strict=True))


def cues_found(text: str) -> set[str]:
    """The cues found anywhere in the text (count cues by their lowest threshold)."""
    return {name for name, value in features(text).items() if value and "@" not in name}


def test_the_packaged_cues_serve_no_field_by_default_and_name_every_feature_once() -> None:
    assert CUES.fields == ()
    assert len(CUES.feature_names) == len(set(CUES.feature_names))
    assert CUES.matrix(["", "全員"]).shape == (2, len(CUES.feature_names))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("今朝から全員ログインできません", {"everyone", "cannot_use", "since_when"}),
        ("从今天早上开始，所有同事都登录不了", {"everyone", "cannot_use"}),
        ("오늘 아침부터 직원 전원이 로그인이 안 됩니다", {"everyone", "cannot_use"}),
        ("Since this morning everyone cannot log in", {"everyone", "cannot_use", "since_when"}),
        ("至急！本日17時までに議事録を送る必要があります", {"says_urgent", "deadline"}),
        ("管理者アカウントが乗っ取られました", {"security_incident"}),
        ("관리자 계정이 탈취되었습니다", {"security_incident"}),
        ("今は手動で書き出して対応しています", {"has_workaround"}),
    ],
)
def test_a_cue_reads_the_same_thing_in_each_language(text: str, expected: set[str]) -> None:
    assert expected <= cues_found(text)


def test_not_urgent_is_not_read_as_urgent() -> None:
    found = cues_found("急ぎではありません。6月中に分かれば大丈夫です。")
    assert "says_not_urgent" in found and "says_urgent" not in found
    assert "says_urgent" in cues_found("急ぎでお願いします")


def test_a_headcount_gives_its_thresholds_and_a_log_scale() -> None:
    found = features("法務部の12名が使えません。全体では300 users です。")
    assert found["headcount>=2"] == found["headcount>=10"] == found["headcount>=50"] == 1.0
    assert found["log(headcount)"] == pytest.approx(np.log1p(300) / 8)
    found = features("営業部の12名が使えません")
    assert (found["headcount>=10"], found["headcount>=50"]) == (1.0, 0.0)
    assert features("使えません")["log(headcount)"] == 0.0


def test_a_cue_in_the_opening_is_told_from_one_further_down() -> None:
    late = "お世話になっております。" * 30 + "全員ログインできません"
    assert features("全員ログインできません")["everyone@opening"] == 1.0
    assert features(late)["everyone"] == 1.0 and features(late)["everyone@opening"] == 0.0


def test_the_lexicon_survives_pickling_as_it_does_inside_a_saved_model() -> None:
    texts = ["全員ログインできない", "急ぎません", "12名"]
    copy = pickle.loads(pickle.dumps(CUES))
    assert copy.fingerprint == CUES.fingerprint
    assert np.array_equal(copy.matrix(texts), CUES.matrix(texts))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda doc: doc["cues"].update(broken=["(unclosed"]), "unclosed|missing"),
        (lambda doc: doc["cues"].update(people={"count": r"\d+名", "thresholds": [2]}), "group"),
        (
            lambda doc: doc["cues"].update(people={"count": r"(\d+)名", "thresholds": [0]}),
            "positive",
        ),
        (lambda doc: doc["cues"].update(empty=[]), "no patterns"),
        (lambda doc: doc.pop("fields"), "fields"),
        (lambda doc: doc.update(version=2), "version"),
    ],
)
def test_a_broken_cue_file_is_refused_with_what_to_fix(
    tmp_path: Path, change: object, message: str
) -> None:
    document = yaml.safe_load(DEFAULT_CUES_FILE.read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / "cues.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match=message) as error:
        CueLexicon.from_file(path)
    assert str(path) in str(error.value)


def sample_features(count: int) -> tuple[list[dict], TicketFeatures]:
    lines = (PROJECT_ROOT / "data" / "tickets" / "train.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in lines.splitlines()[:count]]
    texts = [prepare_text(ticket_text(row["subject"], row["body"])) for row in rows]
    return rows, TicketFeatures.build(texts, HashEncoder().encode_queries(texts))


def test_only_the_fields_the_cue_file_lists_read_the_cues() -> None:
    for name in ("urgency", "impact"):
        lexicon = URGENCY_AND_IMPACT
        assert field_classifier(LABELS.values(name), name, lexicon).views == (*VIEWS, CUE_VIEW)
    for name in ("type", "queue"):
        assert field_classifier(LABELS.values(name), name, URGENCY_AND_IMPACT).views == VIEWS
    for name in FIELDS:  # the packaged file lists none
        assert field_classifier(LABELS.values(name), name, CUES).views == VIEWS
    assert field_classifier(LABELS.values("urgency"), "urgency", None).views == VIEWS


def test_a_classifier_with_cues_learns_from_them_and_one_saved_before_cues_still_predicts() -> None:
    rows, train = sample_features(300)
    labels = [row["urgency"] for row in rows]
    lexicon = URGENCY_AND_IMPACT
    with_cues = field_classifier(LABELS.values("urgency"), "urgency", lexicon).fit(train, labels)
    # the stacking model has one weight per class for each view's scores: four views now
    assert with_cues.meta_.coef_.shape[1] == 4 * len(LABELS.values("urgency"))
    assert np.abs(with_cues.meta_.coef_[:, 3 * 4 :]).sum() > 0
    # the cue matrix is computed once per ticket and shared by the fields that read it
    assert any(key.startswith("cues:") for key in train.matrices)

    without = field_classifier(LABELS.values("urgency"), "urgency", None).fit(train, labels)
    old = pickle.loads(pickle.dumps(without))
    del old.cues, old.cue_c  # as unpickled from a model saved before the cue view existed
    assert old.views == VIEWS
    _, fresh = sample_features(20)
    assert np.allclose(old.predict_proba(fresh), without.predict_proba(fresh))


def test_a_cue_file_that_lists_a_field_trains_that_field_on_the_cues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = yaml.safe_load(DEFAULT_CUES_FILE.read_text(encoding="utf-8"))
    document["fields"] = ["urgency"]
    cue_file = tmp_path / "cues.yaml"
    cue_file.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(cues_module, "DEFAULT_CUES_FILE", cue_file)
    tickets = tmp_path / "data" / "tickets"
    tickets.mkdir(parents=True)
    for split, count in (("train", 200), ("valid", 60)):
        lines = (PROJECT_ROOT / "data" / "tickets" / f"{split}.jsonl").read_text("utf-8")
        (tickets / f"{split}.jsonl").write_text(
            "\n".join(lines.splitlines()[:count]) + "\n", encoding="utf-8"
        )
    settings = Settings(
        data_dir=tmp_path / "data", models_dir=tmp_path / "models", state_dir=tmp_path
    )
    folder = train_triage_model(settings, tmp_path / "models" / "triage-x", encoder=HashEncoder())
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["classifier"]["views"]["urgency"] == [*VIEWS, CUE_VIEW]
    assert manifest["classifier"]["views"]["impact"] == list(VIEWS)
    assert manifest["classifier"]["cues"] == {
        "fingerprint": CueLexicon.from_file(cue_file).fingerprint,
        "fields": ["urgency"],
    }
    # the saved model carries its lexicon: it predicts with the cues after the file is gone
    cue_file.unlink()
    model = TriageModel.load(folder, LABELS, HashEncoder())
    assert model.classifiers["urgency"].classifier.cues.fields == ("urgency",)
    assert model.predict(["全員ログインできません"])[0]["urgency"].value in LABELS.values("urgency")
