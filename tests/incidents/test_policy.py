"""The notification policy against a table of cases (all times Japan time unless noted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mamori.incidents import policy as pol

JST = ZoneInfo("Asia/Tokyo")
B6, D24, BD = pol.Policy(pol.BUSINESS_6H), pol.Policy(pol.WITHIN_24H), pol.Policy(pol.ONE_BUSINESS_DAY)


def jst(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=JST)


CASES = [
    # (why, policy, detected, deadline)
    ("Friday 17:30, in business hours: +6 h runs into the night", B6, "2026-11-13 17:30", "2026-11-13 23:30"),
    ("Friday 17:30 before a Monday holiday: still +6 h", B6, "2026-11-20 17:30", "2026-11-20 23:30"),
    ("exactly 18:00 is outside; Monday 23 Nov is Labour Thanksgiving Day", B6, "2026-11-20 18:00", "2026-11-24 09:00"),
    ("exactly 09:00 is inside", B6, "2026-11-24 09:00", "2026-11-24 15:00"),
    ("08:59 is outside: 6 h later beats the 09:00 start", B6, "2026-11-24 08:59", "2026-11-24 14:59"),
    ("05:00 on a weekday: 11:00 is later than 09:00", B6, "2026-11-25 05:00", "2026-11-25 11:00"),
    ("23:00 on a weekday: next morning 09:00", B6, "2026-11-25 23:00", "2026-11-26 09:00"),
    ("evening before a national holiday (Culture Day)", B6, "2026-11-02 19:00", "2026-11-04 09:00"),
    ("Friday evening before Silver Week (21–23 Sep)", B6, "2026-09-18 20:00", "2026-09-24 09:00"),
    ("3 am on a Sunday", B6, "2026-11-15 03:00", "2026-11-16 09:00"),
    ("3 am on a Sunday before a Monday holiday", B6, "2026-11-22 03:00", "2026-11-24 09:00"),
    ("Golden Week: Greenery Day, then Children's Day and a substitute holiday", B6, "2026-05-04 10:00",
     "2026-05-07 09:00"),
    ("1 May 2026 is an ordinary Friday between Golden Week holidays", B6, "2026-05-01 12:00", "2026-05-01 18:00"),
    ("last business day before the new-year holidays, in hours", B6, "2026-12-28 17:00", "2026-12-28 23:00"),
    ("last business day before the new-year holidays, evening", B6, "2026-12-28 19:00", "2027-01-04 09:00"),
    ("inside the new-year holidays (30 Dec, a weekday)", B6, "2026-12-30 10:00", "2027-01-04 09:00"),
    ("2 Jan, a Saturday in the holidays", B6, "2027-01-02 15:00", "2027-01-04 09:00"),
    ("within_24h ignores the calendar", D24, "2026-11-13 17:30", "2026-11-14 17:30"),
    ("within_24h over the new-year holidays", D24, "2026-12-31 23:00", "2027-01-01 23:00"),
    ("one_business_day: Friday → Tuesday (Monday is a holiday)", BD, "2026-11-20 10:00", "2026-11-24 18:00"),
    ("one_business_day: before opening still counts the next day", BD, "2026-11-16 07:00", "2026-11-17 18:00"),
    ("one_business_day: Friday 17:30 → Monday 18:00", BD, "2026-11-13 17:30", "2026-11-16 18:00"),
    ("one_business_day: 3 am Sunday → Monday 18:00", BD, "2026-11-15 03:00", "2026-11-16 18:00"),
    ("one_business_day: new-year holidays", BD, "2026-12-28 10:00", "2027-01-04 18:00"),
    ("one_business_day: Golden Week", BD, "2026-05-04 10:00", "2026-05-07 18:00"),
    ("custom 6 business hours from Friday 17:00", pol.Policy(pol.CUSTOM, 6, True), "2026-11-13 17:00",
     "2026-11-16 14:00"),
    ("custom 6 business hours over a Monday holiday", pol.Policy(pol.CUSTOM, 6, True), "2026-11-20 17:00",
     "2026-11-24 14:00"),
    ("custom 6 business hours from 3 am Sunday", pol.Policy(pol.CUSTOM, 6, True), "2026-11-15 03:00",
     "2026-11-16 15:00"),
    ("custom 9 business hours = one full day", pol.Policy(pol.CUSTOM, 9, True), "2026-11-24 09:00",
     "2026-11-24 18:00"),
    ("custom 10 wall-clock hours", pol.Policy(pol.CUSTOM, 10), "2026-11-20 17:00", "2026-11-21 03:00"),
]


@pytest.mark.parametrize(("why", "rule", "detected", "deadline"), CASES, ids=[c[0] for c in CASES])
def test_deadline_table(why, rule, detected, deadline):
    result = pol.first_notice_deadline(jst(detected), rule)
    assert result.tzinfo is not None
    assert result.astimezone(JST).strftime("%Y-%m-%d %H:%M") == deadline, why
    assert result == jst(deadline)


def test_the_detection_time_zone_does_not_matter_and_jst_has_no_dst():
    """The same instant given in UTC or in New York (on the day US clocks spring forward, and on
    the day they fall back) yields the same deadline; every local deadline is UTC+9."""
    for local, expected in (("2026-03-08 10:00", "2026-03-09 09:00"), ("2026-11-01 12:00", "2026-11-02 09:00")):
        instant = jst(local)
        for zone in ("UTC", "America/New_York", "Europe/Berlin"):
            moved = instant.astimezone(ZoneInfo(zone))
            assert pol.first_notice_deadline(moved, B6) == jst(expected)
    start = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)  # 10:00 JST
    for day in range(365):
        detected = start + timedelta(days=day)
        deadline = pol.first_notice_deadline(detected, B6)
        assert deadline.astimezone(JST).utcoffset() == timedelta(hours=9)
        if pol.BusinessCalendar().is_business_time(detected):
            assert deadline - detected == timedelta(hours=6)
        assert pol.first_notice_deadline(detected, D24) - detected == timedelta(hours=24)


def test_closed_days_are_configurable():
    open_all_year = pol.BusinessCalendar(closed_days=frozenset())
    assert pol.first_notice_deadline(jst("2026-12-30 10:00"), B6, open_all_year) == jst("2026-12-30 16:00")
    extra = pol.BusinessCalendar(closed_days=pol.parse_closed_days(["11-24", "12-29"]))
    assert pol.first_notice_deadline(jst("2026-11-20 18:00"), B6, extra) == jst("2026-11-25 09:00")
    assert pol.first_notice_deadline(jst("2026-12-30 10:00"), B6, extra) == jst("2026-12-30 16:00")


def test_default_calendar_reads_settings(settings):
    settings.MAMORI_INCIDENT_CLOSED_DAYS = ["08-13", "08-14"]
    calendar = pol.default_calendar()
    assert not calendar.is_business_day(jst("2026-08-13 10:00").date())
    assert calendar.is_business_day(jst("2026-12-29 10:00").date())  # new-year days replaced
    settings.MAMORI_INCIDENT_CLOSED_DAYS = ["12-29", "12-30", "12-31", "01-01", "01-02", "01-03"]
    assert pol.default_calendar() == pol.BusinessCalendar()


@pytest.mark.parametrize("bad", ["13-01", "12-32", "1229", "xx-yy", "02-30"])
def test_bad_closed_days_are_refused_with_the_entry(bad):
    with pytest.raises(ValueError, match=bad):
        pol.parse_closed_days(["12-29", bad])


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        pol.first_notice_deadline(datetime(2026, 11, 20, 10, 0), B6)


@pytest.mark.parametrize(("text", "key"), [
    ("business_6h", "business_6h"), ("within_24h", "within_24h"), ("one_business_day", "one_business_day"),
    ("custom:12h", "custom:12h"), ("custom:4h:business", "custom:4h:business"),
])
def test_parse_policy(text, key):
    assert pol.parse_policy(text).key == key


@pytest.mark.parametrize("text", ["", "weekly", "custom:", "custom:0h", "custom:999h", "custom:4h:always", "custom:xh"])
def test_parse_policy_refuses_bad_values(text):
    with pytest.raises(ValueError):
        pol.parse_policy(text)


def test_default_policy_from_settings(settings):
    settings.MAMORI_INCIDENT_NOTIFICATION_POLICY = "one_business_day"
    assert pol.default_policy() == BD


def test_every_preset_is_described_in_both_languages():
    from django.utils import translation

    for rule in (B6, D24, BD, pol.Policy(pol.CUSTOM, 8, True), pol.Policy(pol.CUSTOM, 8)):
        with translation.override("en"):
            english = pol.describe(rule)
        with translation.override("ja"):
            japanese = pol.describe(rule)
        assert english and japanese and english != japanese


def test_bad_settings_fail_mamori_check(settings):
    from mamori.incidents.checks import incident_settings

    assert incident_settings() == []
    settings.MAMORI_INCIDENT_NOTIFICATION_POLICY = "weekly"
    settings.MAMORI_INCIDENT_CLOSED_DAYS = ["12-32"]
    assert sorted(e.id for e in incident_settings()) == ["mamori.E410", "mamori.E411"]
