"""Tenants and the base class of every customer-data model."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from mamori.tenancy.context import NoTenantError, current_tenant, require_tenant

SLUG_VALIDATOR = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$",
    _("Use 1–40 lower-case letters, digits and hyphens; start and end with a letter or digit."),
)
RESERVED_SLUGS = {"api", "admin", "provider", "static", "scim", "status", "healthz", "readyz", "t"}


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(zone)s"), params={"zone": value})


def validate_slug_not_reserved(value: str) -> None:
    if value in RESERVED_SLUGS:
        raise ValidationError(_("This slug is reserved."))


class Tenant(models.Model):
    """One customer contract. Provider-side table: holds no customer content."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        TERMINATING = "terminating", _("Terminating (grace period)")
        PURGED = "purged", _("Purged")

    class Language(models.TextChoices):
        JA = "ja", _("Japanese")
        EN = "en", _("English")

    slug = models.CharField(_("slug"), max_length=40, unique=True,
                            validators=[SLUG_VALIDATOR, validate_slug_not_reserved])
    name = models.CharField(_("name"), max_length=200)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    data_region = models.CharField(_("data region"), max_length=64, default="")
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Tokyo",
                                 validators=[validate_time_zone])
    language = models.CharField(_("language"), max_length=5, choices=Language.choices, default=Language.JA)
    contract_start = models.DateField(_("contract start"), null=True, blank=True)
    contract_end = models.DateField(_("contract end"), null=True, blank=True)
    # Extra address for provider notices (maintenance, incidents, termination) besides the
    # tenant admins: mamori.tenancy.contacts.tenant_contacts().
    notification_email = models.EmailField(_("notification address"), blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    OPEN_STATUSES = (Status.ACTIVE, Status.TERMINATING)

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def clean(self) -> None:
        if self.contract_start and self.contract_end and self.contract_end < self.contract_start:
            raise ValidationError({"contract_end": _("The contract cannot end before it starts.")})
        if not self.data_region:
            self.data_region = settings.DEFAULT_DATA_REGION


class TenantQuerySet(models.QuerySet):
    pass


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):  # type: ignore[misc]
    """Default manager of tenant models: always filtered to the active tenant.

    Raises ``NoTenantError`` instead of ever returning rows of all tenants.
    """

    def get_queryset(self) -> TenantQuerySet:
        tenant = require_tenant()
        return super().get_queryset().filter(tenant_id=tenant.pk)


class TenantModel(models.Model):
    """Base class for every model that holds customer data.

    Everything that derives from it is tenant-scoped in the ORM, covered by
    row-level security on PostgreSQL, and (in later layers) exported, backed up
    and purged with its tenant. Unique constraints must include ``tenant``.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, editable=False,
                               related_name="+", db_index=True)

    objects = TenantManager()
    # Explicit escape hatch for provider code that must cross tenants
    # (purge, export, backup). Callers are named *_across_tenants and audited.
    objects_across_tenants = models.Manager()  # noqa: DJ012 — must stay second: the first manager is the default

    class Meta:
        abstract = True
        base_manager_name = "objects_across_tenants"

    def save(self, *args, **kwargs):
        active = current_tenant()
        if self.tenant_id is None:
            if active is None:
                raise NoTenantError(f"Cannot save {type(self).__name__} without an active tenant.")
            self.tenant_id = active.pk
        elif active is not None and active.pk != self.tenant_id:
            raise NoTenantError(f"{type(self).__name__} belongs to another tenant than the active one.")
        return super().save(*args, **kwargs)


def tenant_models() -> list[type[TenantModel]]:
    """Every concrete tenant model, including those a provider's own apps add."""
    from django.apps import apps

    return [m for m in apps.get_models() if issubclass(m, TenantModel) and not m._meta.abstract]
