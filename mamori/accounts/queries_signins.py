"""Reading sign-in history from the tenant's audit log.

Sign-in events are ordinary audit events of the ``signin`` category (see
``mamori.accounts.signals``); each targets the user it concerns
(``target_type="accounts.user"``, ``target_id`` = the user's id, empty for an
address that is no account here). The index ``audit_tenant_target``
(tenant, target_type, target_id, -occurred_at) serves every per-user read here;
the tenant-wide history walks ``audit_tenant_time``.

- :func:`search_signins` — everyone's history for ``signins.view`` holders:
  tenant admins see all users (and attempts on unknown addresses), unit admins only
  the users of their units (``mamori.access.scope.manageable_users``).
- :func:`my_signins` — the signed-in user's own history (any role).
- :func:`previous_signin` — the sign-in before the current session's, for the home page.
- :func:`last_signins` — newest sign-in per user, for the user list.

Results group event names: success, failure, lockout, sign-out, and MFA for any
``signin`` event whose name mentions ``mfa`` (none yet: they arrive with MFA).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import CharField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Cast
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.access.errors import PermissionDenied
from mamori.access.roles import Perm, can
from mamori.access.scope import administered_unit_ids, manageable_users
from mamori.audit.models import AuditEvent
from mamori.audit.queries import (
    MAX_LIMIT,
    PAGE_SIZE,
    AuditFilters,
    Cursor,
    EventPage,
    clean_filters,
    decode_cursor,
    encode_cursor,
    filtered_events,
    signin_actions,
)

USER_TARGET = "accounts.user"
LOGIN = "auth.login"
FAILED = "auth.login_failed"
EXPORT_MAX_ROWS = 50_000

METHOD_LABELS = {
    "password": gettext_lazy("Password"),
    "login_link": gettext_lazy("One-time sign-in link"),
    "invitation": gettext_lazy("Invitation link"),
    "reauthentication": gettext_lazy("Password re-entry"),
}
REASON_LABELS = {
    "bad_credentials": gettext_lazy("Wrong e-mail address or password"),
    "account_inactive": gettext_lazy("Account suspended"),
    "unknown_account": gettext_lazy("No such account"),
    # auth.session_expired (mamori.accounts.sessions)
    "idle": gettext_lazy("Idle timeout"),
    "absolute": gettext_lazy("Maximum session length reached"),
}
_METHOD = re.compile(r"^[a-z0-9_]{1,40}$")


# --- Results --------------------------------------------------------------------------------

def _result(name: str) -> str:
    if "mfa" in name:
        return "mfa"
    if name.endswith("_failed"):
        return "failure"
    if name.endswith("lockout"):
        return "lockout"
    if name.endswith(("logout", "session_expired")):
        return "signout"
    return "success"


def result_labels() -> dict[str, object]:
    """The result filter's choices; MFA only once MFA events are registered."""
    labels = {"success": gettext_lazy("Signed in"), "failure": gettext_lazy("Failed"),
              "lockout": gettext_lazy("Locked out"), "signout": gettext_lazy("Signed out")}
    if any(_result(name) == "mfa" for name in signin_actions()):
        labels["mfa"] = gettext_lazy("Multi-factor authentication")
    return labels


def result_actions(result: str) -> tuple[str, ...]:
    return tuple(name for name in signin_actions() if _result(name) == result)


def result_of(event: AuditEvent) -> str:
    return _result(event.action)


def signin_method(event: AuditEvent) -> str:
    if event.action == "user.login_link_used":
        return "login_link"
    after = event.after if isinstance(event.after, dict) else {}
    return str(after.get("method", ""))


def signin_reason(event: AuditEvent) -> str:
    after = event.after if isinstance(event.after, dict) else {}
    return str(after.get("reason", ""))


def method_label(method: str):
    return METHOD_LABELS.get(method, method)


def reason_label(reason: str):
    return REASON_LABELS.get(reason, reason)


# --- Filters --------------------------------------------------------------------------------

