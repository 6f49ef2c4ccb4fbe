"""Tenant segregation and hardening (CLD.9.5.1, CLD.9.5.2)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks as django_checks
from django.db import connection
from django.utils.translation import gettext_lazy as _

from mamori.compliance.live import memo
from mamori.compliance.registry import CheckResult, control


@control("CLD.9.5.1", _("Row-level security enabled and forced on every tenant table"), section="segregation",
         key="CLD.9.5.1")
def row_level_security() -> CheckResult:
    from mamori.tenancy.rls import POLICY_NAME, rls_status

    if connection.vendor != "postgresql":
        return CheckResult.not_applicable(
            _("Database %(vendor)s has no row-level security; tenant scoping is enforced by the ORM only (the "
              "tenant manager raises without an active tenant). Use PostgreSQL in production.")
            % {"vendor": connection.vendor}, vendor=connection.vendor)
    status = rls_status(connection)
    present = {t: s for t, s in status.items() if s["exists"]}
    good = [t for t, s in present.items() if s["enabled"] and s["forced"] and s["policy"]]
    bad = {t: s for t, s in present.items() if t not in good}
    evidence = {"tables": len(present), "protected": len(good), "policy": POLICY_NAME,
                "not_protected": {t: {k: v for k, v in s.items() if k != "exists"} for t, s in bad.items()},
                "missing_tables": sorted(t for t, s in status.items() if not s["exists"])}
    if bad or not present:
        return CheckResult.failed(
            _("RLS forced on %(ok)d/%(n)d tenant tables; not protected: %(bad)s.")
            % {"ok": len(good), "n": len(present), "bad": ", ".join(sorted(bad)) or "-"}, **evidence)
    return CheckResult.passed(_("RLS forced on %(ok)d/%(n)d tenant tables, each with policy %(policy)s.")
                              % {"ok": len(good), "n": len(present), "policy": POLICY_NAME}, **evidence)


def deploy_messages() -> list[django_checks.CheckMessage]:
    """Django's and Mamori's deployment checks for this process's settings (warnings and up)."""
    messages = django_checks.run_checks(include_deployment_checks=True)
    silenced = set(settings.SILENCED_SYSTEM_CHECKS)
    return [m for m in messages if m.level >= django_checks.WARNING and m.id not in silenced]


@control("CLD.9.5.2", _("Production settings pass the deployment checks"), section="hardening", key="CLD.9.5.2")
def deploy_check() -> CheckResult:
    messages = memo("deploy_messages", deploy_messages)
    found = [{"id": m.id, "level": m.level, "message": str(m.msg)[:300]} for m in messages]
    production = bool(getattr(settings, "PRODUCTION", False))
    evidence = {"production": production, "profile": getattr(settings, "PROFILE", ""), "debug": settings.DEBUG,
                "secure_ssl_redirect": settings.SECURE_SSL_REDIRECT, "hsts_seconds": settings.SECURE_HSTS_SECONDS,
                "session_cookie_secure": settings.SESSION_COOKIE_SECURE, "issues": found}
    if not production:
        # A development process cannot vouch for production: say what it would report, decide nothing.
        return CheckResult.not_applicable(
            _("This process runs the development profile: the deployment checks apply to production only "
              "(%(n)d findings with these settings: %(ids)s). Run `mamori controls check` under the production "
              "profile.") % {"n": len(found), "ids": ", ".join(sorted({f["id"] for f in found})) or "-"},
            **evidence)
    if found:
        return CheckResult.failed(_("`mamori check --deploy` reports %(n)d findings: %(ids)s.")
                                  % {"n": len(found), "ids": ", ".join(sorted({f["id"] for f in found}))}, **evidence)
    return CheckResult.passed(
        _("`mamori check --deploy` passes: HTTPS redirect, HSTS %(hsts)d s, secure cookies, no debug.")
        % {"hsts": settings.SECURE_HSTS_SECONDS}, **evidence)
