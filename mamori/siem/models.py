"""Webhook subscriptions that forward a tenant's audit events to a SIEM, and their delivery log."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from mamori.lifecycle.fields import EncryptedTextField
from mamori.tenancy.models import TenantModel

SECRET_PURPOSE = "siem.webhook_secret"  # noqa: S105 (a label, not a secret)


class WebhookSubscription(TenantModel):
    """An HTTPS endpoint that receives the tenant's audit events in sequence order.

    ``last_acknowledged_seq`` is the chain sequence number up to which the endpoint
    answered 2xx; delivery always resumes after it, so disabling, failures and
    restarts never lose an event. ``task_queued_at`` is set while a delivery task
    owns the subscription (queued, running or waiting for a retry), so many events
    in a burst queue one task, not one each.
    """

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True, default="")
    # 32 random bytes, hex. Shown once at creation; kept to sign deliveries (HMAC-SHA256).
    # Stored encrypted with the tenant's data key (mamori.lifecycle.keys); reading it decrypts.
    secret = EncryptedTextField(purpose=SECRET_PURPOSE, editable=False)
    event_prefixes = models.JSONField(_("events"), default=list, blank=True,
                                      help_text=_("Action prefixes to send; empty sends every event."))
    active = models.BooleanField(_("active"), default=True)
    last_acknowledged_seq = models.BigIntegerField(_("last acknowledged sequence number"), default=0)
    consecutive_failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    disabled_reason = models.CharField(_("reason disabled"), max_length=300, blank=True, default="")
    task_queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta(TenantModel.Meta):
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description or self.url


class WebhookDelivery(TenantModel):
    """One POST to a subscription's endpoint (a batch of events, or a test event)."""

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    first_seq = models.BigIntegerField(null=True, blank=True)
    last_seq = models.BigIntegerField(null=True, blank=True)
    event_count = models.PositiveIntegerField(default=0)
    is_test = models.BooleanField(default=False)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)
    attempted_at = models.DateTimeField(db_index=True)

    class Meta(TenantModel.Meta):
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-attempted_at", "-id"]
        indexes = [models.Index(fields=["subscription", "-attempted_at"], name="siem_delivery_sub_time")]

    def __str__(self) -> str:
        return f"{self.subscription_id} {self.first_seq}-{self.last_seq} {self.status_code}"
