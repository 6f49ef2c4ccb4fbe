"""The sample business app: workspaces (projects) holding records with labels.

Every model derives from ``TenantModel``; nothing else is needed for isolation,
audit, export and purge. Membership limits who sees a workspace inside a tenant.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from mamori.tenancy.models import TenantModel

COLOUR_VALIDATOR = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1f6feb."))


class Classification(models.TextChoices):
    PUBLIC = "public", _("Public")
    INTERNAL = "internal", _("Internal")
    CONFIDENTIAL = "confidential", _("Confidential")
    RESTRICTED = "restricted", _("Restricted")


class ReviewStatus(models.TextChoices):
    NONE = "none", _("Not reviewed")
    APPROVED = "approved", _("Approved")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")


class Workspace(TenantModel):
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True, default="", max_length=5000)
    created_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("workspace")
        verbose_name_plural = _("workspaces")
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="workspace_name_per_tenant")]

    def __str__(self) -> str:
        return self.name


class WorkspaceMember(TenantModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="workspace_memberships")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "workspace", "user"], name="workspace_member_unique")
        ]


class Label(TenantModel):
    name = models.CharField(_("name"), max_length=60)
    colour = models.CharField(_("colour"), max_length=7, default="#6b7280", validators=[COLOUR_VALIDATOR])

    class Meta:
        verbose_name = _("label")
        verbose_name_plural = _("labels")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="label_name_per_tenant")]

    def __str__(self) -> str:
        return self.name


class Record(TenantModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="records")
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("body"), blank=True, default="", max_length=100_000)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    classification = models.CharField(_("classification"), max_length=20, choices=Classification.choices,
                                      default=Classification.INTERNAL)
    labels = models.ManyToManyField(Label, through="RecordLabel", related_name="records", blank=True)
    created_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The latest review by a reviewer; a change to the content resets it to "not reviewed".
    review_status = models.CharField(_("review status"), max_length=20, choices=ReviewStatus.choices,
                                     default=ReviewStatus.NONE)
    reviewed_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("record")
        verbose_name_plural = _("records")
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["tenant", "workspace", "-updated_at"], name="record_ws_updated")]

    def __str__(self) -> str:
        return self.title


class RecordLabel(TenantModel):
    """Through table, so label links carry the tenant and fall under RLS too."""

    record = models.ForeignKey(Record, on_delete=models.CASCADE)
    label = models.ForeignKey(Label, on_delete=models.CASCADE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "record", "label"], name="record_label_unique")]


class RecordComment(TenantModel):
    """A comment on a record by anyone who may comment (editors, reviewers, admins)."""

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField(_("comment"), max_length=5000)
    # Set when the comment was written with a review decision.
    review_decision = models.CharField(max_length=20, choices=ReviewStatus.choices, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["tenant", "record", "created_at"], name="record_comment_record")]


class Attachment(TenantModel):
    """A file attached to a record. The bytes live encrypted in the default storage under
    ``tenants/<tenant id>/attachments/<uuid>`` (see ``mamori.records.attachments``); access
    follows the record (its workspace, classification and labels)."""

    uuid = models.UUIDField(editable=False)
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=120)
    size = models.BigIntegerField(_("size"))  # plaintext bytes
    storage_name = models.CharField(max_length=300, editable=False)
    key_version = models.PositiveIntegerField(editable=False)
    uploaded_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "uuid"], name="attachment_uuid_per_tenant")]
        indexes = [models.Index(fields=["tenant", "record", "created_at"], name="attachment_record")]

    def __str__(self) -> str:
        return self.filename


class AttachmentPolicy(TenantModel):
    """Per-tenant attachment size limit. ``provider_max_bytes`` (set by the provider) replaces
    the provider default; ``max_bytes`` (set by a tenant admin) can only lower it."""

    provider_max_bytes = models.BigIntegerField(_("provider limit (bytes)"), null=True, blank=True)
    max_bytes = models.BigIntegerField(_("tenant limit (bytes)"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("attachment policy")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="attachment_policy_per_tenant")]
