"""Records of the learning loop: migrations, resolved tickets and feedback stored through the
store (on SQLite and a real PostgreSQL), exports read with their line numbers, `madoguchi
ingest`, and the two API routes."""

import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, inspect, text
from typer.testing import CliRunner

from cli.main import app
from common.api_keys import ApiKeyRecord, TenantRecord
from common.labels import LabelSet
from common.registry import ModelRegistryRecord
from common.settings import PROJECT_ROOT, Settings
from common.storage import Base, create_database_engine, migrate_database
from records.exports import ExportError, ingest_export, load_mappings, read_export
from records.store import FeedbackError, FeedbackEvent, RecordStore, content_hash
from records.tables import FeedbackEventRecord, HandoffTicketRecord, ResolvedTicketRecord
from retrieval.knowledge_base import ArticleRecord, ChangeRecord, ChunkRecord
from triage.similar import RecentTicketRecord

LABELS = LabelSet.from_file(Settings().labels_file)
SAMPLE_TRAIN = PROJECT_ROOT / "data" / "tickets" / "train.jsonl"


def ticket(ticket_id: str, body: str, **labels: str) -> dict:
    return {"ticket_id": ticket_id, "subject": "件名", "body": body, "labels": labels}


@pytest.fixture
def store(database_url: str) -> RecordStore:
    return RecordStore(create_database_engine(database_url), LABELS)


# -- migrations --------------------------------------------------------------------------------


def test_migrations_build_exactly_the_tables_the_code_declares(database_url: str) -> None:
    engine = create_database_engine(database_url)
    migrate_database(engine)
    declared = MetaData()
    for table in (
        ArticleRecord,
        ChunkRecord,
        ChangeRecord,
        RecentTicketRecord,
        ResolvedTicketRecord,
        FeedbackEventRecord,
        HandoffTicketRecord,
        ApiKeyRecord,
        TenantRecord,
        ModelRegistryRecord,
    ):
        table.__table__.to_metadata(declared)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), declared)
        assert differences == []
        assert (
            connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0007"
        )
    engine.dispose()


def test_a_database_made_before_migrations_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    Base.metadata.create_all(engine, tables=[ArticleRecord.__table__, ChangeRecord.__table__])
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO article_changes (article_id, operation, changed_at) "
                "VALUES ('kb-1', 'upsert', '2026-01-01 09:00:00')"
            )
        )
    migrate_database(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"resolved_tickets", "feedback_events", "article_chunks", "alembic_version"} <= tables
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM article_changes")).scalar() == 1
    engine.dispose()


# -- resolved tickets -----------------------------------------------------------------------


def test_resolved_tickets_are_stored_once_and_bad_rows_reported_with_their_number(
    store: RecordStore,
) -> None:
    rows = [
        ticket("Z-1", "録音が途中で止まります", type="bug", urgency="high"),
        ticket("Z-2", "請求書の宛名を変えたい", type="billing", queue="billing"),
        ticket("Z-3", "ＳＳＯの設定方法", type="no_such_type"),
        {"ticket_id": "Z-4", "subject": "本文がない"},
        ticket("Z-5", "録音が途中で止まります", type="bug"),  # same text as Z-1
    ]
    report = store.add_resolved(rows, source="api")
    assert (report.received, report.stored, report.skipped_duplicate) == (5, 2, 1)
    assert [(problem.row, problem.ticket_id) for problem in report.rejected] == [
        (3, "Z-3"),
        (4, "Z-4"),
    ]
    assert "labels.type" in report.rejected[0].errors[0]
    assert "how_to" in report.rejected[0].errors[0]  # the allowed values are named
    assert report.rejected[1].errors[0].startswith("body:")

    again = store.add_resolved(rows[:2] + [ticket("Z-9", "ＳＳＯの設定方法")], source="api")
    assert (again.stored, again.skipped_already_seen) == (1, 2)
    assert store.count_resolved() == 3
    stored = {record.ticket_id: record for record in store.resolved_tickets()}
    assert stored["Z-1"].labels == {"type": "bug", "urgency": "high"}
    assert stored["Z-1"].source == "api"


