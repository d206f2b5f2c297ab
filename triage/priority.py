"""Ticket priority (P1-P4) from the urgency x impact matrix, and each queue's escalation path,
both read from one YAML file that is checked against the label lists on load."""

import hashlib
from pathlib import Path
from typing import Any

import yaml

from common.labels import LabelSet
from common.settings import get_settings

PRIORITIES = ("P1", "P2", "P3", "P4")
DEFAULT_MATRIX_FILE = Path(__file__).resolve().parent / "config" / "priority_matrix.yaml"


def check_priority(priority: str) -> str:
    """Return `priority` if it is one of P1-P4, else raise a ValueError that lists them."""
    if priority not in PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}; use one of {', '.join(PRIORITIES)}")
    return priority


def priority_distance(a: str, b: str) -> int:
    """How many levels apart two priorities are (P1 vs P3 is 2); scoring counts 1 as close."""
    return abs(PRIORITIES.index(check_priority(a)) - PRIORITIES.index(check_priority(b)))


class PriorityMatrix:
    """A validated urgency x impact -> priority table plus the queue escalation chain."""

    def __init__(
        self,
        cells: dict[tuple[str, str], str],
        next_queue: dict[str, str | None],
        fingerprint: str,
    ) -> None:
        self._cells = cells
        self._next_queue = next_queue
        self._fingerprint = fingerprint
        self._urgencies = list(dict.fromkeys(urgency for urgency, _ in cells))
        self._impacts = list(dict.fromkeys(impact for _, impact in cells))

    @classmethod
    def from_file(
        cls, path: Path | None = None, *, label_set: LabelSet | None = None
    ) -> "PriorityMatrix":
        """Load and check a matrix file; None loads the packaged default. The valid urgency,
        impact and queue values come from `label_set`, by default the configured label file."""
        path = path or DEFAULT_MATRIX_FILE
        label_set = label_set or LabelSet.from_file(get_settings().labels_file)
        raw = path.read_bytes()
        try:
            document = yaml.safe_load(raw)
            cells = _read_matrix(document, label_set)
            next_queue = _read_escalation(document, label_set)
        except (ValueError, yaml.YAMLError) as error:
            raise ValueError(f"{path}: invalid priority matrix file: {error}") from error
        return cls(cells, next_queue, hashlib.sha256(raw).hexdigest()[:12])

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def priority(self, urgency: str, impact: str) -> str:
        if urgency not in self._urgencies:
            raise ValueError(
                f"unknown urgency {urgency!r}; use one of {', '.join(self._urgencies)}"
            )
        if impact not in self._impacts:
            raise ValueError(f"unknown impact {impact!r}; use one of {', '.join(self._impacts)}")
        return self._cells[urgency, impact]

    def escalation_path(self, queue: str) -> list[str]:
        """The queue itself followed by every queue it escalates to, in order."""
        if queue not in self._next_queue:
            raise ValueError(f"unknown queue {queue!r}; use one of {', '.join(self._next_queue)}")
        path = [queue]
        while (next_queue := self._next_queue[path[-1]]) is not None:
            path.append(next_queue)
        return path


def _section(document: Any, name: str) -> dict[str, Any]:
    if not isinstance(document, dict) or not isinstance(document.get(name), dict):
        raise ValueError(f"the file needs a top-level mapping `{name}:`")
    return document[name]


def _read_matrix(document: Any, label_set: LabelSet) -> dict[tuple[str, str], str]:
    matrix = _section(document, "matrix")
    urgencies, impacts = label_set.values("urgency"), label_set.values("impact")
    unknown_urgencies = [urgency for urgency in matrix if urgency not in urgencies]
    if unknown_urgencies:
        raise ValueError(
            f"unknown urgency {', '.join(map(repr, unknown_urgencies))} in `matrix`; "
            f"rows must be the urgencies {', '.join(urgencies)}"
        )
    cells: dict[tuple[str, str], str] = {}
    missing: list[str] = []
    for urgency in urgencies:
        row = matrix.get(urgency) or {}
        if not isinstance(row, dict):
            raise ValueError(f"matrix.{urgency} must map each impact to a priority")
        unknown_impacts = [impact for impact in row if impact not in impacts]
        if unknown_impacts:
            raise ValueError(
                f"unknown impact {', '.join(map(repr, unknown_impacts))} in matrix.{urgency}; "
                f"columns must be the impacts {', '.join(impacts)}"
            )
        for impact in impacts:
            if impact not in row:
                missing.append(f"{urgency} x {impact}")
            elif row[impact] not in PRIORITIES:
                raise ValueError(
                    f"matrix.{urgency}.{impact} is {row[impact]!r}; "
                    f"use one of {', '.join(PRIORITIES)}"
                )
            else:
                cells[urgency, impact] = row[impact]
    if missing:
        raise ValueError(f"`matrix` lacks a priority for {', '.join(missing)}; add those cells")
    return cells


