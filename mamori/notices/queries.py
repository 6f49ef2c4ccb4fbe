"""Reads of notices: the tenant console (banner, list), the status page, the iCalendar feeds,
the release notes and the provider console."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from mamori.notices.models import Notice, NoticeDelivery, NoticeDismissal
from mamori.notices.validation import lead_time_days  # noqa: F401 (re-exported for the whitepaper)
from mamori.tenancy.models import Tenant

State = Notice.State
Kind = Notice.Kind
#: How long a vulnerability notice without a window stays in the banner after it was published.
VULNERABILITY_BANNER_DAYS = 30
#: How far back the feeds and the list reach.
HISTORY_DAYS = 90


def tenant_notices(tenant: Tenant) -> QuerySet[Notice]:
    """Published (or cancelled after publication) notices for ``tenant``: those for all
    tenants and those that chose it. Release notes are public and not listed here."""
    return (Notice.objects.filter(published_at__isnull=False, state__in=(State.PUBLISHED, State.CANCELLED))
            .exclude(kind=Kind.RELEASE)
            .filter(Q(audience=Notice.Audience.ALL) | Q(audience=Notice.Audience.CHOSEN, tenants=tenant))
            .distinct())


def _current(queryset: QuerySet[Notice], now: datetime) -> QuerySet[Notice]:
    """Maintenance that is upcoming or in progress; vulnerability notices still current."""
    fresh = now - timedelta(days=VULNERABILITY_BANNER_DAYS)
    return queryset.filter(state=State.PUBLISHED).filter(
        Q(kind=Kind.MAINTENANCE, ends_at__gt=now)
        | Q(kind=Kind.VULNERABILITY, ends_at__gt=now)
        | Q(kind=Kind.VULNERABILITY, ends_at__isnull=True, published_at__gte=fresh))


def banner_notices(tenant: Tenant, user, now: datetime | None = None) -> list[Notice]:
    """What the console banner shows ``user``: current maintenance and vulnerability notices
    of the tenant the user has not hidden, soonest first."""
    now = now or timezone.now()
    hidden = NoticeDismissal.objects.filter(user=user).values_list("notice_id", flat=True)
    notices = _current(tenant_notices(tenant), now).exclude(pk__in=list(hidden))
    return sorted(notices, key=lambda n: (n.starts_at or n.published_at, n.pk))


def console_notices(tenant: Tenant, now: datetime | None = None) -> dict[str, list[Notice]]:
    """The tenant's notices page: ``current`` (upcoming or ongoing) and ``past`` (the last 90 days)."""
    now = now or timezone.now()
    notices = list(tenant_notices(tenant).filter(published_at__gte=now - timedelta(days=365))
                   .order_by("-published_at", "-pk")[:200])
    current_ids = set(_current(tenant_notices(tenant), now).values_list("pk", flat=True))
    current = sorted((n for n in notices if n.pk in current_ids), key=lambda n: (n.starts_at or n.published_at))
    past = [n for n in notices if n.pk not in current_ids]
    return {"current": current, "past": past}


def release_notes() -> list[Notice]:
    return list(Notice.objects.filter(kind=Kind.RELEASE, state=State.PUBLISHED).order_by("-published_at", "-pk"))


def feed_notices(tenant: Tenant | None = None, now: datetime | None = None) -> list[Notice]:
    """Maintenance for an iCalendar feed: published or cancelled-after-publication windows that
    end after ``now`` minus 90 days. ``tenant=None``: the public feed (all-tenant notices only)."""
    now = now or timezone.now()
    base = (Notice.objects.filter(kind=Kind.MAINTENANCE, published_at__isnull=False,
                                  state__in=(State.PUBLISHED, State.CANCELLED),
                                  starts_at__isnull=False, ends_at__gt=now - timedelta(days=HISTORY_DAYS)))
    if tenant is None:
        base = base.filter(audience=Notice.Audience.ALL)
    else:
        base = base.filter(pk__in=tenant_notices(tenant).values("pk"))
    return list(base.order_by("starts_at", "pk"))


def status_page_notices(now=None) -> list[dict]:
    """Published maintenance notices that are upcoming or in progress, for the status page
    and its Atom feed: dicts with id, kind, title, body, starts_at, ends_at, components
    (component keys), impact, emergency, published_at, updated_at, url."""
    now = now or timezone.now()
    notices = (Notice.objects.filter(kind=Kind.MAINTENANCE, state=State.PUBLISHED, audience=Notice.Audience.ALL,
                                     ends_at__gt=now).order_by("starts_at", "pk"))
    return [{
        "id": n.pk, "kind": n.kind, "title": n.title, "body": n.body, "starts_at": n.starts_at,
        "ends_at": n.ends_at, "components": list(n.components or []), "impact": n.impact,
        "emergency": n.emergency, "published_at": n.published_at, "updated_at": n.updated_at,
        "url": f"{settings.BASE_URL}/status#maintenance-{n.pk}",
    } for n in notices]


# --- Provider console ------------------------------------------------------------------------------

def provider_notices(state: str = "") -> QuerySet[Notice]:
    notices = Notice.objects.all().prefetch_related("tenants")
    if state in State.values:
        notices = notices.filter(state=state)
    return notices.order_by("-created_at", "-pk")


def delivery_summary(notice: Notice) -> list[dict]:
    """Per tenant: the dashboard delivery and the mails (sent, failed, waiting) of each purpose."""
    rows: dict[int, dict] = {}
    deliveries = NoticeDelivery.objects.filter(notice=notice).select_related("tenant").order_by(
        "tenant__slug", "created_at", "pk")
    for delivery in deliveries:
        entry = rows.setdefault(delivery.tenant_id, {"tenant": delivery.tenant, "dashboard_at": None,
                                                     "mails": [], "sent": 0, "failed": 0, "waiting": 0})
        if delivery.channel == NoticeDelivery.Channel.DASHBOARD:
            entry["dashboard_at"] = entry["dashboard_at"] or delivery.sent_at
            continue
        entry["mails"].append(delivery)
        if delivery.sent_at:
            entry["sent"] += 1
        elif delivery.error:
            entry["failed"] += 1
        else:
            entry["waiting"] += 1
    return list(rows.values())


def short_lead_maintenance() -> list[Notice]:
    """Published non-emergency maintenance announced with less than the configured lead time."""
    lead = timedelta(days=lead_time_days())
    notices = Notice.objects.filter(kind=Kind.MAINTENANCE, published_at__isnull=False, emergency=False,
                                    starts_at__isnull=False).exclude(state=State.DRAFT)
    return [n for n in notices if n.starts_at - n.published_at < lead]
