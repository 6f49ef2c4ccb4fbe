"""Session policy and sign-in throttle counters (brute-force protection).

Imported by ``mamori.accounts.models`` so Django registers them with the app;
the migration is ``accounts/0003_sessions_throttle``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from mamori.tenancy.models import TenantModel

# NIST SP 800-63B AAL2: re-authenticate after 30 minutes of inactivity and at least every 12 hours.
DEFAULT_IDLE_MINUTES = 30
DEFAULT_ABSOLUTE_HOURS = 12


class SessionPolicy(TenantModel):
    """The tenant's session limits (one row per tenant; absent means the defaults)."""

    idle_timeout_minutes = models.PositiveIntegerField(_("idle timeout (minutes)"), default=DEFAULT_IDLE_MINUTES)
    absolute_lifetime_hours = models.PositiveIntegerField(_("absolute lifetime (hours)"),
                                                          default=DEFAULT_ABSOLUTE_HOURS)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("session policy")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="session_policy_per_tenant")]


class ThrottleCounter(TenantModel):
    """Failed attempts of one kind (password, TOTP, …) for one account or one client address.

    ``key_hash`` is a SHA-256 of the normalised key (the e-mail address as typed, or the
    client address), so typed junk and addresses are not stored in the clear here.
    ``blocked_until`` is the "not before" time of the next attempt; ``locked_noticed``
    says the current lockout episode has been recorded (and, for accounts, mailed).
    """

    class Scope(models.TextChoices):
        ACCOUNT = "account", _("account")
        IP = "ip", _("IP address")

    scope = models.CharField(max_length=10, choices=Scope.choices)
    kind = models.CharField(max_length=20)
    key_hash = models.CharField(max_length=64)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField()
    blocked_until = models.DateTimeField(null=True, blank=True)
    locked_noticed = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "scope", "kind", "key_hash"],
                                               name="throttle_counter_unique")]
