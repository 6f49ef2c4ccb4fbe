"""Secure log-on (ISO/IEC 27002 9.4.2): brute-force throttling and the sign-in history each
user and admin sees (the seeds' "不正利用の監視", SA §11; the catalogue's brute-force row)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mamori.compliance.live import for_each_tenant, memo
from mamori.compliance.registry import CheckResult, control

#: The throttle is only a control when it bites early enough.
MAX_ACCOUNT_FAILURES = 10
MAX_IP_FAILURES = 100


@control("9.4.2", _("Sign-in attempts throttled per account and per address"),
         section="access_restriction", key="9.4.2-throttle")
def sign_in_throttle() -> CheckResult:
    from mamori.accounts.adapter import MamoriAccountAdapter
    from mamori.accounts.throttle import delay_for

    config = settings.MAMORI_THROTTLE
    account_after = int(config["account"]["lock_after"])
    ip_after = int(config["ip"]["lock_after"])
    wired = (settings.ACCOUNT_ADAPTER == "mamori.accounts.adapter.MamoriAccountAdapter"
             and "pre_authenticate" in vars(MamoriAccountAdapter))
    problems = []
    if not wired:
        problems.append(gettext("the sign-in adapter does not consult the throttle"))
    if not 1 <= account_after <= MAX_ACCOUNT_FAILURES:
        problems.append(gettext("an account locks only after %(n)d failures (at most %(max)d expected)")
                        % {"n": account_after, "max": MAX_ACCOUNT_FAILURES})
    if not 1 <= ip_after <= MAX_IP_FAILURES:
        problems.append(gettext("an address locks only after %(n)d failures (at most %(max)d expected)")
                        % {"n": ip_after, "max": MAX_IP_FAILURES})
    first_delay = delay_for(account_after, "account")
    if first_delay <= 0:
        problems.append(gettext("the first lock has no delay"))
    evidence = {"account_lock_after": account_after, "ip_lock_after": ip_after,
                "first_delay_seconds": first_delay, "max_delay_seconds": int(config["max"]),
                "adapter_wired": wired}
    if problems:
        return CheckResult.failed(gettext("Sign-in throttle: %(problems)s.") % {"problems": "; ".join(problems)},
                                  **evidence)
    return CheckResult.passed(
        gettext("After %(a)d failed sign-ins an account waits %(d)s s (growing to %(m)d s); an address after "
                "%(i)d failures.") % {"a": account_after, "d": f"{first_delay:g}", "m": int(config["max"]),
                                       "i": ip_after}, **evidence)


def _signin_counts(tenant) -> dict[str, int]:
    from mamori.audit.models import AuditEvent

    since = timezone.now() - timedelta(days=30)
    rows = AuditEvent.objects.filter(occurred_at__gte=since,
                                     action__in=("auth.login", "auth.login_failed", "auth.lockout"))
    return {action: rows.filter(action=action).count() for action in ("auth.login", "auth.login_failed",
                                                                         "auth.lockout")}


@control("9.4.2", _("Users and admins see sign-in history; previous sign-in shown"),
         section="access_restriction", key="9.4.2-history")
def sign_in_history() -> CheckResult:
    pages = {}
    for name in ("console:my_signins", "console:signins"):
        try:
            pages[name] = bool(reverse(name, urlconf="mamori.urls_tenant"))
        except NoReverseMatch:
            pages[name] = False
    totals = {"auth.login": 0, "auth.login_failed": 0, "auth.lockout": 0}
    tenants = 0
    for _tenant, counts in memo("logon.signins", lambda: list(for_each_tenant(_signin_counts))):
        tenants += 1
        for action, n in counts.items():
            totals[action] += n
    evidence = {"pages": pages, "tenants": tenants, "last_30_days": totals}
    if not all(pages.values()):
        missing = ", ".join(name for name, ok in pages.items() if not ok)
        return CheckResult.failed(gettext("Sign-in history pages missing: %(missing)s.") % {"missing": missing},
                                  **evidence)
    return CheckResult.passed(
        gettext("Each user sees their own sign-ins and the previous one on the dashboard; admins see all. "
                "Last 30 days in %(t)d tenants: %(ok)d sign-ins, %(failed)d failures, %(locked)d lockouts recorded.")
        % {"t": tenants, "ok": totals["auth.login"], "failed": totals["auth.login_failed"],
           "locked": totals["auth.lockout"]}, **evidence)
