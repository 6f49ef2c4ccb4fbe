"""Support access requests: a tenant-owned row per request of a provider staff member.

The row belongs to the tenant (it is exported, backed up and purged with the tenant's
data, and PostgreSQL's row-level security shows it only inside that tenant's context).
The staff member is referred to by id and e-mail only (``staff_id`` is not a foreign key:
a provider table must never stop a tenant's backup from being restored elsewhere).

``support_user`` maps an approved grant to the dedicated support user of the tenant
(``mamori.support.accounts``): the only tenant ``User`` a staff member can ever act as.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.tenancy.models import TenantModel


class SupportAccessRequest(TenantModel):
    class Scope(models.TextChoices):
        READ_ONLY = "read_only", _("Read only")
        READ_WRITE = "read_write", _("Read and write")

    class State(models.TextChoices):
        REQUESTED = "requested", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    staff_id = models.BigIntegerField(_("staff member id"), db_index=True)
    staff_email = models.EmailField(_("staff member"))
    staff_name = models.CharField(_("staff name"), max_length=150, blank=True, default="")
    reason = models.TextField(_("reason"), max_length=2000)
    scope = models.CharField(_("scope"), max_length=20, choices=Scope.choices, default=Scope.READ_ONLY)
    requested_hours = models.PositiveSmallIntegerField(_("requested duration (hours)"))
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.REQUESTED)
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("decided by"))
    decision_note = models.CharField(_("note"), max_length=500, blank=True, default="")
    approved_until = models.DateTimeField(_("access until"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+", verbose_name=_("ended by"))
    support_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+", verbose_name=_("support user"))

    class Meta:
        verbose_name = _("support access request")
        verbose_name_plural = _("support access requests")
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["tenant", "state"], name="support_tenant_state")]

    def __str__(self) -> str:
        return f"support access #{self.pk} ({self.staff_email})"

    @property
    def is_open(self) -> bool:
        return self.state == self.State.REQUESTED

    def is_active(self, now=None) -> bool:
        """Approved and not past its end (the end is checked, not only expired by the job)."""
        now = now or timezone.now()
        return (self.state == self.State.APPROVED and self.approved_until is not None
                and now < self.approved_until)

    @property
    def support_role(self) -> str:
        from mamori.access.roles import Role

        return Role.EDITOR if self.scope == self.Scope.READ_WRITE else Role.VIEWER
