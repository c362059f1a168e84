"""One owner of date precision: ``YYYY``, ``YYYY-MM`` and ``YYYY-MM-DD`` become spans.

Readers call :func:`parse_date` on whatever the corpus holds; filters call
:func:`parse_date_span` on what the user typed. An article dated ``2023-09``
covers the whole month, so it matches every range that overlaps September 2023.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from .model import DateSpan

_SPAN = re.compile(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?\s*$")
# ISO 8601 with a time part: 2020-07-02T10:15:00Z, 2020-07-02 10:15:00+02:00
_ISO_TIME = re.compile(
    r"^\s*(\d{4}-\d{2}-\d{2})[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?\s*$"
)


def parse_date_span(text: str) -> DateSpan:
    """Parse ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (or an ISO 8601 timestamp).

    Raises ``ValueError`` with a message fit for a user when the text is not a
    date or names an impossible one (``2023-13-45``).
    """
    m = _ISO_TIME.match(text)
    if m:
        text = m.group(1)
    m = _SPAN.match(text)
    if not m:
        raise ValueError(
            f"not a date: {text.strip()[:40]!r} (expected YYYY, YYYY-MM or YYYY-MM-DD)"
        )
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else None
    day = int(m.group(3)) if m.group(3) else None
    try:
        if month is None:
            return DateSpan(date(year, 1, 1), date(year, 12, 31), "year")
        if day is None:
            last = calendar.monthrange(year, month)[1]
            return DateSpan(date(year, month, 1), date(year, month, last), "month")
        d = date(year, month, day)
        return DateSpan(d, d, "day")
    except ValueError:
        raise ValueError(f"impossible date: {text.strip()!r}") from None


def parse_date(text: object) -> DateSpan | None:
    """Lenient form for corpus values: ``None`` when the value is not a usable date."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return parse_date_span(text)
    except ValueError:
        return None


def day_number(d: date) -> int:
    """A date as the integer ``YYYYMMDD``: sortable, and cheap to index as NUMERIC."""
    return d.year * 10000 + d.month * 100 + d.day


def from_day_number(n: int) -> date:
    return date(n // 10000, n // 100 % 100, n % 100)


def next_day(d: date) -> date:
    return d + timedelta(days=1)