def test_the_content_hash_ignores_width_case_and_spacing() -> None:
    assert content_hash("ＳＳＯ", "ﾛｸﾞｲﾝ  できない") == content_hash("sso", "ログイン できない")
    assert content_hash("SSO", "ログインできない") != content_hash("SSO", "ログインできる")


def test_feedback_events_are_checked_for_what_their_kind_needs(store: RecordStore) -> None:
    stored = store.add_feedback(
        FeedbackEvent(kind="label_corrected", ticket_id="T-1", field="urgency", value="critical")
    )
    assert stored.id and stored.occurred_at is not None
    store.add_feedback(FeedbackEvent(kind="article_helpful", article_id="kb-001"))
    with pytest.raises(FeedbackError, match="urgency must be one of critical"):
        store.add_feedback(
            FeedbackEvent(kind="label_corrected", ticket_id="T-1", field="urgency", value="asap")
        )
    with pytest.raises(FeedbackError, match="article_id"):
        store.add_feedback(FeedbackEvent(kind="article_dismissed"))
    with pytest.raises(FeedbackError, match="query"):
        store.add_feedback(FeedbackEvent(kind="suggestion_handed_over"))
    assert [event.kind for event in store.feedback_events()] == [
        "label_corrected",
        "article_helpful",
    ]


# -- exports -----------------------------------------------------------------------------------


