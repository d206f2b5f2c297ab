"""What each embedding length limit costs and buys in triage: for every limit on the characters
of a prepared ticket that the encoder reads (triage.classifier.embedding_text), the encoder's
time alone on the sample test tickets (one at a time, and all in one call) and the test-set
figures of a model trained with that limit (and the baseline beside it).

    .venv/bin/python bench/triage_embedding_limits.py [--limits 0,240,160,120,100] [--json]

0 means no limit. Models are trained into a temporary folder; nothing in models/ changes.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.encoders import CachedEncoder, configured_encoder  # noqa: E402
from common.settings import Settings  # noqa: E402
from training.triage_evaluation import evaluate_triage, read_ticket_rows, row_text  # noqa: E402
from training.triage_training import train_triage_model  # noqa: E402
from triage.classifier import FIELDS, embedding_text, prepare_text  # noqa: E402
from triage.model import TriageModel  # noqa: E402


def encoder_timings(encoder, texts: list[str], limit: int | None) -> dict:  # noqa: ANN001
    cut = [embedding_text(text, limit) for text in texts]
    encoder.encode_queries(cut[:5])  # warm-up
    single = []
    for text in cut:
        started = time.perf_counter()
        encoder.encode_queries([text])
        single.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    encoder.encode_queries(cut)
    return {
        "single_p50_ms": round(float(np.median(single)), 1),
        "single_p90_ms": round(float(np.percentile(single, 90)), 1),
        "batch_tickets_per_s": round(len(cut) / (time.perf_counter() - started), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limits", default="0,240,160,120,100")
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    arguments = parser.parse_args()
    limits = [int(value) or None for value in arguments.limits.split(",")]
    settings = Settings()
    encoder = configured_encoder(settings)
    bare = encoder.encoder if isinstance(encoder, CachedEncoder) else encoder  # time it uncached
    tickets = settings.data_dir / "tickets"
    train, test = (
        read_ticket_rows(tickets / "train.jsonl"),
        read_ticket_rows(tickets / "test.jsonl"),
    )
    texts = [prepare_text(row_text(row)) for row in test]
    rows = []
    with tempfile.TemporaryDirectory(prefix="madoguchi-embedding-limits-") as scratch:
        for limit in limits:
            folder = train_triage_model(
                settings,
                Path(scratch) / f"triage-{limit}",
                encoder=encoder,
                embedding_max_chars=limit,
            )
            figures = evaluate_triage(test, TriageModel.load(folder, encoder=encoder), train)
            row = {
                "max_chars": limit,
                "encoder": encoder_timings(bare, texts, limit),
                **{name: figures[name]["macro_f1"] for name in FIELDS},
                "critical_recall": figures["urgency"].get("critical_recall"),
                "priority_exact": figures["priority"]["exact"],
                "priority_within_one": figures["priority"]["within_one"],
                "baseline_type": figures["baseline"]["type"]["macro_f1"],
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(
        "| max chars | encoder single p50 ms | encoder batch tickets/s | type F1 | urgency F1 "
        "| impact F1 | queue F1 | critical recall | priority exact | within ±1 |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['max_chars'] or 'all'} | {row['encoder']['single_p50_ms']} | "
            f"{row['encoder']['batch_tickets_per_s']} | {row['type']} | {row['urgency']} | "
            f"{row['impact']} | {row['queue']} | {row['critical_recall']} | "
            f"{row['priority_exact']} | {row['priority_within_one']} |"
        )
    if arguments.json:
        print(json.dumps({"test_tickets": len(test), "rows": rows}))


if __name__ == "__main__":
    main()
