"""The sample-data report: each measure can fail, and the shipped data passes the quality bars."""

from datetime import datetime, timedelta, timezone

import holidays

from common.labels import LabelSet
from common.sample_data import Ticket
from common.settings import Settings
from training.data_report import (
    _time_bucket,
    baseline_macro_f1,
    build_report,
    distinct_opening_rate,
    near_duplicate_rate,
    noise_shares,
)

SETTINGS = Settings()
LABELS = LabelSet.from_file(SETTINGS.labels_file)
JST = timezone(timedelta(hours=9))


def _ticket(index: int, body: str, type_: str = "how_to", subject: str = "") -> Ticket:
    return Ticket(
        id=f"T-{index}", channel="email", subject=subject, body=body, language="ja", plan="free",
        created_at=datetime(2026, 11, 2, 10, tzinfo=JST), type=type_, urgency="low",
        impact="individual", queue="frontline", resolved_by_article=None,
    )  # fmt: skip


def test_near_duplicate_rate_finds_a_lightly_edited_copy() -> None:
    original = "Zoom連携で録画が取り込まれません。設定画面では連携済みと表示されています。昨日の会議からです。"
    edited = original.replace("昨日", "一昨日")
    unrelated = "請求書の宛名を株式会社サンプルに変更して再発行してください。経理の締めが25日です。"
    assert near_duplicate_rate([original, edited, unrelated]) == round(2 / 3, 4)
    assert near_duplicate_rate([original, unrelated]) == 0.0


def test_distinct_openings_count_the_first_fifteen_characters() -> None:
    tickets = [
        _ticket(1, "お世話になっております。株式会社Aの山田です。録音が止まります"),
        _ticket(2, "お世話になっております。株式会社Aの田中です。請求書について"),
        _ticket(3, "録音が止まります"),
        _ticket(4, "至急！全員ログインできません"),
    ]
    assert distinct_opening_rate(tickets) == 0.75


def test_templated_tickets_make_the_baseline_look_too_easy() -> None:
    templates = {
        "bug": "【不具合報告】{}でエラーが発生します。",
        "billing": "【請求について】{}の請求書をお願いします。",
        "account": "【アカウント】{}のパスワードを変更したい。",
    }
    things = ["録音", "議事録", "要約", "書き出し", "共有", "辞書", "連携", "通知", "検索", "画面"]
    tickets = [
        _ticket(i * 100 + j, template.format(thing), type_=label)
        for i, (label, template) in enumerate(templates.items())
        for j, thing in enumerate(things)
    ]
    train = [t for t in tickets if int(t.id[2:]) % 100 < 7]
    test = [t for t in tickets if int(t.id[2:]) % 100 >= 7]
    assert baseline_macro_f1(train, test, "type") >= 0.95


def test_noise_kinds_are_told_apart() -> None:
    shares = noise_shares(
        [
            _ticket(1, "ﾊﾟｽﾜｰﾄﾞが違うと言われます"),
            _ticket(2, "エラーコードはＥ１０２３です"),
            _ticket(3, "録音が止まります。\n\n山田 太郎\n株式会社サンプル\nTEL 03-1234-5678"),
            _ticket(4, "録音が止まります（Chrome）。よろしくお願いします！"),
        ]
    )
    assert shares["any"] == 0.75
    assert (
        shares["halfwidth_kana"] == shares["fullwidth_alphanumeric"] == shares["signature"] == 0.25
    )


def test_time_buckets_know_japanese_holidays_and_the_year_end_closure() -> None:
    public_holidays = holidays.country_holidays("JP", years=[2025, 2026])
    at = lambda *parts: datetime(*parts, tzinfo=JST)  # noqa: E731
    assert _time_bucket(at(2026, 9, 22, 10), public_holidays) == "holiday_or_year_end"  # 国民の休日
    assert _time_bucket(at(2025, 12, 30, 11), public_holidays) == "holiday_or_year_end"
    assert _time_bucket(at(2026, 11, 21, 11), public_holidays) == "weekend"
    assert _time_bucket(at(2026, 11, 20, 22), public_holidays) == "weekday_night"
    assert _time_bucket(at(2026, 11, 20, 9), public_holidays) == "business_hours"


def test_shipped_sample_data_meets_the_quality_bars() -> None:
    report = build_report(SETTINGS.data_dir, LABELS)
    assert report.problems == []
    quality = {c.name: c for c in report.criteria if not c.name.startswith("count ")}
    assert quality, "no quality criteria computed"
    failing = {name: c.value for name, c in quality.items() if not c.met}
    assert failing == {}


def test_report_markdown_lists_every_criterion_and_split(tmp_path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    target = tmp_path / "REPORT.md"
    CliRunner().invoke(app, ["data", "report", "--write", str(target)])
    page = target.read_text(encoding="utf-8")
    assert "| baseline macro-F1 type |" in page and "| near-duplicate rate tickets |" in page
    assert "| value | train | valid | test |" in page
