"""Triage latency and throughput through the API: single POST /v1/classify p50/p99, and
POST /v1/classify/batch tickets per second, on the sample test tickets.

    .venv/bin/python bench/classify.py [--repeats 1] [--model PATH ...] [--json]

Starts `madoguchi serve` on a free port with a fresh state dir (the newest models/triage-* model,
or each --model in turn, side by side in one run; an empty knowledge base), so run `madoguchi
build` first. Results: bench/results/classify.md."""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from suggest import Client, Server, memory_mib, summary  # noqa: E402  (bench/suggest.py)

ROOT = Path(__file__).resolve().parent.parent
TICKET_FIELDS = ("subject", "body", "channel", "plan", "created_at")


def webhook_bodies() -> list[dict]:
    rows = [
        json.loads(line)
        for line in (ROOT / "data" / "tickets" / "test.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
        if line.strip()
    ]
    return [
        {field: row[field] for field in TICKET_FIELDS} | {"ticket_id": row["id"]} for row in rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=1, help="passes over the test tickets")
    parser.add_argument(
        "--model",
        action="append",
        type=Path,
        help="a triage model folder; repeat to measure several one after the other",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    arguments = parser.parse_args()
    results = [measure(model, arguments.repeats) for model in (arguments.model or [None])]
    if arguments.json:
        print(json.dumps(results[0] if len(results) == 1 else {"runs": results}))


def measure(model: Path | None, repeats: int) -> dict:
    tickets = webhook_bodies()
    state_dir = Path(tempfile.mkdtemp(prefix="madoguchi-bench-classify-"))
    server = Server(state_dir, {"MADOGUCHI_TRIAGE_MODEL": str(model.resolve())} if model else None)
    try:
        ready_seconds, report = server.wait_ready()
        triage = next(c for c in report["components"] if c["name"] == "triage")
        client = Client(server.port)
        for ticket in tickets[-20:]:  # warm-up
            client.call("POST", "/v1/classify", ticket)
        single = []
        for _ in range(repeats):
            for ticket in tickets:
                started = time.perf_counter()
                status, _ = client.call("POST", "/v1/classify", ticket)
                single.append((time.perf_counter() - started) * 1000)
                assert status == 200, status
        batches = {}
        for size in (50, 100, len(tickets)):
            body = {"tickets": tickets[:size]}
            started = time.perf_counter()
            status, answer = client.call("POST", "/v1/classify/batch", body)
            elapsed = time.perf_counter() - started
            assert status == 200 and len(answer["results"]) == size, status
            batches[str(size)] = {
                "seconds": round(elapsed, 3),
                "tickets_per_second": round(size / elapsed, 1),
            }
        memory = memory_mib(server.process.pid)
        client.close()
    finally:
        server.stop()
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_average": os.getloadavg()[0],
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
        "model": triage["version"],
        "ready_seconds": round(ready_seconds, 1),
        "single": summary(single),
        "batch": batches,
        "memory": memory,
    }
    print(
        f"{result['model']}: single /v1/classify: p50 {result['single']['p50_ms']} ms, "
        f"p99 {result['single']['p99_ms']} ms"
        f" over {result['single']['queries']} calls; batch: "
        + ", ".join(f"{size}: {b['tickets_per_second']} tickets/s" for size, b in batches.items()),
        file=sys.stderr,
    )
    return result


if __name__ == "__main__":
    main()
