"""SLA deadlines on pinned dates: weekends, Japanese holidays and 振替休日, the year-end closure,
out-of-hours arrivals, every plan, and properties that hold for any ticket in 2025-2028.

Expected times are worked out by hand from the calendar (weekdays 09:00-18:00 JST) and the
targets in triage/config/sla_policies.yaml; each test name says why the answer is what it is."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.priority import PRIORITIES
from triage.sla import (
    CLOCK_24X7,
    CLOCK_BUSINESS_HOURS,
    DEFAULT_POLICIES_FILE,
    JST,
    SlaDeadlines,
    SlaPolicies,
    UnknownPlanError,
)

POLICIES = SlaPolicies.from_file()
CALENDAR = POLICIES.calendar


def jst(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JST)


def due(plan: str, priority: str, created_at: datetime) -> SlaDeadlines:
    return POLICIES.deadlines(plan, priority, created_at)


def write_policies(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the default policy file with `change` applied to its parsed document."""
    document = yaml.safe_load(DEFAULT_POLICIES_FILE.read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / "sla_policies.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


# --- the calendar itself -------------------------------------------------------------------------


def test_desk_opens_at_nine_and_is_closed_from_eighteen_sharp() -> None:
    assert CALENDAR.is_open(jst(2026, 6, 9, 9, 0))  # a Tuesday
    assert CALENDAR.is_open(jst(2026, 6, 9, 17, 59))
    assert not CALENDAR.is_open(jst(2026, 6, 9, 18, 0))
    assert not CALENDAR.is_open(jst(2026, 6, 9, 8, 59))


def test_weekend_is_closed_all_day() -> None:
    assert not CALENDAR.is_open(jst(2026, 6, 13, 10))  # Saturday
    assert not CALENDAR.is_open(jst(2026, 6, 14, 10))  # Sunday


@pytest.mark.parametrize(
    ("holiday", "why"),
    [
        (jst(2026, 4, 29, 10), "昭和の日"),
        (jst(2026, 5, 4, 10), "みどりの日"),
        (jst(2026, 5, 5, 10), "こどもの日"),
        (jst(2026, 5, 6, 10), "振替休日 for 憲法記念日 on Sunday 5/3"),
        (jst(2025, 11, 24, 10), "振替休日 for 勤労感謝の日 on Sunday 11/23"),
        (jst(2027, 3, 22, 10), "振替休日 for 春分の日 on Sunday 3/21"),
        (jst(2026, 9, 22, 10), "国民の休日 between 敬老の日 and 秋分の日"),
    ],
)
def test_japanese_public_holidays_are_closed(holiday: datetime, why: str) -> None:
    assert holiday.weekday() < 5, "pick weekdays, so only the holiday rule can close the desk"
    assert not CALENDAR.is_open(holiday), why


def test_the_thursday_after_golden_week_2026_is_open() -> None:
    assert CALENDAR.is_open(jst(2026, 5, 7, 10))
    assert CALENDAR.is_open(jst(2026, 4, 30, 10))  # the working day inside Golden Week


@pytest.mark.parametrize(
    "closed_weekday",
    [jst(2025, 12, 29, 10), jst(2025, 12, 30, 10), jst(2026, 12, 31, 10), jst(2027, 1, 1, 10)],
)
def test_year_end_closure_closes_weekdays_from_12_29_to_01_03(closed_weekday: datetime) -> None:
    assert closed_weekday.weekday() < 5
    assert not CALENDAR.is_open(closed_weekday)


def test_desk_reopens_monday_2027_01_04_because_the_closure_ends_on_01_03() -> None:
    assert jst(2027, 1, 4, 9).weekday() == 0
    assert CALENDAR.is_open(jst(2027, 1, 4, 9))
    assert CALENDAR.next_opening(jst(2026, 12, 28, 18)) == jst(2027, 1, 4, 9)


def test_tuesday_10_00_plus_one_business_day_is_wednesday_10_00() -> None:
    assert CALENDAR.add_business_days(jst(2026, 6, 9, 10), 1) == jst(2026, 6, 10, 10)
    assert CALENDAR.hours_per_day == 9


def test_zero_business_hours_from_a_closed_moment_is_the_next_opening() -> None:
    assert CALENDAR.add_business_hours(jst(2026, 6, 13, 12), 0) == jst(2026, 6, 15, 9)


def test_negative_business_hours_are_refused() -> None:
    with pytest.raises(ValueError, match="hours must be a finite number >= 0"):
        CALENDAR.add_business_hours(jst(2026, 6, 9, 10), -1)


def test_calendar_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="must be timezone-aware"):
        CALENDAR.is_open(datetime(2026, 6, 9, 10))


