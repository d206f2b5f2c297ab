"""Load: locust, headless, on loopback only, for a bounded time: classify, suggest and article
writes mixed (bench/locustfile.py) against `madoguchi serve` with the sample knowledge base and
the default triage model. Reports p50/p95/p99 per route, failures, and the server's RSS over
time (flat after warm-up, or it leaks).

    .venv/bin/python bench/load.py [--users 50] [--minutes 5] [--json]

Results: bench/results/load.md and load_rss.png."""

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from suggest import Server, memory_mib  # noqa: E402  (bench/suggest.py)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WARM_UP_SECONDS = 60
RSS_EVERY_SECONDS = 5


def newest_triage_model() -> Path:
    sys.path.insert(0, str(ROOT))
    from triage.model import serving_triage_model

    folder = serving_triage_model(ROOT / "models")
    if folder is None:
        raise SystemExit("no triage model in models/: run `madoguchi build` first")
    return folder


def seeded_state_dir() -> Path:
    sys.path.insert(0, str(ROOT))
    from common.sample_data import load_articles
    from common.settings import Settings
    from common.storage import create_database_engine
    from retrieval.knowledge_base import KnowledgeBase

    state_dir = Path(tempfile.mkdtemp(prefix="madoguchi-load-"))
    settings = Settings(state_dir=state_dir)
    engine = create_database_engine(settings.database_url)
    KnowledgeBase(engine).upsert_many(load_articles(settings.data_dir))
    engine.dispose()
    return state_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    arguments = parser.parse_args()
    state_dir = seeded_state_dir()
    server = Server(state_dir, {"MADOGUCHI_TRIAGE_MODEL": str(newest_triage_model())})
    rss: list[tuple[float, int]] = []
    try:
        server.wait_ready()
        started = time.perf_counter()
        done = threading.Event()

        def sample_rss() -> None:
            while not done.is_set():
                rss.append(
                    (time.perf_counter() - started, memory_mib(server.process.pid)["rss_mib"])
                )
                done.wait(RSS_EVERY_SECONDS)

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        prefix = state_dir / "locust"
        subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "locust"),
                "-f", str(ROOT / "bench" / "locustfile.py"),
                "--headless", "--only-summary",
                "-u", str(arguments.users), "-r", str(max(1, arguments.users // 10)),
                "-t", f"{int(arguments.minutes * 60)}s",
                "--host", f"http://127.0.0.1:{server.port}",
                "--csv", str(prefix),
            ],
            cwd=ROOT,
            check=False,
        )  # fmt: skip
        done.set()
        sampler.join()
        routes = read_stats(Path(f"{prefix}_stats.csv"))
    finally:
        server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    after_warm_up = [mib for seconds, mib in rss if seconds >= WARM_UP_SECONDS]
    growth = (
        (after_warm_up[-1] - after_warm_up[0]) / after_warm_up[0]
        if len(after_warm_up) > 1
        else None
    )
    result = {
        "users": arguments.users,
        "minutes": arguments.minutes,
        "routes": routes,
        "requests": sum(route["requests"] for route in routes.values()),
        "failures": sum(route["failures"] for route in routes.values()),
        "rss_mib": {
            "start": rss[0][1] if rss else None,
            "after_warm_up": after_warm_up[0] if after_warm_up else None,
            "end": rss[-1][1] if rss else None,
            "peak": max(mib for _, mib in rss) if rss else None,
            "growth_after_warm_up": round(growth, 4) if growth is not None else None,
        },
        "rss_samples": rss,
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
    }
    write_report(result)
    if arguments.json:
        print(json.dumps(result, ensure_ascii=False))


def read_stats(path: Path) -> dict[str, dict]:
    routes = {}
    with path.open(encoding="utf-8") as stats:
        for row in csv.DictReader(stats):
            if row["Name"] == "Aggregated":
                continue
            routes[row["Name"]] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "p50_ms": float(row["50%"]),
                "p95_ms": float(row["95%"]),
                "p99_ms": float(row["99%"]),
                "max_ms": float(row["Max Response Time"]),
                "requests_per_s": round(float(row["Requests/s"]), 2),
            }
    return routes


def write_report(result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    RESULTS.mkdir(parents=True, exist_ok=True)
    figure, axis = plt.subplots(figsize=(7, 3.2))
    axis.plot([s for s, _ in result["rss_samples"]], [m for _, m in result["rss_samples"]])
    axis.axvline(WARM_UP_SECONDS, linestyle="--", color="grey")
    axis.set_xlabel("seconds")
    axis.set_ylabel("server RSS (MiB)")
    axis.set_title(f"RSS under {result['users']} users (dashed: end of warm-up)")
    figure.tight_layout()
    figure.savefig(RESULTS / "load_rss.png", dpi=110)
    plt.close(figure)
    memory = result["rss_mib"]
    lines = [
        "# Load: classify, suggest and article writes, mixed",
        "",
        f"`bench/load.py --users {result['users']} --minutes {result['minutes']:g}`, "
        f"{result['measured']}, {result['machine']}. locust (headless, loopback) and the server "
        "share the machine's cores.",
        "",
        f"**{result['requests']} requests, {result['failures']} failed.** Server RSS: "
        f"{memory['start']} MiB at start, {memory['after_warm_up']} MiB after "
        f"{WARM_UP_SECONDS} s, {memory['end']} MiB at the end (growth after warm-up "
        f"{memory['growth_after_warm_up']}), peak {memory['peak']} MiB.",
        "",
        "| route | requests | failures | p50 ms | p95 ms | p99 ms | max ms | req/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, route in sorted(result["routes"].items()):
        lines.append(
            f"| `{name}` | {route['requests']} | {route['failures']} | {route['p50_ms']:g} | "
            f"{route['p95_ms']:g} | {route['p99_ms']:g} | {route['max_ms']:g} | "
            f"{route['requests_per_s']:g} |"
        )
    lines += ["", "![RSS over time](load_rss.png)"]
    (RESULTS / "load.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
