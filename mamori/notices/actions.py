"""Notice actions: the provider creates, edits, publishes and cancels notices; tenant users
hide a banner; tenant admins set the tenant's notification address.

Provider actions write to the provider log (``notice.*``) in their transaction and queue
the mails on commit (``mamori.notices.tasks.deliver_notice_task``); each mail sent is a
``NoticeDelivery`` row. Every edit bumps the notice's ``revision`` and logs the changed
fields, so the provider log holds the notice's full history.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.access.errors import NotFound, PermissionDenied, object_id
from mamori.audit.canonical import format_time
from mamori.audit.events import Actor, diff, record_event, record_provider_event
from mamori.core.actions import action
from mamori.notices.models import Notice, NoticeDelivery, NoticeDismissal
from mamori.notices.validation import MAX_REASON, NoticeData, validate
from mamori.tenancy.context import require_tenant
from mamori.tenancy.models import Tenant

State = Notice.State
Purpose = NoticeDelivery.Purpose
#: Provider staff roles that may write and publish notices (support staff may read them).
PUBLISHER_ROLES = ("operator", "security_officer")
#: Kinds that reach tenants (mail and console); release notes are a public page only.
TENANT_KINDS = (Notice.Kind.MAINTENANCE, Notice.Kind.CHANGE, Notice.Kind.VULNERABILITY)
REMINDER_BEFORE = timedelta(hours=24)


def _staff_actor(staff) -> Actor:
    if staff is None or not staff.is_active or staff.role not in PUBLISHER_ROLES:
        raise PermissionDenied("provider.notices", actor=None)
    return Actor.for_staff(staff)


def _target(notice: Notice) -> tuple[str, int, str]:
    return ("notice", notice.pk, (notice.title_en or notice.title_ja)[:300])


def _picture(notice: Notice) -> dict:
    """The notice's fields as JSON for the provider log (before/after of each revision)."""
    return {
        "kind": notice.kind, "title_ja": notice.title_ja, "title_en": notice.title_en,
        "body_ja": notice.body_ja, "body_en": notice.body_en,
        "starts_at": format_time(notice.starts_at) if notice.starts_at else None,
        "ends_at": format_time(notice.ends_at) if notice.ends_at else None,
        "impact": notice.impact, "components": list(notice.components or []), "audience": notice.audience,
        "tenants": sorted(notice.tenants.values_list("pk", flat=True)) if notice.pk else [],
        "emergency": notice.emergency, "emergency_reason": notice.emergency_reason,
        "state": notice.state, "revision": notice.revision,
    }


def _apply(notice: Notice, data: NoticeData) -> None:
    for name in NoticeData.FIELDS:
        setattr(notice, name, getattr(data, name))


def _locked(notice_id) -> Notice:
    notice = Notice.objects.select_for_update().filter(pk=object_id(notice_id)).first()
    if notice is None:
        raise NotFound
    return notice


@action
def create_notice(*, staff, data: NoticeData) -> Notice:
    """A draft notice (nothing is sent until it is published)."""
    actor = _staff_actor(staff)
    data = validate(data)
    now = timezone.now()
    notice = Notice(created_by=staff, created_by_label=staff.email, created_at=now, updated_at=now)
    _apply(notice, data)
    notice.save()
    notice.tenants.set(data.tenant_ids)
    record_provider_event("notice.created", actor=actor, target=_target(notice), after=_picture(notice))
    return notice


@action
def update_notice(*, staff, notice_id: int, data: NoticeData) -> Notice:
    """Edit a draft or a published notice. A published notice whose window, impact or
    components change is mailed again to its tenants as an update."""
    actor = _staff_actor(staff)
    notice = _locked(notice_id)
    if notice.state == State.CANCELLED:
        raise ValidationError({"state": _("A cancelled notice cannot be changed.")})
    published = notice.state == State.PUBLISHED
    data = validate(data, notice=notice, publishing=published)
    before = _picture(notice)
    _apply(notice, data)
    notice.revision += 1
    notice.updated_at = timezone.now()
    if published and (before["starts_at"], before["ends_at"]) != (
            format_time(notice.starts_at) if notice.starts_at else None,
            format_time(notice.ends_at) if notice.ends_at else None):
        notice.reminder_sent_at = None  # a moved window gets its own reminder
    notice.save()
    notice.tenants.set(data.tenant_ids)
    after = _picture(notice)
    changed_before, changed_after = diff(before, after)
    record_provider_event("notice.updated", actor=actor, target=_target(notice),
                          before=changed_before, after=changed_after)
    material = {"starts_at", "ends_at", "impact", "components", "audience", "tenants"}
    if published and notice.kind in TENANT_KINDS and material & set(changed_after):
        _record_dashboard(notice, Purpose.UPDATE)
        _queue_mail(notice, Purpose.UPDATE)
    return notice


