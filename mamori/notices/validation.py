"""The rules a notice must meet (12.1.2): one function, used by every action that saves one.

Field-level errors (``ValidationError({field: message})``), translated, so the provider
console shows each next to its field and the API can return them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.monitoring.components import COMPONENTS
from mamori.notices.models import Notice
from mamori.tenancy.models import Tenant

MAX_TITLE = 200
MAX_BODY = 10_000
MIN_EMERGENCY_REASON = 20
MAX_REASON = 2000
MAX_WINDOW = timedelta(days=14)
Kind = Notice.Kind


def lead_time_days() -> int:
    """Days ahead a non-emergency maintenance must be announced (``MAMORI_MAINTENANCE_LEAD_DAYS``)."""
    return int(getattr(settings, "MAMORI_MAINTENANCE_LEAD_DAYS", 7))


@dataclass
class NoticeData:
    """What a staff member enters for a notice (the console form, the API or the CLI)."""

    kind: str = Kind.MAINTENANCE
    title_ja: str = ""
    title_en: str = ""
    body_ja: str = ""
    body_en: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    impact: str = Notice.Impact.NONE
    components: list[str] = field(default_factory=list)
    audience: str = Notice.Audience.ALL
    tenant_ids: list[int] = field(default_factory=list)
    emergency: bool = False
    emergency_reason: str = ""

    FIELDS = ("kind", "title_ja", "title_en", "body_ja", "body_en", "starts_at", "ends_at", "impact",
              "components", "audience", "emergency", "emergency_reason")

    @classmethod
    def of(cls, notice: Notice) -> NoticeData:
        data = cls(**{name: getattr(notice, name) for name in cls.FIELDS})
        data.components = list(notice.components or [])
        data.tenant_ids = sorted(notice.tenants.values_list("pk", flat=True)) if notice.pk else []
        return data


def _strip(data: NoticeData) -> None:
    for name in ("title_ja", "title_en", "body_ja", "body_en", "emergency_reason"):
        setattr(data, name, (getattr(data, name) or "").strip())
    chosen = {str(c) for c in data.components or []}
    data.components = [key for key in COMPONENTS if key in chosen] + sorted(chosen - set(COMPONENTS))
    data.tenant_ids = sorted({int(t) for t in data.tenant_ids or []})
    data.emergency = bool(data.emergency)


def _overlapping(data: NoticeData, exclude_pk: int | None) -> Notice | None:
    """A published maintenance whose window overlaps ``data``'s, touching one of its components,
    for an audience that shares a tenant with ``data``'s (the whole service shares them all)."""
    candidates = (Notice.objects.filter(kind=Kind.MAINTENANCE, state=Notice.State.PUBLISHED,
                                        starts_at__lt=data.ends_at, ends_at__gt=data.starts_at)
                  .exclude(pk=exclude_pk).prefetch_related("tenants").order_by("starts_at", "pk"))
    mine = set(data.components)
    for other in candidates:
        if not mine & set(other.components or []):
            continue
        if data.audience == Notice.Audience.ALL or other.audience == Notice.Audience.ALL:
            return other
        if set(data.tenant_ids) & {t.pk for t in other.tenants.all()}:
            return other
    return None


