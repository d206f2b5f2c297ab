"""What `/metrics` tells Prometheus: request latency per route, the models serving, how often
triage fields are applied without a person, how often suggestions hand over, and how many SLA
deadlines of recently classified tickets fall due soon.

Each app has its own registry, so several apps in one process (tests, workers restarted in
place) never clash. Routes are labelled by their template (/v1/articles/{article_id}), never by
the raw path, so the number of series stays bounded."""

import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from common.sample_data import JST_OFFSET
from triage.service import TriageResult

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DUE_SOON = timedelta(hours=1)
JST = timezone(JST_OFFSET)
# (classified_at, priority, first_response_due, resolution_due) of recent classifications
Deadline = tuple[datetime, str, datetime | None, datetime | None]


class ServiceMetrics:
    def __init__(
        self,
        components: Callable[[], Iterable[tuple[str, str]]] = lambda: (),
        open_days: int = 14,
        remembered: int = 100_000,
    ) -> None:
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "madoguchi_http_request_duration_seconds",
            "Time to answer a request, by method, route template and status.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.field_decisions = Counter(
            "madoguchi_triage_field_decisions",
            "Triage fields returned, by field and whether they were confident enough to apply "
            "without a person (auto_apply).",
            ["field", "auto_apply"],
            registry=self.registry,
        )
        self.suggestions = Counter(
            "madoguchi_suggestions",
            "Answer suggestions, by decision: answer, or handoff to a person.",
            ["decision"],
            registry=self.registry,
        )
        self.open_days = open_days
        self._deadlines: deque[Deadline] = deque(maxlen=remembered)
        self._lock = threading.Lock()
        self.registry.register(_SnapshotCollector(self, components))

    # --- recording --------------------------------------------------------------------------

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.request_seconds.labels(method, route, str(status)).observe(seconds)

    def record_classifications(self, results: Sequence[TriageResult]) -> None:
        classified_at = datetime.now(JST)
        for result in results:
            for name, prediction in result.fields.items():
                self.field_decisions.labels(name, str(prediction.auto_apply).lower()).inc()
            with self._lock:
                self._deadlines.append(
                    (
                        classified_at,
                        result.priority or "none",
                        result.sla.first_response_due,
                        result.sla.resolution_due,
                    )
                )

    def record_suggestion(self, decision: str) -> None:
        self.suggestions.labels(decision).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # --- derived at scrape time -------------------------------------------------------------

    def deadline_counts(self, now: datetime | None = None) -> dict[tuple[str, str, str], int]:
        """(clock, state, priority) -> tickets, for tickets classified in the last `open_days`:
        state `due_soon` (deadline within the next hour) or `passed` (deadline gone by; we are
        not told when a ticket is answered, so this counts deadlines, not breaches)."""
        now = now or datetime.now(JST)
        since = now - timedelta(days=self.open_days)
        counts: dict[tuple[str, str, str], int] = {}
        with self._lock:
            deadlines = list(self._deadlines)
        for created_at, priority, first_response_due, resolution_due in deadlines:
            if created_at < since:
                continue
            for clock, due in (
                ("first_response", first_response_due),
                ("resolution", resolution_due),
            ):
                if due is None:
                    continue
                state = "passed" if due <= now else "due_soon" if due - now <= DUE_SOON else None
                if state:
                    key = (clock, state, priority)
                    counts[key] = counts.get(key, 0) + 1
        return counts

    def shares(self) -> tuple[dict[str, float], float | None]:
        """Share of each triage field applied without review, and share of suggestions handed
        over, since the process started."""
        applied: dict[str, list[float]] = {}
        for metric in self.field_decisions.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    field, auto = sample.labels["field"], sample.labels["auto_apply"]
                    applied.setdefault(field, [0.0, 0.0])[auto == "true"] += sample.value
        field_shares = {field: yes / (yes + no) for field, (no, yes) in applied.items() if yes + no}
        decisions = {
            sample.labels["decision"]: sample.value
            for metric in self.suggestions.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        }
        total = sum(decisions.values())
        handoff = decisions.get("handoff", 0.0) / total if total else None
        return field_shares, handoff


class _SnapshotCollector(Collector):
    """Gauges computed when Prometheus scrapes: model versions, shares, deadlines due."""

    def __init__(
        self, metrics: ServiceMetrics, components: Callable[[], Iterable[tuple[str, str]]]
    ) -> None:
        self.metrics = metrics
        self.components = components

    def collect(self) -> Iterable[GaugeMetricFamily]:
        models = GaugeMetricFamily(
            "madoguchi_component_info",
            "The model, index and label versions this process serves (value 1).",
            labels=["component", "version"],
        )
        for name, version in self.components():
            models.add_metric([name, version], 1)
        yield models
        field_shares, handoff = self.metrics.shares()
        auto_apply = GaugeMetricFamily(
            "madoguchi_triage_auto_apply_share",
            "Share of classified tickets whose field was applied without review, since start.",
            labels=["field"],
        )
        for field, share in sorted(field_shares.items()):
            auto_apply.add_metric([field], share)
        yield auto_apply
        handoff_share = GaugeMetricFamily(
            "madoguchi_suggest_handoff_share",
            "Share of answer suggestions handed over to a person, since start.",
        )
        if handoff is not None:
            handoff_share.add_metric([], handoff)
        yield handoff_share
        deadlines = GaugeMetricFamily(
            "madoguchi_sla_deadlines",
            "Tickets classified in the last days whose SLA deadline is due within the hour "
            "(due_soon) or has passed (passed), by clock and priority.",
            labels=["clock", "state", "priority"],
        )
        for (clock, state, priority), count in sorted(self.metrics.deadline_counts().items()):
            deadlines.add_metric([clock, state, priority], count)
        yield deadlines
