"""Support access with consent (15.1.2) and no staff path into tenant data besides it (9.4.4).

Read from the running system: every tenant's support grants (inside that tenant's context,
so row-level security applies), the settings' middleware chain and user model, and on
PostgreSQL what the application role sees with no tenant set.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.compliance.registry import CheckResult, control

SUPPORT_MIDDLEWARE = "mamori.support.sessions.SupportSessionMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
# The expiry job runs every 5 minutes; a grant still "approved" this long after its end means it
# is not running (access itself already stops at the end: the middleware checks every request).
EXPIRY_SLACK = timedelta(minutes=30)
TOLERANCE = timedelta(minutes=1)


def _middleware_in_place() -> bool:
    chain = list(settings.MIDDLEWARE)
    return (SUPPORT_MIDDLEWARE in chain and AUTH_MIDDLEWARE in chain
            and chain.index(AUTH_MIDDLEWARE) < chain.index(SUPPORT_MIDDLEWARE))


def _survey() -> dict:
    """Counts over every tenant's grants, support users and support audit events."""
    from mamori.access.roles import Role
    from mamori.accounts.models import User
    from mamori.audit.models import AuditEvent
    from mamori.support.models import SupportAccessRequest
    from mamori.tenancy.context import tenant_context
    from mamori.tenancy.models import Tenant

    State = SupportAccessRequest.State
    now = timezone.now()
    limit = timedelta(hours=int(settings.MAMORI_SUPPORT_ACCESS_MAX_HOURS))
    found = {"tenants": 0, "grants": 0, "active": 0, "expired": 0, "revoked": 0, "refused": 0, "requested": 0,
             "too_long": [], "past_end": [], "stray_support_users": [], "admin_support_users": [],
             "sessions_started": 0, "page_views": 0, "sessions_without_page_view": []}
    for tenant in Tenant.objects.exclude(status=Tenant.Status.PURGED).order_by("pk"):
        found["tenants"] += 1
        with tenant_context(tenant):
            grants = list(SupportAccessRequest.objects.all())
            if not grants:
                continue
            active_users = set()
            for grant in grants:
                found["grants"] += 1
                ref = f"{tenant.slug}#{grant.pk}"
                if grant.is_active(now):
                    found["active"] += 1
                    active_users.add(grant.support_user_id)
                elif grant.state in (State.EXPIRED, State.REVOKED, State.REFUSED, State.REQUESTED):
                    found[grant.state] += 1
                if grant.approved_until and grant.decided_at and grant.approved_until - grant.decided_at > limit + TOLERANCE:
                    found["too_long"].append(ref)
                if grant.state == State.APPROVED and grant.approved_until and grant.approved_until < now - EXPIRY_SLACK:
                    found["past_end"].append(ref)
            support_ids = {g.support_user_id for g in grants if g.support_user_id}
            for user in User.objects.filter(pk__in=support_ids).only("pk", "is_active", "role"):
                if user.is_active and user.pk not in active_users:
                    found["stray_support_users"].append(f"{tenant.slug}#{user.pk}")
                if user.role in (Role.TENANT_ADMIN, Role.UNIT_ADMIN):
                    found["admin_support_users"].append(f"{tenant.slug}#{user.pk}")
            events = AuditEvent.objects.filter(action__in=("support.session_started", "support.page_viewed"),
                                               actor_type="support")
            by_actor: dict[str, list[str]] = {}
            for action, actor_id in events.order_by("id").values_list("action", "actor_id"):
                by_actor.setdefault(actor_id, []).append(action)
                found["sessions_started" if action == "support.session_started" else "page_views"] += 1
            for actor_id, actions in by_actor.items():
                # every session start is followed by the entry page (the dashboard), which is recorded
                if actions[-1] == "support.session_started" and not any(
                        g.is_active(now) and str(g.support_user_id) == actor_id for g in grants):
                    found["sessions_without_page_view"].append(f"{tenant.slug}#{actor_id}")
    return found


