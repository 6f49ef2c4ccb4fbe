"""Tenant-scoped reads for workspaces and records, narrowed by role and membership.

``access_*`` helpers raise ``NotFound`` for anything the user may not see,
whether it is missing, in another tenant, or outside the user's workspaces, so
existence is never revealed (404, never 403).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from mamori.access.errors import NotFound, PermissionDenied, object_id
from mamori.access.roles import Perm, can
from mamori.records.models import (
    Attachment,
    AttachmentPolicy,
    Classification,
    Label,
    Record,
    RecordComment,
    RecordLabel,
    Workspace,
    WorkspaceMember,
)


def visible_workspaces(user) -> QuerySet[Workspace]:
    """Workspaces the user may see: all for workspace managers, else those they belong to.

    Membership is an ``EXISTS`` rather than a join, so no ``DISTINCT`` is needed
    and callers can paginate without the database sorting the whole tenant.
    """
    if not can(user, Perm.VIEW_RECORDS):
        return Workspace.objects.none()
    qs = Workspace.objects.all()
    if not can(user, Perm.MANAGE_WORKSPACES):
        qs = qs.filter(Exists(WorkspaceMember.objects.filter(workspace=OuterRef("pk"), user=user)))
    return qs


def visible_records(user) -> QuerySet[Record]:
    qs = Record.objects.filter(workspace__in=visible_workspaces(user))
    if not can(user, Perm.VIEW_RESTRICTED):
        qs = qs.exclude(classification=Classification.RESTRICTED)
    return qs


def search_records(user, *, text: str = "", label_ids: list[int] | None = None,
                   workspace_id: int | None = None) -> QuerySet[Record]:
    qs = visible_records(user)
    if workspace_id:
        qs = qs.filter(workspace_id=workspace_id)
    text = (text or "").strip()
    if text:
        qs = qs.filter(Q(title__icontains=text) | Q(body__icontains=text))
    for label_id in label_ids or []:
        qs = qs.filter(Exists(RecordLabel.objects.filter(record=OuterRef("pk"), label_id=label_id)))
    return qs.select_related("workspace").prefetch_related(labels_prefetch())


def labels_prefetch() -> Prefetch:
    """Prefetch labels with one tenant-filtered queryset instead of one per record."""
    return Prefetch("labels", queryset=Label.objects.all())


def access_workspace(user, workspace_id, *, for_write: bool = False) -> Workspace:
    workspace = visible_workspaces(user).filter(pk=object_id(workspace_id)).first()
    if workspace is None:
        raise NotFound
    if for_write and not can(user, Perm.EDIT_RECORDS):
        raise PermissionDenied(Perm.EDIT_RECORDS)
    return workspace


def access_record(user, record_id, *, for_write: bool = False) -> Record:
    record = (
        visible_records(user).select_related("workspace").prefetch_related(labels_prefetch())
        .filter(pk=object_id(record_id)).first()
    )
    if record is None:
        raise NotFound
    if for_write and not can(user, Perm.EDIT_RECORDS):
        raise PermissionDenied(Perm.EDIT_RECORDS)
    return record


def record_comments(user, record_id) -> QuerySet[RecordComment]:
    """Comments of a record the user can open, oldest first."""
    record = access_record(user, record_id)
    return RecordComment.objects.filter(record=record).select_related("author").order_by("created_at", "id")


def access_label(user, label_id, *, for_write: bool = False) -> Label:
    if not can(user, Perm.VIEW_RECORDS):
        raise NotFound
    label = Label.objects.filter(pk=object_id(label_id)).first()
    if label is None:
        raise NotFound
    if for_write and not can(user, Perm.MANAGE_LABELS):
        raise PermissionDenied(Perm.MANAGE_LABELS)
    return label


# --- Attachments (access follows the record: workspace, classification, labels) --------------

def record_attachments(user, record_id) -> QuerySet[Attachment]:
    """Attachments of a record the user can open, oldest first."""
    record = access_record(user, record_id)
    return Attachment.objects.filter(record=record).select_related("uploaded_by").order_by("created_at", "id")


def access_attachment(user, record_id, attachment_id) -> Attachment:
    """An attachment of a record the user can open; ``NotFound`` otherwise (never 403)."""
    record = access_record(user, record_id)
    attachment = Attachment.objects.filter(record=record, pk=object_id(attachment_id)).first()
    if attachment is None:
        raise NotFound
    attachment.record = record
    return attachment


def attachment_policy() -> AttachmentPolicy:
    """The active tenant's attachment policy (unsaved defaults when none was set)."""
    return AttachmentPolicy.objects.first() or AttachmentPolicy()


def attachment_limits(policy: AttachmentPolicy | None = None) -> dict[str, int | None]:
    """``provider``: the ceiling (provider default or the provider's per-tenant value);
    ``tenant``: the tenant admin's lower limit (or None); ``effective``: what uploads get."""
    from django.conf import settings

    policy = policy or attachment_policy()
    ceiling = policy.provider_max_bytes or settings.MAMORI_ATTACHMENT_MAX_BYTES
    effective = min(ceiling, policy.max_bytes) if policy.max_bytes else ceiling
    return {"provider": ceiling, "tenant": policy.max_bytes, "effective": effective,
            "provider_default": settings.MAMORI_ATTACHMENT_MAX_BYTES}


def attachment_limit() -> int:
    return attachment_limits()["effective"]