# --- standard plan across weekends, holidays and the year-end closure ---------------------------


def test_friday_17_00_plus_4_business_hours_is_monday_12_00() -> None:
    # 1 h on Friday 17-18, then 3 h from Monday 09:00.
    deadlines = due("standard", "P2", jst(2026, 6, 5, 17))
    assert deadlines.first_response_due == jst(2026, 6, 8, 12)
    assert deadlines.first_response_clock == CLOCK_BUSINESS_HOURS


def test_showa_day_wednesday_is_skipped_so_tuesday_17_00_plus_4_bh_is_thursday_12_00() -> None:
    assert due("standard", "P2", jst(2026, 4, 28, 17)).first_response_due == jst(2026, 4, 30, 12)


def test_golden_week_2026_friday_17_00_plus_4_bh_is_thursday_5_7_at_12_00() -> None:
    # 1 h on Fri 5/1; Sat 5/2, Sun 5/3, 5/4, 5/5 and the 振替休日 5/6 are closed; 3 h on Thu 5/7.
    assert due("standard", "P2", jst(2026, 5, 1, 17)).first_response_due == jst(2026, 5, 7, 12)


def test_furikae_kyujitsu_2025_11_24_pushes_friday_17_00_plus_4_bh_to_tuesday_12_00() -> None:
    assert due("standard", "P2", jst(2025, 11, 21, 17)).first_response_due == jst(2025, 11, 25, 12)


def test_silver_week_2026_pushes_friday_17_00_plus_4_bh_to_thursday_9_24() -> None:
    # Mon 9/21 敬老の日, Tue 9/22 国民の休日, Wed 9/23 秋分の日.
    assert due("standard", "P2", jst(2026, 9, 18, 17)).first_response_due == jst(2026, 9, 24, 12)


def test_year_end_12_28_17_30_plus_4_bh_is_2027_01_04_at_12_30() -> None:
    # 30 min on Mon 12/28, closed 12/29-1/3 (and the weekend), then 3.5 h on Mon 1/4.
    assert due("standard", "P2", jst(2026, 12, 28, 17, 30)).first_response_due == jst(
        2027, 1, 4, 12, 30
    )


def test_year_end_resolution_of_one_business_day_from_12_28_17_30_is_2027_01_04_17_30() -> None:
    assert due("standard", "P2", jst(2026, 12, 28, 17, 30)).resolution_due == jst(
        2027, 1, 4, 17, 30
    )


def test_ticket_at_20_00_starts_its_clock_at_09_00_next_morning() -> None:
    deadlines = due("standard", "P2", jst(2026, 6, 9, 20))
    assert deadlines.first_response_due == jst(2026, 6, 10, 13)  # 09:00 + 4 h
    assert deadlines.resolution_due == jst(2026, 6, 10, 18)  # 09:00 + 9 h, a full day


def test_ticket_at_09_00_sharp_counts_from_09_00() -> None:
    assert due("standard", "P2", jst(2026, 6, 9, 9)).first_response_due == jst(2026, 6, 9, 13)


def test_deadline_landing_exactly_at_closing_is_reported_as_18_00_that_day() -> None:
    # 09:00 + one business day (9 h) ends at 18:00 the same day, not 09:00 the next.
    assert due("standard", "P2", jst(2026, 6, 9, 9)).resolution_due == jst(2026, 6, 9, 18)
    # 10:00 + 8 h also ends at closing.
    assert due("standard", "P3", jst(2026, 6, 9, 10)).first_response_due == jst(2026, 6, 9, 18)


