"""Incident notification policy: when the first notice to a tenant is due (16.1.1).

Pure functions: given the detection time, a :class:`Policy` and a :class:`BusinessCalendar`
they return the deadline of the first notice as an aware UTC ``datetime``. Nothing here
reads the database; :func:`default_calendar` and :func:`default_policy` read settings.

Business time
    Weekdays 09:00–18:00 Asia/Tokyo (the start is inside, 18:00 itself is outside), except
    Japanese public holidays (``holidays.Japan()``, substitute holidays included) and the
    provider's closed days, by default 29 December – 3 January, the new-year holidays most
    Japanese companies observe (setting ``MAMORI_INCIDENT_CLOSED_DAYS``, ``MM-DD`` list).
    Japan has no daylight saving time, so a deadline never moves by an hour.

Presets (``Policy.preset``)
    ``business_6h``
        Detected in business time: detection + 6 hours (wall clock, even when that runs past
        18:00). Detected outside: the later of the next business-day start and detection +
        6 hours. Friday 17:30 → Friday 23:30; Friday 18:00 → Monday 09:00; Tuesday 05:00 →
        Tuesday 11:00 (6 hours is later than 09:00).
    ``within_24h``
        Detection + 24 hours, whatever the calendar says.
    ``one_business_day``
        By the end (18:00) of the next business day: the first business day whose date
        (in Tokyo) is after the detection's date. Friday 10:00 → Monday 18:00; Monday 07:00
        → Tuesday 18:00. Chosen because “1 営業日以内” in Japanese contracts is read as
        “by the end of the following business day”: it never gives less than one full
        business day, it does not depend on the hour of detection, and anyone can check it
        with a calendar.
    ``custom``
        ``hours`` (1–720). With ``business_hours`` the hours are counted only inside
        business time (6 business hours from Friday 17:00 end on Monday 14:00); without,
        on the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

BUSINESS_6H = "business_6h"
WITHIN_24H = "within_24h"
ONE_BUSINESS_DAY = "one_business_day"
CUSTOM = "custom"
PRESETS = (BUSINESS_6H, WITHIN_24H, ONE_BUSINESS_DAY, CUSTOM)
MAX_CUSTOM_HOURS = 720
#: 29 December – 3 January.
NEW_YEAR_CLOSED_DAYS: tuple[tuple[int, int], ...] = ((12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3))
TOKYO = ZoneInfo("Asia/Tokyo")


@lru_cache(maxsize=1)
def _japanese_holidays():
    import holidays

    return holidays.Japan()  # expands to any year asked for


def japanese_holiday(day: date) -> str | None:
    """The name of the Japanese public holiday on ``day``, or None."""
    return _japanese_holidays().get(day)


@dataclass(frozen=True)
class BusinessCalendar:
    """When the provider is at work. ``closed_days``: (month, day) pairs closed every year."""

    zone: ZoneInfo = TOKYO
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    closed_days: frozenset[tuple[int, int]] = field(default_factory=lambda: frozenset(NEW_YEAR_CLOSED_DAYS))
    public_holidays: bool = True

    def is_business_day(self, day: date) -> bool:
        if day.weekday() >= 5 or (day.month, day.day) in self.closed_days:
            return False
        return not (self.public_holidays and japanese_holiday(day) is not None)

    def local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("aware datetimes only")
        return moment.astimezone(self.zone)

    def is_business_time(self, moment: datetime) -> bool:
        here = self.local(moment)
        return self.is_business_day(here.date()) and self.opens <= here.time() < self.closes

    def next_business_day(self, day: date) -> date:
        """The first business day after ``day``."""
        day += timedelta(days=1)
        for _ in range(400):
            if self.is_business_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError("no business day within 400 days: check the closed days")

    def _at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.zone).astimezone(UTC)

    def next_business_start(self, moment: datetime) -> datetime:
        """The next moment business time begins, at or after ``moment`` (``moment`` itself when
        it is exactly an opening time)."""
        here = self.local(moment)
        if self.is_business_day(here.date()) and here.time() <= self.opens:
            return self._at(here.date(), self.opens)
        return self._at(self.next_business_day(here.date()), self.opens)

    def end_of_business_day(self, day: date) -> datetime:
        return self._at(day, self.closes)

    def add_business_hours(self, moment: datetime, hours: float) -> datetime:
        """``moment`` plus ``hours`` counted only inside business time."""
        left = timedelta(hours=hours)
        current = moment.astimezone(UTC)
        if not self.is_business_time(current):
            current = self.next_business_start(current)
        for _ in range(10000):
            here = self.local(current)
            close = self._at(here.date(), self.closes)
            available = close - current
            if left <= available:
                return current + left
            left -= available
            current = self._at(self.next_business_day(here.date()), self.opens)
        raise ValueError("too many business hours")


@dataclass(frozen=True)
class Policy:
    """A notification rule: a preset, and for ``custom`` the hours and whether they count only
    business time."""

    preset: str = BUSINESS_6H
    hours: int | None = None
    business_hours: bool = False

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"unknown notification policy {self.preset!r}; one of {', '.join(PRESETS)}")
        if self.preset == CUSTOM and not (isinstance(self.hours, int) and 1 <= self.hours <= MAX_CUSTOM_HOURS):
            raise ValueError(f"a custom policy needs 1–{MAX_CUSTOM_HOURS} hours")

    @property
    def key(self) -> str:
        if self.preset != CUSTOM:
            return self.preset
        return f"custom:{self.hours}h{':business' if self.business_hours else ''}"


def first_notice_deadline(detected_at: datetime, policy: Policy, calendar: BusinessCalendar | None = None) -> datetime:
    """The latest moment (UTC) the first notice of an incident detected at ``detected_at`` may
    reach the tenant under ``policy``."""
    calendar = calendar or BusinessCalendar()
    detected = calendar.local(detected_at).astimezone(UTC)
    if policy.preset == BUSINESS_6H:
        six = detected + timedelta(hours=6)
        if calendar.is_business_time(detected):
            return six
        return max(calendar.next_business_start(detected), six)
    if policy.preset == WITHIN_24H:
        return detected + timedelta(hours=24)
    if policy.preset == ONE_BUSINESS_DAY:
        day = calendar.next_business_day(calendar.local(detected).date())
        return calendar.end_of_business_day(day)
    if policy.hours is None:
        raise ValueError("a custom notification policy needs its hours")
    if policy.business_hours:
        return calendar.add_business_hours(detected, policy.hours)
    return detected + timedelta(hours=policy.hours)


def parse_closed_days(values) -> frozenset[tuple[int, int]]:
    """``["12-29", "01-03"]`` → {(12, 29), (1, 3)}; raises ValueError naming a bad entry."""
    days = set()
    for value in values:
        text = str(value).strip()
        if not text:
            continue
        try:
            month, day = (int(part) for part in text.split("-"))
            date(2024, month, day)  # a leap year: 02-29 is allowed
        except (ValueError, TypeError):
            raise ValueError(f"MAMORI_INCIDENT_CLOSED_DAYS: {text!r} is not MM-DD") from None
        days.add((month, day))
    return frozenset(days)


def default_calendar() -> BusinessCalendar:
    """The calendar from settings (``MAMORI_INCIDENT_CLOSED_DAYS``)."""
    from django.conf import settings

    configured = getattr(settings, "MAMORI_INCIDENT_CLOSED_DAYS", None)
    if configured is None:
        return BusinessCalendar()
    return BusinessCalendar(closed_days=parse_closed_days(configured))


def parse_policy(text: str) -> Policy:
    """``business_6h`` | ``within_24h`` | ``one_business_day`` | ``custom:<hours>h[:business]``."""
    text = (text or "").strip()
    if text.startswith("custom:"):
        parts = text.split(":")
        hours = parts[1].removesuffix("h") if len(parts) > 1 else ""
        if not hours.isdigit() or len(parts) > 3 or (len(parts) == 3 and parts[2] != "business"):
            raise ValueError(f"bad custom policy {text!r}: use custom:<hours>h or custom:<hours>h:business")
        return Policy(CUSTOM, int(hours), len(parts) == 3)
    return Policy(text)


def default_policy() -> Policy:
    """The provider default (``MAMORI_INCIDENT_NOTIFICATION_POLICY``)."""
    from django.conf import settings

    return parse_policy(getattr(settings, "MAMORI_INCIDENT_NOTIFICATION_POLICY", BUSINESS_6H))


def describe(policy: Policy) -> str:
    """The rule in words, in the active language."""
    from django.utils.translation import gettext as _

    if policy.preset == BUSINESS_6H:
        return _("Within 6 hours when detected in business hours (weekdays 09:00–18:00 JST, "
                 "excluding public holidays and closed days); otherwise by the later of the next "
                 "business-day start and 6 hours after detection.")
    if policy.preset == WITHIN_24H:
        return _("Within 24 hours of detection.")
    if policy.preset == ONE_BUSINESS_DAY:
        return _("By 18:00 JST of the next business day after the day of detection.")
    if policy.business_hours:
        return _("Within %(hours)d business hours of detection.") % {"hours": policy.hours}
    return _("Within %(hours)d hours of detection.") % {"hours": policy.hours}
