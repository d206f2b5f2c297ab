"""How well `common.pii` finds personal data: recall and precision per kind on a labelled set
(tests/data/pii_tickets.jsonl: `id, text, spans[{kind, start, end}]`).

A labelled span counts as found when at least 80 % of its characters are masked (by a span of
any kind: masked is masked); a found span counts as right when at least half of its characters
lie in labelled spans. The `same_kind` figures ask in addition that the kinds agree."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.pii import PII_KINDS, PiiSpan, find_pii

FOUND_COVERAGE = 0.8
RIGHT_OVERLAP = 0.5


@dataclass(frozen=True)
class LabelledText:
    id: str
    text: str
    spans: list[PiiSpan]


def read_labelled_pii(path: Path) -> list[LabelledText]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        text = row["text"]
        spans = []
        for span in row["spans"]:
            if span["kind"] not in PII_KINDS or not 0 <= span["start"] < span["end"] <= len(text):
                raise ValueError(f"{path}:{number}: bad span {span}")
            spans.append(
                PiiSpan(span["kind"], span["start"], span["end"], text[span["start"] : span["end"]])
            )
        rows.append(LabelledText(row["id"], text, spans))
    return rows


def _covered(span: PiiSpan, others: Sequence[PiiSpan], same_kind: bool) -> float:
    covered = set()
    for other in others:
        if same_kind and other.kind != span.kind:
            continue
        covered.update(range(max(span.start, other.start), min(span.end, other.end)))
    return len(covered) / (span.end - span.start)


def evaluate_pii(
    labelled: Sequence[LabelledText], found: Mapping[str, Sequence[PiiSpan]] | None = None
) -> dict[str, Any]:
    """Recall and precision per kind and overall. `found` maps a text id to the detector's spans
    (default: `find_pii` on each text)."""
    found = found or {row.id: find_pii(row.text) for row in labelled}
    counts = {
        kind: {
            "labelled": 0,
            "found": 0,
            "predicted": 0,
            "right": 0,
            "found_same": 0,
            "right_same": 0,
        }
        for kind in PII_KINDS
    }
    misses: list[dict[str, str]] = []
    false_alarms: list[dict[str, str]] = []
    for row in labelled:
        predicted = found[row.id]
        for span in row.spans:
            counted = counts[span.kind]
            counted["labelled"] += 1
            if _covered(span, predicted, same_kind=False) >= FOUND_COVERAGE:
                counted["found"] += 1
            else:
                misses.append({"id": row.id, "kind": span.kind, "text": span.text})
            counted["found_same"] += _covered(span, predicted, same_kind=True) >= FOUND_COVERAGE
        for span in predicted:
            counted = counts[span.kind]
            counted["predicted"] += 1
            if _covered(span, row.spans, same_kind=False) >= RIGHT_OVERLAP:
                counted["right"] += 1
            else:
                false_alarms.append({"id": row.id, "kind": span.kind, "text": span.text})
            counted["right_same"] += _covered(span, row.spans, same_kind=True) >= RIGHT_OVERLAP
    result: dict[str, Any] = {"texts": len(labelled), "kinds": {}}
    for kind, counted in counts.items():
        result["kinds"][kind] = {
            "labelled": counted["labelled"],
            "predicted": counted["predicted"],
            "recall": _ratio(counted["found"], counted["labelled"]),
            "precision": _ratio(counted["right"], counted["predicted"]),
            "same_kind": {
                "recall": _ratio(counted["found_same"], counted["labelled"]),
                "precision": _ratio(counted["right_same"], counted["predicted"]),
            },
        }
    totals = {key: sum(counted[key] for counted in counts.values()) for key in counts["phone"]}
    result["overall"] = {
        "labelled": totals["labelled"],
        "predicted": totals["predicted"],
        "recall": _ratio(totals["found"], totals["labelled"]),
        "precision": _ratio(totals["right"], totals["predicted"]),
    }
    result["misses"] = misses
    result["false_alarms"] = false_alarms
    return result


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