@dataclass(frozen=True)
class SigninFilters:
    """What to look for; empty strings and ``None`` mean "no filter"."""

    user: str = ""        # an e-mail address (exactly one user) or part of one
    user_id: int | None = None
    result: str = ""      # a key of result_labels()
    method: str = ""      # password, login_link, invitation… (see METHOD_LABELS)
    ip: str = ""          # an address or a CIDR network
    since: datetime | None = None  # inclusive, aware
    until: datetime | None = None  # exclusive, aware


def clean_signin_filters(filters: SigninFilters) -> SigninFilters:
    """Validate and normalise; raises ``ValidationError({field: message})``."""
    errors: dict[str, str] = {}
    user = str(filters.user or "").strip()
    if len(user) > 254:
        errors["user"] = _("At most %(n)d characters.") % {"n": 254}
    elif "\x00" in user or any(0xD800 <= ord(ch) <= 0xDFFF for ch in user):
        errors["user"] = _("Text cannot contain NUL characters or unpaired surrogates.")
    result = str(filters.result or "").strip()
    if result and result not in result_labels():
        errors["result"] = _("Choose one of: %(values)s.") % {"values": ", ".join(result_labels())}
    method = str(filters.method or "").strip()
    if method and not _METHOD.match(method):
        errors["method"] = _("Unknown sign-in method.")
    if filters.user_id is not None and not 0 < filters.user_id < 2**63:
        errors["user_id"] = _("Unknown user.")
    try:
        cleaned = clean_filters(AuditFilters(ip=filters.ip or "", since=filters.since, until=filters.until))
    except ValidationError as exc:
        errors.update({name: messages[0] for name, messages in exc.message_dict.items()})
        cleaned = AuditFilters()
    if errors:
        raise ValidationError(errors)
    return replace(filters, user=user, result=result, method=method, ip=cleaned.ip)


def visible_user_ids(viewer) -> list[str] | None:
    """Whose sign-ins ``viewer`` may see: ``None`` for everyone (tenant admin), else user ids
    (a unit admin: the users of their units and of the units below)."""
    if not can(viewer, Perm.VIEW_SIGNINS):
        raise PermissionDenied(Perm.VIEW_SIGNINS)
    if administered_unit_ids(viewer) is None:
        return None
    return [str(pk) for pk in manageable_users(viewer).values_list("pk", flat=True)]


def _signin_events(filters: SigninFilters, visible: list[str] | None) -> QuerySet[AuditEvent]:
    """Sign-in events matching cleaned ``filters`` among users ``visible``, newest first."""
    from mamori.accounts.models import User

    actions = result_actions(filters.result) if filters.result else signin_actions()
    if not actions:
        return AuditEvent.objects.none()
    base = AuditFilters(actions=actions, target_type=USER_TARGET, ip=filters.ip,
                        since=filters.since, until=filters.until)
    target_id = ""
    if filters.user_id is not None:
        target_id = str(filters.user_id)
    if filters.user:
        match = User.objects.filter(email__iexact=filters.user).values_list("pk", flat=True).first()
        if match is not None:
            if target_id and target_id != str(match):
                return AuditEvent.objects.none()
            target_id = str(match)
        else:
            base = replace(base, target=filters.user)
    if target_id:
        if visible is not None and target_id not in visible:
            return AuditEvent.objects.none()
        base = replace(base, target_id=target_id)
    qs = filtered_events(base)
    if visible is not None and not target_id:
        qs = qs.filter(target_id__in=visible) if visible else qs.none()
    if filters.method:
        if filters.method == "login_link":
            qs = qs.filter(Q(after__method="login_link") | Q(action="user.login_link_used"))
        else:
            qs = qs.filter(after__method=filters.method)
    return qs


def _page(qs: QuerySet[AuditEvent], before: Cursor | str | None, limit: int) -> EventPage:
    if isinstance(before, str):
        before = decode_cursor(before) if before else None
    limit = max(1, min(int(limit), MAX_LIMIT))
    if before is not None:
        when, pk = before
        qs = qs.filter(Q(occurred_at__lte=when) & (Q(occurred_at__lt=when) | Q(id__lt=pk)))
    rows = list(qs[: limit + 1])
    events = rows[:limit]
    return EventPage(events, encode_cursor(events[-1]) if len(rows) > limit and events else None)


