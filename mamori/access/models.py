"""Organizational units (組織 → グループ) and who administers which of them.

Units form a tree per tenant. Users belong to any number of units; a unit admin
administers the users of the units assigned to them and of all descendants.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mamori.tenancy.models import TenantModel


class OrgUnit(TenantModel):
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="children", verbose_name=_("parent unit"))
    code = models.CharField(_("code"), max_length=64, blank=True, default="",
                            help_text=_("Optional identifier used in CSV files; unique in the tenant."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organizational unit")
        verbose_name_plural = _("organizational units")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "parent", "name"], name="orgunit_name_per_parent"),
            models.UniqueConstraint(fields=["tenant", "code"], condition=~models.Q(code=""),
                                    name="orgunit_code_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class UnitMembership(TenantModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="unit_memberships")
    unit = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "unit"], name="unit_membership_unique")]


class UnitAdminScope(TenantModel):
    """A unit assigned to a unit admin: they administer its users and its descendants' users."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="admin_scopes")
    unit = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="admin_scopes")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "unit"], name="unit_admin_scope_unique")]


# The per-tenant IP allowlist lives in its own module (mamori.access.allowlist*).
from mamori.access.allowlist_models import (  # noqa: E402,F401
    IpAllowlistEntry,
    IpAllowlistOverride,
    IpAllowlistSettings,
)
