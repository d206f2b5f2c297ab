"""Field types for request bodies validated strictly (no 0 for false, no 1700000000 for a date),
as the OpenAPI schema says: JSON booleans, numbers and ISO 8601 strings only."""

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field


def _iso_text_only(value: Any) -> Any:
    # pydantic reads numbers, and strings of digits, as Unix times; the schema says ISO 8601
    iso = isinstance(value, str) and re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)
    if not iso and not isinstance(value, datetime):
        raise ValueError("must be a date and time in ISO 8601, e.g. 2026-11-21T09:00:00+09:00")
    return value


def _within_reason(value: datetime) -> datetime:
    # deadlines and "open for 14 days" windows are computed from it: year 1 or 9999 overflows
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


EARLIEST_YEAR, LATEST_YEAR = 1970, 2200
# Parsed from text even in a strict model (a strict datetime would refuse every JSON string).
IsoDateTime = Annotated[
    datetime,
    Field(strict=False),
    BeforeValidator(_iso_text_only),
    AfterValidator(_within_reason),
]
