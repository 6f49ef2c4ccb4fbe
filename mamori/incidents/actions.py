"""Incident actions: record, update, timeline entries, notifying the affected tenants, the
deliveries and the deadline watch, and per-tenant notification policies.

Every action writes the provider log (``record_provider_event``) in its transaction; a
public timeline entry is also written to the log of every affected tenant
(``record_event`` inside ``tenant_context(tenant)``), so tenant admins see it. Mail is sent
after commit, by the ``deliver_incident_notice`` task.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.access.errors import PermissionDenied
from mamori.audit.canonical import format_time
from mamori.audit.events import Actor, diff, record_event, record_provider_event
from mamori.core.actions import action
from mamori.incidents import policy as pol
from mamori.incidents.models import (
    AffectedTenant,
    Delivery,
    Incident,
    IncidentUpdate,
    NotificationPolicy,
)
from mamori.incidents.queries import policy_for
from mamori.monitoring.components import COMPONENTS
from mamori.tenancy.context import tenant_context
from mamori.tenancy.models import Tenant

#: Provider staff roles that manage incidents (support staff only read them).
MANAGE_ROLES = ("operator", "security_officer")
MAX_TITLE = 200
MAX_TEXT = 5000
FUTURE_SLACK = timedelta(minutes=5)


def staff_actor(staff, roles=MANAGE_ROLES, permission: str = "incidents.manage") -> Actor:
    if staff is None or not staff.is_active or staff.role not in roles:
        raise PermissionDenied(permission, actor=None)
    return Actor.for_staff(staff)


def _target(incident: Incident) -> tuple[str, int, str]:
    return ("incident", incident.pk, incident.reference)


def _clean_text(value, field: str, errors: dict, *, limit: int, required: bool = True) -> str:
    text = str(value or "").replace("\x00", "").strip()
    if required and not text:
        errors[field] = _("This field is required.")
    elif len(text) > limit:
        errors[field] = _("At most %(max)d characters.") % {"max": limit}
    return text


def _clean(data: dict, *, now: datetime) -> dict:
    errors: dict[str, str] = {}
    out = {
        "title_ja": _clean_text(data.get("title_ja"), "title_ja", errors, limit=MAX_TITLE),
        "title_en": _clean_text(data.get("title_en"), "title_en", errors, limit=MAX_TITLE),
    }
    if data.get("severity") not in Incident.Severity.values:
        errors["severity"] = _("Choose a severity.")
    if data.get("state") not in Incident.State.values:
        errors["state"] = _("Choose a state.")
    out["severity"], out["state"] = data.get("severity"), data.get("state")
    started, detected = data.get("started_at"), data.get("detected_at")
    for field, value in (("started_at", started), ("detected_at", detected)):
        if not isinstance(value, datetime) or value.tzinfo is None:
            errors[field] = _("Enter a date and time.")
        elif value > now + FUTURE_SLACK:
            errors[field] = _("This time is in the future.")
    if "started_at" not in errors and "detected_at" not in errors and detected < started:
        errors["detected_at"] = _("An incident cannot be detected before it started.")
    out["started_at"], out["detected_at"] = started, detected
    components = list(data.get("components") or [])
    unknown = [c for c in components if c not in COMPONENTS]
    if unknown:
        errors["components"] = _("Unknown component: %(name)s") % {"name": ", ".join(map(str, unknown))[:100]}
    out["components"] = [c for c in COMPONENTS if c in components]
    out["all_tenants"] = bool(data.get("all_tenants"))
    try:
        ids = sorted({int(i) for i in (data.get("tenant_ids") or [])})
    except (TypeError, ValueError):
        ids = [0]
    tenants = list(Tenant.objects.filter(pk__in=ids).exclude(status=Tenant.Status.PURGED)) if ids else []
    if len(tenants) != len(ids):
        errors["tenants"] = _("One of the chosen tenants does not exist.")
    elif not out["all_tenants"] and not tenants:
        errors["tenants"] = _("Choose the affected tenants, or mark all tenants as affected.")
    out["tenants"] = [] if out["all_tenants"] else tenants
    if errors:
        raise ValidationError(errors)
    return out


def _affected_tenants(incident: Incident, chosen: list[Tenant] | None = None) -> list[Tenant]:
    if incident.all_tenants:
        return list(Tenant.objects.exclude(status=Tenant.Status.PURGED).order_by("pk"))
    if chosen is not None:
        return chosen
    return list(Tenant.objects.filter(pk__in=incident.affected.values("tenant_id")).order_by("pk"))


def _deadline(incident: Incident, tenant: Tenant) -> tuple[str, datetime]:
    rule = policy_for(tenant)
    return rule.key, pol.first_notice_deadline(incident.detected_at, rule, pol.default_calendar())


def _sync_affected(incident: Incident, tenants: list[Tenant], *, recompute: bool = False) -> tuple[list, list]:
    """Make the affected rows match ``tenants``; returns (added ids, removed ids)."""
    rows = {row.tenant_id: row for row in incident.affected.select_related("tenant")}
    wanted = {t.pk: t for t in tenants}
    # A purged tenant's row stays as history; only live tenants can be added or taken out.
    removed = [tid for tid in rows if tid not in wanted and rows[tid].tenant.status != Tenant.Status.PURGED]
    for tid in removed:
        if rows[tid].deliveries.exists():
            raise ValidationError({"tenants": _("Tenant %(slug)s has already been notified and stays affected.")
                                   % {"slug": rows[tid].tenant.slug}})
    AffectedTenant.objects.filter(incident=incident, tenant_id__in=removed).delete()
    added = []
    for tid, tenant in wanted.items():
        if tid not in rows:
            key, deadline = _deadline(incident, tenant)
            AffectedTenant.objects.create(incident=incident, tenant=tenant, policy=key, deadline=deadline)
            added.append(tid)
        elif recompute and rows[tid].notified_at is None:
            row = rows[tid]
            row.policy, row.deadline = _deadline(incident, tenant)
            row.warned_at = row.overdue_flagged_at = None
            row.save(update_fields=["policy", "deadline", "warned_at", "overdue_flagged_at"])
    return added, removed


def _snapshot(incident: Incident) -> dict:
    return {"title_ja": incident.title_ja, "title_en": incident.title_en, "severity": incident.severity,
            "state": incident.state, "started_at": format_time(incident.started_at),
            "detected_at": format_time(incident.detected_at),
            "resolved_at": format_time(incident.resolved_at) if incident.resolved_at else None,
            "components": list(incident.components), "all_tenants": incident.all_tenants}


@action
def create_incident(*, staff, title_ja: str, title_en: str, severity: str, started_at: datetime,
                    detected_at: datetime, components: list[str], all_tenants: bool = False,
                    tenant_ids: list[int] | None = None, state: str = Incident.State.INVESTIGATING,
                    now: datetime | None = None) -> Incident:
    """Record an incident; each affected tenant gets its first-notice deadline from its policy."""
    actor = staff_actor(staff)
    now = now or timezone.now()
    data = _clean({"title_ja": title_ja, "title_en": title_en, "severity": severity, "state": state,
                   "started_at": started_at, "detected_at": detected_at, "components": components,
                   "all_tenants": all_tenants, "tenant_ids": tenant_ids}, now=now)
    chosen = data.pop("tenants")
    incident = Incident.objects.create(**data, created_at=now, updated_at=now, created_by=actor.label,
                                       resolved_at=now if data["state"] == Incident.State.RESOLVED else None)
    added, _removed = _sync_affected(incident, _affected_tenants(incident, chosen))
    record_provider_event("incident.created", actor=actor, target=_target(incident),
                          after={**_snapshot(incident), "tenants": "all" if incident.all_tenants else added})
    return incident


@action
def update_incident(*, staff, incident: Incident, now: datetime | None = None, **fields) -> Incident:
    """Change an incident's fields (those given); deadlines of tenants not yet notified follow a
    changed detection time."""
    actor = staff_actor(staff)
    now = now or timezone.now()
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    before = _snapshot(incident)
    current = {"title_ja": incident.title_ja, "title_en": incident.title_en, "severity": incident.severity,
               "state": incident.state, "started_at": incident.started_at, "detected_at": incident.detected_at,
               "components": incident.components, "all_tenants": incident.all_tenants,
               "tenant_ids": list(incident.affected.values_list("tenant_id", flat=True))}
    unknown = set(fields) - set(current)
    if unknown:
        raise TypeError(f"unknown incident fields: {sorted(unknown)}")
    data = _clean({**current, **fields}, now=now)
    chosen = data.pop("tenants")
    moved = data["detected_at"] != incident.detected_at
    for name, value in data.items():
        setattr(incident, name, value)
    if incident.state == Incident.State.RESOLVED and incident.resolved_at is None:
        incident.resolved_at = now
    elif incident.state != Incident.State.RESOLVED:
        incident.resolved_at = None
    incident.updated_at = now
    incident.save()
    added, removed = _sync_affected(incident, _affected_tenants(incident, chosen), recompute=moved)
    old, new = diff(before, _snapshot(incident))
    if added or removed:
        new["tenants_added"], new["tenants_removed"] = added, removed
    record_provider_event("incident.updated", actor=actor, target=_target(incident), before=old, after=new)
    return incident


def _add_update(actor: Actor, staff, incident: Incident, text_ja: str, text_en: str, public: bool,
                now: datetime) -> IncidentUpdate:
    errors: dict[str, str] = {}
    text_ja = _clean_text(text_ja, "text_ja", errors, limit=MAX_TEXT)
    text_en = _clean_text(text_en, "text_en", errors, limit=MAX_TEXT)
    if errors:
        raise ValidationError(errors)
    update = IncidentUpdate.objects.create(incident=incident, at=now, text_ja=text_ja, text_en=text_en,
                                           public=bool(public), author=staff, author_label=actor.label)
    Incident.objects.filter(pk=incident.pk).update(updated_at=now)
    record_provider_event("incident.update_added", actor=actor, target=_target(incident),
                          after={"update": update.pk, "public": update.public, "text_ja": text_ja,
                                 "text_en": text_en})
    if update.public:
        after = {"incident": incident.reference, "title_ja": incident.title_ja, "title_en": incident.title_en,
                 "severity": incident.severity, "state": incident.state, "text_ja": text_ja, "text_en": text_en}
        for tenant in _affected_tenants(incident):
            with tenant_context(tenant):
                record_event("incident.public_update", actor=actor, target=_target(incident), after=after)
    return update


@action
def add_incident_update(*, staff, incident: Incident, text_ja: str, text_en: str, public: bool = False,
                        now: datetime | None = None) -> IncidentUpdate:
    """Add a timeline entry. A public one is also written to every affected tenant's log and
    shown on the status page; it is not mailed (use ``notify_affected_tenants``)."""
    actor = staff_actor(staff)
    return _add_update(actor, staff, incident, text_ja, text_en, public, now or timezone.now())


@action
def notify_affected_tenants(*, staff, incident: Incident, text_ja: str, text_en: str,
                            now: datetime | None = None, enqueue: bool = True) -> IncidentUpdate:
    """Publish a public update and notify every affected tenant: on its dashboard at once, and
    by mail to each of its contacts (``tenant_contacts``) in the contact's language, sent by
    the ``deliver_incident_notice`` task after commit. Each delivery is recorded."""
    from mamori.tenancy.contacts import tenant_contacts

    actor = staff_actor(staff)
    now = now or timezone.now()
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    _sync_affected(incident, _affected_tenants(incident))
    rows = list(incident.affected.select_related("tenant").exclude(tenant__status=Tenant.Status.PURGED))
    if not rows:
        raise ValidationError({"tenants": _("This incident has no affected tenants to notify.")})
    update = _add_update(actor, staff, incident, text_ja, text_en, True, now)
    mails = 0
    for row in rows:
        Delivery.objects.create(affected=row, update=update, channel=Delivery.Channel.DASHBOARD,
                                language=row.tenant.language, created_at=now, sent_at=now)
        contacts = tenant_contacts(row.tenant)
        for contact in contacts:
            Delivery.objects.create(affected=row, update=update, channel=Delivery.Channel.EMAIL,
                                    address=contact.email, language=contact.language or row.tenant.language,
                                    created_at=now)
        mails += len(contacts)
        if not contacts and row.notified_at is None:
            # No address to mail: the dashboard is the only channel, and it carries the notice now.
            row.notified_at = now
            row.save(update_fields=["notified_at"])
    record_provider_event("incident.notification_requested", actor=actor, target=_target(incident),
                          after={"update": update.pk, "tenants": [r.tenant_id for r in rows], "emails": mails})
    if enqueue and mails:
        from mamori.incidents.tasks import deliver_incident_notice

        transaction.on_commit(lambda: deliver_incident_notice.enqueue(update_id=update.pk))
    return update


@action
def record_delivery(*, delivery: Delivery, sent_at: datetime | None, error: str = "") -> Delivery:
    """The task's result for one e-mail delivery: sent (``sent_at``) or failed (``error``). The
    first delivery that reaches a tenant is its first notice."""
    delivery = Delivery.objects.select_for_update().select_related("affected").get(pk=delivery.pk)
    delivery.sent_at, delivery.error = sent_at, (error or "")[:500]
    delivery.save(update_fields=["sent_at", "error"])
    row = delivery.affected
    if sent_at is not None and (row.notified_at is None or sent_at < row.notified_at):
        row.notified_at = sent_at
        row.save(update_fields=["notified_at"])
    after = {"incident": f"INC-{row.incident_id}", "update": delivery.update_id, "channel": delivery.channel,
             "address": delivery.address, "sent_at": format_time(sent_at) if sent_at else None,
             "error": delivery.error}
    record_provider_event("incident.notice_delivered" if sent_at else "incident.notice_failed",
                          actor=Actor.system("incidents"), tenant_ref=row.tenant_id,
                          target=("incident", row.incident_id, f"INC-{row.incident_id}"), after=after)
    return delivery


@action
def flag_deadline(*, affected: AffectedTenant, kind: str, now: datetime | None = None) -> bool:
    """Mark ``affected`` as warned (``kind="warning"``) or overdue (``"overdue"``), once, and mail
    the security officers. Returns False when it had been flagged already."""
    from mamori.incidents.notify import mail_security_officers

    now = now or timezone.now()
    row = AffectedTenant.objects.select_for_update().select_related("incident", "tenant").get(pk=affected.pk)
    field = {"warning": "warned_at", "overdue": "overdue_flagged_at"}[kind]
    if getattr(row, field) is not None or row.notified_at is not None:
        return False
    setattr(row, field, now)
    row.save(update_fields=[field])
    recipients = mail_security_officers(row, kind)
    record_provider_event("incident.deadline_warning" if kind == "warning" else "incident.notification_overdue",
                          actor=Actor.system("incidents"), tenant_ref=row.tenant_id,
                          target=("incident", row.incident_id, row.incident.reference),
                          after={"tenant": row.tenant.slug, "deadline": format_time(row.deadline),
                                 "policy": row.policy, "officers_mailed": len(recipients)})
    return True


@action
def set_notification_policy(*, staff, tenant: Tenant, preset: str | None, hours: int | None = None,
                            business_hours: bool = False) -> pol.Policy:
    """Set ``tenant``'s notification policy (``preset=None``: back to the provider default).
    Applies to incidents recorded from now on."""
    actor = staff_actor(staff)
    existing = NotificationPolicy.objects.filter(tenant_id=tenant.pk).first()
    before = {"policy": pol.Policy(existing.preset, existing.hours, existing.business_hours).key
              if existing else None}
    if preset in (None, ""):
        NotificationPolicy.objects.filter(tenant_id=tenant.pk).delete()
        rule = pol.default_policy()
        after = {"policy": None}
    else:
        if preset != pol.CUSTOM:
            hours, business_hours = None, False
        try:
            rule = pol.Policy(preset, hours, bool(business_hours))
        except ValueError:
            if preset not in pol.PRESETS:
                raise ValidationError({"preset": _("Choose a notification policy.")}) from None
            raise ValidationError({"hours": _("Enter a number of hours from 1 to %(max)d.")
                                   % {"max": pol.MAX_CUSTOM_HOURS}}) from None
        NotificationPolicy.objects.update_or_create(
            tenant_id=tenant.pk, defaults={"preset": rule.preset, "hours": rule.hours,
                                           "business_hours": rule.business_hours,
                                           "updated_at": timezone.now(), "updated_by": actor.label})
        after = {"policy": rule.key}
    record_provider_event("incident.policy_set", actor=actor, tenant_ref=tenant.pk,
                          target=("tenant", tenant.pk, tenant.slug), before=before, after=after)
    return rule