def _read_escalation(document: Any, label_set: LabelSet) -> dict[str, str | None]:
    escalation = _section(document, "escalation")
    queues = label_set.values("queue")
    unknown = [name for name in [*escalation, *escalation.values()] if name and name not in queues]
    if unknown:
        raise ValueError(
            f"unknown queue {', '.join(map(repr, unknown))} in `escalation`; "
            f"use the queues {', '.join(queues)}"
        )
    missing = [queue for queue in queues if queue not in escalation]
    if missing:
        raise ValueError(
            f"`escalation` lacks {', '.join(missing)}; give every queue its next queue or null"
        )
    for queue in queues:
        seen = [queue]
        while (next_queue := escalation[seen[-1]]) is not None:
            if next_queue in seen:
                loop = " -> ".join([*seen, next_queue])
                raise ValueError(f"`escalation` loops ({loop}); end the chain with null")
            seen.append(next_queue)
    return {queue: escalation[queue] for queue in queues}


class Prioritiser:
    """How a ticket's priority follows from its predicted fields, by the label file's
    taxonomy: the urgency × impact matrix (the default: P1-P4, each its own SLA row), a
    predicted field that is the priority (its values most urgent first, each mapped to an SLA
    row or to none), or nothing (no priority, no SLA). Escalation follows the matrix file's
    chain for the default queues; another taxonomy's queue is its own whole path."""

    def __init__(self, label_set: LabelSet, matrix: PriorityMatrix | None = None) -> None:
        self.mode = label_set.priority_mode
        self.matrix = matrix
        if self.mode == "matrix" and matrix is None:
            self.matrix = PriorityMatrix.from_file(None, label_set=label_set)
        self.field = label_set.priority.field if label_set.priority else None
        self.levels: list[str] = (
            list(PRIORITIES)
            if self.mode == "matrix"
            else label_set.values(self.field)
            if self.field
            else []
        )
        self.sla_levels: dict[str, str] = (
            {level: level for level in PRIORITIES}
            if self.mode == "matrix"
            else dict(label_set.priority.sla_levels)
            if label_set.priority
            else {}
        )
        self.has_queue_chain = self.matrix is not None and "queue" in label_set.fields

    @property
    def inputs(self) -> tuple[str, ...]:
        """The fields the priority is read from."""
        if self.mode == "matrix":
            return ("urgency", "impact")
        return (self.field,) if self.field else ()

    @property
    def fingerprint(self) -> str:
        if self.mode == "matrix" and self.matrix is not None:
            return f"matrix {self.matrix.fingerprint}"
        return f"field {self.field}" if self.field else "none"

    def priority(self, values: dict[str, str]) -> str | None:
        if self.mode == "matrix" and self.matrix is not None:
            return self.matrix.priority(values["urgency"], values["impact"])
        if self.field:
            return values[self.field]
        return None

    def sla_level(self, priority: str | None) -> str | None:
        """The SLA policy row (P1-P4) a priority's clocks run on; None: no SLA."""
        return self.sla_levels.get(priority) if priority else None

    def distance(self, first: str, second: str) -> int:
        """How many levels apart two priorities are; scoring counts 1 as close."""
        return abs(self.levels.index(first) - self.levels.index(second))

    def explain(self, values: dict[str, str], priority: str | None) -> str:
        if self.mode == "matrix":
            return (
                f"urgency {values['urgency']} × impact {values['impact']} → {priority} "
                "(priority matrix)"
            )
        if self.field:
            level = self.sla_level(priority)
            return f"{self.field} {priority} (predicted)" + (
                f"; SLA as {level}" if level else "; no SLA level configured for it"
            )
        return "the label file defines no priority"

    def escalation_path(self, queue: str | None) -> list[str]:
        if queue is None:
            return []
        if self.has_queue_chain and self.matrix is not None:
            return self.matrix.escalation_path(queue)
        return [queue]
