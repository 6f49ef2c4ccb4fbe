"""Reading the tenant's operation log: search, filters, keyset pagination.

One function, :func:`search_events`, serves the console and the API so the two
cannot drift. Filters are validated by :func:`clean_filters`, which raises
``ValidationError({field: message})`` for anything it cannot use (since after
until, a bad CIDR, text too long…) — never a database error.

Pagination is by keyset on ``(occurred_at, id)`` descending. The cursor names
the last event of the previous page; the next page starts strictly below it, with
a redundant ``occurred_at <= t`` bound so the index on
``(tenant, -occurred_at, -id)`` (or ``(tenant, actor_id, -occurred_at)`` for an
actor filter) is entered at the cursor instead of being scanned from the top.
A page costs one query whatever its depth.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Func, Q, QuerySet, Value
from django.utils.translation import gettext as _

from mamori.access.errors import NotFound, PermissionDenied
from mamori.access.roles import Perm, can
from mamori.audit.models import AuditEvent
from mamori.audit.registry import EVENT_TYPES

PAGE_SIZE = 50
MAX_LIMIT = 100
MAX_TEXT = 200
SIGNIN_CATEGORY = "signin"

Cursor = tuple[datetime, int]


@dataclass(frozen=True)
class AuditFilters:
    """What to search for; empty strings and ``None`` mean "no filter"."""

    actor: str = ""          # a user id (digits) or part of an actor label / e-mail
    actor_id: str = ""       # exactly this actor id
    action: str = ""         # "record.created" exactly, or a prefix: "record." / "record.*"
    target_type: str = ""
    target_id: str = ""
    target: str = ""         # part of the target label
    since: datetime | None = None   # inclusive, timezone-aware
    until: datetime | None = None   # exclusive, timezone-aware
    ip: str = ""             # an address or a network in CIDR notation
    text: str = ""           # part of the actor label, target label or action name
    actions: tuple[str, ...] = field(default=())  # internal: one of these names

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        if not self.ip or "/" not in self.ip:
            return None
        return ipaddress.ip_network(self.ip, strict=False)


_TEXT_LIMITS = {"actor": 254, "actor_id": 64, "action": 80, "target_type": 64, "target_id": 64, "target": MAX_TEXT,
                "ip": 64, "text": MAX_TEXT}


def _storable(value: str) -> bool:
    return "\x00" not in value and not any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)


def clean_filters(filters: AuditFilters) -> AuditFilters:
    """Trim text, check lengths, the IP or network and the time range; raise field errors."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for name, limit in _TEXT_LIMITS.items():
        value = str(getattr(filters, name) or "").strip()
        if len(value) > limit:
            errors[name] = _("At most %(n)d characters.") % {"n": limit}
        elif not _storable(value):
            errors[name] = _("Text cannot contain NUL characters or unpaired surrogates.")
        values[name] = value
    ip = values["ip"]
    if ip and "ip" not in errors:
        try:
            network = ipaddress.ip_network(ip, strict=False)
        except ValueError:
            errors["ip"] = _("Enter an IP address or a network in CIDR notation, e.g. 192.0.2.0/24.")
        else:
            values["ip"] = str(network) if "/" in ip else str(network.network_address)
    for name in ("since", "until"):
        moment = getattr(filters, name)
        if moment is None:
            continue
        if moment.tzinfo is None:
            errors[name] = _("Give a time zone offset.")
            continue
        try:
            moment.astimezone(UTC)
        except OverflowError:
            errors[name] = _("Enter a date between the years 1900 and 9999.")
            continue
        if not 1900 <= moment.year <= 9998:
            errors[name] = _("Enter a date between the years 1900 and 9999.")
    if filters.since and filters.until and "since" not in errors and "until" not in errors:
        if filters.since >= filters.until:
            errors["until"] = _("The end of the range must be after its start.")
    if errors:
        raise ValidationError(errors)
    return replace(filters, **values)


