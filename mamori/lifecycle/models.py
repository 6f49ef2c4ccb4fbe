"""Models of the lifecycle app: the tenants' data keys (DEKs), stored wrapped by the master key."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from mamori.tenancy.models import TenantModel


class TenantDataKey(TenantModel):
    """One generation of a tenant's data key (DEK), wrapped by the provider's master key (KEK).

    Exactly one generation per tenant is ``active`` (new encryption uses it). During a
    ``mamori keys rotate-tenant`` the previous generation is ``retiring`` (still decrypts,
    its data is being re-encrypted); afterwards it is ``retired`` (still decrypts, e.g.
    old per-tenant backups, never encrypts). ``destroyed`` keys have no key material left:
    whatever they encrypted is unreadable for good. The plaintext DEK is never stored.
    """

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        RETIRING = "retiring", _("Retiring (re-encryption running)")
        RETIRED = "retired", _("Retired")
        DESTROYED = "destroyed", _("Destroyed")

    version = models.PositiveIntegerField(_("version"))
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.ACTIVE)
    # "kw1.<kek id>.<base64url(nonce || AES-256-GCM(KEK, DEK))>"; empty once destroyed.
    wrapped_key = models.TextField(editable=False, default="")
    kek_id = models.CharField(_("master key id"), max_length=64, editable=False, default="")
    fingerprint = models.CharField(_("fingerprint (SHA-256)"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)
    destroyed_at = models.DateTimeField(_("destroyed"), null=True, blank=True)

    class Meta(TenantModel.Meta):
        verbose_name = _("tenant data key")
        verbose_name_plural = _("tenant data keys")
        ordering = ["tenant_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "version"], name="lifecycle_datakey_tenant_version"),
            models.UniqueConstraint(fields=["tenant"], condition=Q(state="active"),
                                    name="lifecycle_datakey_one_active"),
        ]

    def __str__(self) -> str:
        return f"DEK v{self.version} ({self.state}) {self.fingerprint[:16]}"


class MasterKeyMarker(models.Model):
    """Provider table (one row): which master key wraps the data keys now.

    Checked before any data key is created or re-wrapped, so a wrong master key cannot
    start a second, incompatible set of wrapped keys. ``verifier`` is a random value
    wrapped by the master key; ``mamori keys rotate-master`` replaces it atomically with
    the data keys.
    """

    name = models.CharField(max_length=20, unique=True, default="master")
    kek_id = models.CharField(max_length=64)
    verifier = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("master key marker")
        verbose_name_plural = _("master key markers")

    def __str__(self) -> str:
        return f"master key {self.kek_id}"
