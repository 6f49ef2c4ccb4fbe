"""The tenant's MFA policy (ISMS 9.2.3): who must use a second factor.

The authenticators themselves are allauth's ``mfa.Authenticator`` rows (user-linked,
RLS-protected: tenancy migration 0002); their secrets are encrypted by
``mamori.multifactor.adapter.MamoriMFAAdapter``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from mamori.tenancy.models import TenantModel


class MfaRequirement(models.TextChoices):
    OPTIONAL = "optional", _("Optional: each user decides")
    ADMINS = "admins", _("Required for admins (tenant admins and unit admins)")
    EVERYONE = "everyone", _("Required for everyone")


class MfaPolicy(TenantModel):
    """One row per tenant; no row means ``optional``."""

    requirement = models.CharField(_("MFA requirement"), max_length=20, choices=MfaRequirement.choices,
                                   default=MfaRequirement.OPTIONAL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("MFA policy")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="mfa_policy_per_tenant")]