class _InNetwork(Func):
    """``ip`` inside a network: ``<<=`` on PostgreSQL, a registered function on SQLite."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, expression, network: str):
        super().__init__(expression, Value(network))

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        return f"({column} <<= %s::inet)", (*params, self.source_expressions[1].value)

    def as_sqlite(self, compiler, connection, **extra):
        connection.ensure_connection()
        connection.connection.create_function("mamori_ip_in_network", 2, _ip_in_network, deterministic=True)
        return self.as_sql(compiler, connection, function="mamori_ip_in_network", **extra)


def _ip_in_network(address: str | None, network: str) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def _action_filter(action: str) -> Q:
    if action.endswith("*"):
        action = action.rstrip("*")
        return Q(action__startswith=action)
    if action.endswith("."):
        return Q(action__startswith=action)
    return Q(action=action)


def filtered_events(filters: AuditFilters) -> QuerySet[AuditEvent]:
    """The active tenant's events matching ``filters`` (already cleaned), newest first."""
    qs = AuditEvent.objects.order_by("-occurred_at", "-id")
    if filters.actor:
        qs = qs.filter(actor_id=filters.actor) if filters.actor.isdigit() else qs.filter(
            actor_label__icontains=filters.actor)
    if filters.actor_id:
        qs = qs.filter(actor_id=filters.actor_id)
    if filters.action:
        qs = qs.filter(_action_filter(filters.action))
    if filters.actions:
        qs = qs.filter(action__in=filters.actions)
    if filters.target_type:
        qs = qs.filter(target_type=filters.target_type)
    if filters.target_id:
        qs = qs.filter(target_id=filters.target_id)
    if filters.target:
        qs = qs.filter(target_label__icontains=filters.target)
    if filters.since is not None:
        qs = qs.filter(occurred_at__gte=filters.since)
    if filters.until is not None:
        qs = qs.filter(occurred_at__lt=filters.until)
    if filters.ip:
        network = filters.network
        qs = qs.filter(_InNetwork("ip", str(network))) if network is not None else qs.filter(ip=filters.ip)
    if filters.text:
        qs = qs.filter(Q(actor_label__icontains=filters.text) | Q(target_label__icontains=filters.text)
                       | Q(action__icontains=filters.text))
    return qs


# --- Cursors -------------------------------------------------------------------------------

def encode_cursor(event: AuditEvent) -> str:
    stamp = event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return base64.urlsafe_b64encode(f"{stamp}|{event.pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field_name: str = "before") -> Cursor:
    message = _("This cursor is not valid; use the link or next_before of a previous page.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _sep, pk = raw.partition("|")
        when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
        number = int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({field_name: message}) from None
    if not 0 < number < 2**63:
        raise ValidationError({field_name: message})
    return when, number


@dataclass
class EventPage:
    events: list[AuditEvent]
    next_cursor: str | None


def _page(qs: QuerySet[AuditEvent], before: Cursor | None, limit: int) -> EventPage:
    limit = max(1, min(int(limit), MAX_LIMIT))
    if before is not None:
        when, pk = before
        qs = qs.filter(Q(occurred_at__lte=when) & (Q(occurred_at__lt=when) | Q(id__lt=pk)))
    rows = list(qs[: limit + 1])
    events = rows[:limit]
    more = len(rows) > limit and bool(events)
    return EventPage(events, encode_cursor(events[-1]) if more else None)


def search_events(user, filters: AuditFilters, before: Cursor | str | None = None,
                  limit: int = PAGE_SIZE) -> EventPage:
    """One page of the operation log for a user with ``audit.view`` (PermissionDenied otherwise).

    ``before`` is a cursor (``EventPage.next_cursor`` or its decoded tuple).
    Raises ``ValidationError`` with field names for invalid filters or cursor.
    """
    if not can(user, Perm.VIEW_AUDIT):
        raise PermissionDenied(Perm.VIEW_AUDIT)
    filters = clean_filters(filters)
    if isinstance(before, str):
        before = decode_cursor(before) if before else None
    return _page(filtered_events(filters), before, limit)


def access_event(user, event_id: int) -> AuditEvent:
    """One event of the active tenant for a user with ``audit.view``; NotFound otherwise."""
    if not can(user, Perm.VIEW_AUDIT):
        raise NotFound
    event = AuditEvent.objects.filter(pk=event_id).first()
    if event is None:
        raise NotFound
    return event


@dataclass(frozen=True)
class Change:
    field: str
    before: object
    after: object


def event_changes(event: AuditEvent) -> list[Change]:
    """Field-by-field before/after of an event, by field name (JSONB does not keep key order)."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    keys = sorted({*before.keys(), *after.keys()})
    return [Change(k, before.get(k), after.get(k)) for k in keys]


# --- Sign-in events (read by mamori.accounts.queries_signins) ----------------------------------

def signin_actions() -> tuple[str, ...]:
    return tuple(sorted(name for name, event in EVENT_TYPES.items() if event.category == SIGNIN_CATEGORY))
