"""SLA deadlines per plan and priority: when the first response and the resolution are due, in
JST, on a 24x7 clock or on the desk's business-hours calendar. Targets live in one YAML file."""

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

import holidays
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from common.sample_data import JST_OFFSET
from triage.priority import PRIORITIES, check_priority

# Japan keeps no daylight saving time, so a fixed offset is exact all year.
JST = timezone(JST_OFFSET)
CLOCK_24X7 = "24x7"
CLOCK_BUSINESS_HOURS = "business_hours"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_POLICIES_FILE = Path(__file__).resolve().parent / "config" / "sla_policies.yaml"


def as_jst(moment: datetime, name: str = "created_at") -> datetime:
    """`moment` in JST; a naive datetime is refused because its instant is unknown."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"{name} must be timezone-aware, e.g. 2026-04-28T10:00:00+09:00 "
            f"(got {moment.isoformat()} with no offset)"
        )
    return moment.astimezone(JST)


class BusinessCalendar:
    """When the support desk is open: working weekdays between opening and closing time, except
    public holidays and the year-end closure. Opening is inclusive, closing exclusive."""

    def __init__(
        self,
        opening_time: time,
        closing_time: time,
        working_weekdays: Iterable[int],
        public_holidays: str | None,
        year_end_closure: tuple[tuple[int, int], tuple[int, int]] | None,
    ) -> None:
        if opening_time >= closing_time:
            raise ValueError(
                f"opening_time {opening_time:%H:%M} must be before closing_time "
                f"{closing_time:%H:%M}; the desk cannot stay open past midnight"
            )
        self.opening_time = opening_time
        self.closing_time = closing_time
        self.working_weekdays = frozenset(working_weekdays)
        if not self.working_weekdays:
            raise ValueError("working_weekdays is empty; list at least one day, e.g. [mon]")
        self.year_end_closure = year_end_closure
        try:
            self._holidays = holidays.country_holidays(public_holidays) if public_holidays else {}
        except NotImplementedError as error:
            raise ValueError(
                f"public_holidays {public_holidays!r} is not a country code the holidays "
                "library knows; use e.g. JP, or null for none"
            ) from error

    @property
    def hours_per_day(self) -> float:
        """Business hours in one working day; one business day is this many business hours."""
        day = date(2000, 1, 1)
        span = datetime.combine(day, self.closing_time) - datetime.combine(day, self.opening_time)
        return span / timedelta(hours=1)

    def is_working_day(self, day: date) -> bool:
        return (
            day.weekday() in self.working_weekdays
            and day not in self._holidays
            and not self._in_year_end_closure(day)
        )

    def is_open(self, moment: datetime) -> bool:
        moment = as_jst(moment, "moment")
        return (
            self.is_working_day(moment.date())
            and self.opening_time <= moment.time() < self.closing_time
        )

    def next_opening(self, moment: datetime) -> datetime:
        """`moment` itself when the desk is open then, else the next time it opens (JST)."""
        moment = as_jst(moment, "moment")
        if self.is_open(moment):
            return moment
        day = moment.date()
        if not (self.is_working_day(day) and moment.time() < self.opening_time):
            day += timedelta(days=1)
            while not self.is_working_day(day):
                day += timedelta(days=1)
        return datetime.combine(day, self.opening_time, tzinfo=JST)

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` of opening time have passed since `start` (JST). The count starts
        at the next opening when `start` is outside business hours; a result that lands exactly
        at closing is that day's closing time, not the next day's opening."""
        if not (math.isfinite(hours) and hours >= 0):
            raise ValueError(f"hours must be a finite number >= 0 (got {hours})")
        remaining = timedelta(hours=hours)
        current = self.next_opening(start)
        while True:
            closing = datetime.combine(current.date(), self.closing_time, tzinfo=JST)
            if remaining <= closing - current:
                return current + remaining
            remaining -= closing - current
            current = self.next_opening(closing)

    def add_business_days(self, start: datetime, days: float) -> datetime:
        """Like add_business_hours, counting one business day as one full opening day (9 hours
        for 09:00-18:00), so Tuesday 10:00 plus one business day is Wednesday 10:00."""
        if not (math.isfinite(days) and days >= 0):
            raise ValueError(f"days must be a finite number >= 0 (got {days})")
        return self.add_business_hours(start, days * self.hours_per_day)

    def _in_year_end_closure(self, day: date) -> bool:
        if self.year_end_closure is None:
            return False
        first_day, last_day = self.year_end_closure
        month_day = (day.month, day.day)
        if first_day <= last_day:
            return first_day <= month_day <= last_day
        return month_day >= first_day or month_day <= last_day


@dataclass(frozen=True)
class SlaDeadlines:
    plan: str
    priority: str | None
    first_response_due: datetime | None
    resolution_due: datetime | None
    first_response_clock: str | None
    resolution_clock: str | None
    note: str | None


class UnknownPlanError(ValueError):
    """A plan name the SLA policy file does not define; the message lists the known plans."""


