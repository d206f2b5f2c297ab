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
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "fuzz.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1000, help="examples per operation")
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    arguments = parser.parse_args()
    folder = ROOT / "var" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    junit, calls = folder / "fuzz-junit.xml", folder / "fuzz-calls.jsonl"
    calls.unlink(missing_ok=True)
    environment = os.environ | {
        "MADOGUCHI_FUZZ_EXAMPLES": str(arguments.examples),
        "MADOGUCHI_FUZZ_RANDOM": "1",
        "MADOGUCHI_FUZZ_REPORT": str(calls),
    }
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests/test_fuzz.py", f"--junitxml={junit}"],
        cwd=ROOT,
        env=environment,
        check=False,
    )
    seconds = time.perf_counter() - started
    operations: dict[str, Counter] = {}
    for line in calls.read_text(encoding="utf-8").splitlines():
        call = json.loads(line)
        operations.setdefault(call["operation"], Counter())[str(call["status"])] += 1
    failures = [
        (case.find("failure") if case.find("failure") is not None else case.find("error"))
        for case in ElementTree.parse(junit).getroot().iter("testcase")
    ]
    messages = [failure.get("message", "")[:400] for failure in failures if failure is not None]
    result = {
        "examples_per_operation": arguments.examples,
        "operations": len(operations),
        "requests": sum(sum(statuses.values()) for statuses in operations.values()),
        "server_errors": sum(
            count
            for statuses in operations.values()
            for status, count in statuses.items()
            if status.startswith("5")
        ),
        "failed_operations": len(messages),
        "failures": messages,
        "exit_code": completed.returncode,
        "seconds": round(seconds, 1),
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "statuses": {name: dict(sorted(statuses.items())) for name, statuses in operations.items()},
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
        f"{result['machine']}, {result['seconds']} s: **{result['requests']} requests over "
        f"{result['operations']} operations, {result['server_errors']} server errors, "
        f"{result['failed_operations']} operations failing a check.** Checks: no server error; "
        "status code, content type, body and headers as documented; schema-violating requests "
        "refused (all of schemathesis's checks but positive_data_acceptance, see "
        "tests/test_fuzz.py). Examples are drawn anew each run.",
        "",
    ]
    for message in result["failures"]:
        lines.append(f"- FAILED: {message}")
    lines += ["", "| operation | requests | statuses |", "|---|---|---|"]
    for name, statuses in sorted(result["statuses"].items()):
        shown = ", ".join(f"{status}: {count}" for status, count in statuses.items())
        lines.append(f"| `{name}` | {sum(statuses.values())} | {shown} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