def test_a_jsonl_export_keeps_line_numbers_past_blank_and_broken_lines(
    store: RecordStore, tmp_path: Path
) -> None:
    lines = [
        json.dumps({"id": "A-1", "body": "録音できません", "type": "bug"}, ensure_ascii=False),
        "",
        "{not json",
        json.dumps({"id": "A-2", "body": "返金したい", "type": "refund"}, ensure_ascii=False),
        json.dumps({"id": 3, "body": "ログイン方法", "type": "how_to"}, ensure_ascii=False),
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report, mapping = ingest_export(path, store)
    assert mapping.name == "madoguchi"
    assert (report.received, report.stored) == (4, 2)
    assert [problem.row for problem in report.rejected] == [3, 4]
    assert "not valid JSON" in report.rejected[0].errors[0]
    assert {record.ticket_id for record in store.resolved_tickets()} == {"A-1", "3"}


def test_a_zendesk_csv_is_mapped_and_its_multi_line_cells_do_not_shift_line_numbers(
    store: RecordStore, tmp_path: Path
) -> None:
    path = tmp_path / "zendesk.csv"
    path.write_text(
        "Id,Subject,Description,Type,Priority,Group,Created at,Solved at\n"
        '101,録音が止まる,"会議の途中で\n録音が止まりました",problem,urgent,Technical,'
        "2026-02-02 10:00:00,2026-02-03 12:00:00\n"
        "102,請求,請求書がほしい,question,normal,Billing,2026-02-02 11:00:00,\n"
        "103,壊れた行,本文,incident,whenever,Technical,2026-02-02 12:00:00,\n",
        encoding="utf-8",
    )
    report, mapping = ingest_export(path, store)
    assert mapping.name == "zendesk"
    assert report.stored == 2
    assert [(problem.row, problem.ticket_id) for problem in report.rejected] == [(5, "103")]
    stored = {record.ticket_id: record for record in store.resolved_tickets()}
    assert stored["101"].labels == {"type": "bug", "urgency": "critical", "queue": "technical"}
    assert stored["101"].body == "会議の途中で\n録音が止まりました"
    assert stored["101"].resolved_at is not None and stored["102"].resolved_at is None


def test_an_export_no_mapping_fits_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("foo,bar\n1,2\n", encoding="utf-8")
    export = read_export(path)
    with pytest.raises(ExportError, match="--mapping"):
        from records.exports import choose_mapping

        choose_mapping(export.header, load_mappings())
    with pytest.raises(ExportError, match=".jsonl or .csv"):
        read_export(tmp_path / "tickets.xlsx")


def test_a_customer_mapping_file_maps_its_own_columns(store: RecordStore, tmp_path: Path) -> None:
    mapping_file = tmp_path / "ours.yaml"
    mapping_file.write_text(
        "acme:\n  detect: [No, Text]\n  columns: {ticket_id: No, body: Text}\n"
        "  labels: {type: Kind}\n  values: {type: {Frage: how_to}}\n",
        encoding="utf-8",
    )
    path = tmp_path / "acme.csv"
    path.write_text("No,Text,Kind\n7,パスワードを忘れました,Frage\n", encoding="utf-8")
    report, mapping = ingest_export(path, store, mappings_file=mapping_file)
    assert (mapping.name, report.stored) == ("acme", 1)
    assert next(store.resolved_tickets()).labels == {"type": "how_to"}


def test_madoguchi_ingest_stores_the_sample_tickets_and_skips_them_the_second_time(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MADOGUCHI_STATE_DIR", str(settings.state_dir))
    command = ["ingest", str(SAMPLE_TRAIN), "--json"]
    first = CliRunner().invoke(app, command)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["format"] == "madoguchi"
    assert summary["stored"] == summary["received"] == len(SAMPLE_TRAIN.read_text().splitlines())
    second = CliRunner().invoke(app, command)
    again = json.loads(second.stdout.strip().splitlines()[-1])
    assert (again["stored"], again["skipped_already_seen"]) == (0, summary["received"])
    assert "already seen" in second.output


def test_madoguchi_ingest_exits_1_and_names_the_lines_it_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MADOGUCHI_STATE_DIR", str(settings.state_dir))
    export = tmp_path / "export.jsonl"
    export.write_text('{"id": "B-1", "body": "ok"}\n{"id": "B-2"}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(export)])
    assert result.exit_code == 1
    assert "line 2 (B-2)" in result.output and "1 stored" in result.output
    missing = CliRunner().invoke(app, ["ingest", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 2


# -- API ---------------------------------------------------------------------------------------


def test_resolved_tickets_route_stores_good_rows_and_lists_bad_ones(client: TestClient) -> None:
    response = client.post(
        "/v1/tickets/resolved",
        json={
            "tickets": [
                ticket("R-1", "議事録の共有リンクが開けない", type="technical_issue"),
                ticket("R-2", "", type="bug"),
            ]
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["stored"] == 1 and body["rejected"][0]["row"] == 2
    again = client.post("/v1/tickets/resolved", json={"tickets": [ticket("R-1", "x")]})
    assert again.json()["skipped_already_seen"] == 1


def test_resolved_tickets_route_refuses_a_call_with_no_good_row_or_too_many(
    client: TestClient,
) -> None:
    response = client.post("/v1/tickets/resolved", json={"tickets": [{"ticket_id": "R-9"}]})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["rejected"][0]["errors"][0].startswith("body:")
    many = [ticket(f"M-{number}", f"本文 {number}") for number in range(1001)]
    response = client.post("/v1/tickets/resolved", json={"tickets": many})
    assert response.status_code == 422 and "1,000" in response.json()["detail"]


def test_feedback_route_stores_a_correction_and_refuses_what_it_cannot_use(
    client: TestClient,
) -> None:
    response = client.post(
        "/v1/feedback",
        json={"kind": "label_corrected", "ticket_id": "T-7", "field": "type", "value": "billing"},
    )
    assert response.status_code == 201
    records = client.app.state.service.records
    assert [(event.ticket_id, event.value) for event in records.feedback_events()] == [
        ("T-7", "billing")
    ]
    article_id = client.app.state.service.knowledge_base.list(limit=1)[0].id
    helpful = client.post(
        "/v1/feedback", json={"kind": "article_helpful", "article_id": article_id}
    )
    assert helpful.status_code == 201
    for body, fix in (
        ({"kind": "article_helpful", "article_id": "kb-none"}, "no article"),
        ({"kind": "label_corrected", "ticket_id": "T-7", "field": "type", "value": "x"}, "type"),
        ({"kind": "thanks"}, "kind"),
    ):
        response = client.post("/v1/feedback", json=body)
        assert response.status_code == 422, body
        assert fix in json.dumps(response.json(), ensure_ascii=False)