_Amount = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class SlaTarget(BaseModel):
    """One promise, e.g. 4 business hours, with an optional variant for out-of-hours arrivals."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clock: Literal["24x7", "business_hours"]
    hours: _Amount | None = None
    minutes: _Amount | None = None
    business_days: _Amount | None = None
    outside_business_hours: "SlaTarget | None" = None

    @model_validator(mode="after")
    def _one_amount_that_fits_the_clock(self) -> "SlaTarget":
        given = [
            name
            for name in ("hours", "minutes", "business_days")
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            got = ", ".join(given) or "none"
            raise ValueError(f"give exactly one of hours, minutes or business_days (got {got})")
        if self.business_days is not None and self.clock == CLOCK_24X7:
            raise ValueError("business_days needs clock: business_hours; a 24x7 target takes hours")
        if self.outside_business_hours and self.outside_business_hours.outside_business_hours:
            raise ValueError("outside_business_hours cannot itself have outside_business_hours")
        return self

    def in_hours(self, hours_per_day: float) -> float:
        if self.business_days is not None:
            return self.business_days * hours_per_day
        if self.minutes is not None:
            return self.minutes / 60
        return self.hours  # the validator leaves exactly one amount set


class PlanPolicy(BaseModel):
    """A plan's targets for every priority; null means the plan promises nothing there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_response: dict[str, SlaTarget] | None
    resolution: dict[str, SlaTarget] | None
    note: str | None = None

    @field_validator("first_response", "resolution")
    @classmethod
    def _every_priority(cls, targets: dict[str, SlaTarget] | None) -> dict[str, SlaTarget] | None:
        if targets is None:
            return None
        unknown = [priority for priority in targets if priority not in PRIORITIES]
        missing = [priority for priority in PRIORITIES if priority not in targets]
        if unknown or missing:
            raise ValueError(
                f"needs exactly the priorities {', '.join(PRIORITIES)} "
                f"(missing: {', '.join(missing) or 'none'}; "
                f"unknown: {', '.join(unknown) or 'none'}), or null for no promise"
            )
        return targets


def _clock_time(value: Any) -> time:
    if not isinstance(value, str) or not re.fullmatch(r"\d{2}:\d{2}", value):
        # Unquoted 18:00 is the integer 1080 to YAML 1.1, hence the insistence on quotes.
        raise ValueError(f"write times as quoted 'HH:MM' strings, e.g. '09:00' (got {value!r})")
    return time.fromisoformat(value)


def _month_day(value: Any) -> tuple[int, int]:
    if isinstance(value, str) and re.fullmatch(r"\d{2}-\d{2}", value):
        month, day = int(value[:2]), int(value[3:])
        try:
            date(2000, month, day)  # a leap year, so 02-29 is accepted
            return month, day
        except ValueError:
            pass
    raise ValueError(f"write closure days as quoted 'MM-DD' strings, e.g. '12-29' (got {value!r})")


class _YearEndClosure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_day: Annotated[tuple[int, int], BeforeValidator(_month_day)]
    last_day: Annotated[tuple[int, int], BeforeValidator(_month_day)]


class _CalendarSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opening_time: Annotated[time, BeforeValidator(_clock_time)]
    closing_time: Annotated[time, BeforeValidator(_clock_time)]
    working_weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]]
    public_holidays: str | None
    year_end_closure: _YearEndClosure | None


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    business_calendar: _CalendarSpec
    plans: dict[str, PlanPolicy] = Field(min_length=1)


def _explain(error: ValidationError) -> str:
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


class SlaPolicies:
    """Every plan's SLA targets and the business calendar they count on."""

    def __init__(
        self, plans: Mapping[str, PlanPolicy], calendar: BusinessCalendar, fingerprint: str
    ) -> None:
        self._plans = dict(plans)
        self.plans: tuple[str, ...] = tuple(self._plans)
        self.calendar = calendar
        self._fingerprint = fingerprint

    @classmethod
    def from_file(cls, path: Path | None = None) -> "SlaPolicies":
        """Load and check a policy file; None loads the packaged default."""
        path = path or DEFAULT_POLICIES_FILE
        raw = path.read_bytes()
        try:
            policy_file = _PolicyFile.model_validate(yaml.safe_load(raw))
            spec = policy_file.business_calendar
            closure = spec.year_end_closure
            calendar = BusinessCalendar(
                opening_time=spec.opening_time,
                closing_time=spec.closing_time,
                working_weekdays=[WEEKDAYS.index(day) for day in spec.working_weekdays],
                public_holidays=spec.public_holidays,
                year_end_closure=(closure.first_day, closure.last_day) if closure else None,
            )
        except ValidationError as error:
            raise ValueError(f"{path}: invalid SLA policy file: {_explain(error)}") from error
        except (ValueError, yaml.YAMLError) as error:
            raise ValueError(f"{path}: invalid SLA policy file: {error}") from error
        return cls(policy_file.plans, calendar, hashlib.sha256(raw).hexdigest()[:12])

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def deadlines(self, plan: str, priority: str | None, created_at: datetime) -> SlaDeadlines:
        """When the first response and the resolution of a ticket are due (JST), None where the
        plan promises nothing, or where the ticket has no SLA level (`priority` None: a
        taxonomy without one, or a priority value mapped to none)."""
        if plan not in self._plans:
            raise UnknownPlanError(f"unknown plan {plan!r}; known plans: {', '.join(self.plans)}")
        policy = self._plans[plan]
        note = policy.note
        first_response = resolution = (None, None)
        if priority is None:
            note = "no SLA level for this ticket's priority (see the label file's priority)"
        else:
            check_priority(priority)
            arrival = as_jst(created_at)
            first_response = self._due(policy.first_response, priority, arrival)
            resolution = self._due(policy.resolution, priority, arrival)
        return SlaDeadlines(
            plan=plan,
            priority=priority,
            first_response_due=first_response[0],
            resolution_due=resolution[0],
            first_response_clock=first_response[1],
            resolution_clock=resolution[1],
            note=note,
        )

    def _due(
        self, targets: dict[str, SlaTarget] | None, priority: str, arrival: datetime
    ) -> tuple[datetime | None, str | None]:
        if targets is None:
            return None, None
        target = targets[priority]
        if target.outside_business_hours is not None and not self.calendar.is_open(arrival):
            target = target.outside_business_hours
        hours = target.in_hours(self.calendar.hours_per_day)
        if target.clock == CLOCK_24X7:
            return arrival + timedelta(hours=hours), target.clock
        return self.calendar.add_business_hours(arrival, hours), target.clock