def validate(data: NoticeData, *, notice: Notice | None = None, publishing: bool = False,
             now: datetime | None = None) -> NoticeData:
    """Check ``data`` (cleaned in place and returned) or raise ``ValidationError``.

    ``publishing``: the notice goes out (or is already out), so both languages are required.
    The window's lead time is checked when the notice is published and whenever the window of
    a published notice changes; a draft's window is checked too, so the staff member learns early.
    """
    now = now or timezone.now()
    _strip(data)
    errors: dict[str, str] = {}
    if data.kind not in Kind.values:
        errors["kind"] = _("Choose a kind of notice.")
    if data.impact not in Notice.Impact.values:
        errors["impact"] = _("Choose the impact.")
    if data.audience not in Notice.Audience.values:
        errors["audience"] = _("Choose who receives the notice.")
    for name in ("title_ja", "title_en"):
        if len(getattr(data, name)) > MAX_TITLE:
            errors[name] = _("At most %(n)d characters.") % {"n": MAX_TITLE}
    for name in ("body_ja", "body_en"):
        if len(getattr(data, name)) > MAX_BODY:
            errors[name] = _("At most %(n)d characters.") % {"n": MAX_BODY}
    if publishing:
        for name in ("title_ja", "title_en", "body_ja", "body_en"):
            if not getattr(data, name) and name not in errors:
                errors[name] = _("Required: a published notice is sent in Japanese and English.")
    elif not (data.title_ja or data.title_en) and "title_ja" not in errors:
        errors["title_ja"] = _("Give the notice a title.")

    unknown = [c for c in data.components if c not in COMPONENTS]
    if unknown:
        errors["components"] = _("Unknown component: %(keys)s.") % {"keys": ", ".join(unknown)}
    elif data.kind == Kind.MAINTENANCE and not data.components:
        errors["components"] = _("Choose at least one affected component.")

    if data.audience == Notice.Audience.CHOSEN:
        if not data.tenant_ids:
            errors["tenants"] = _("Choose at least one tenant, or send the notice to all tenants.")
        elif Tenant.objects.filter(pk__in=data.tenant_ids).count() != len(data.tenant_ids):
            errors["tenants"] = _("One of the chosen tenants does not exist.")
    else:
        data.tenant_ids = []

    if len(data.emergency_reason) > MAX_REASON:
        errors["emergency_reason"] = _("At most %(n)d characters.") % {"n": MAX_REASON}
    elif data.emergency and len(data.emergency_reason) < MIN_EMERGENCY_REASON:
        errors["emergency_reason"] = _(
            "An emergency needs a written reason of at least %(n)d characters.") % {"n": MIN_EMERGENCY_REASON}
    if not data.emergency:
        data.emergency_reason = ""

    _validate_window(data, notice, now, errors)
    if errors:
        raise ValidationError(errors)
    if data.kind == Kind.MAINTENANCE and data.starts_at and data.ends_at:
        other = _overlapping(data, notice.pk if notice else None)
        if other is not None:
            raise ValidationError({"starts_at": _(
                "This window overlaps the published maintenance #%(id)d “%(title)s” (%(start)s – %(end)s) "
                "on the same component. Move the window or combine the two announcements.") % {
                "id": other.pk, "title": other.title,
                "start": timezone.localtime(other.starts_at).strftime("%Y-%m-%d %H:%M"),
                "end": timezone.localtime(other.ends_at).strftime("%Y-%m-%d %H:%M")}})
    return data


def _window_changed(data: NoticeData, notice: Notice | None) -> bool:
    return notice is None or (notice.starts_at, notice.ends_at) != (data.starts_at, data.ends_at)


def _validate_window(data: NoticeData, notice: Notice | None, now: datetime,
                     errors: dict[str, str]) -> None:
    if data.kind == Kind.RELEASE:
        data.starts_at = data.ends_at = None
        return
    if data.kind == Kind.MAINTENANCE:
        if data.starts_at is None:
            errors["starts_at"] = _("Maintenance needs a start.")
        if data.ends_at is None:
            errors["ends_at"] = _("Maintenance needs an end.")
    elif (data.starts_at is None) != (data.ends_at is None):
        errors["ends_at" if data.ends_at is None else "starts_at"] = _("Give both the start and the end, or neither.")
    for name in ("starts_at", "ends_at"):
        value = getattr(data, name)
        if value is not None and (not isinstance(value, datetime) or timezone.is_naive(value)):
            errors[name] = _("Give a date and time with its time zone.")
    if data.starts_at is None or data.ends_at is None or "starts_at" in errors or "ends_at" in errors:
        return
    if data.ends_at <= data.starts_at:
        errors["ends_at"] = _("The end must be after the start.")
    elif data.ends_at - data.starts_at > MAX_WINDOW:
        errors["ends_at"] = _("A window is at most %(n)d days long.") % {"n": MAX_WINDOW.days}
    already_out = notice is not None and notice.state == Notice.State.PUBLISHED
    if already_out and not _window_changed(data, notice):
        return  # editing the text of a published notice does not re-check its lead time
    if data.starts_at <= now:
        errors["starts_at"] = _("The start must be in the future.")
        return
    if data.kind != Kind.MAINTENANCE or data.emergency:
        return
    lead = lead_time_days()
    if data.starts_at - now < timedelta(days=lead):
        errors["starts_at"] = _(
            "Maintenance must be announced at least %(days)d days ahead (the earliest start now is %(earliest)s). "
            "Choose a later start, or mark it as an emergency and give the reason.") % {
            "days": lead, "earliest": timezone.localtime(now + timedelta(days=lead)).strftime("%Y-%m-%d %H:%M")}
