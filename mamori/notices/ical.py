"""iCalendar (RFC 5545) feeds of maintenance windows, written by hand.

Lines end in CRLF and are folded at 75 octets (a continuation line starts with one space,
and a UTF-8 character is never split); TEXT values escape backslash, semicolon, comma and
newlines; times are UTC (``…Z``). Each window is one VEVENT whose UID stays the same for the
notice's life and whose SEQUENCE is its revision, so calendars update or (``STATUS:CANCELLED``)
remove it when the provider edits or cancels the notice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from mamori.notices.models import Notice

PRODID = "-//Mamori//Maintenance notices//EN"


def escape_text(value: str) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n"))


def fold(line: str) -> str:
    """Fold one content line into chunks of at most 75 octets joined by CRLF + space."""
    encoded = line.encode("utf-8")
    if len(encoded) <= 75:
        return line
    parts: list[str] = []
    current = b""
    limit = 75
    for char in line:
        piece = char.encode("utf-8")
        if len(current) + len(piece) > limit:
            parts.append(current.decode("utf-8"))
            current = b""
            limit = 74  # the leading space of a continuation line counts
        current += piece
    parts.append(current.decode("utf-8"))
    return "\r\n ".join(parts)


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _uid_domain() -> str:
    return urlsplit(settings.BASE_URL).hostname or "mamori.invalid"


def _event(notice: Notice, now: datetime, language: str) -> list[str]:
    title = notice.title_in(language)
    other = "en" if language == "ja" else "ja"
    description = notice.body_in(language)
    if notice.body_in(other) and notice.body_in(other) != description:
        description = f"{description}\n\n---\n{notice.title_in(other)}\n{notice.body_in(other)}"
    components = ", ".join(notice.component_labels())
    lines = [
        "BEGIN:VEVENT",
        f"UID:notice-{notice.pk}@{_uid_domain()}",
        f"DTSTAMP:{_utc(now)}",
        f"LAST-MODIFIED:{_utc(notice.updated_at)}",
        f"SEQUENCE:{notice.revision}",
        f"DTSTART:{_utc(notice.starts_at)}",
        f"DTEND:{_utc(notice.ends_at)}",
        f"SUMMARY:{escape_text(title)}",
        f"DESCRIPTION:{escape_text(description)}",
        f"STATUS:{'CANCELLED' if notice.state == Notice.State.CANCELLED else 'CONFIRMED'}",
        "TRANSP:TRANSPARENT",
        f"CATEGORIES:{escape_text(notice.get_kind_display())},{escape_text(notice.get_impact_display())}",
    ]
    if components:
        lines.append(f"LOCATION:{escape_text(components)}")
    return lines + ["END:VEVENT"]


def calendar(notices: Iterable[Notice], *, name: str, language: str = "ja", now: datetime | None = None) -> str:
    """The whole VCALENDAR as text (CRLF line ends, folded)."""
    now = now or timezone.now()
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape_text(name)}", "X-WR-TIMEZONE:UTC"]
    for notice in notices:
        lines.extend(_event(notice, now, language))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