def test_ticket_at_18_00_sharp_arrives_after_closing_and_counts_from_09_00_next_day() -> None:
    assert due("standard", "P2", jst(2026, 6, 9, 18)).first_response_due == jst(2026, 6, 10, 13)


def test_created_at_in_utc_is_read_as_the_same_instant_and_answered_in_jst() -> None:
    # 2026-06-05T08:00Z is Friday 17:00 JST, so the answer is Monday 12:00 JST.
    deadlines = due("standard", "P2", datetime(2026, 6, 5, 8, 0, tzinfo=UTC))
    assert deadlines.first_response_due == jst(2026, 6, 8, 12)
    assert deadlines.first_response_due.utcoffset() == timedelta(hours=9)


def test_utc_evening_is_already_the_next_jst_morning() -> None:
    # 2026-06-08T23:30Z is Tuesday 08:30 JST: before opening, so the clock starts at 09:00.
    deadlines = due("standard", "P2", datetime(2026, 6, 8, 23, 30, tzinfo=UTC))
    assert deadlines.first_response_due == jst(2026, 6, 9, 13)


def test_naive_created_at_is_refused_with_an_example() -> None:
    with pytest.raises(ValueError, match=r"created_at must be timezone-aware, e\.g\. 2026-"):
        due("standard", "P2", datetime(2026, 6, 9, 10))


# --- every plan on a plain Tuesday 10:00 (2026-06-09) --------------------------------------------

TUESDAY_10 = jst(2026, 6, 9, 10)

# (plan, priority, first response due, resolution due), by hand from sla_policies.yaml.
PLAIN_TUESDAY_CASES = [
    ("standard", "P1", jst(2026, 6, 9, 11), jst(2026, 6, 9, 14)),  # 1 h, 4 h clock
    ("standard", "P2", jst(2026, 6, 9, 14), jst(2026, 6, 10, 10)),  # 4 bh, 1 bd
    ("standard", "P3", jst(2026, 6, 9, 18), jst(2026, 6, 12, 10)),  # 8 bh, 3 bd
    ("standard", "P4", jst(2026, 6, 11, 16), jst(2026, 6, 16, 10)),  # 24 bh = 8+9+7, 5 bd
    ("enterprise", "P1", jst(2026, 6, 9, 10, 15), jst(2026, 6, 9, 14)),  # 15 min, 4 h clock
    ("enterprise", "P2", jst(2026, 6, 9, 11), jst(2026, 6, 9, 18)),  # 1 bh, 8 h clock
    ("enterprise", "P3", jst(2026, 6, 9, 14), jst(2026, 6, 10, 10)),  # 4 bh, 1 bd
    ("enterprise", "P4", jst(2026, 6, 10, 10), jst(2026, 6, 12, 10)),  # 1 bd, 3 bd
    ("premium", "P1", jst(2026, 6, 9, 11), None),  # 1 h clock, no resolution target
    ("premium", "P2", jst(2026, 6, 9, 14), None),
    ("premium", "P3", jst(2026, 6, 10, 10), None),
    ("premium", "P4", jst(2026, 6, 11, 10), None),
    ("free", "P1", None, None),
    ("free", "P4", None, None),
]


@pytest.mark.parametrize(("plan", "priority", "first_response", "resolution"), PLAIN_TUESDAY_CASES)
def test_plan_targets_on_a_plain_tuesday_morning(
    plan: str, priority: str, first_response: datetime | None, resolution: datetime | None
) -> None:
    deadlines = due(plan, priority, TUESDAY_10)
    assert (deadlines.plan, deadlines.priority) == (plan, priority)
    assert deadlines.first_response_due == first_response
    assert deadlines.resolution_due == resolution


def test_free_plan_has_no_sla_and_suggests_self_service() -> None:
    for priority in PRIORITIES:
        deadlines = due("free", priority, TUESDAY_10)
        assert deadlines.first_response_due is None and deadlines.resolution_due is None
        assert deadlines.first_response_clock is None and deadlines.resolution_clock is None
        assert "self-service" in (deadlines.note or "")


