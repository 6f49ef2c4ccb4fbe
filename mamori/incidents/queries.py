"""Reads of incidents: the status page, the tenant dashboard, the provider console."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Prefetch, Q
from django.urls import reverse
from django.utils import timezone

from mamori.incidents import policy as pol
from mamori.incidents.models import AffectedTenant, Incident, IncidentUpdate, NotificationPolicy

#: A resolved incident stays on the tenant's dashboard this long.
DASHBOARD_RESOLVED_DAYS = 3


def policy_for(tenant) -> pol.Policy:
    """The tenant's own notification policy, else the provider default."""
    row = NotificationPolicy.objects.filter(tenant_id=tenant.pk).first()
    if row is None:
        return pol.default_policy()
    return pol.Policy(row.preset, row.hours, row.business_hours)


def tenant_policy_override(tenant) -> pol.Policy | None:
    row = NotificationPolicy.objects.filter(tenant_id=tenant.pk).first()
    return pol.Policy(row.preset, row.hours, row.business_hours) if row else None


def status_page_incidents(now=None, days: int = 90) -> list[dict]:
    """Incidents with public information from the last ``days`` (open ones first), for the
    status page and its Atom feed: dicts with id, title, severity, state, started_at,
    resolved_at, components (component keys), updated_at, url, and updates: a list of dicts
    {at, text} holding only the public updates, newest first."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    public = IncidentUpdate.objects.filter(public=True, at__lte=now).order_by("-at", "-id")
    incidents = (Incident.objects.filter(updates__public=True, updates__at__lte=now)
                 .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=since))
                 .filter(started_at__lte=now)
                 .distinct().prefetch_related(Prefetch("updates", queryset=public, to_attr="public_updates")))
    result = []
    for incident in incidents:
        updates = incident.public_updates
        result.append({
            "id": incident.pk, "title": incident.title(), "severity": incident.severity,
            "state": incident.state, "started_at": incident.started_at, "resolved_at": incident.resolved_at,
            "components": list(incident.components),
            "updated_at": updates[0].at if updates else incident.updated_at,
            "url": f"{reverse('status')}#incident-{incident.pk}" if _has_status_url() else f"#incident-{incident.pk}",
            "updates": [{"at": u.at, "text": u.text()} for u in updates],
        })
    result.sort(key=lambda d: (d["resolved_at"] is not None, -d["updated_at"].timestamp()))
    return result


def _has_status_url() -> bool:
    from django.urls import NoReverseMatch

    try:
        reverse("status")
    except NoReverseMatch:
        return False
    return True


def dashboard_notices(tenant, language: str | None = None, now: datetime | None = None) -> list[dict]:
    """The incidents the tenant has been notified of (a dashboard delivery exists), open or
    resolved in the last ``DASHBOARD_RESOLVED_DAYS`` days, with their newest public update."""
    now = now or timezone.now()
    rows = (AffectedTenant.objects.filter(tenant_id=tenant.pk, deliveries__channel="dashboard",
                                          deliveries__sent_at__lte=now)
            .filter(Q(incident__resolved_at__isnull=True)
                    | Q(incident__resolved_at__gte=now - timedelta(days=DASHBOARD_RESOLVED_DAYS)))
            .select_related("incident").distinct().order_by("-incident__detected_at"))
    notices = []
    for row in rows[:5]:
        incident = row.incident
        latest = incident.updates.filter(public=True, at__lte=now).order_by("-at", "-id").first()
        notices.append({"reference": incident.reference, "title": incident.title(language),
                        "severity": incident.severity, "severity_label": incident.get_severity_display(),
                        "state": incident.state, "state_label": incident.get_state_display(),
                        "resolved": not incident.is_open,
                        "at": latest.at if latest else incident.updated_at,
                        "text": latest.text(language) if latest else ""})
    return notices


def incidents(*, open_only: bool = False):
    qs = Incident.objects.all()
    return qs.exclude(state=Incident.State.RESOLVED) if open_only else qs


def deadline_rows(now: datetime | None = None, *, incident: Incident | None = None) -> list[dict]:
    """Per affected tenant: deadline, notified at and status (pending, on_time, late, overdue);
    overdue and pending first."""
    now = now or timezone.now()
    qs = AffectedTenant.objects.select_related("incident", "tenant")
    if incident is not None:
        qs = qs.filter(incident=incident)
    order = {"overdue": 0, "pending": 1, "late": 2, "on_time": 3}
    rows = [{"row": row, "status": row.status(now), "incident": row.incident, "tenant": row.tenant,
             "deadline": row.deadline, "notified_at": row.notified_at, "policy": row.policy,
             "minutes_left": int((row.deadline - now).total_seconds() // 60) if row.notified_at is None else None}
            for row in qs]
    rows.sort(key=lambda r: (order[r["status"]], r["deadline"]))
    return rows


def deadline_summary(now: datetime | None = None) -> dict:
    now = now or timezone.now()
    pending = AffectedTenant.objects.filter(notified_at__isnull=True)
    return {"open_incidents": incidents(open_only=True).count(),
            "pending": pending.filter(deadline__gte=now).count(),
            "overdue": pending.filter(deadline__lt=now).count(),
            "late": AffectedTenant.objects.filter(notified_at__gt=F("deadline")).count()}


def due_for_warning(now: datetime, warn_minutes: int):
    """Rows not notified whose deadline is within ``warn_minutes`` and not yet warned about."""
    return (AffectedTenant.objects.exclude(tenant__status="purged")
            .filter(notified_at__isnull=True, warned_at__isnull=True, overdue_flagged_at__isnull=True,
                    deadline__gt=now, deadline__lte=now + timedelta(minutes=warn_minutes))
            .order_by("deadline"))


def due_overdue(now: datetime):
    return (AffectedTenant.objects.exclude(tenant__status="purged")
            .filter(notified_at__isnull=True, overdue_flagged_at__isnull=True, deadline__lt=now).order_by("deadline"))
