"""Business-time arithmetic, with exact instants: nights, weekends, holidays, DST, lunch."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from controller.desk.calendar import ROUND_THE_CLOCK, WEEKDAYS, BusinessHours
from controller.errors import InvalidInput
from controller.storage.models import BusinessCalendar

UTC = dt.UTC
H = 3600
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
# Christmas 2026 is a Friday; 2026-04-06 is Easter Monday.
PARIS = BusinessHours.parse(
    "Europe/Paris", {day: [["08:00", "17:00"]] for day in WORKDAYS}, ["2026-12-25", "2027-01-01"]
)
LUNCH = BusinessHours.parse(
    "Europe/Paris", {day: [["08:00", "12:00"], ["13:00", "17:00"]] for day in WORKDAYS}, []
)
# Open all weekend long, closed in the week: shows what the clock does on DST Sundays.
WEEKENDS = BusinessHours.parse(
    "Europe/Paris", {"sat": [["00:00", "24:00"]], "sun": [["00:00", "24:00"]]}, []
)


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_adding_across_the_night() -> None:
    # Thu 2026-11-26 16:00 Paris (UTC+1) + 2h: one hour on Thursday, one on Friday.
    assert PARIS.add(utc(2026, 11, 26, 15, 0), 2 * H) == utc(2026, 11, 27, 8, 0)


def test_adding_across_the_weekend() -> None:
    # Fri 16:30 Paris + 1h: 30 min on Friday, 30 min on Monday from 08:00.
    assert PARIS.add(utc(2026, 11, 27, 15, 30), 1 * H) == utc(2026, 11, 30, 7, 30)


def test_holidays_are_local_dates_that_stay_closed() -> None:
    # Thu 24 Dec 16:00 + 2h: Christmas Friday and the weekend are skipped.
    assert PARIS.add(utc(2026, 12, 24, 15, 0), 2 * H) == utc(2026, 12, 28, 8, 0)
    assert not PARIS.is_open(utc(2026, 12, 25, 10, 0))
    assert PARIS.between(utc(2026, 12, 24, 15, 0), utc(2026, 12, 28, 8, 0)) == 2 * H


def test_dst_spring_forward_week() -> None:
    # Fri 27 Mar 16:00 CET + 2h -> Mon 30 Mar 09:00 CEST, which is 07:00 UTC (not 08:00).
    assert PARIS.add(utc(2026, 3, 27, 15, 0), 2 * H) == utc(2026, 3, 30, 7, 0)
    # Sunday 29 March has 23 hours: Sat 00:00 CET to Mon 00:00 CEST is 47 business hours.
    saturday = utc(2026, 3, 27, 23, 0)
    assert WEEKENDS.between(saturday, utc(2026, 3, 29, 22, 0)) == 47 * H
    assert WEEKENDS.add(saturday, 47 * H) == utc(2026, 3, 29, 22, 0)
    # Noon Sunday CEST is 10:00 UTC: 24h of Saturday and 11 real hours of Sunday.
    assert WEEKENDS.add(saturday, 35 * H) == utc(2026, 3, 29, 10, 0)
    # Three weekends, one of them short: long enough that whole weeks are skipped.
    three_weeks_later = utc(2026, 4, 10, 22, 0)  # Sat 11 Apr 00:00 CEST
    assert WEEKENDS.between(utc(2026, 3, 20, 23, 0), three_weeks_later) == (3 * 48 - 1) * H
    assert WEEKENDS.add(utc(2026, 3, 20, 23, 0), (3 * 48 - 1) * H) == utc(2026, 4, 5, 22, 0)


def test_dst_fall_back_week() -> None:
    # Fri 23 Oct 16:00 CEST (14:00 UTC) + 2h -> Mon 26 Oct 09:00 CET = 08:00 UTC.
    assert PARIS.add(utc(2026, 10, 23, 14, 0), 2 * H) == utc(2026, 10, 26, 8, 0)
    # Sunday 25 October has 25 hours.
    saturday = utc(2026, 10, 23, 22, 0)
    assert WEEKENDS.between(saturday, utc(2026, 10, 25, 23, 0)) == 49 * H
    assert WEEKENDS.add(saturday, 49 * H) == utc(2026, 10, 25, 23, 0)


def test_a_span_across_the_dst_gap_counts_the_real_hours() -> None:
    night = BusinessHours.parse("Europe/Paris", {"sun": [["01:00", "05:00"]]}, [])
    # 01:00 CET is 00:00 UTC, 05:00 CEST is 03:00 UTC: three real hours that night.
    assert night.between(utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 0, 0)) == 3 * H
    # Wall times the gap skips (02:00-03:00) map to the instant of the change, 01:00 UTC.
    split = BusinessHours.parse(
        "Europe/Paris", {"sun": [["01:00", "02:30"], ["02:30", "04:00"]]}, []
    )
    assert split.between(utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 0, 0)) == 2 * H
    assert split.add(utc(2026, 3, 28, 0, 0), 1 * H) == utc(2026, 3, 29, 1, 0)
    assert split.add(utc(2026, 3, 28, 0, 0), 1.5 * H) == utc(2026, 3, 29, 1, 30)
    # Closing at 02:30, a wall time that never came, closes at the change (03:00 CEST).
    early = BusinessHours.parse("Europe/Paris", {"sun": [["01:00", "02:30"]]}, [])
    assert early.between(utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 0, 0)) == 1 * H
    # Opening at 02:30 opens at the change: 03:00 to 03:30 CEST is open.
    late = BusinessHours.parse("Europe/Paris", {"sun": [["02:30", "03:30"]]}, [])
    assert late.between(utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 0, 0)) == 0.5 * H
    assert late.add(utc(2026, 3, 28, 0, 0), 0.25 * H) == utc(2026, 3, 29, 1, 15)
    # An hour that the change skips entirely was never open.
    gone = BusinessHours.parse("Europe/Paris", {"sun": [["02:00", "03:00"]]}, [])
    assert gone.between(utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 0, 0)) == 0
    assert gone.between(utc(2026, 3, 21, 0, 0), utc(2026, 3, 23, 0, 0)) == 1 * H


def test_split_days_skip_the_lunch_break() -> None:
    # Mon 23 Nov 11:30 Paris + 1h: 30 min before lunch, 30 min after it.
    assert LUNCH.add(utc(2026, 11, 23, 10, 30), 1 * H) == utc(2026, 11, 23, 12, 30)
    # Starting during lunch counts from 13:00.
    assert LUNCH.add(utc(2026, 11, 23, 11, 15), 0.5 * H) == utc(2026, 11, 23, 12, 30)
    assert not LUNCH.is_open(utc(2026, 11, 23, 11, 15))
    assert LUNCH.between(utc(2026, 11, 23, 7, 0), utc(2026, 11, 23, 16, 0)) == 8 * H


def test_start_outside_hours_begins_at_the_next_opening() -> None:
    # Saturday 10:00 + 1h -> Monday 09:00 Paris.
    assert PARIS.add(utc(2026, 11, 28, 9, 0), 1 * H) == utc(2026, 11, 30, 8, 0)
    # Monday 06:00 Paris (before opening) + 1h -> 09:00 Paris.
    assert PARIS.add(utc(2026, 11, 30, 5, 0), 1 * H) == utc(2026, 11, 30, 8, 0)
    # Nothing to add: the start itself.
    assert PARIS.add(utc(2026, 11, 28, 9, 0), 0) == utc(2026, 11, 28, 9, 0)


def test_a_target_ending_at_closing_time_is_due_at_closing_time() -> None:
    assert PARIS.add(utc(2026, 11, 30, 7, 0), 9 * H) == utc(2026, 11, 30, 16, 0)
    assert PARIS.add(utc(2026, 11, 30, 7, 0), 9 * H + 1) == utc(2026, 12, 1, 7, 0, 1)


def test_is_open_ends_are_half_open() -> None:
    assert PARIS.is_open(utc(2026, 11, 30, 7, 0))  # Mon 08:00 Paris
    assert PARIS.is_open(utc(2026, 11, 30, 15, 59))
    assert not PARIS.is_open(utc(2026, 11, 30, 16, 0))  # Mon 17:00 Paris
    assert not PARIS.is_open(utc(2026, 11, 28, 10, 0))  # Saturday


def test_between_is_the_inverse_of_add() -> None:
    starts = [utc(2026, 3, 20, 0, 0) + dt.timedelta(hours=7 * i) for i in range(40)]
    starts += [utc(2026, 10, 20, 0, 0) + dt.timedelta(hours=5 * i, minutes=13) for i in range(40)]
    amounts = [1, 59.5, 3 * H, 9 * H, 50 * H, 200 * H]
    for calendar, start, seconds in itertools.product((PARIS, LUNCH, WEEKENDS), starts, amounts):
        end = calendar.add(start, seconds)
        assert calendar.between(start, end) == seconds, (calendar, start, seconds)
    assert PARIS.between(utc(2026, 11, 27, 15, 0), utc(2026, 11, 30, 8, 0)) == 2 * H
    assert PARIS.between(utc(2026, 11, 30, 8, 0), utc(2026, 11, 27, 15, 0)) == 0.0


def test_a_30_day_target_is_reached_without_walking_every_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0
    original = BusinessHours._day_spans

    def counting(self: BusinessHours, day: dt.date) -> Any:
        nonlocal calls
        calls += 1
        return original(self, day)

    monkeypatch.setattr(BusinessHours, "_day_spans", counting)
    start = utc(2026, 1, 5, 7, 0)  # Mon 08:00 CET
    # 720 business hours at 45 a week: exactly 16 weeks, ending Fri 24 Apr 17:00 CEST.
    assert PARIS.add(start, 30 * 86400) == utc(2026, 4, 24, 15, 0)
    assert calls < 40
    easter = BusinessHours.parse(
        "Europe/Paris", {day: [["08:00", "17:00"]] for day in WORKDAYS}, ["2026-04-06"]
    )
    # One holiday more: the last 9 hours move to Monday 27 April.
    assert easter.add(start, 30 * 86400) == utc(2026, 4, 27, 15, 0)
    calls = 0
    assert PARIS.between(start, utc(2026, 4, 24, 15, 0)) == 30 * 86400
    assert calls < 40


def test_round_the_clock_is_real_time() -> None:
    start = utc(2026, 3, 28, 12, 0)
    assert ROUND_THE_CLOCK.add(start, 90 * 86400 + 0.5) == start + dt.timedelta(
        days=90, seconds=0.5
    )
    assert ROUND_THE_CLOCK.between(start, start + dt.timedelta(hours=30)) == 30 * H
    assert ROUND_THE_CLOCK.is_open(start)


def test_from_row_and_site_time_zone_override() -> None:
    row = BusinessCalendar(
        name="office",
        timezone="Europe/Paris",
        hours={day: [["09:00", "17:00"]] for day in WORKDAYS},
        holidays=["2026-12-25"],
    )
    paris = BusinessHours.from_row(row)
    assert paris.timezone == "Europe/Paris"
    assert paris.hours["mon"] == [(dt.time(9), dt.time(17))]
    assert paris.holidays == frozenset({dt.date(2026, 12, 25)})
    # Mon 30 Nov 09:00 in New York is 14:00 UTC.
    new_york = BusinessHours.from_row(row, "America/New_York")
    assert new_york.add(utc(2026, 11, 30, 0, 0), 1 * H) == utc(2026, 11, 30, 15, 0)
    assert paris.add(utc(2026, 11, 30, 0, 0), 1 * H) == utc(2026, 11, 30, 9, 0)


@pytest.mark.parametrize(
    ("timezone", "hours", "holidays", "field"),
    [
        ("Mars/Olympus", {"mon": [["08:00", "17:00"]]}, [], "timezone"),
        ("", {"mon": [["08:00", "17:00"]]}, [], "timezone"),
        ("UTC", {"mon": [["08:00", "17:00"]], "funday": []}, [], "hours.funday"),
        ("UTC", {"mon": [["8:00", "17:00"]]}, [], "hours.mon[0]"),
        ("UTC", {"tue": [["08:00", "25:00"]]}, [], "hours.tue[0]"),
        ("UTC", {"mon": [["08:00", "00:00"]]}, [], "hours.mon[0]"),
        ("UTC", {"mon": [["08:00"]]}, [], "hours.mon[0]"),
        (
            "UTC",
            {"wed": [["08:00", "17:00"], ["17:00", "18:00"], ["12:00", "13:00"]]},
            [],
            "hours.wed",
        ),
        ("UTC", {"mon": [["08:00", "17:00"]], "fri": [["17:00", "08:00"]]}, [], "hours.fri[0]"),
        ("UTC", {"mon": [["09:00", "09:00"]]}, [], "hours.mon[0]"),
        ("UTC", {"mon": "08:00-17:00"}, [], "hours.mon"),
        ("UTC", [], [], "hours"),
        ("UTC", {}, [], "hours"),
        ("UTC", {day: [] for day in WEEKDAYS}, [], "hours"),
        ("UTC", {"mon": [["08:00", "17:00"]]}, ["2026-12-25", "2026-13-01"], "holidays[1]"),
        ("UTC", {"mon": [["08:00", "17:00"]]}, ["25/12/2026"], "holidays[0]"),
        ("UTC", {"mon": [["08:00", "17:00"]]}, [20261225], "holidays[0]"),
    ],
)
def test_validation_names_the_field(timezone: str, hours: Any, holidays: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        BusinessHours.parse(timezone, hours, holidays)
    assert caught.value.field == field


def test_a_bad_site_time_zone_is_reported_as_the_time_zone() -> None:
    row = BusinessCalendar(
        name="x", timezone="UTC", hours={"mon": [["08:00", "24:00"]]}, holidays=[]
    )
    assert (
        BusinessHours.from_row(row).between(utc(2026, 11, 30, 0, 0), utc(2026, 12, 1, 0, 0))
        == 16 * H
    )
    with pytest.raises(InvalidInput) as caught:
        BusinessHours.from_row(row, "Europe/Atlantis")
    assert caught.value.field == "timezone"


def test_naive_datetimes_are_refused() -> None:
    naive = dt.datetime(2026, 11, 30, 9, 0)
    with pytest.raises(ValueError, match="naive"):
        PARIS.add(naive, 60)
    with pytest.raises(ValueError, match="naive"):
        PARIS.between(naive, utc(2026, 12, 1, 0, 0))
    with pytest.raises(ValueError, match="naive"):
        PARIS.is_open(naive)
