"""SCIM 2.0 provisioning: tenant-bound bearer tokens and the SCIM view of users and units.

``ScimToken`` authenticates an identity provider (Entra ID, Okta, …) for one tenant;
only a SHA-256 of its secret is stored. ``ScimUser`` and ``ScimGroup`` keep what SCIM
knows about a user or an organizational unit beyond Mamori's own columns (``userName``,
``externalId``, name parts and e-mail types), so the identity provider reads back what
it wrote. The users and units themselves are changed only through the account and
access actions.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.access.roles import Role
from mamori.tenancy.models import TenantModel

#: Roles a SCIM token may give the users it creates (never an admin role).
SCIM_DEFAULT_ROLES = (Role.VIEWER, Role.REVIEWER, Role.EDITOR)


class ScimToken(TenantModel):
    """A bearer token for one SCIM client of the tenant; shown once, stored hashed."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("key id"), max_length=16)
    secret_hash = models.CharField(max_length=64)
    default_role = models.CharField(
        _("role of new users"), max_length=20, default=Role.VIEWER,
        choices=[(role.value, role.label) for role in SCIM_DEFAULT_ROLES])
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("SCIM token")
        verbose_name_plural = _("SCIM tokens")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "prefix"], name="scim_token_prefix_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())


class ScimUser(TenantModel):
    """SCIM attributes of a provisioned user (``userName``, ``externalId``, name parts, e-mails)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scim_link")
    user_name = models.CharField(max_length=254)
    external_id = models.CharField(max_length=255, blank=True, default="")
    attributes = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("user_name"), "tenant", name="scim_user_name_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.user_name


class ScimGroup(TenantModel):
    """SCIM attributes of an organizational unit exposed as a Group (``externalId``)."""

    unit = models.OneToOneField("access.OrgUnit", on_delete=models.CASCADE, related_name="scim_link")
    external_id = models.CharField(max_length=255, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.external_id or str(self.unit_id)