@action
def publish_notice(*, staff, notice_id: int, now: datetime | None = None) -> Notice:
    """Publish a draft: checked again (both languages, lead time, overlap), shown in the
    affected tenants' consoles at once and mailed to their contacts after commit."""
    actor = _staff_actor(staff)
    notice = _locked(notice_id)
    if notice.state != State.DRAFT:
        raise ValidationError({"state": _("Only a draft can be published (this notice is %(state)s).")
                               % {"state": notice.get_state_display()}})
    now = now or timezone.now()
    data = validate(NoticeData.of(notice), notice=notice, publishing=True, now=now)
    _apply(notice, data)
    notice.state, notice.published_at, notice.updated_at = State.PUBLISHED, now, now
    notice.save()
    tenants = affected_tenants(notice) if notice.kind in TENANT_KINDS else []
    record_provider_event("notice.published", actor=actor, target=_target(notice), after={
        **_picture(notice), "published_at": format_time(now), "lead_days": _lead_days(notice, now),
        "tenants_notified": len(tenants)})
    if notice.kind in TENANT_KINDS:
        _record_dashboard(notice, Purpose.ANNOUNCEMENT, now=now)
        _queue_mail(notice, Purpose.ANNOUNCEMENT)
    return notice


@action
def cancel_notice(*, staff, notice_id: int, reason: str = "") -> Notice:
    """Withdraw a draft or a published notice. Tenants told of a published one are told it is cancelled."""
    actor = _staff_actor(staff)
    notice = _locked(notice_id)
    if notice.state == State.CANCELLED:
        raise ValidationError({"state": _("This notice is already cancelled.")})
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": _("At most %(n)d characters.") % {"n": MAX_REASON}})
    was = notice.state
    now = timezone.now()
    notice.state, notice.cancelled_at, notice.cancel_reason, notice.updated_at = State.CANCELLED, now, reason, now
    notice.revision += 1
    notice.save()
    record_provider_event("notice.cancelled", actor=actor, target=_target(notice),
                          before={"state": was}, after={"state": State.CANCELLED, "reason": reason,
                                                        "revision": notice.revision})
    over = notice.ends_at is not None and notice.ends_at <= now
    if was == State.PUBLISHED and notice.kind in TENANT_KINDS and not over:
        _record_dashboard(notice, Purpose.CANCELLATION, now=now)
        _queue_mail(notice, Purpose.CANCELLATION)
    return notice


@action
def send_reminder(*, notice_id: int, now: datetime | None = None) -> Notice | None:
    """The reminder 24 h before a published maintenance starts (once per window); ``None``
    when it is not due (already sent, too early, started, or announced less than 24 h ahead)."""
    now = now or timezone.now()
    notice = Notice.objects.select_for_update().filter(pk=notice_id).first()
    if notice is None or not reminder_due(notice, now):
        return None
    notice.reminder_sent_at = now
    notice.save(update_fields=["reminder_sent_at"])
    tenants = affected_tenants(notice)
    record_provider_event("notice.reminder_sent", actor=Actor.system("notice reminders"), target=_target(notice),
                          after={"starts_at": format_time(notice.starts_at), "tenants": len(tenants),
                                 "revision": notice.revision})
    _queue_mail(notice, Purpose.REMINDER)
    return notice


@action
def retry_failed_deliveries(*, staff, notice_id: int) -> int:
    """Queue the mails of a notice that failed (e.g. the mail server was down) once more;
    returns how many mails are queued again. Mails already sent are never sent twice."""
    actor = _staff_actor(staff)
    notice = _locked(notice_id)
    failed = (NoticeDelivery.objects.filter(notice=notice, channel=NoticeDelivery.Channel.MAIL, sent_at__isnull=True)
              .exclude(error=""))
    groups = sorted(set(failed.values_list("purpose", "revision")))
    count = failed.count()
    if not count:
        raise ValidationError({"deliveries": _("No failed mails to send again.")})
    record_provider_event("notice.delivery_retried", actor=actor, target=_target(notice),
                          after={"mails": count, "purposes": [f"{p}@{r}" for p, r in groups]})
    from mamori.notices.tasks import deliver_notice_task

    for purpose, revision in groups:
        kwargs = {"notice_id": notice.pk, "purpose": purpose, "revision": revision}
        transaction.on_commit(lambda kwargs=kwargs: deliver_notice_task.enqueue(**kwargs))
    return count


