"""The usage rules the day table and the tiles share: which days count, and missing spans in Central time."""

from datetime import date

import pytest

from smt import usage
from smt.models import SmtInterval

pytestmark = pytest.mark.django_db
ESIID = "10443720000000002"


def days(*specs: tuple[str, int, int]) -> list[usage.DaySummary]:
    return [usage.DaySummary(date=d, expected=e, found=f, completeness=f / e) for d, e, f in specs]


def test_days_before_the_first_reading_and_today_are_not_counted():
    summaries = days(("2025-11-03", 96, 0), ("2025-11-04", 96, 96), ("2025-11-05", 96, 80), ("2025-11-06", 96, 12))
    counted = usage.counted_days(summaries, first_day=date(2025, 11, 4), today=date(2025, 11, 6))
    assert [d.date for d in counted] == ["2025-11-04", "2025-11-05"]
    assert sum(1 for d in counted if d.completeness < 1) == 1


def test_a_meter_without_data_has_no_counted_days():
    assert usage.counted_days(days(("2025-11-03", 96, 0)), first_day=None, today=date(2025, 11, 6)) == []


def test_first_data_day_is_the_central_day_of_the_first_reading():
    # 04:30 UTC on Nov 5 is 22:30 CST on Nov 4.
    SmtInterval.objects.create(
        esiid=ESIID, meter="M7", ts="2025-11-05T04:30:00Z", kwh=1, channel="consumption", quality="actual", row_number=2
    )
    assert usage.first_data_day(esiid=ESIID) == date(2025, 11, 4)
    assert usage.first_data_day(esiid="10443720000000009") is None


def test_a_missing_evening_reads_in_central_time_not_utc():
    gap = {"start": "2025-11-06T00:00:00Z", "end": "2025-11-06T04:00:00Z", "intervals": 16}
    assert usage.gap_label(gap, expected=96) == "18:00–22:00 (16)"


def test_a_gap_to_midnight_ends_at_24_00():
    gap = {"start": "2025-11-06T04:00:00Z", "end": "2025-11-06T06:00:00Z", "intervals": 8}
    assert usage.gap_label(gap, expected=96) == "22:00–24:00 (8)"


def test_a_whole_missing_day_is_named_as_such():
    gap = {"start": "2025-11-05T06:00:00Z", "end": "2025-11-06T06:00:00Z", "intervals": 96}
    assert usage.gap_label(gap, expected=96) == "whole day (96)"
    fall_back = {"start": "2025-11-02T05:00:00Z", "end": "2025-11-03T06:00:00Z", "intervals": 100}
    assert usage.gap_label(fall_back, expected=100) == "whole day (100)"


def test_a_gap_across_the_fall_back_hour_names_both_zones():
    gap = {"start": "2025-11-02T06:00:00Z", "end": "2025-11-02T07:00:00Z", "intervals": 4}  # 01:00 CDT to 01:00 CST
    assert usage.gap_label(gap, expected=100) == "01:00 CDT–01:00 CST (4)"


def test_the_day_table_shows_local_spans_from_the_real_summary():
    from smt.charts import day_rows

    for n in range(72):  # 00:00–18:00 Central on Nov 5; 18:00–24:00 missing
        SmtInterval.objects.create(
            esiid=ESIID,
            meter="M7",
            ts=usage.local_midnight(date(2025, 11, 5)) + n * usage.STEP,
            kwh=1,
            channel="consumption",
            quality="actual",
            row_number=2,
        )
    summary = usage.daily_summary(esiid=ESIID, start=date(2025, 11, 5), end=date(2025, 11, 6))
    html = day_rows(summary)
    assert "18:00–24:00 (24)" in html and "whole day (96)" in html and "00:00–06:00" not in html
