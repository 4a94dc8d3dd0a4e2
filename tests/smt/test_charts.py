"""smt.charts: the usage heatmap's month labels."""

import re
from datetime import date, timedelta

from smt.charts import MONTH_LABEL_WIDTH, heatmap
from smt.usage import DaySummary


def days_from(first: date, count: int) -> list[DaySummary]:
    return [
        DaySummary(date=str(first + timedelta(days=n)), expected=96, found=96, completeness=1.0) for n in range(count)
    ]


def month_labels(svg: str) -> list[tuple[int, str]]:
    return [(int(x), name) for x, name in re.findall(r'<text x="(\d+)" y="11" class="axis">(\w+)</text>', svg)]


def test_a_first_month_a_few_days_long_gives_way_to_the_next_months_label():
    # 2026-10-28 is a Wednesday; November's first Monday (the 2nd) is the very next column.
    labels = month_labels(heatmap(days_from(date(2026, 10, 28), 70)))

    assert [name for _, name in labels] == ["Nov", "Dec", "Jan"]
    assert all(b[0] - a[0] >= MONTH_LABEL_WIDTH for a, b in zip(labels, labels[1:], strict=False))


def test_a_first_month_with_room_keeps_its_label_clear_of_the_next():
    # From Monday 2026-09-14: September's label has three columns before October's (Monday the 5th).
    labels = month_labels(heatmap(days_from(date(2026, 9, 14), 60)))

    assert [name for _, name in labels] == ["Sep", "Oct", "Nov"]
    assert all(b[0] - a[0] >= MONTH_LABEL_WIDTH for a, b in zip(labels, labels[1:], strict=False))


def test_a_year_of_days_labels_every_month_once_without_overlap():
    labels = month_labels(heatmap(days_from(date(2025, 12, 7), 366)))  # Sunday 2025-12-07 to Monday 2026-12-07

    assert [name for _, name in labels] == [
        "Dec",
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
    ]
    assert all(b[0] - a[0] >= MONTH_LABEL_WIDTH for a, b in zip(labels, labels[1:], strict=False))
