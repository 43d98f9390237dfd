"""The dashboard's chart geometry: round scales, bars in proportion, readable day labels."""

from __future__ import annotations

from controller.console import charts


def test_the_scale_tops_out_at_a_round_number() -> None:
    assert [charts.nice_top(n) for n in (0, 1, 3, 7, 10, 11, 49, 101)] == [
        1, 1, 5, 10, 10, 20, 50, 200,
    ]  # fmt: skip


def test_bars_stand_in_proportion_on_the_zero_line() -> None:
    chart = charts.bar_chart([("a", 10, "p1"), ("b", 5, "p2"), ("c", 0, "p3")])
    full, half, empty = chart.bars
    frame = chart.frame
    assert full.height == frame.bottom - frame.top and half.height == full.height / 2
    assert empty.height == 0 and {bar.y + bar.height for bar in chart.bars} == {frame.bottom}
    assert full.x < half.x < empty.x and full.css == "p1"
    assert [tick.value for tick in frame.ticks] == [0, 2, 4, 6, 8, 10]


def test_ninety_days_get_a_label_every_few_days_and_the_last_one() -> None:
    days = [
        {"day": f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}", "created": i % 3, "resolved": 1,
         "open_at_end": 2}
        for i in range(90)
    ]  # fmt: skip
    chart = charts.days_chart(days)
    labelled = [group.label for group in chart.groups if group.label]
    assert len(labelled) <= 10 and chart.groups[-1].label == days[-1]["day"][5:]
    assert len(chart.open_points.split()) == 90


def test_a_gauge_fills_its_share_and_nothing_without_data() -> None:
    assert charts.gauge(50.0, width=300).filled == 150
    assert charts.gauge(None).filled == 0 and charts.gauge(None).percent is None
