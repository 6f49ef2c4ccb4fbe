"""Provider-side actions: staff accounts and their sign-in (provider log)."""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.audit.events import Actor, record_provider_event
from mamori.core.actions import action
from mamori.operations.models import ProviderStaff


@action
def create_staff(*, actor: Actor, email: str, password: str, name: str = "",
                 role: str = ProviderStaff.StaffRole.OPERATOR) -> ProviderStaff:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid e-mail address.")})
    if ProviderStaff.objects.filter(email=email).exists():
        raise ValidationError({"email": _("A staff member with this e-mail address already exists.")})
    if role not in ProviderStaff.StaffRole.values:
        raise ValidationError({"role": _("Unknown role.")})
    staff = ProviderStaff(email=email, name=name, role=role)
    try:
        password_validation.validate_password(password)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages})
    staff.set_password(password)
    staff.save()
    record_provider_event("provider.staff_created", actor=actor, target=staff,
                          after={"email": email, "role": role})
    return staff


_DUMMY = ProviderStaff(password="")


@action
def staff_sign_in(*, email: str, password: str) -> ProviderStaff | None:
    """Check staff credentials; the same work and answer whether or not the account exists."""
    staff = ProviderStaff.objects.filter(email=(email or "").strip().lower(), is_active=True).first()
    if staff is None:
        _DUMMY.set_password(password)
        record_provider_event("provider.login_failed", actor=Actor.anonymous(email[:254]))
        return None
    if not staff.check_password(password):
        record_provider_event("provider.login_failed", actor=Actor.anonymous(email[:254]), target=staff)
        return None
    staff.last_login = timezone.now()
    staff.save(update_fields=["last_login"])
    record_provider_event("provider.login", actor=Actor.for_staff(staff), target=staff)
    return staff
