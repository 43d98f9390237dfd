"""Business-time arithmetic: when a clock that only runs during working hours reaches a target.

Working hours are wall-clock spans per weekday in a time zone, with holidays as local
dates. Business time is real elapsed time while the desk is open, so a span that crosses a
daylight-saving change counts the hours that really passed. Each day's spans are computed in
local wall time and their ends converted to UTC; whole weeks with no holiday and no offset
change are skipped in one step, so a target of months costs a few dozen iterations.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from controller.errors import InvalidInput

if TYPE_CHECKING:  # the arithmetic itself needs no database
    from controller.storage.models import BusinessCalendar

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY = dt.timedelta(days=1)
_WEEK = dt.timedelta(days=7)
_MIDNIGHT = dt.time(0, 0)
# A calendar whose open hours all fall in daylight-saving gaps would never finish adding.
_MAX_DAYS = 366 * 100
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

Span = tuple[dt.timedelta, dt.timedelta]  # from local midnight


def _utc(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got a naive datetime")
    return value.astimezone(dt.UTC)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput("timezone", f"unknown time zone {name!r}") from None


def _offset(value: dt.time) -> dt.timedelta:
    return dt.timedelta(
        hours=value.hour, minutes=value.minute, seconds=value.second, microseconds=value.microsecond
    )


def _parse_clock(text: object, where: str, *, end: bool) -> dt.time:
    # 24:00 closes a span at midnight; time() cannot say it, so 00:00 as an end means it.
    if end and text == "24:00":
        return _MIDNIGHT
    match = _CLOCK.fullmatch(text) if isinstance(text, str) else None
    if match is None or (end and text == "00:00"):
        hint = ' (write "24:00" for midnight at the end of the day)' if text == "00:00" else ""
        raise InvalidInput(where, f'{text!r} is not a time "HH:MM"{hint}')
    return dt.time(int(match[1]), int(match[2]))


def _parse_hours(hours: object) -> dict[str, list[tuple[dt.time, dt.time]]]:
    if not isinstance(hours, Mapping):
        raise InvalidInput("hours", 'an object of weekdays: {"mon": [["08:00", "17:00"]], ...}')
    parsed: dict[str, list[tuple[dt.time, dt.time]]] = {}
    for day, spans in hours.items():
        if day not in WEEKDAYS:
            raise InvalidInput(f"hours.{day}", f"unknown weekday; one of {', '.join(WEEKDAYS)}")
        if not isinstance(spans, list):
            raise InvalidInput(f"hours.{day}", 'a list of ["HH:MM", "HH:MM"] spans')
        parsed[day] = []
        for index, span in enumerate(spans):
            where = f"hours.{day}[{index}]"
            if not isinstance(span, list | tuple) or len(span) != 2:
                raise InvalidInput(where, 'a span is ["HH:MM", "HH:MM"]')
            start = _parse_clock(span[0], where, end=False)
            parsed[day].append((start, _parse_clock(span[1], where, end=True)))
    return parsed


def _parse_holidays(holidays: object) -> frozenset[dt.date]:
    if not isinstance(holidays, list | tuple | set | frozenset):
        raise InvalidInput("holidays", 'a list of dates "YYYY-MM-DD"')
    days: set[dt.date] = set()
    for index, text in enumerate(holidays):
        try:
            if not isinstance(text, str) or not _DATE.fullmatch(text):
                raise ValueError
            days.add(dt.date.fromisoformat(text))
        except ValueError:
            raise InvalidInput(
                f"holidays[{index}]", f'{text!r} is not a date "YYYY-MM-DD"'
            ) from None
    return frozenset(days)


@dataclass(frozen=True)
class BusinessHours:
    """Open spans per weekday ("mon".."sun"; missing days are closed) in a time zone.

    A span is (start, end) in local wall time; an end of 00:00 means midnight at the end
    of the day. Holidays are local dates on which the desk stays closed.
    """

    timezone: str
    hours: dict[str, list[tuple[dt.time, dt.time]]]
    holidays: frozenset[dt.date] = frozenset()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _week: tuple[tuple[Span, ...], ...] = field(init=False, repr=False, compare=False)
    _week_length: dt.timedelta = field(init=False, repr=False, compare=False)
    _always_open: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        week: list[tuple[Span, ...]] = []
        for day in self.hours:
            if day not in WEEKDAYS:
                raise InvalidInput(f"hours.{day}", f"unknown weekday; one of {', '.join(WEEKDAYS)}")
        for day in WEEKDAYS:
            spans: list[Span] = []
            for index, (start, end) in enumerate(self.hours.get(day, [])):
                if start.tzinfo is not None or end.tzinfo is not None:
                    raise InvalidInput(f"hours.{day}[{index}]", "local wall times, no time zone")
                begin, finish = _offset(start), (_offset(end) if end != _MIDNIGHT else _DAY)
                if finish <= begin:
                    raise InvalidInput(
                        f"hours.{day}[{index}]", f"ends ({end:%H:%M}) before it starts"
                    )
                spans.append((begin, finish))
            spans.sort()
            for (_, previous_end), (next_start, _) in itertools.pairwise(spans):
                if next_start < previous_end:
                    raise InvalidInput(f"hours.{day}", "spans overlap")
            week.append(tuple(spans))
        for holiday in self.holidays:
            if not isinstance(holiday, dt.date) or isinstance(holiday, dt.datetime):
                raise InvalidInput("holidays", f"{holiday!r} is not a date")
        length = sum((end - start for spans in week for start, end in spans), dt.timedelta())
        if not length:
            raise InvalidInput("hours", "no open hours in the week: the clock would never run")
        object.__setattr__(self, "_zone", _zone(self.timezone))
        object.__setattr__(self, "_week", tuple(week))
        object.__setattr__(self, "_week_length", length)
        # Open all day every day: business time is real time, whatever the zone does.
        object.__setattr__(
            self,
            "_always_open",
            not self.holidays and all(spans == ((dt.timedelta(), _DAY),) for spans in week),
        )

    @classmethod
    def parse(cls, timezone: object, hours: object, holidays: Iterable[Any]) -> BusinessHours:
        """From the stored (JSON) forms; InvalidInput names the field that is wrong."""
        if not isinstance(timezone, str):
            raise InvalidInput("timezone", "a time zone name such as Europe/Paris")
        return cls(timezone, _parse_hours(hours), _parse_holidays(holidays))

    @classmethod
    def from_row(
        cls, calendar: BusinessCalendar, timezone_override: str | None = None
    ) -> BusinessHours:
        """A calendar's hours, in another zone when one calendar serves sites in many."""
        return cls.parse(timezone_override or calendar.timezone, calendar.hours, calendar.holidays)

    # -- one local day ------------------------------------------------------------------

    def _instant(self, day: dt.date, offset: dt.timedelta) -> dt.datetime:
        """The UTC instant of a local wall time; one that a spring-forward gap skips maps
        to the instant of the change, so spans stay in order and never overlap."""
        wall = dt.datetime.combine(day, _MIDNIGHT) + offset
        instant = wall.replace(tzinfo=self._zone).astimezone(dt.UTC)
        if instant.astimezone(self._zone).replace(tzinfo=None) == wall:
            return instant  # exists (ambiguous fall-back times take the first occurrence)
        # In a gap fold=1 reads the wall time with the later offset: just before the change.
        low = wall.replace(tzinfo=self._zone, fold=1).astimezone(dt.UTC)
        high = instant
        while high - low > dt.timedelta(seconds=1):
            middle = low + (high - low) / 2
            if middle.astimezone(self._zone).utcoffset() == low.astimezone(self._zone).utcoffset():
                low = middle
            else:
                high = middle
        return high.replace(microsecond=0) if high.microsecond else high

    def _day_spans(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        if day in self.holidays:
            return []
        spans = []
        for start, end in self._week[day.weekday()]:
            begin, finish = self._instant(day, start), self._instant(day, end)
            if begin < finish:  # a span wholly inside a gap did not happen
                spans.append((begin, finish))
        return spans

    def _plain_week(self, day: dt.date) -> bool:
        """True when the seven days from day hold no holiday and no UTC-offset change,
        so they contain exactly the nominal weekly hours."""
        if any(day + dt.timedelta(days=i) in self.holidays for i in range(7)):
            return False
        offsets = {
            self._zone.utcoffset(dt.datetime.combine(day + dt.timedelta(days=i), _MIDNIGHT))
            for i in range(8)
        }
        return len(offsets) == 1

    def _local_date(self, instant: dt.datetime) -> dt.date:
        return instant.astimezone(self._zone).date()

    # -- the public arithmetic ----------------------------------------------------------

    def add(self, start: dt.datetime, seconds: float) -> dt.datetime:
        """The earliest instant by which `seconds` of business time have passed since start.

        A start outside hours counts from the next opening; a target that ends exactly at
        closing time is due at closing time, not at the next opening. add(start, 0) is start.
        """
        at = _utc(start, "start")
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        remaining = dt.timedelta(seconds=seconds)
        if self._always_open or not remaining:
            return at + remaining
        first_day = day = self._local_date(at)
        while True:
            if (day - first_day).days > _MAX_DAYS:
                raise ValueError("no business time found within 100 years")
            # Strictly more than a week left: the answer is not inside this week.
            if day > first_day and remaining > self._week_length and self._plain_week(day):
                remaining -= self._week_length
                day += _WEEK
                continue
            for begin, finish in self._day_spans(day):
                begin = max(begin, at)
                if begin >= finish:
                    continue
                if remaining <= finish - begin:
                    return begin + remaining
                remaining -= finish - begin
            day += _DAY

    def between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Business seconds in [a, b); 0 when b is not after a."""
        start, stop = _utc(a, "a"), _utc(b, "b")
        if stop <= start:
            return 0.0
        if self._always_open:
            return (stop - start).total_seconds()
        total = dt.timedelta()
        first_day = day = self._local_date(start)
        last_day = self._local_date(stop)
        while day <= last_day:
            if day > first_day and day + _WEEK <= last_day and self._plain_week(day):
                total += self._week_length
                day += _WEEK
                continue
            for begin, finish in self._day_spans(day):
                begin, finish = max(begin, start), min(finish, stop)
                if begin < finish:
                    total += finish - begin
            day += _DAY
        return total.total_seconds()

    def is_open(self, at: dt.datetime) -> bool:
        instant = _utc(at, "at")
        if self._always_open:
            return True
        spans = self._day_spans(self._local_date(instant))
        return any(begin <= instant < finish for begin, finish in spans)


ROUND_THE_CLOCK = BusinessHours("UTC", {day: [(_MIDNIGHT, _MIDNIGHT)] for day in WEEKDAYS})
