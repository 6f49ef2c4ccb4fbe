"""Per-tenant IP allowlist (ISMS 9.2.3): settings, entries and the provider's emergency override.

Imported by ``mamori.access.models`` so Django registers them. All three are tenant
models (forced row-level security on PostgreSQL, migration ``0002_ip_allowlist``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.tenancy.models import TenantModel


class IpAllowlistSettings(TenantModel):
    """One row per tenant that has ever saved its allowlist.

    ``version`` is a random stamp replaced on every change: the compiled ranges are
    cached per process under (tenant, version), so a new stamp invalidates them everywhere.
    """

    enabled = models.BooleanField(_("allowlist enforced"), default=False)
    version = models.CharField(max_length=32, default="")
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        verbose_name = _("IP allowlist settings")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="ip_allowlist_settings_per_tenant")]


class IpAllowlistEntry(TenantModel):
    """One network (IPv4 or IPv6 CIDR, stored normalised: ``192.0.2.0/24``, ``2001:db8::/32``)."""

    cidr = models.CharField(_("network"), max_length=49)
    comment = models.CharField(_("comment"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        verbose_name = _("IP allowlist entry")
        verbose_name_plural = _("IP allowlist entries")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "cidr"], name="ip_allowlist_entry_unique")]

    def __str__(self) -> str:
        return self.cidr


class IpAllowlistOverride(TenantModel):
    """A provider's time-boxed emergency override: while active, the allowlist is not enforced.

    Started by a provider staff member with a reason (written to the tenant's log and the
    provider log); it ends by itself at ``expires_at`` or earlier when ended explicitly.
    """

    reason = models.TextField(_("reason"))
    starts_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    staff = models.ForeignKey("operations.ProviderStaff", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    staff_email = models.EmailField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=254, blank=True, default="")

    class Meta:
        verbose_name = _("IP allowlist emergency override")
        ordering = ["-starts_at", "-id"]

    def __str__(self) -> str:
        return f"override until {self.expires_at:%Y-%m-%d %H:%M} UTC"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.ended_at is None and self.starts_at <= now < self.expires_at
