"""Bytes per row on PostgreSQL, for the capacity plan (docs/scaling.md): starts a throw-away
server (tests/postgres.py), stores the sample knowledge base through KnowledgeBase, every sample
ticket as a resolved ticket through RecordStore (PII masked as in production), the same tickets
as recent tickets (with a 384-float vector, as triage keeps them) and one feedback event per
ticket, then reads pg_total_relation_size (table + indexes + TOAST) per table.

    .venv/bin/python bench/postgres_sizing.py [--json]
"""

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from postgres import PostgresServer  # noqa: E402

from common.labels import LabelSet  # noqa: E402
from common.sample_data import load_articles  # noqa: E402
from common.settings import Settings  # noqa: E402
from common.storage import create_database_engine  # noqa: E402
from records.store import FeedbackEvent, RecordStore  # noqa: E402
from retrieval.knowledge_base import KnowledgeBase  # noqa: E402
from triage.similar import RecentTicketRecord  # noqa: E402

TABLES = ("articles", "article_chunks", "article_changes", "resolved_tickets", "recent_tickets",
          "feedback_events")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    settings = Settings()
    tickets = [
        json.loads(line)
        for name in ("train", "valid", "test")
        for line in (settings.data_dir / "tickets" / f"{name}.jsonl").open(encoding="utf-8")
    ]
    server = PostgresServer(Path("/tmp/madoguchi-bench-postgres"))
    server.start()
    try:
        engine = create_database_engine(server.create_database("sizing"))
        KnowledgeBase(engine).upsert_many(load_articles(settings.data_dir))
        labels = LabelSet.from_file(settings.labels_file)
        records = RecordStore(engine, labels, settings.pii_policy)
        rows = [
            {"ticket_id": t["id"], "subject": t.get("subject", ""), "body": t["body"],
             "channel": t.get("channel"), "labels": {f: t[f] for f in labels.fields if f in t}}
            for t in tickets
        ]  # fmt: skip
        records.add_resolved(rows, "bench")
        rng = np.random.default_rng(1)
        now = datetime.now(UTC)
        with engine.begin() as connection:
            connection.execute(
                RecentTicketRecord.__table__.insert(),
                [
                    {"ticket_id": t["id"], "subject": t.get("subject", ""), "created_at": now,
                     "type": t.get("type", "bug"), "priority": "P3",
                     "vector": rng.standard_normal(384).astype(np.float32).tobytes(),
                     "encoder": "e5-small-int8", "channel": t.get("channel"),
                     "auto_applied": "type,queue", "first_response_due": now,
                     "resolution_due": now}
                    for t in tickets
                ],
            )  # fmt: skip
        for ticket in tickets:
            records.add_feedback(
                FeedbackEvent(kind="label_accepted", ticket_id=ticket["id"], field="type",
                              value=ticket.get("type", "bug"))
            )  # fmt: skip
        with engine.connect() as connection:
            sizes = {}
            for table in TABLES:
                count = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                size = connection.execute(
                    text(f"SELECT pg_total_relation_size('{table}')")
                ).scalar()
                sizes[table] = {"rows": count, "bytes": size, "bytes_per_row": round(size / count)}
        engine.dispose()
    finally:
        server.stop()
    print("| table | rows | total (table + indexes + TOAST) | bytes per row |")
    print("|---|---:|---:|---:|")
    for table, size in sizes.items():
        print(f"| {table} | {size['rows']:,} | {size['bytes'] / 1024:,.0f} KiB | "
              f"{size['bytes_per_row']:,} |")  # fmt: skip
    if options.json:
        print(json.dumps({"tables": sizes, "measured_at": now.isoformat()}))


if __name__ == "__main__":
    main()
