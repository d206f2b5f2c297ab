"""`madoguchi kb-gaps`: unanswered tickets clustered and named; the topics the sample data plants
without an article come out on top."""

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from common.settings import Settings
from training.knowledge_gaps import class_keywords, gap_candidates, representative_text

# Topics data/README.md lists as deliberately without an article, each with words that name it.
PLANTED_GAPS = {
    "voiceprint speaker names": {"話者", "声", "声紋"},
    "LINE WORKS": {"works"},
    "translated captions": {"翻訳", "字幕"},
}


def test_class_keywords_prefer_words_distinctive_of_a_cluster() -> None:
    keywords = class_keywords(
        {
            0: ["録音", "翻訳", "字幕", "翻訳"],
            1: ["録音", "請求", "請求書"],
            2: ["録音", "ログイン", "パスワード"],
        },
        top=2,
    )
    assert keywords[0] == ["翻訳", "字幕"]
    assert "録音" not in keywords[1]


def test_personal_data_is_masked_in_representative_tickets() -> None:
    masked = representative_text(
        "総務部の山田と申します。yamada@example.jp 090-1234-5678 か 03(1234)5678 まで"
    )
    assert "example.jp" not in masked and "5678" not in masked and "山田" not in masked
    assert masked.count("<PHONE>") == 2 and "<EMAIL>" in masked and "<NAME>" in masked


def test_only_unanswered_answerable_non_critical_tickets_are_candidates() -> None:
    rows = [
        {"id": 1, "type": "how_to", "urgency": "low", "resolved_by_article": None},
        {"id": 2, "type": "how_to", "urgency": "low", "resolved_by_article": "kb-0001"},
        {"id": 3, "type": "bug", "urgency": "high", "resolved_by_article": None},
        {"id": 4, "type": "technical_issue", "urgency": "critical", "resolved_by_article": None},
    ]
    assert [row["id"] for row in gap_candidates(rows)] == [1]


def test_kb_gaps_puts_the_planted_topics_on_top(
    settings: Settings,
    recovered_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("MADOGUCHI_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("MADOGUCHI_ENCODER_CACHE_FILE", str(settings.encoder_cache_file))
    result = CliRunner().invoke(app, ["kb-gaps", "--json", "--report", str(tmp_path / "gaps")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    top = summary["gaps"][:5]
    for topic, words in PLANTED_GAPS.items():
        assert any(words & set(gap["keywords"]) for gap in top), (topic, top)
    assert all(gap["size"] >= 2 for gap in summary["gaps"])
    assert [gap["value"] for gap in summary["gaps"]] == sorted(
        (gap["value"] for gap in summary["gaps"]), reverse=True
    )
    report = (tmp_path / "gaps" / "knowledge_gaps.md").read_text(encoding="utf-8")
    assert "| 1 |" in report
    assert re.search(r"[\w.+-]+@[\w-]+\.[\w.-]+", report) is None  # no e-mail address left
    saved = json.loads(settings.knowledge_gaps_file.read_text(encoding="utf-8"))
    assert saved["gaps"] == summary["gaps"] and saved["candidates"] == summary["candidates"]
    assert saved["generated_at"].endswith("+09:00")  # the dashboard shows when it was found
