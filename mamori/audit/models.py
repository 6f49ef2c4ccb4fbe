"""Audit events: one append-only table per population (tenant log, provider log).

Designed for the tamper-evidence layer: ``seq`` (per tenant), ``prev_hash`` and
``hash`` are filled when the event is sealed into the chain; the payload columns
never change after insert.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from mamori.audit.registry import EVENT_TYPES
from mamori.tenancy.models import Tenant, TenantModel


class ActorType(models.TextChoices):
    USER = "user", _("User")
    API_TOKEN = "api_token", _("API token")
    PROVIDER_STAFF = "provider_staff", _("Provider staff")
    SUPPORT = "support", _("Provider staff (support access)")
    SCIM = "scim", _("SCIM client")
    SYSTEM = "system", _("System")
    ANONYMOUS = "anonymous", _("Anonymous")


class EventFields(models.Model):
    occurred_at = models.DateTimeField(_("time"), db_index=True)
    action = models.CharField(_("action"), max_length=80, db_index=True)
    actor_type = models.CharField(_("actor type"), max_length=20, choices=ActorType.choices)
    actor_id = models.CharField(_("actor id"), max_length=64, blank=True, default="")
    actor_label = models.CharField(_("actor"), max_length=254, blank=True, default="")
    target_type = models.CharField(_("target type"), max_length=64, blank=True, default="")
    target_id = models.CharField(_("target id"), max_length=64, blank=True, default="")
    target_label = models.CharField(_("target"), max_length=300, blank=True, default="")
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True, default="")
    request_id = models.CharField(_("request id"), max_length=64, blank=True, default="")
    # Chain (filled by the sealing step of the tamper-evidence layer).
    seq = models.BigIntegerField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True, default="")
    hash = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.action} {self.target_label}".strip()

    @property
    def label(self):
        event = EVENT_TYPES.get(self.action)
        return event.label if event else self.action


class AuditEvent(EventFields, TenantModel):
    """An event in one tenant's operation log.

    Every query of this table is scoped to one tenant (``TenantManager``, row-level security), so
    its indexes all start with ``tenant``; the single-column indexes ``EventFields`` and
    ``TenantModel`` declare (tenant, time, action) are left out here: each costs every insert
    an index entry and no query of this table can use them better than the composite ones.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, editable=False, related_name="+", db_index=False)
    occurred_at = models.DateTimeField(_("time"))
    action = models.CharField(_("action"), max_length=80)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-occurred_at", "-id"], name="audit_tenant_time"),
            models.Index(fields=["tenant", "actor_id", "-occurred_at"], name="audit_tenant_actor"),
            # A user's sign-in history, previous and last sign-in (the target of every sign-in
            # event is the user), and the operation log filtered by target.
            models.Index(fields=["tenant", "target_type", "target_id", "-occurred_at"], name="audit_tenant_target"),
            # One action or a few (equality, IN), newest first; the pattern operator class also
            # serves action prefixes ("record.") whatever the database collation.
            models.Index(fields=["tenant", "action", "-occurred_at"], name="audit_tenant_action",
                         opclasses=["int8_ops", "varchar_pattern_ops", "timestamptz_ops"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "seq"], name="audit_tenant_seq_unique"),
        ]


class ProviderEvent(EventFields):
    """An event in the provider's own log (staff sign-in, tenant creation by staff…)."""

    tenant_ref = models.BigIntegerField(null=True, blank=True,
                                        help_text="Tenant the action concerned, if any.")

    class Meta:
        verbose_name = _("provider event")
        verbose_name_plural = _("provider events")
        ordering = ["-occurred_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["seq"], name="provider_event_seq_unique")]


class ChainHead(models.Model):
    """The newest sequence number and hash of one chain (``tenant:<id>`` or ``provider``).

    Provider-side table (no RLS): it holds only counters and hashes, never event
    content. The writer locks a chain's row while it appends, so events of one
    chain get consecutive sequence numbers; ``mamori audit verify`` compares it
    with the newest event to detect a truncated tail.
    """

    name = models.CharField(max_length=40, unique=True)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True, default="")
    #: The head's hash before the latest append. The PostgreSQL one-event writer computes the
    #: event's hash in the same statement that takes the head (``mamori.audit.chain``) and
    #: reads the event's ``prev_hash`` back from here, because ``RETURNING`` gives only new values.
    previous_hash = models.CharField(max_length=64, blank=True, default="", db_default="")

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain heads")

    def __str__(self) -> str:
        return f"{self.name}@{self.last_seq}"


class AuditDigest(models.Model):
    """A signed statement "chain X had head hash H at sequence N" (provider-side table).

    The signature (Ed25519, the provider's key) covers
    ``canonical_bytes({"chain", "up_to_seq", "head_hash", "created_at"})``.
    ``event_count`` is the number of events the chain gained since the previous digest.
    """

    chain = models.CharField(max_length=40, db_index=True)
    up_to_seq = models.BigIntegerField()
    head_hash = models.CharField(max_length=64)
    event_count = models.BigIntegerField(default=0)
    created_at = models.DateTimeField()
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=120)

    class Meta:
        verbose_name = _("audit digest")
        verbose_name_plural = _("audit digests")
        ordering = ["chain", "up_to_seq"]
        constraints = [models.UniqueConstraint(fields=["chain", "up_to_seq"], name="audit_digest_chain_seq_unique")]

    def __str__(self) -> str:
        return f"{self.chain}@{self.up_to_seq}"