@control("15.1.2", _("Support access only with the tenant's consent, time-boxed and audited"), section="suppliers")
def support_access_consent() -> CheckResult:
    found = _survey()
    max_hours = int(settings.MAMORI_SUPPORT_ACCESS_MAX_HOURS)
    evidence = {"max_hours": max_hours, "middleware": _middleware_in_place(), **found}
    problems = []
    if not evidence["middleware"]:
        problems.append(str(_("the support session middleware is not installed after authentication")))
    if found["too_long"]:
        problems.append(str(_("grants longer than %(max)d h: %(refs)s") % {
            "max": max_hours, "refs": ", ".join(found["too_long"])}))
    if found["past_end"]:
        problems.append(str(_("grants still approved after their end (is mamori worker running?): %(refs)s")
                            % {"refs": ", ".join(found["past_end"])}))
    if found["stray_support_users"]:
        problems.append(str(_("support users active without an active grant: %(refs)s")
                            % {"refs": ", ".join(found["stray_support_users"])}))
    if found["sessions_without_page_view"]:
        problems.append(str(_("support sessions without any recorded page view: %(refs)s")
                            % {"refs": ", ".join(found["sessions_without_page_view"])}))
    if problems:
        return CheckResult.failed("; ".join(problems), **evidence)
    return CheckResult.passed(
        _("Support grants: %(active)d active, %(expired)d expired, %(revoked)d revoked in %(tenants)d tenants; none "
          "longer than %(max)d h, none open past its end; %(sessions)d support sessions with %(views)d page views "
          "recorded in the tenants' operation logs.")
        % {"active": found["active"], "expired": found["expired"], "revoked": found["revoked"],
           "tenants": found["tenants"], "max": max_hours, "sessions": found["sessions_started"],
           "views": found["page_views"]}, **evidence)


def _no_tenant_sees_nothing() -> dict:
    """What the code sees with no tenant active: the ORM refuses; on PostgreSQL the application
    role also reads no tenant row (RLS with an empty ``mamori.tenant_id``)."""
    from mamori.accounts.models import User
    from mamori.support.models import SupportAccessRequest
    from mamori.tenancy.context import NoTenantError, tenant_context

    result = {"orm_refuses": False, "vendor": connection.vendor}
    with tenant_context(None):
        try:
            User.objects.exists()
        except NoTenantError:
            result["orm_refuses"] = True
        if connection.vendor == "postgresql":
            counts = {}
            with connection.cursor() as cursor:
                for model in (User, SupportAccessRequest):
                    cursor.execute(f'SELECT count(*) FROM "{model._meta.db_table}"')  # noqa: S608 (model table names)
                    counts[model._meta.db_table] = cursor.fetchone()[0]
            result["rows_visible_without_tenant"] = counts
            result["db_role"] = settings.DB_APP_ROLE
    return result


@control("9.4.4", _("No staff path into tenant data except consented support access"), section="utility_programs")
def no_staff_backdoor() -> CheckResult:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.base_user import AbstractBaseUser

    from mamori.operations.models import ProviderStaff

    user_model = get_user_model()._meta.label
    seen = _no_tenant_sees_nothing()
    found = _survey()
    evidence = {
        "user_model": user_model,
        "staff_is_auth_user": issubclass(ProviderStaff, AbstractBaseUser) or user_model == ProviderStaff._meta.label,
        "authentication_backends": list(settings.AUTHENTICATION_BACKENDS),
        "support_middleware": _middleware_in_place(),
        "admin_support_users": found["admin_support_users"],
        "stray_support_users": found["stray_support_users"],
        **seen,
        "not_checked": "management commands run by operators with database access are outside this check",
    }
    problems = []
    if evidence["staff_is_auth_user"]:
        problems.append(str(_("provider staff are an authentication user model")))
    if not evidence["support_middleware"]:
        problems.append(str(_("the support session middleware is not installed")))
    if not seen["orm_refuses"]:
        problems.append(str(_("the ORM returns tenant rows with no tenant active")))
    if any(seen.get("rows_visible_without_tenant", {}).values()):
        problems.append(str(_("the application role reads tenant rows with no tenant set")))
    if found["admin_support_users"] or found["stray_support_users"]:
        problems.append(str(_("support users with an admin role or without an active grant: %(refs)s") % {
            "refs": ", ".join(found["admin_support_users"] + found["stray_support_users"])}))
    if problems:
        return CheckResult.failed("; ".join(problems), **evidence)
    if connection.vendor == "postgresql":
        summary = _("Staff are not users of any tenant (user model %(model)s); with no tenant the ORM refuses and "
                    "the application role reads 0 tenant rows (RLS); the only way in is a support grant, whose "
                    "user is never an admin and is disabled when the grant ends.")
    else:
        summary = _("Staff are not users of any tenant (user model %(model)s); with no tenant the ORM refuses "
                    "(%(vendor)s has no row-level security: use PostgreSQL in production); the only way in is a "
                    "support grant, whose user is never an admin and is disabled when the grant ends.")
    return CheckResult.passed(summary % {"model": user_model, "vendor": connection.vendor}, **evidence)
