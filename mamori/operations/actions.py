"""Provider-side actions: staff accounts, their sign-in (provider log), the demo bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.audit.events import Actor, record_provider_event
from mamori.core.actions import action
from mamori.operations.models import ProviderStaff
from mamori.tenancy.models import Tenant


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


def check_staff_password(email: str, password: str) -> ProviderStaff | None:
    """The staff member whose password this is, else None after recording the failure; the same
    work (one hash) and answer whether or not the account exists. Call inside an action."""
    email = (email or "").strip().lower()
    staff = ProviderStaff.objects.filter(email=email, is_active=True).first()
    if staff is None:
        _DUMMY.set_password(password)
        record_provider_event("provider.login_failed", actor=Actor.anonymous(email[:254]))
        return None
    if not staff.check_password(password):
        record_provider_event("provider.login_failed", actor=Actor.anonymous(email[:254]), target=staff)
        return None
    return staff


@action
def staff_sign_in(*, email: str, password: str) -> ProviderStaff | None:
    """Check staff credentials; the same work and answer whether or not the account exists."""
    staff = check_staff_password(email, password)
    if staff is None:
        return None
    staff.last_login = timezone.now()
    staff.save(update_fields=["last_login"])
    record_provider_event("provider.login", actor=Actor.for_staff(staff), target=staff)
    return staff


@action
def staff_sign_out(*, staff: ProviderStaff) -> None:
    """Record a staff member's sign-out in the provider log (the view ends the session)."""
    record_provider_event("provider.logout", actor=Actor.for_staff(staff), target=staff)


@action
def staff_session_expired(*, staff: ProviderStaff, idle_minutes: int) -> None:
    """Record that a staff session ended by the idle timeout (the middleware ends the session)."""
    record_provider_event("provider.session_expired", actor=Actor.for_staff(staff), target=staff,
                          after={"idle_minutes": idle_minutes})


@action
def record_outbox_view(*, staff: ProviderStaff, message) -> None:
    """Reading a local outbox message is logged: it may hold a tenant user's sign-in link."""
    record_provider_event("provider.outbox_message_viewed", actor=Actor.for_staff(staff),
                          target=("operations.outboxmessage", message.pk, message.subject))


# --- Embedded default: the demo tenant ``mamori serve`` creates on first run -------------

DEMO_SLUG = "demo"
DEMO_NAME = "Demo 株式会社"
DEMO_ADMIN_EMAIL = "admin@demo.example"


@dataclass(frozen=True)
class DemoBootstrap:
    tenant: Tenant | None
    created: bool
    login_url: str | None  # a fresh one-time sign-in link, or None when none was issued


@action
def bootstrap_demo(*, actor: Actor) -> DemoBootstrap:
    """Create the demo tenant on a database with no tenant; otherwise re-issue its admin's link.

    - No tenant at all: create ``demo`` with admin ``admin@demo.example`` and
      return its one-time sign-in link.
    - ``demo`` exists and its admin has not chosen a password yet: issue a fresh
      link (the previous unused one stops working) so a restart never leaves the
      newcomer locked out.
    - Otherwise (the admin has a password, or the installation has other tenants
      and no demo): nothing is written and no link is returned.
    """
    from mamori.accounts.actions import issue_login_link, login_link_url
    from mamori.accounts.models import User
    from mamori.tenancy.actions import create_tenant, list_tenants_across_tenants
    from mamori.tenancy.context import tenant_context

    if not list_tenants_across_tenants().exists():
        tenant, _admin, secret = create_tenant(
            actor=actor, slug=DEMO_SLUG, name=DEMO_NAME, admin_email=DEMO_ADMIN_EMAIL,
            language=Tenant.Language.JA,
        )
        return DemoBootstrap(tenant, True, login_link_url(tenant, secret))
    tenant = list_tenants_across_tenants().filter(slug=DEMO_SLUG).first()
    if tenant is None or not tenant.is_open:
        return DemoBootstrap(tenant, False, None)
    with tenant_context(tenant):
        admin = User.objects.filter(email__iexact=DEMO_ADMIN_EMAIL, is_active=True).first()
        if admin is None or admin.has_usable_password():
            return DemoBootstrap(tenant, False, None)
        secret = issue_login_link(actor=actor, user=admin)
    return DemoBootstrap(tenant, False, login_link_url(tenant, secret))
