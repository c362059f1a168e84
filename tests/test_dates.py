from datetime import date

import pytest

from searchkit.dates import parse_date, parse_date_span


@pytest.mark.parametrize(
    "text, start, end, precision",
    [
        ("2023", date(2023, 1, 1), date(2023, 12, 31), "year"),
        ("2023-09", date(2023, 9, 1), date(2023, 9, 30), "month"),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "month"),
        ("2023-09-16", date(2023, 9, 16), date(2023, 9, 16), "day"),
        ("2020-07-02T19:09:00+02:00", date(2020, 7, 2), date(2020, 7, 2), "day"),
        ("2021-03-04T09:30:00Z", date(2021, 3, 4), date(2021, 3, 4), "day"),
        (" 2019-4-5 ", date(2019, 4, 5), date(2019, 4, 5), "day"),
    ],
    ids=["year", "month", "leap-month", "day", "iso-offset", "iso-z", "unpadded"],
)
def test_spans(text, start, end, precision):
    span = parse_date_span(text)
    assert (span.start, span.end, span.precision) == (start, end, precision)


@pytest.mark.parametrize("text", ["2023-13-45", "2023-02-30", "le 3 mars 2020", "", "20230", "x"])
def test_bad_dates_raise_with_the_value(text):
    with pytest.raises(ValueError):
        parse_date_span(text)
    assert parse_date(text) is None


def test_str_keeps_precision():
    assert [str(parse_date_span(t)) for t in ("2023", "2023-09", "2023-09-01")] == [
        "2023",
        "2023-09",
        "2023-09-01",
    ]


def test_overlap_of_month_and_day():
    month = parse_date_span("2023-09")
    assert month.overlaps(parse_date_span("2023-09-30"))
    assert not month.overlaps(parse_date_span("2023-08"))