def reminder_due(notice: Notice, now: datetime) -> bool:
    return (notice.state == State.PUBLISHED and notice.kind == Notice.Kind.MAINTENANCE
            and notice.reminder_sent_at is None and notice.starts_at is not None
            and now < notice.starts_at <= now + REMINDER_BEFORE
            and notice.published_at is not None and notice.published_at < notice.starts_at - REMINDER_BEFORE)


def _lead_days(notice: Notice, now: datetime) -> float | None:
    if notice.starts_at is None:
        return None
    return round((notice.starts_at - now).total_seconds() / 86400, 2)


def affected_tenants(notice: Notice) -> list[Tenant]:
    """The open tenants a notice is for (all, or the chosen ones), by slug."""
    tenants = Tenant.objects.filter(status__in=Tenant.OPEN_STATUSES)
    if notice.audience == Notice.Audience.CHOSEN:
        tenants = tenants.filter(pk__in=notice.tenants.values("pk"))
    return list(tenants.order_by("slug"))


def _record_dashboard(notice: Notice, purpose: str, *, now: datetime | None = None) -> None:
    """The console shows the notice from this moment on: one dashboard delivery per tenant."""
    now = now or timezone.now()
    NoticeDelivery.objects.bulk_create([
        NoticeDelivery(notice=notice, tenant=tenant, channel=NoticeDelivery.Channel.DASHBOARD, purpose=purpose,
                       revision=notice.revision, created_at=now, sent_at=now, attempts=1)
        for tenant in affected_tenants(notice)], ignore_conflicts=True)


def _queue_mail(notice: Notice, purpose: str) -> None:
    from mamori.notices.tasks import deliver_notice_task

    kwargs = {"notice_id": notice.pk, "purpose": str(purpose), "revision": notice.revision}
    transaction.on_commit(lambda: deliver_notice_task.enqueue(**kwargs))


# --- Tenant side ---------------------------------------------------------------------------------

@action
def dismiss_notice(*, actor: Actor, notice_id) -> NoticeDismissal:
    """The signed-in user hides a notice's banner (for themselves only; the list still shows it)."""
    from mamori.notices.queries import tenant_notices

    tenant = require_tenant()
    user = actor.user
    if user is None or user.tenant_id != tenant.pk:
        raise PermissionDenied("notices.dismiss", actor=actor)
    notice = tenant_notices(tenant).filter(pk=object_id(notice_id)).first()
    if notice is None:
        raise NotFound
    dismissal = NoticeDismissal.objects.filter(user=user, notice=notice).first()
    if dismissal is not None:
        return dismissal
    dismissal = NoticeDismissal.objects.create(user=user, notice=notice)
    record_event("notice.dismissed", actor=actor, target=_target(notice), after={"notice": notice.pk})
    return dismissal


@action
def set_notification_email(*, actor: Actor, email: str) -> Tenant:
    """A tenant admin sets (or clears) the tenant's notification address: it receives every
    provider notice besides the tenant admins (``mamori.tenancy.contacts``)."""
    tenant = require_tenant()
    user = actor.user
    if user is None or not getattr(user, "is_tenant_admin", False) or user.tenant_id != tenant.pk:
        raise PermissionDenied("tenant.notification_email", actor=actor)
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"notification_email": _("Enter a valid e-mail address.")}) from None
        if len(email) > 254:
            raise ValidationError({"notification_email": _("At most %(n)d characters.") % {"n": 254}})
    row = Tenant.objects.select_for_update().get(pk=tenant.pk)
    before = row.notification_email
    if before == email:
        return row
    Tenant.objects.filter(pk=tenant.pk).update(notification_email=email)
    row.notification_email = email
    tenant.notification_email = email
    record_event("tenant.notification_email_changed", actor=actor, target=("tenant", tenant.pk, tenant.slug),
                 before={"notification_email": before}, after={"notification_email": email})
    return row
