"""The iCalendar feeds, read back by a small strict RFC 5545 parser: CRLF line ends, folding
at 75 octets without splitting a UTF-8 character, required properties, UTC times, TEXT
escaping; cancelled windows stay in the feed as STATUS:CANCELLED with a higher SEQUENCE."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from mamori.notices import actions, ical
from mamori.tenancy.context import use_tenant

pytestmark = pytest.mark.django_db

NAME = re.compile(r"^[A-Z][A-Z0-9-]*$")
UTC_TIME = re.compile(r"^\d{8}T\d{6}Z$")
TEXT_PROPERTIES = {"SUMMARY", "DESCRIPTION", "LOCATION", "X-WR-CALNAME"}


def unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        char = value[i]
        if char == "\\":
            nxt = value[i + 1]  # an escape at the very end is malformed: IndexError fails the test
            assert nxt in "\\;,nN", f"bad escape \\{nxt}"
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
            continue
        assert char not in ";,", f"unescaped {char!r} in TEXT value {value!r}"
        out.append(char)
        i += 1
    return "".join(out)


def parse(data: bytes) -> list[dict]:
    """Strictly parse a VCALENDAR; returns its VEVENTs as {NAME: value} (TEXT unescaped)."""
    text = data.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""), "every line must end in CRLF"
    physical = text[:-2].split("\r\n")
    for line in physical:
        assert len(line.encode("utf-8")) <= 75, f"line longer than 75 octets: {line!r}"
    logical: list[str] = []
    for line in physical:
        if line.startswith((" ", "\t")):
            assert logical, "a continuation line cannot come first"
            logical[-1] += line[1:]
        else:
            logical.append(line)
    stack, events, calendar, current = [], [], {}, None
    for line in logical:
        name_part, sep, value = line.partition(":")
        assert sep, f"no colon in {line!r}"
        name = name_part.split(";")[0]
        assert NAME.match(name), f"bad property name {name!r}"
        if name == "BEGIN":
            stack.append(value)
            if value == "VEVENT":
                current = {}
            continue
        if name == "END":
            assert stack and stack.pop() == value, f"END:{value} does not close the open component"
            if value == "VEVENT":
                events.append(current)
                current = None
            continue
        if name in TEXT_PROPERTIES:
            value = unescape(value)
        elif name == "CATEGORIES":
            value = [unescape(v) for v in re.split(r"(?<!\\),", value)]
        target = current if current is not None else calendar
        assert name not in target, f"{name} twice"
        target[name] = value
    assert stack == [], "unclosed components"
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    for event in events:
        for required in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"):
            assert required in event, f"VEVENT without {required}"
        for prop in ("DTSTAMP", "DTSTART", "DTEND", "LAST-MODIFIED"):
            assert UTC_TIME.match(event[prop]), f"{prop} is not a UTC date-time: {event[prop]}"
        assert event["DTEND"] > event["DTSTART"]
    return events


def _utc(value: str) -> datetime:
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def test_fold_and_escape_units():
    assert ical.escape_text('a;b,c\\d\r\ne') == "a\\;b\\,c\\\\d\\ne"
    line = "DESCRIPTION:" + "日本語のテキスト" * 20
    folded = ical.fold(line)
    parts = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in parts) and all(p.startswith(" ") for p in parts[1:])
    assert "".join([parts[0]] + [p[1:] for p in parts[1:]]) == line  # no character lost or split
    assert ical.fold("SHORT:x") == "SHORT:x"
    exactly = "X" * 75
    assert ical.fold(exactly) == exactly and ical.fold(exactly + "Y") == exactly + "\r\n Y"


def test_public_feed_parses_strictly_and_round_trips(make_notice, operator):
    tricky = "Line one; with, punctuation\\ and a backslash\nLine two: 日本語の長い説明文です。" * 3
    notice = make_notice(publish=True, title_en="DB upgrade; v16, phase 1", body_en=tricky,
                         components=["database", "api"])
    second = make_notice(publish=True, starts_at=notice.starts_at + timedelta(days=2),
                         ends_at=notice.ends_at + timedelta(days=2))
    response = Client().get("/status/maintenance.ics?lang=en")
    assert response.status_code == 200 and response["Content-Type"] == "text/calendar; charset=utf-8"
    events = {e["UID"]: e for e in parse(response.content)}
    first = events[f"notice-{notice.pk}@127.0.0.1"]
    assert first["SUMMARY"] == "DB upgrade; v16, phase 1"
    assert first["DESCRIPTION"].startswith(tricky.replace("\r\n", "\n"))
    assert "データベースを更新します。" in first["DESCRIPTION"]  # the other language follows
    assert _utc(first["DTSTART"]) == notice.starts_at.replace(microsecond=0)
    assert _utc(first["DTEND"]) == notice.ends_at.replace(microsecond=0)
    assert first["STATUS"] == "CONFIRMED" and first["SEQUENCE"] == "1"
    assert first["LOCATION"] == "API, Database" and first["CATEGORIES"] == ["Maintenance", "Degraded service"]
    assert f"notice-{second.pk}@127.0.0.1" in events
    ja = parse(Client().get("/status/maintenance.ics?lang=ja").content)
    assert {e["SUMMARY"] for e in ja} == {"データベースの定期メンテナンス"}

    with use_tenant(None):
        actions.cancel_notice(staff=operator, notice_id=notice.pk, reason="postponed")
    events = {e["UID"]: e for e in parse(Client().get("/status/maintenance.ics").content)}
    cancelled = events[f"notice-{notice.pk}@127.0.0.1"]
    assert cancelled["STATUS"] == "CANCELLED" and int(cancelled["SEQUENCE"]) > 1


def test_drafts_and_chosen_audiences_are_not_public(make_notice, other_tenant):
    make_notice()
    make_notice(publish=True, audience="chosen", tenant_ids=[other_tenant.pk])
    assert parse(Client().get("/status/maintenance.ics").content) == []


def test_feed_is_get_only(db):
    assert Client().post("/status/maintenance.ics").status_code == 405
