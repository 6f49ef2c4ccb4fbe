"""Changing the per-tenant IP allowlist, the provider's emergency override, and refusals (ISMS 9.2.3)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.access import allowlist
from mamori.access.allowlist_models import (
    IpAllowlistEntry,
    IpAllowlistOverride,
    IpAllowlistSettings,
)
from mamori.access.errors import PermissionDenied
from mamori.access.roles import Perm, can
from mamori.audit.events import Actor, record_event, record_provider_event
from mamori.core.actions import action
from mamori.core.net import parse_ip
from mamori.tenancy.context import require_tenant, tenant_context

OVERRIDE_MIN_MINUTES = 5
OVERRIDE_MAX_MINUTES = 24 * 60
#: Provider staff roles that may start or end an emergency override.
OVERRIDE_ROLES = ("operator", "security_officer")


def _entry_error(label: str, position: int, message: str) -> tuple[str, str]:
    """(field, message): ``entries`` with "Line n: …" for the console, ``entries.i.cidr`` for the API."""
    if label == "line":
        return "entries", _("Line %(n)d: %(message)s") % {"n": position, "message": message}
    return f"entries.{position}.cidr", message


def _clean_entries(entries: Sequence[tuple[str, str]], positions: Sequence[int] | None,
                   label: str) -> list[tuple[str, str]]:
    errors: dict[str, list[str]] = {}

    def add(field_message: tuple[str, str]) -> None:
        errors.setdefault(field_message[0], []).append(field_message[1])

    if len(entries) > allowlist.MAX_ENTRIES:
        raise ValidationError({"entries": _("At most %(n)d entries.") % {"n": allowlist.MAX_ENTRIES}})
    cleaned: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for index, (cidr, comment) in enumerate(entries):
        position = positions[index] if positions is not None else index
        shown = position if label == "line" else index + 1
        try:
            network = allowlist.parse_network(cidr)
        except ValidationError as exc:
            add(_entry_error(label, position, exc.messages[0]))
            continue
        comment = (comment or "").strip()
        if len(comment) > allowlist.MAX_COMMENT:
            message = _("The comment is longer than %(n)d characters.") % {"n": allowlist.MAX_COMMENT}
            if label == "line":
                add(_entry_error(label, position, message))
            else:
                add((f"entries.{index}.comment", message))
            continue
        key = str(network)
        if key in seen:
            if label == "line":
                message = _("%(network)s is already on line %(n)d.") % {"network": key, "n": seen[key]}
            else:
                message = _("%(network)s is already entry %(n)d.") % {"network": key, "n": seen[key]}
            add(_entry_error(label, position, message))
            continue
        seen[key] = shown
        cleaned.append((key, comment))
    if errors:
        raise ValidationError(errors)
    return cleaned


@action
def save_allowlist(*, actor: Actor, enabled: bool, entries: Sequence[tuple[str, str]],
                   current_ip: str | None, confirm_lockout: bool = False,
                   positions: Sequence[int] | None = None, label: str = "index") -> IpAllowlistSettings:
    """Replace the active tenant's allowlist (entries and the on/off switch).

    - Every entry is checked; any malformed one refuses the whole save with a message per
      entry (``label="line"``: "Line n: …" on ``entries``, for the console's text box whose
      line numbers are ``positions``; else ``entries.<i>.cidr`` for the API).
    - An enforced list must have at least one entry.
    - If the enforced list would not include ``current_ip`` (the admin's own address, or an
      unknown one), the save needs ``confirm_lockout=True``.
    - The event carries the diff: entries removed (before) and added (after), changed
      comments, and the switch.
    """
    tenant = require_tenant()
    if actor.user is None or not can(actor.user, Perm.MANAGE_SECURITY):
        raise PermissionDenied(Perm.MANAGE_SECURITY, actor=actor)
    cleaned = _clean_entries(list(entries), positions, label)
    enabled = bool(enabled)
    if enabled and not cleaned:
        raise ValidationError({"entries": _("Add at least one address or network before turning the allowlist "
                                            "on; an empty allowlist would refuse everyone.")})
    compiled = allowlist.CompiledAllowlist([allowlist.parse_network(c) for c, _c in cleaned])
    ip = parse_ip(current_ip or "")
    locks_out = enabled and (ip is None or not compiled.contains_ip(ip))
    if locks_out and not confirm_lockout:
        if ip is None:
            message = _("Your current IP address is unknown, so the list may lock you out. Confirm to save anyway.")
        else:
            message = _("Your current IP address (%(ip)s) is not on the list: after saving you could no longer "
                        "reach this console from here. Confirm to save anyway.") % {"ip": str(ip)}
        raise ValidationError({"confirm_lockout": message})

    row = IpAllowlistSettings.objects.select_for_update().first()
    if row is None:
        row = IpAllowlistSettings(tenant=tenant)
    old_enabled = bool(row.pk and row.enabled)
    current = {e.cidr: e for e in IpAllowlistEntry.objects.all()}
    wanted = dict(cleaned)
    removed = [c for c in current if c not in wanted]
    added = [c for c in wanted if c not in current]
    recommented = [c for c in wanted if c in current and current[c].comment != wanted[c]]
    if not removed and not added and not recommented and old_enabled == enabled and row.pk:
        return row

    old_comments = {c: current[c].comment for c in recommented}
    now = timezone.now()
    IpAllowlistEntry.objects.filter(cidr__in=removed).delete()
    IpAllowlistEntry.objects.bulk_create([
        IpAllowlistEntry(tenant=tenant, cidr=c, comment=wanted[c], created_at=now, created_by=actor.user)
        for c in added])
    for cidr in recommented:
        entry = current[cidr]
        entry.comment = wanted[cidr]
        entry.save(update_fields=["comment"])
    row.enabled = enabled
    row.version = allowlist.new_version()
    row.updated_at = now
    row.updated_by = actor.user
    row.save()
    _forget(tenant.pk)

    before: dict = {}
    after: dict = {"entry_count": len(wanted)}
    if old_enabled != enabled:
        before["enabled"], after["enabled"] = old_enabled, enabled
    if removed:
        before["entries_removed"] = [_describe(c, current[c].comment) for c in removed]
    if added:
        after["entries_added"] = [_describe(c, wanted[c]) for c in added]
    if recommented:
        before["comments"] = old_comments
        after["comments"] = {c: wanted[c] for c in recommented}
    if locks_out:
        after["lockout_confirmed"] = True
        after["admin_ip"] = str(ip) if ip is not None else None
    record_event("security.ip_allowlist_updated", actor=actor,
                 target=("access.ipallowlistsettings", row.pk, "IP allowlist"), before=before, after=after)
    return row


def _forget(tenant_id: int) -> None:
    """Drop the cached state now and again when the change commits (a request in between may
    have cached the old state again)."""
    allowlist.forget_state(tenant_id)
    transaction.on_commit(lambda: allowlist.forget_state(tenant_id))


def _describe(cidr: str, comment: str) -> str:
    return f"{cidr} ({comment})" if comment else cidr


@action
def record_ip_blocked(*, actor: Actor, ip: str, surface: str, path: str) -> None:
    """A request refused by the allowlist (called by ``mamori.access.allowlist``, de-duplicated there)."""
    record_event("access.ip_blocked", actor=actor, target=("access.ipallowlistsettings", "", "IP allowlist"),
                 after={"ip": ip or None, "surface": surface, "path": path[:300],
                        "next_event_for_this_address_after_seconds": allowlist.BLOCK_EVENT_WINDOW})


# --- Provider emergency override -------------------------------------------------------------

def _check_staff(staff) -> None:
    if staff is None or not staff.is_active or staff.role not in OVERRIDE_ROLES:
        raise PermissionDenied("provider.allowlist_override", actor=None)


@action
def start_allowlist_override(*, staff, tenant, minutes: int, reason: str) -> IpAllowlistOverride:
    """A provider staff member suspends the tenant's allowlist for ``minutes`` (5 min – 24 h).

    For a customer locked out of its own console. Written to the tenant's log (the
    customer sees who, why and until when) and to the provider log. Ends by itself.
    """
    _check_staff(staff)
    reason = (reason or "").strip()
    errors = {}
    try:
        minutes = int(minutes)
    except (TypeError, ValueError):
        minutes = 0
    if not OVERRIDE_MIN_MINUTES <= minutes <= OVERRIDE_MAX_MINUTES:
        errors["minutes"] = _("Choose between %(min)d and %(max)d minutes.") % {
            "min": OVERRIDE_MIN_MINUTES, "max": OVERRIDE_MAX_MINUTES}
    if len(reason) < 10:
        errors["reason"] = _("Give the reason (at least 10 characters), e.g. the support ticket.")
    elif len(reason) > 1000:
        errors["reason"] = _("At most %(n)d characters.") % {"n": 1000}
    if errors:
        raise ValidationError(errors)
    actor = Actor.for_staff(staff)
    now = timezone.now()
    with tenant_context(tenant):
        if allowlist.active_override(tenant.pk, now) is not None:
            raise ValidationError({"minutes": _("An override is already active for this tenant; end it first.")})
        override = IpAllowlistOverride.objects.create(
            tenant=tenant, reason=reason, starts_at=now, expires_at=now + timedelta(minutes=minutes),
            staff=staff, staff_email=staff.email)
        details = {"reason": reason, "minutes": minutes, "expires_at": override.expires_at.isoformat(),
                   "staff": staff.email}
        record_event("security.ip_allowlist_override_started", actor=actor, target=override, after=details)
    record_provider_event("security.ip_allowlist_override_started", actor=actor, tenant_ref=tenant.pk,
                          target=("access.ipallowlistoverride", override.pk, tenant.slug), after=details)
    _forget(tenant.pk)
    return override


@action
def end_allowlist_override(*, staff, tenant) -> IpAllowlistOverride | None:
    """End the tenant's active override before it expires (None when none is active)."""
    _check_staff(staff)
    actor = Actor.for_staff(staff)
    now = timezone.now()
    with tenant_context(tenant):
        override = allowlist.active_override(tenant.pk, now)
        if override is None:
            return None
        override.ended_at = now
        override.ended_by = staff.email
        override.save(update_fields=["ended_at", "ended_by"])
        details = {"ended_at": now.isoformat(), "planned_expiry": override.expires_at.isoformat()}
        record_event("security.ip_allowlist_override_ended", actor=actor, target=override, after=details)
    record_provider_event("security.ip_allowlist_override_ended", actor=actor, tenant_ref=tenant.pk,
                          target=("access.ipallowlistoverride", override.pk, tenant.slug), after=details)
    return override
