"""Integrity of whatever sample data is present, and of the checker that guards it."""

import json
from pathlib import Path

import pytest

from common.labels import LabelSet
from common.sample_data import TICKET_SPLITS, DataReport, Ticket, check_sample_data, read_jsonl
from common.settings import Settings
from common.text import clean_email, detect_language
from training.splits import stratified_split

SETTINGS = Settings()
DATA_DIR = SETTINGS.data_dir
LABELS = LabelSet.from_file(SETTINGS.labels_file)


def _tickets() -> list[Ticket]:
    report = DataReport()
    return [
        ticket
        for split in TICKET_SPLITS
        for _, ticket in read_jsonl(DATA_DIR / "tickets" / f"{split}.jsonl", Ticket, report)
    ]


def test_shipped_sample_data_has_no_problems() -> None:
    report = check_sample_data(DATA_DIR, LABELS)
    assert report.problems == []


def test_starter_slice_is_large_enough_to_serve_and_test() -> None:
    counts = check_sample_data(DATA_DIR, LABELS).counts
    assert counts["articles"] >= 30
    assert sum(counts[f"tickets_{split}"] for split in TICKET_SPLITS) >= 150
    assert counts["queries"] >= 50


def test_every_label_value_occurs_in_the_training_split() -> None:
    report = DataReport()
    train = [t for _, t in read_jsonl(DATA_DIR / "tickets" / "train.jsonl", Ticket, report)]
    for field in LABELS.fields:
        assert {getattr(ticket, field) for ticket in train} == set(LABELS.values(field)), field


def test_tickets_cover_all_plans_channels_and_off_hours() -> None:
    tickets = _tickets()
    assert {t.plan for t in tickets} == {"free", "standard", "premium", "enterprise"}
    assert {t.channel for t in tickets} == {"email", "chat", "web_form", "phone_memo"}
    assert any(t.created_at.weekday() >= 5 for t in tickets)
    assert any(not 9 <= t.created_at.hour < 18 for t in tickets)


def test_language_detection_agrees_with_the_labelled_language_of_the_tickets() -> None:
    tickets = _tickets()
    agreeing = sum(
        detect_language(f"{t.subject}\n{clean_email(t.body).text}").language == t.language
        for t in tickets
    )
    assert agreeing / len(tickets) >= 0.97


def test_signatures_removed_from_sample_tickets_never_hold_a_sentence() -> None:
    for ticket in _tickets():
        for kind, removed in clean_email(ticket.body).removed:
            if kind == "signature":
                assert "。" not in removed, (ticket.id, removed)


# --- the checker finds what it must --------------------------------------------------------


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


ARTICLE = {
    "id": "kb-1",
    "title": "パスワードの再設定",
    "body": "ログイン画面の「パスワードを忘れた」から再設定できます。",
    "category": "account",
    "tags": ["パスワード"],
    "language": "ja",
    "url": "https://help.koemoji.example/articles/kb-1",
    "updated_at": "2026-09-14T10:30:00+09:00",
}
TICKET = {
    "id": "T-1",
    "channel": "chat",
    "subject": "",
    "body": "パスワード忘れました",
    "language": "ja",
    "plan": "free",
    "created_at": "2026-11-02T10:00:00+09:00",
    "type": "account",
    "urgency": "low",
    "impact": "individual",
    "queue": "frontline",
    "resolved_by_article": "kb-1",
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    _write(tmp_path / "kb" / "articles.jsonl", [ARTICLE])
    _write(tmp_path / "tickets" / "train.jsonl", [TICKET])
    _write(
        tmp_path / "queries" / "queries.jsonl",
        [{"id": "q1", "text": "パスワード", "language": "ja"}],
    )
    _write(
        tmp_path / "queries" / "qrels.jsonl",
        [{"query_id": "q1", "article_id": "kb-1", "relevance": 3}],
    )
    return tmp_path


def test_checker_passes_a_consistent_folder(data_dir: Path) -> None:
    report = check_sample_data(data_dir, LABELS)
    assert report.ok, report.problems
    assert report.counts == {
        "articles": 1,
        "tickets_train": 1,
        "queries": 1,
        "qrels": 1,
        "queries_out_of_scope": 0,
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"urgency": "urgent"}, "urgency='urgent' is not one of critical, high, medium, low"),
        ({"queue": "sales"}, "queue='sales' is not one of"),
        ({"resolved_by_article": "kb-404"}, "resolved_by_article 'kb-404' not in kb"),
        ({"created_at": "2026-11-02T10:00:00Z"}, "+09:00"),
        ({"channel": "fax"}, "channel"),
        ({"body": "→ kb-1 をご案内済み"}, "names its own resolved_by_article 'kb-1'"),
    ],
)
def test_checker_reports_a_bad_ticket_with_its_line(
    data_dir: Path, change: dict, message: str
) -> None:
    _write(
        data_dir / "tickets" / "valid.jsonl", [{**TICKET, "id": "T-2", "body": "別件", **change}]
    )
    problems = check_sample_data(data_dir, LABELS).problems
    assert len(problems) == 1
    assert problems[0].file == "tickets/valid.jsonl" and problems[0].line == 1
    assert message in problems[0].message


def test_checker_finds_a_ticket_in_two_splits(data_dir: Path) -> None:
    _write(data_dir / "tickets" / "test.jsonl", [TICKET])
    messages = [p.message for p in check_sample_data(data_dir, LABELS).problems]
    assert "ticket id 'T-1' is also in train" in messages
    assert "same subject and body as a ticket in train" in messages


def test_checker_finds_broken_json_and_dangling_qrels(data_dir: Path) -> None:
    (data_dir / "queries" / "queries.jsonl").write_text('{"id": "q1", "text": \n')
    _write(
        data_dir / "queries" / "qrels.jsonl",
        [{"query_id": "q1", "article_id": "kb-9", "relevance": 4}],
    )
    messages = " | ".join(p.message for p in check_sample_data(data_dir, LABELS).problems)
    assert "not JSON" in messages
    assert "relevance" in messages


# --- splits ----------------------------------------------------------------------------------


def test_stratified_split_is_fixed_disjoint_and_keeps_proportions() -> None:
    tickets = _tickets()
    first, second = stratified_split(tickets), stratified_split(list(reversed(tickets)))
    assert {k: [t.id for t in v] for k, v in first.items()} == {
        k: [t.id for t in v] for k, v in second.items()
    }
    ids = [t.id for rows in first.values() for t in rows]
    assert len(ids) == len(set(ids)) == len(tickets)
    assert 0.6 <= len(first["train"]) / len(tickets) <= 0.8
    for split in ("valid", "test"):
        assert {t.type for t in first[split]} == set(LABELS.values("type")), split
