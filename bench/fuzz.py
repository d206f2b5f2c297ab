"""The long schemathesis run: tests/test_fuzz.py with many examples per operation, drawn anew
each run (the short run in `make test` replays 8 fixed ones).

    .venv/bin/python bench/fuzz.py [--examples 1000] [--json]

Every operation of the OpenAPI schema gets generated valid and invalid requests against the
real app (models loaded, sample articles); a server error or a schema violation fails it.
Results: bench/results/fuzz.md."""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "fuzz.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1000, help="examples per operation")
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    arguments = parser.parse_args()
    report = ROOT / "var" / "bench" / "fuzz-junit.xml"
    report.parent.mkdir(parents=True, exist_ok=True)
    environment = os.environ | {
        "MADOGUCHI_FUZZ_EXAMPLES": str(arguments.examples),
        "MADOGUCHI_FUZZ_RANDOM": "1",
    }
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests/test_fuzz.py", f"--junitxml={report}"],
        cwd=ROOT,
        env=environment,
        check=False,
    )
    seconds = time.perf_counter() - started
    operations = []
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        operations.append(
            {
                "operation": case.get("name", "").split("[", 1)[-1].rstrip("]"),
                "passed": failure is None,
                "message": None if failure is None else (failure.get("message") or "")[:300],
            }
        )
    result = {
        "examples_per_operation": arguments.examples,
        "operations": len(operations),
        "failed": sum(not operation["passed"] for operation in operations),
        "exit_code": completed.returncode,
        "seconds": round(seconds, 1),
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "results": operations,
    }
    write_markdown(result)
    if arguments.json:
        print(json.dumps(result, ensure_ascii=False))
    sys.exit(completed.returncode)


def write_markdown(result: dict) -> None:
    lines = [
        "# Fuzzing the API with schemathesis (long run)",
        "",
        f"`bench/fuzz.py --examples {result['examples_per_operation']}`, {result['measured']}, "
        f"{result['machine']}: {result['operations']} operations, {result['failed']} failed, "
        f"{result['seconds']} s. Checks: no server error, status code / content type / body / "
        "headers as documented, schema-violating requests refused (all of schemathesis's but "
        "positive_data_acceptance; see tests/test_fuzz.py).",
        "",
        "| operation | result |",
        "|---|---|",
    ]
    for operation in result["results"]:
        verdict = "passed" if operation["passed"] else f"FAILED: {operation['message']}"
        lines.append(f"| `{operation['operation']}` | {verdict} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