def test_premium_runs_24x7_so_a_saturday_22_00_p4_is_due_monday_22_00() -> None:
    deadlines = due("premium", "P4", jst(2026, 6, 13, 22))
    assert deadlines.first_response_due == jst(2026, 6, 15, 22)  # 48 clock hours
    assert deadlines.first_response_clock == CLOCK_24X7
    assert deadlines.resolution_due is None and deadlines.resolution_clock is None
    assert "no resolution target" in (deadlines.note or "")


def test_plans_are_the_four_of_the_ticket_schema() -> None:
    assert set(POLICIES.plans) == {"free", "standard", "premium", "enterprise"}


def test_unknown_plan_error_lists_the_known_plans() -> None:
    with pytest.raises(
        UnknownPlanError,
        match="unknown plan 'gold'; known plans: free, standard, premium, enterprise",
    ):
        due("gold", "P1", TUESDAY_10)
    assert issubclass(UnknownPlanError, ValueError)


def test_unknown_priority_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown priority 'P0'"):
        due("standard", "P0", TUESDAY_10)


# --- enterprise P2: 1 business hour inside, 4 clock hours outside --------------------------------


def test_enterprise_p2_inside_business_hours_gets_one_business_hour_even_across_the_night() -> None:
    deadlines = due("enterprise", "P2", jst(2026, 6, 9, 17, 30))
    assert deadlines.first_response_due == jst(2026, 6, 10, 9, 30)  # 30 min today, 30 min tomorrow
    assert deadlines.first_response_clock == CLOCK_BUSINESS_HOURS


def test_enterprise_p2_at_20_00_gets_four_clock_hours_so_midnight() -> None:
    deadlines = due("enterprise", "P2", jst(2026, 6, 9, 20))
    assert deadlines.first_response_due == jst(2026, 6, 10, 0)
    assert deadlines.first_response_clock == CLOCK_24X7


def test_enterprise_p2_at_18_00_sharp_is_outside_hours_so_22_00() -> None:
    assert due("enterprise", "P2", jst(2026, 6, 9, 18)).first_response_due == jst(2026, 6, 9, 22)


def test_enterprise_p2_on_a_saturday_morning_is_outside_hours_so_four_clock_hours() -> None:
    assert due("enterprise", "P2", jst(2026, 6, 13, 10)).first_response_due == jst(2026, 6, 13, 14)


def test_enterprise_p2_on_a_holiday_weekday_is_outside_hours_so_four_clock_hours() -> None:
    assert due("enterprise", "P2", jst(2026, 5, 6, 10)).first_response_due == jst(2026, 5, 6, 14)


# --- 24x7 P1 ignores the calendar ----------------------------------------------------------------


def test_p1_at_3_am_on_a_sunday_runs_on_clock_time() -> None:
    sunday_3am = jst(2026, 6, 14, 3)
    enterprise = due("enterprise", "P1", sunday_3am)
    assert enterprise.first_response_due == jst(2026, 6, 14, 3, 15)
    assert enterprise.resolution_due == jst(2026, 6, 14, 7)
    standard = due("standard", "P1", sunday_3am)
    assert standard.first_response_due == jst(2026, 6, 14, 4)
    assert standard.resolution_due == jst(2026, 6, 14, 7)
    assert due("premium", "P1", sunday_3am).first_response_due == jst(2026, 6, 14, 4)
    assert {enterprise.first_response_clock, standard.resolution_clock} == {CLOCK_24X7}


def test_outage_on_new_years_day_gets_its_15_minute_response() -> None:
    assert due("enterprise", "P1", jst(2027, 1, 1, 0, 5)).first_response_due == jst(
        2027, 1, 1, 0, 20
    )


# --- custom and broken policy files --------------------------------------------------------------


def test_custom_file_with_shorter_hours_makes_a_business_day_seven_hours(tmp_path: Path) -> None:
    def ten_to_five(document: dict[str, Any]) -> None:
        document["business_calendar"]["opening_time"] = "10:00"
        document["business_calendar"]["closing_time"] = "17:00"

    custom = SlaPolicies.from_file(write_policies(tmp_path, ten_to_five))
    assert custom.calendar.hours_per_day == 7
    # Tuesday 10:00 + 1 business day (7 h) closes at 17:00 the same day.
    assert custom.deadlines("standard", "P2", TUESDAY_10).resolution_due == jst(2026, 6, 9, 17)
    assert custom.fingerprint != POLICIES.fingerprint


