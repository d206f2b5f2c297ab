"""Priority from the urgency x impact matrix, the escalation chain between queues, and the checks
that refuse a matrix file with holes, unknown labels or loops."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from common.labels import LabelSet
from common.settings import get_settings
from triage.priority import (
    DEFAULT_MATRIX_FILE,
    PRIORITIES,
    PriorityMatrix,
    check_priority,
    priority_distance,
)

MATRIX = PriorityMatrix.from_file()
LABELS = LabelSet.from_file(get_settings().labels_file)


def write_matrix(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the default matrix file with `change` applied to its parsed document."""
    document = yaml.safe_load(DEFAULT_MATRIX_FILE.read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / "priority_matrix.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


# --- the default matrix, cell by cell ------------------------------------------------------------

# The table agreed for madoguchi (issue 7), copied by hand rather than read from the file.
DEFAULT_CELLS = [
    ("critical", "individual", "P2"),
    ("critical", "department", "P1"),
    ("critical", "organization", "P1"),
    ("high", "individual", "P3"),
    ("high", "department", "P2"),
    ("high", "organization", "P1"),
    ("medium", "individual", "P4"),
    ("medium", "department", "P3"),
    ("medium", "organization", "P2"),
    ("low", "individual", "P4"),
    ("low", "department", "P4"),
    ("low", "organization", "P3"),
]


@pytest.mark.parametrize(("urgency", "impact", "expected"), DEFAULT_CELLS)
def test_default_matrix_cell(urgency: str, impact: str, expected: str) -> None:
    assert MATRIX.priority(urgency, impact) == expected


def test_default_cells_cover_every_label_pair() -> None:
    pairs = {(urgency, impact) for urgency, impact, _ in DEFAULT_CELLS}
    assert pairs == {
        (urgency, impact)
        for urgency in LABELS.values("urgency")
        for impact in LABELS.values("impact")
    }


def test_a_wider_impact_never_lowers_priority() -> None:
    for urgency in LABELS.values("urgency"):
        ranks = [
            PRIORITIES.index(MATRIX.priority(urgency, impact)) for impact in LABELS.values("impact")
        ]
        assert ranks == sorted(ranks, reverse=True), urgency


def test_a_higher_urgency_never_lowers_priority() -> None:
    for impact in LABELS.values("impact"):
        # labels.yaml lists urgency from critical down to low, so ranks must not decrease.
        ranks = [
            PRIORITIES.index(MATRIX.priority(urgency, impact))
            for urgency in LABELS.values("urgency")
        ]
        assert ranks == sorted(ranks), impact


def test_outage_for_the_whole_company_is_p1_but_one_users_critical_problem_is_p2() -> None:
    assert MATRIX.priority("critical", "organization") == "P1"
    assert MATRIX.priority("critical", "individual") == "P2"


# --- bad values ----------------------------------------------------------------------------------


def test_unknown_urgency_is_named_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown urgency 'urgent'; use one of critical, high"):
        MATRIX.priority("urgent", "individual")


def test_unknown_impact_is_named_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown impact 'company'.*organization"):
        MATRIX.priority("high", "company")


def test_urgency_and_impact_are_not_interchangeable() -> None:
    with pytest.raises(ValueError, match="unknown urgency 'individual'"):
        MATRIX.priority("individual", "critical")


def test_labels_are_case_sensitive_api_words() -> None:
    with pytest.raises(ValueError, match="unknown urgency 'Critical'"):
        MATRIX.priority("Critical", "individual")


# --- priority distance ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("P1", "P1", 0),
        ("P1", "P2", 1),
        ("P1", "P3", 2),
        ("P3", "P1", 2),
        ("P4", "P1", 3),
        ("P2", "P3", 1),
    ],
)
def test_priority_distance_counts_levels_apart(a: str, b: str, distance: int) -> None:
    assert priority_distance(a, b) == distance


def test_priority_distance_refuses_unknown_priority() -> None:
    with pytest.raises(ValueError, match=r"unknown priority 'P5'; use one of P1, P2, P3, P4"):
        priority_distance("P1", "P5")


def test_check_priority_accepts_p1_to_p4_only() -> None:
    assert [check_priority(priority) for priority in PRIORITIES] == ["P1", "P2", "P3", "P4"]
    with pytest.raises(ValueError, match="unknown priority 'p1'"):
        check_priority("p1")


# --- escalation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("queue", "path"),
    [
        ("frontline", ["frontline", "technical", "engineering"]),
        ("technical", ["technical", "engineering"]),
        ("engineering", ["engineering"]),
        ("billing", ["billing"]),
        ("security", ["security"]),
    ],
)
def test_escalation_goes_l1_to_l2_to_l3_and_side_queues_stay_put(
    queue: str, path: list[str]
) -> None:
    assert MATRIX.escalation_path(queue) == path


