"""Provider staff: the two sign-in steps with MFA, TOTP enrolment, reset and deactivation.

Every step writes the provider log: ``provider.login_password_ok`` (first factor accepted,
second pending), ``provider.mfa_enrolled``, ``provider.login`` (with ``mfa: totp``),
``provider.mfa_failed`` (wrong or replayed code; the views count these to throttle),
``provider.mfa_reset`` and ``provider.staff_deactivated``. Secrets and codes never reach
the log.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.audit.events import Actor, record_provider_event
from mamori.core.actions import action
from mamori.operations import mfa
from mamori.operations.actions import check_staff_password
from mamori.operations.models import ProviderStaff


@action
def staff_password_step(*, email: str, password: str) -> ProviderStaff | None:
    """First factor when MFA is required: check the password; the session is not signed in yet."""
    staff = check_staff_password(email, password)
    if staff is None:
        return None
    record_provider_event("provider.login_password_ok", actor=Actor.for_staff(staff), target=staff,
                          after={"mfa": "enrolled" if staff.mfa_enrolled_at else "enrolment_required"})
    return staff


def _signed_in(staff: ProviderStaff, step: int, *, enrolled: bool) -> None:
    staff.totp_last_step = step
    staff.last_login = timezone.now()
    fields = ["totp_last_step", "last_login"]
    if enrolled:
        staff.mfa_enrolled_at = staff.last_login
        fields += ["totp_secret", "mfa_enrolled_at"]
    staff.save(update_fields=fields)
    record_provider_event("provider.login", actor=Actor.for_staff(staff), target=staff, after={"mfa": "totp"})


@action
def enrol_staff_totp(*, staff: ProviderStaff, secret: str, code: str) -> bool:
    """Finish TOTP enrolment: ``code`` must match the new ``secret``; then the staff member is
    signed in. Returns False (and logs ``provider.mfa_failed``) for a wrong code."""
    staff = ProviderStaff.objects.select_for_update().get(pk=staff.pk)
    if staff.mfa_enrolled_at is not None:
        raise ValidationError({"code": _("Two-step verification is already set up for this account.")})
    step = mfa.matching_step(secret, code)
    if step is None:
        record_provider_event("provider.mfa_failed", actor=Actor.for_staff(staff), target=staff,
                              after={"stage": "enrolment", "reason": "wrong_code"})
        return False
    staff.totp_secret = mfa.seal_secret(staff.pk, secret)
    record_provider_event("provider.mfa_enrolled", actor=Actor.for_staff(staff), target=staff,
                          after={"method": "totp"})
    _signed_in(staff, step, enrolled=True)
    return True


@action
def verify_staff_totp(*, staff: ProviderStaff, code: str) -> bool:
    """Second factor at sign-in. A code of a step already used (or older) is refused."""
    staff = ProviderStaff.objects.select_for_update().get(pk=staff.pk)  # serialises two tries of one code
    if not staff.totp_secret:
        raise ValidationError({"code": _("Two-step verification is not set up for this account.")})
    step = mfa.matching_step(mfa.open_secret(staff), code)
    reason = None
    if step is None:
        reason = "wrong_code"
    elif staff.totp_last_step is not None and step <= staff.totp_last_step:
        reason = "replayed"
    if reason:
        record_provider_event("provider.mfa_failed", actor=Actor.for_staff(staff), target=staff,
                              after={"stage": "sign_in", "reason": reason})
        return False
    _signed_in(staff, step, enrolled=False)
    return True


@action
def reset_staff_mfa(*, actor: Actor, staff: ProviderStaff) -> ProviderStaff:
    """Forget the staff member's TOTP secret: they enrol again at their next sign-in."""
    had = staff.mfa_enrolled_at is not None
    staff.totp_secret = ""
    staff.totp_last_step = None
    staff.mfa_enrolled_at = None
    staff.save(update_fields=["totp_secret", "totp_last_step", "mfa_enrolled_at"])
    record_provider_event("provider.mfa_reset", actor=actor, target=staff, after={"was_enrolled": had})
    return staff


@action
def deactivate_staff(*, actor: Actor, staff: ProviderStaff) -> ProviderStaff:
    """Deactivate a staff account: its sessions end at the next request (the middleware only
    attaches active staff) and it can no longer sign in."""
    if not staff.is_active:
        raise ValidationError({"email": _("This staff account is already deactivated.")})
    staff.is_active = False
    staff.save(update_fields=["is_active"])
    record_provider_event("provider.staff_deactivated", actor=actor, target=staff,
                          before={"is_active": True}, after={"is_active": False})
    return staff