def search_signins(viewer, filters: SigninFilters, before: Cursor | str | None = None,
                   limit: int = PAGE_SIZE) -> EventPage:
    """One page of sign-in history for a holder of ``signins.view`` (PermissionDenied otherwise)."""
    visible = visible_user_ids(viewer)
    filters = clean_signin_filters(filters)
    return _page(_signin_events(filters, visible), before, limit)


def export_signins(viewer, filters: SigninFilters, max_rows: int = EXPORT_MAX_ROWS) -> Iterator[AuditEvent]:
    """Every matching event (newest first, at most ``max_rows``) for the CSV export."""
    visible = visible_user_ids(viewer)
    filters = clean_signin_filters(filters)
    return _signin_events(filters, visible)[:max_rows].iterator(chunk_size=1000)


def my_signins(user, result: str = "", before: Cursor | str | None = None, limit: int = PAGE_SIZE) -> EventPage:
    """The user's own sign-in events (any role), including failed attempts with their address."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise PermissionDenied
    filters = clean_signin_filters(SigninFilters(result=result))
    return _page(_signin_events(replace(filters, user_id=user.pk), None), before, limit)


# --- Home page and user list ----------------------------------------------------------------

def _user_logins(user_id) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(target_type=USER_TARGET, target_id=str(user_id), action=LOGIN) \
        .order_by("-occurred_at", "-id")


def current_signin(session) -> Cursor | None:
    """(time, event id) of the sign-in that opened this session, as ``signals.on_login`` stored it."""
    from mamori.accounts.signals import SESSION_SIGNIN_KEY

    raw = session.get(SESSION_SIGNIN_KEY) if session is not None else None
    try:
        pk, stamp = raw
        return datetime.fromisoformat(stamp), int(pk)
    except (TypeError, ValueError):
        return None


def previous_signin(user, current: Cursor | None = None) -> AuditEvent | None:
    """The user's successful sign-in before ``current`` (this session's), or before the newest."""
    logins = _user_logins(user.pk)
    if current is None:
        return logins[1:2].first()
    when, pk = current
    return logins.filter(Q(occurred_at__lt=when) | Q(occurred_at=when, id__lt=pk)).first()


def failures_between(user, after: datetime | None, until: datetime | None) -> int:
    """Failed sign-ins with the user's account in (after, until]; counts at most 100."""
    qs = AuditEvent.objects.filter(target_type=USER_TARGET, target_id=str(user.pk), action=FAILED)
    if after is not None:
        qs = qs.filter(occurred_at__gt=after)
    if until is not None:
        qs = qs.filter(occurred_at__lte=until)
    return len(qs.values_list("pk", flat=True)[:100])


def last_signins(user_ids: Iterable[int]) -> dict[int, tuple[datetime, str | None, str]]:
    """Newest successful sign-in per user of the active tenant: ``{user_id: (at, ip, method)}``.

    Users without any sign-in (and ids of other tenants) are absent. Two queries
    whatever the number of users; each user's newest ``auth.login`` is found
    through the ``audit_tenant_target`` index.
    """
    from mamori.accounts.models import User

    ids = {int(pk) for pk in user_ids}
    if not ids:
        return {}
    newest = AuditEvent.objects.filter(target_type=USER_TARGET, target_id=OuterRef("pk_text"), action=LOGIN) \
        .order_by("-occurred_at", "-id").values("pk")[:1]
    pairs = (User.objects.filter(pk__in=ids)
             .annotate(pk_text=Cast("pk", output_field=CharField()))
             .annotate(last_event=Subquery(newest))
             .exclude(last_event=None)
             .values_list("pk", "last_event"))
    by_event = {event_id: user_id for user_id, event_id in pairs}
    events = AuditEvent.objects.filter(pk__in=list(by_event)).only("pk", "occurred_at", "ip", "after", "action")
    return {by_event[e.pk]: (e.occurred_at, e.ip, signin_method(e)) for e in events}
