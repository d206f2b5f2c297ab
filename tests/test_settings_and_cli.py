"""Settings from the environment, and the command line a new user runs."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from cli.main import app
from common.sample_data import load_articles
from common.settings import PROJECT_ROOT, Settings

SHIPPED_ARTICLES = len(load_articles(Settings().data_dir))

runner = CliRunner()


def test_settings_default_to_a_sqlite_file_in_the_state_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MADOGUCHI_DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT / 'var' / 'madoguchi.db'}"
    assert settings.port == 8000 and settings.host == "127.0.0.1"


def test_settings_come_from_madoguchi_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "MADOGUCHI_DATABASE_URL", "postgresql+psycopg://helpdesk@db.internal/madoguchi"
    )
    monkeypatch.setenv("MADOGUCHI_PORT", "9001")
    monkeypatch.setenv("MADOGUCHI_LANGUAGE_MIN_CONFIDENCE", "0.6")
    settings = Settings()
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.port == 9001
    assert settings.language_min_confidence == 0.6


def test_a_malformed_database_url_is_refused_with_an_example(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MADOGUCHI_DATABASE_URL", "not a url at all")
    with pytest.raises(ValidationError, match="sqlite:///"):
        Settings()


def test_cli_reports_bad_settings_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MADOGUCHI_PORT", "99999")
    result = runner.invoke(app, ["build"])
    assert result.exit_code == 2
    assert "MADOGUCHI_PORT" in result.output


def test_build_loads_the_sample_knowledge_base_once_and_tunes_the_index(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    encoder_cache_file: Path,
    recovered_folder: Path,
) -> None:
    monkeypatch.setenv("MADOGUCHI_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("MADOGUCHI_ENCODER_CACHE_FILE", str(encoder_cache_file))
    first = runner.invoke(app, ["build"])
    assert first.exit_code == 0, first.output
    assert f"{SHIPPED_ARTICLES} sample articles loaded" in first.output
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["kind"] == "vector-index"
    assert manifest["tuning"]["fusion"]["method"] in {"rrf", "mix"}
    assert 0 < manifest["tuning"]["decision"]["threshold"] < 1
    second = runner.invoke(app, ["build"])
    assert "knowledge-base: present" in second.output
    assert "search-index: present" in second.output


def test_data_check_ends_with_one_json_object(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "check", "--json"])
    assert result.exit_code == 0
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"] is True
    assert report["counts"]["articles"] == SHIPPED_ARTICLES


def test_data_check_fails_on_broken_data(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "articles.jsonl").write_text('{"id": "kb-1"}\n')
    result = runner.invoke(app, ["data", "check", "--data-dir", str(tmp_path), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"] is False
    assert report["problems"][0]["file"] == "kb/articles.jsonl"


def test_data_split_is_deterministic(tmp_path: Path) -> None:
    pool = PROJECT_ROOT / "data" / "tickets"
    arguments = ["data", "split", *(str(pool / f"{s}.jsonl") for s in ("train", "valid", "test"))]
    runner.invoke(app, [*arguments, "--out-dir", str(tmp_path / "a")])
    runner.invoke(app, [*arguments, "--out-dir", str(tmp_path / "b")])
    for split in ("train", "valid", "test"):
        assert (tmp_path / "a" / f"{split}.jsonl").read_text() == (
            tmp_path / "b" / f"{split}.jsonl"
        ).read_text()


def test_analyze_command_prints_what_the_pipeline_reads() -> None:
    result = runner.invoke(app, ["analyze", "ﾛｸﾞｲﾝできない"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["cleaned"] == "ログインできない"


def test_data_split_append_keeps_existing_tickets_where_they_are(tmp_path: Path) -> None:
    pool = PROJECT_ROOT / "data" / "tickets"
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.jsonl").write_text((pool / f"{split}.jsonl").read_text())
    newcomers = tmp_path / "new.jsonl"
    rows = [json.loads(line) for line in (pool / "train.jsonl").read_text().splitlines()[:40]]
    for number, row in enumerate(rows):
        row["id"] = f"NEW-{number}"
    newcomers.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n")
    result = runner.invoke(
        app, ["data", "split", str(newcomers), "--out-dir", str(tmp_path), "--append"]
    )
    assert result.exit_code == 0, result.output
    for split in ("train", "valid", "test"):
        before = (pool / f"{split}.jsonl").read_text().splitlines()
        after = (tmp_path / f"{split}.jsonl").read_text().splitlines()
        assert after[: len(before)] == before

    def count(folder: Path) -> int:
        return sum(
            len((folder / f"{s}.jsonl").read_text().splitlines())
            for s in ("train", "valid", "test")
        )

    assert count(tmp_path) == count(pool) + 40
    again = runner.invoke(
        app, ["data", "split", str(newcomers), "--out-dir", str(tmp_path), "--append"]
    )
    assert again.exit_code == 1 and "already in the splits" in again.output