def test_custom_year_end_closure_until_01_04_reopens_on_01_05(tmp_path: Path) -> None:
    def longer_closure(document: dict[str, Any]) -> None:
        document["business_calendar"]["year_end_closure"] = {
            "first_day": "12-28",
            "last_day": "01-04",
        }

    custom = SlaPolicies.from_file(write_policies(tmp_path, longer_closure))
    assert custom.calendar.next_opening(jst(2026, 12, 25, 18)) == jst(2027, 1, 5, 9)


def test_file_without_holidays_or_closure_opens_on_new_years_day_weekday(tmp_path: Path) -> None:
    def no_closures(document: dict[str, Any]) -> None:
        document["business_calendar"]["public_holidays"] = None
        document["business_calendar"]["year_end_closure"] = None

    custom = SlaPolicies.from_file(write_policies(tmp_path, no_closures))
    assert custom.calendar.is_open(jst(2027, 1, 1, 10))  # a Friday


def unknown_clock(document: dict[str, Any]) -> None:
    document["plans"]["standard"]["first_response"]["P2"]["clock"] = "office_hours"


def missing_priority(document: dict[str, Any]) -> None:
    del document["plans"]["enterprise"]["resolution"]["P3"]


def negative_amount(document: dict[str, Any]) -> None:
    document["plans"]["standard"]["first_response"]["P4"]["hours"] = -24


def two_amounts(document: dict[str, Any]) -> None:
    document["plans"]["standard"]["resolution"]["P2"]["hours"] = 9


def business_days_on_24x7(document: dict[str, Any]) -> None:
    document["plans"]["premium"]["first_response"]["P4"] = {"clock": "24x7", "business_days": 2}


def misspelt_key(document: dict[str, Any]) -> None:
    document["plans"]["standard"]["first_response"]["P1"]["hour"] = 1


def opening_after_closing(document: dict[str, Any]) -> None:
    document["business_calendar"]["opening_time"] = "19:00"


def unknown_country(document: dict[str, Any]) -> None:
    document["business_calendar"]["public_holidays"] = "XX"


def impossible_closure_day(document: dict[str, Any]) -> None:
    document["business_calendar"]["year_end_closure"]["first_day"] = "12-32"


def no_working_days(document: dict[str, Any]) -> None:
    document["business_calendar"]["working_weekdays"] = []


def unknown_weekday(document: dict[str, Any]) -> None:
    document["business_calendar"]["working_weekdays"] = ["monday"]


@pytest.mark.parametrize(
    ("change", "advice"),
    [
        (
            unknown_clock,
            r"plans\.standard\.first_response\.P2\.clock: Input should be '24x7' or 'business_hours'",
        ),
        (
            missing_priority,
            r"plans\.enterprise\.resolution: needs exactly the priorities P1, P2, P3, P4 \(missing: P3",
        ),
        (
            negative_amount,
            r"plans\.standard\.first_response\.P4\.hours: Input should be greater than 0",
        ),
        (
            two_amounts,
            r"plans\.standard\.resolution\.P2: give exactly one of hours, minutes or business_days \(got hours, business_days\)",
        ),
        (business_days_on_24x7, r"business_days needs clock: business_hours"),
        (
            misspelt_key,
            r"plans\.standard\.first_response\.P1\.hour: Extra inputs are not permitted",
        ),
        (opening_after_closing, r"opening_time 19:00 must be before closing_time 18:00"),
        (unknown_country, r"public_holidays 'XX' is not a country code"),
        (impossible_closure_day, r"write closure days as quoted 'MM-DD' strings"),
        (no_working_days, r"working_weekdays is empty"),
        (unknown_weekday, r"business_calendar\.working_weekdays\.0: Input should be 'mon'"),
    ],
)
def test_broken_policy_file_says_what_to_fix(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], advice: str
) -> None:
    path = write_policies(tmp_path, change)
    with pytest.raises(ValueError, match=advice) as raised:
        SlaPolicies.from_file(path)
    assert str(path) in str(raised.value)


