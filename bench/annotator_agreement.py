"""How far the model is from a second reader: the sample `test` tickets labelled again, blind,
by a second annotator (data/annotations/test-second-annotator.jsonl: the label definitions and
40 training tickets as examples, no access to the splits), scored against the published labels
with the figures `madoguchi eval triage` uses, beside the model's and the baseline's.

    .venv/bin/python bench/annotator_agreement.py [--model PATH] [--json]

The figures bound what a text classifier can be asked for: where two readers agree on 0.9 of
the types, 0.8 is the model, not the labels. Results: bench/results/triage/second_annotator.md."""

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.labels import LabelSet  # noqa: E402
from common.settings import get_settings  # noqa: E402
from training.triage_evaluation import (  # noqa: E402
    critical_metrics,
    label_metrics,
    priority_metrics,
    read_ticket_rows,
)
from triage.classifier import FIELDS  # noqa: E402
from triage.priority import Prioritiser  # noqa: E402

ANNOTATIONS = ROOT / "data" / "annotations" / "test-second-annotator.jsonl"
TICKETS = ROOT / "data" / "tickets" / "test.jsonl"
RESULTS = ROOT / "bench" / "results" / "triage" / "second_annotator.md"
# The unseen-styles batch (data/README.md): appended to test only.
UNSEEN_STYLES = ("T-01507", "T-01596")


def agreement(tickets: list[dict], labels: list[dict]) -> dict:
    result: dict = {"n": len(tickets)}
    for name in FIELDS:
        truth = [row[name] for row in tickets]
        given = [row[name] for row in labels]
        result[name] = label_metrics(truth, given)
        if name == "urgency":
            result[name] |= critical_metrics(truth, given)
    result["priority"] = priority_metrics(
        tickets,
        {name: [row[name] for row in labels] for name in ("urgency", "impact")},
        Prioritiser(LabelSet.from_file(get_settings().labels_file)),
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model-figures",
        type=Path,
        help="a JSON file from `madoguchi eval triage --json` on test, to show beside",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    arguments = parser.parse_args()
    tickets = read_ticket_rows(TICKETS)
    annotated = {
        row["id"]: row
        for row in map(json.loads, ANNOTATIONS.read_text(encoding="utf-8").splitlines())
    }
    missing = [row["id"] for row in tickets if row["id"] not in annotated]
    if missing:
        raise SystemExit(f"{ANNOTATIONS} lacks {len(missing)} test tickets, e.g. {missing[:3]}")
    labels = [annotated[row["id"]] for row in tickets]
    unseen = [UNSEEN_STYLES[0] <= row["id"] <= UNSEEN_STYLES[1] for row in tickets]
    result = {
        "all": agreement(tickets, labels),
        "regular": agreement(
            [t for t, u in zip(tickets, unseen, strict=True) if not u],
            [a for a, u in zip(labels, unseen, strict=True) if not u],
        ),
        "unseen_styles": agreement(
            [t for t, u in zip(tickets, unseen, strict=True) if u],
            [a for a, u in zip(labels, unseen, strict=True) if u],
        ),
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    model = json.loads(arguments.model_figures.read_text()) if arguments.model_figures else None
    write_markdown(result, model)
    if arguments.json:
        print(json.dumps(result, ensure_ascii=False))


def write_markdown(result: dict, model: dict | None) -> None:
    columns = ["second annotator", "(regular)", "(unseen styles)"]
    if model:
        columns += ["model", "baseline"]
    lines = [
        "# Second annotator vs the published test labels",
        "",
        f"`bench/annotator_agreement.py`, {result['measured']}. {result['all']['n']} test "
        f"tickets ({result['regular']['n']} regular, {result['unseen_styles']['n']} in the "
        "unseen-styles batch). The second annotator read the label definitions and 40 training "
        "tickets, then labelled each test ticket blind.",
        "",
        "| figure | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    rows = [(f"{name} macro-F1", (name, "macro_f1")) for name in FIELDS]
    rows += [
        ("critical recall", ("urgency", "critical_recall")),
        ("critical precision", ("urgency", "critical_precision")),
        ("priority exact", ("priority", "exact")),
        ("priority within ±1", ("priority", "within_one")),
    ]
    for title, (group, key) in rows:
        cells = [result[part][group].get(key) for part in ("all", "regular", "unseen_styles")]
        if model:
            cells += [model.get(group, {}).get(key), model["baseline"].get(group, {}).get(key)]
        lines.append(
            f"| {title} | " + " | ".join("–" if c is None else str(c) for c in cells) + " |"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