def test_escalation_path_refuses_unknown_queue() -> None:
    with pytest.raises(ValueError, match=r"unknown queue 'sales'; use one of frontline"):
        MATRIX.escalation_path("sales")


# --- a custom matrix file ------------------------------------------------------------------------


def test_custom_matrix_file_changes_priority_and_fingerprint(tmp_path: Path) -> None:
    def everything_p4_but_company_outages(document: dict[str, Any]) -> None:
        for row in document["matrix"].values():
            for impact in row:
                row[impact] = "P4"
        document["matrix"]["critical"]["organization"] = "P1"

    custom = PriorityMatrix.from_file(write_matrix(tmp_path, everything_p4_but_company_outages))
    assert custom.priority("critical", "organization") == "P1"
    assert custom.priority("critical", "department") == "P4"
    assert custom.priority("high", "organization") == "P4"
    assert custom.fingerprint != MATRIX.fingerprint


def test_custom_escalation_lets_billing_escalate(tmp_path: Path) -> None:
    def billing_to_engineering(document: dict[str, Any]) -> None:
        document["escalation"]["billing"] = "engineering"

    custom = PriorityMatrix.from_file(write_matrix(tmp_path, billing_to_engineering))
    assert custom.escalation_path("billing") == ["billing", "engineering"]


def test_fingerprint_is_a_short_sha256_of_the_file_bytes(tmp_path: Path) -> None:
    copy = tmp_path / "copy.yaml"
    copy.write_bytes(DEFAULT_MATRIX_FILE.read_bytes())
    assert PriorityMatrix.from_file(copy).fingerprint == MATRIX.fingerprint
    assert len(MATRIX.fingerprint) == 12
    assert int(MATRIX.fingerprint, 16) >= 0


def test_matrix_is_checked_against_the_given_label_set() -> None:
    # A label file that gains a new urgency makes the packaged matrix incomplete.
    fields = LABELS.model_dump()["fields"]
    fields["urgency"]["values"]["blocker"] = {"display_name": "最優先"}
    wider_labels = LabelSet.model_validate({"version": 1, "fields": fields})
    with pytest.raises(ValueError, match=r"lacks a priority for blocker x individual"):
        PriorityMatrix.from_file(label_set=wider_labels)


# --- broken files --------------------------------------------------------------------------------


def drop_cell(document: dict[str, Any]) -> None:
    del document["matrix"]["high"]["organization"]


def drop_row(document: dict[str, Any]) -> None:
    del document["matrix"]["low"]


def p5_cell(document: dict[str, Any]) -> None:
    document["matrix"]["medium"]["department"] = "P5"


def unknown_urgency_row(document: dict[str, Any]) -> None:
    document["matrix"]["urgent"] = document["matrix"]["critical"]


def unknown_impact_column(document: dict[str, Any]) -> None:
    document["matrix"]["high"]["company"] = "P1"


def escalation_loop(document: dict[str, Any]) -> None:
    document["escalation"]["engineering"] = "frontline"


def escalation_to_unknown_queue(document: dict[str, Any]) -> None:
    document["escalation"]["technical"] = "devops"


def escalation_missing_queue(document: dict[str, Any]) -> None:
    del document["escalation"]["security"]


def no_escalation_section(document: dict[str, Any]) -> None:
    del document["escalation"]


@pytest.mark.parametrize(
    ("change", "advice"),
    [
        (drop_cell, r"lacks a priority for high x organization; add those cells"),
        (drop_row, r"lacks a priority for low x individual, low x department, low x organization"),
        (p5_cell, r"matrix.medium.department is 'P5'; use one of P1, P2, P3, P4"),
        (unknown_urgency_row, r"unknown urgency 'urgent' in `matrix`; rows must be the urgencies"),
        (unknown_impact_column, r"unknown impact 'company' in matrix.high; columns must be"),
        (escalation_loop, r"loops \(frontline -> technical -> engineering -> frontline\)"),
        (escalation_to_unknown_queue, r"unknown queue 'devops' in `escalation`"),
        (escalation_missing_queue, r"`escalation` lacks security; give every queue"),
        (no_escalation_section, r"needs a top-level mapping `escalation:`"),
    ],
)
def test_broken_matrix_file_says_what_to_fix(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], advice: str
) -> None:
    path = write_matrix(tmp_path, change)
    with pytest.raises(ValueError, match=advice) as raised:
        PriorityMatrix.from_file(path)
    assert str(path) in str(raised.value)


def test_matrix_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("matrix: [critical: {individual: P2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="invalid priority matrix file"):
        PriorityMatrix.from_file(path)


def test_empty_matrix_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="needs a top-level mapping `matrix:`"):
        PriorityMatrix.from_file(path)