def test_unquoted_time_is_refused_because_yaml_reads_18_00_as_a_number(tmp_path: Path) -> None:
    path = tmp_path / "sla_policies.yaml"
    text = DEFAULT_POLICIES_FILE.read_text(encoding="utf-8")
    path.write_text(text.replace('closing_time: "18:00"', "closing_time: 18:00"), encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"closing_time: write times as quoted 'HH:MM' strings.*1080"
    ):
        SlaPolicies.from_file(path)


def test_fingerprint_is_a_short_sha256_of_the_file_bytes(tmp_path: Path) -> None:
    copy = tmp_path / "copy.yaml"
    copy.write_bytes(DEFAULT_POLICIES_FILE.read_bytes())
    assert SlaPolicies.from_file(copy).fingerprint == POLICIES.fingerprint
    assert len(POLICIES.fingerprint) == 12
    assert int(POLICIES.fingerprint, 16) >= 0


# --- properties over random tickets in 2025-2028 -------------------------------------------------

OFFSETS = [timedelta(hours=9), timedelta(0), timedelta(hours=-5), timedelta(hours=5, minutes=30)]
created_ats = st.builds(
    lambda moment, offset: moment.replace(tzinfo=timezone(offset)),
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31, 23, 59)),
    st.sampled_from(OFFSETS),
)
FAST = settings(max_examples=200, deadline=None)


def is_within_opening_hours(moment: datetime) -> bool:
    """Open then, or exactly at closing on a working day (a deadline may end the day)."""
    moment = moment.astimezone(JST)
    at_closing = CALENDAR.is_working_day(moment.date()) and moment.time() == CALENDAR.closing_time
    return CALENDAR.is_open(moment) or at_closing


@FAST
@given(created_at=created_ats)
def test_no_deadline_precedes_its_ticket_and_business_deadlines_fall_in_opening_hours(
    created_at: datetime,
) -> None:
    for plan in POLICIES.plans:
        for priority in PRIORITIES:
            deadlines = POLICIES.deadlines(plan, priority, created_at)
            for deadline, clock in [
                (deadlines.first_response_due, deadlines.first_response_clock),
                (deadlines.resolution_due, deadlines.resolution_clock),
            ]:
                assert (deadline is None) == (clock is None)
                if deadline is None:
                    continue
                assert deadline > created_at
                assert deadline.utcoffset() == timedelta(hours=9)
                if clock == CLOCK_BUSINESS_HOURS:
                    assert is_within_opening_hours(deadline), (plan, priority, deadline)


@FAST
@given(start=created_ats, minutes=st.integers(min_value=1, max_value=5 * 9 * 60))
def test_business_hour_deadline_is_never_in_closed_hours(start: datetime, minutes: int) -> None:
    deadline = CALENDAR.add_business_hours(start, minutes / 60)
    assert deadline > start
    assert is_within_opening_hours(deadline)


@FAST
@given(
    start=created_ats,
    first=st.integers(min_value=1, max_value=3000),
    second=st.integers(min_value=1, max_value=3000),
)
def test_adding_business_hours_in_two_steps_equals_adding_them_at_once(
    start: datetime, first: int, second: int
) -> None:
    in_two_steps = CALENDAR.add_business_hours(
        CALENDAR.add_business_hours(start, first / 60), second / 60
    )
    assert in_two_steps == CALENDAR.add_business_hours(start, (first + second) / 60)


@FAST
@given(
    earlier=created_ats,
    gap=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
    minutes=st.integers(min_value=0, max_value=3000),
)
def test_a_later_ticket_never_gets_an_earlier_business_deadline(
    earlier: datetime, gap: timedelta, minutes: int
) -> None:
    later = earlier + gap
    assert CALENDAR.add_business_hours(earlier, minutes / 60) <= CALENDAR.add_business_hours(
        later, minutes / 60
    )
