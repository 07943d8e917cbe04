"""Business hours, the clock the handoff SLAs run on: "accept within 4 business hours" given on
Friday at 16:00 is due on Monday at 12:00.

The days, the hours and the holidays come from settings (``LEADAPP_BUSINESS_DAYS``,
``LEADAPP_BUSINESS_HOURS``, ``LEADAPP_HOLIDAYS``), read in ``TIME_ZONE``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.utils import timezone


@dataclass(frozen=True)
class Calendar:
    days: frozenset[int]  # 0 = Monday
    opens: datetime.time
    closes: datetime.time
    holidays: frozenset[datetime.date]

    def is_working_day(self, day: datetime.date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def add(self, start: datetime.datetime, hours: float) -> datetime.datetime:
        """The moment ``hours`` business hours after ``start`` (an aware datetime)."""
        tz = timezone.get_default_timezone()
        local = timezone.localtime(start, tz)
        left = datetime.timedelta(hours=hours)
        day = local.date()
        for _ in range(3660):  # ten years of days: a calendar with no working day never ends
            if self.is_working_day(day):
                opens = _at(day, self.opens, tz)
                closes = _at(day, self.closes, tz)
                begin = max(local, opens)
                if begin < closes:
                    if begin + left <= closes:
                        return begin + left
                    left -= closes - begin
            day += datetime.timedelta(days=1)
            local = _at(day, datetime.time(0), tz)
        raise ValueError("The business calendar has no working hours.")

    def between(self, start: datetime.datetime, end: datetime.datetime) -> datetime.timedelta:
        """Business time from ``start`` to ``end`` (zero when ``end`` is not later)."""
        tz = timezone.get_default_timezone()
        total = datetime.timedelta()
        day = timezone.localtime(start, tz).date()
        last = timezone.localtime(end, tz).date()
        while day <= last:
            if self.is_working_day(day):
                begin = max(start, _at(day, self.opens, tz))
                finish = min(end, _at(day, self.closes, tz))
                if finish > begin:
                    total += finish - begin
            day += datetime.timedelta(days=1)
        return total


def _at(day: datetime.date, time: datetime.time, tz) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, time), tz)


def _parse_hours(text: str) -> tuple[datetime.time, datetime.time]:
    try:
        opens, closes = (datetime.time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"LEADAPP_BUSINESS_HOURS must look like 09:00-17:00, not {text!r}.") from None
    if opens >= closes:
        raise ValueError(f"LEADAPP_BUSINESS_HOURS must open before it closes: {text!r}.")
    return opens, closes


@lru_cache(maxsize=8)
def _calendar(days: tuple[int, ...], hours: str, holidays: tuple[str, ...]) -> Calendar:
    opens, closes = _parse_hours(hours)
    return Calendar(
        days=frozenset(int(day) for day in days),
        opens=opens,
        closes=closes,
        holidays=frozenset(datetime.date.fromisoformat(day) for day in holidays if day),
    )


def calendar() -> Calendar:
    """The calendar the settings describe (cached per value, so a test may override them)."""
    return _calendar(
        tuple(settings.LEADAPP_BUSINESS_DAYS),
        settings.LEADAPP_BUSINESS_HOURS,
        tuple(settings.LEADAPP_HOLIDAYS),
    )


def add_business_hours(start: datetime.datetime, hours: float) -> datetime.datetime:
    return calendar().add(start, hours)
