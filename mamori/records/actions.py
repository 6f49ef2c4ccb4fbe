"""State changes for workspaces, labels and records (each audited in its transaction)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.access.errors import NotFound
from mamori.access.roles import Perm
from mamori.accounts.actions import require
from mamori.accounts.models import User
from mamori.audit.events import Actor, diff, record_event, snapshot
from mamori.core.actions import action
from mamori.records.models import (
    COLOUR_VALIDATOR,
    Classification,
    Label,
    Record,
    RecordComment,
    RecordLabel,
    ReviewStatus,
    Workspace,
    WorkspaceMember,
)
from mamori.records.queries import access_label, access_record, access_workspace
from mamori.tenancy.context import require_tenant

RECORD_FIELDS = ["title", "body", "properties", "classification", "workspace"]
MAX_PROPERTIES = 50


def _clean_text(value: str | None, field: str, max_length: int, *, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: _("This field is required.")})
    if len(value) > max_length:
        raise ValidationError({field: _("At most %(n)d characters.") % {"n": max_length}})
    return value


def clean_properties(properties: Any) -> dict[str, str]:
    """Properties are a flat map of short text keys to text values."""
    if properties in (None, ""):
        return {}
    if not isinstance(properties, dict):
        raise ValidationError({"properties": _("Properties must be a set of key/value pairs.")})
    if len(properties) > MAX_PROPERTIES:
        raise ValidationError({"properties": _("At most %(n)d properties.") % {"n": MAX_PROPERTIES}})
    cleaned: dict[str, str] = {}
    for key, value in properties.items():
        key = str(key).strip()
        if not key or len(key) > 64:
            raise ValidationError({"properties": _("Property names must be 1–64 characters.")})
        if isinstance(value, bool | int | float):
            value = str(value)
        if value is None:
            value = ""
        if not isinstance(value, str) or len(value) > 1000:
            raise ValidationError({"properties": _("Property values must be text of at most 1000 characters.")})
        cleaned[key] = value
    return cleaned


def _record_snapshot(record: Record, labels: list[Label] | None = None) -> dict[str, Any]:
    data = snapshot(record, RECORD_FIELDS)
    data["labels"] = sorted(label.name for label in (record.labels.all() if labels is None else labels))
    return data


# --- Workspaces -------------------------------------------------------------------

@action
def create_workspace(*, actor: Actor, name: str, description: str = "") -> Workspace:
    require_tenant()
    require(actor, Perm.CREATE_WORKSPACE)
    name = _clean_text(name, "name", 200, required=True)
    description = _clean_text(description, "description", 5000, required=False)
    if Workspace.objects.filter(name=name).exists():
        raise ValidationError({"name": _("A workspace with this name already exists.")})
    workspace = Workspace.objects.create(name=name, description=description, created_by=actor.user)
    WorkspaceMember.objects.create(workspace=workspace, user=actor.user)
    record_event("workspace.created", actor=actor, target=workspace,
                 after=snapshot(workspace, ["name", "description"]))
    return workspace


@action
def update_workspace(*, actor: Actor, workspace_id: int, name: str, description: str = "") -> Workspace:
    workspace = access_workspace(actor.user, workspace_id)
    require(actor, Perm.EDIT_RECORDS)
    before = snapshot(workspace, ["name", "description"])
    workspace.name = _clean_text(name, "name", 200, required=True)
    workspace.description = _clean_text(description, "description", 5000, required=False)
    if Workspace.objects.filter(name=workspace.name).exclude(pk=workspace.pk).exists():
        raise ValidationError({"name": _("A workspace with this name already exists.")})
    workspace.save()
    b, a = diff(before, snapshot(workspace, ["name", "description"]))
    record_event("workspace.updated", actor=actor, target=workspace, before=b, after=a)
    return workspace


@action
def delete_workspace(*, actor: Actor, workspace_id: int) -> None:
    workspace = access_workspace(actor.user, workspace_id)
    require(actor, Perm.MANAGE_WORKSPACES)
    if workspace.records.exists():
        raise ValidationError({"workspace": _("Delete or move the workspace's records first.")})
    before = snapshot(workspace, ["name", "description"])
    record_event("workspace.deleted", actor=actor, target=workspace, before=before)
    workspace.delete()


@action
def add_workspace_member(*, actor: Actor, workspace_id: int, user_id: int) -> WorkspaceMember:
    workspace = access_workspace(actor.user, workspace_id)
    require(actor, Perm.MANAGE_WORKSPACES)
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise NotFound
    member, created = WorkspaceMember.objects.get_or_create(workspace=workspace, user=user)
    if created:
        record_event("workspace.member_added", actor=actor, target=workspace, after={"user": user.email})
    return member


@action
def remove_workspace_member(*, actor: Actor, workspace_id: int, user_id: int) -> None:
    workspace = access_workspace(actor.user, workspace_id)
    require(actor, Perm.MANAGE_WORKSPACES)
    member = WorkspaceMember.objects.filter(workspace=workspace, user_id=user_id).select_related("user").first()
    if member is None:
        raise NotFound
    record_event("workspace.member_removed", actor=actor, target=workspace, before={"user": member.user.email})
    member.delete()


# --- Labels ------------------------------------------------------------------------

def _clean_colour(colour: str | None) -> str:
    colour = (colour or "#6b7280").strip()
    try:
        COLOUR_VALIDATOR(colour)
    except ValidationError:
        raise ValidationError({"colour": _("Use a colour like #1f6feb.")})
    return colour.lower()


@action
def create_label(*, actor: Actor, name: str, colour: str | None = None) -> Label:
    require_tenant()
    require(actor, Perm.MANAGE_LABELS)
    name = _clean_text(name, "name", 60, required=True)
    if Label.objects.filter(name=name).exists():
        raise ValidationError({"name": _("A label with this name already exists.")})
    label = Label.objects.create(name=name, colour=_clean_colour(colour))
    record_event("label.created", actor=actor, target=label, after=snapshot(label, ["name", "colour"]))
    return label


@action
def update_label(*, actor: Actor, label_id: int, name: str, colour: str | None = None) -> Label:
    label = access_label(actor.user, label_id)
    require(actor, Perm.MANAGE_LABELS)
    before = snapshot(label, ["name", "colour"])
    label.name = _clean_text(name, "name", 60, required=True)
    label.colour = _clean_colour(colour)
    if Label.objects.filter(name=label.name).exclude(pk=label.pk).exists():
        raise ValidationError({"name": _("A label with this name already exists.")})
    label.save()
    b, a = diff(before, snapshot(label, ["name", "colour"]))
    record_event("label.updated", actor=actor, target=label, before=b, after=a)
    return label


@action
def delete_label(*, actor: Actor, label_id: int) -> None:
    label = access_label(actor.user, label_id)
    require(actor, Perm.MANAGE_LABELS)
    record_event("label.deleted", actor=actor, target=label, before=snapshot(label, ["name", "colour"]))
    label.delete()


# --- Records -----------------------------------------------------------------------

def _resolve_labels(label_ids: list[int] | None) -> list[Label]:
    ids = {int(i) for i in (label_ids or [])}
    labels = list(Label.objects.filter(pk__in=ids))
    if len(labels) != len(ids):
        raise ValidationError({"labels": _("Unknown label.")})
    return labels


def _clean_classification(value: str | None) -> str:
    value = value or Classification.INTERNAL
    if value not in Classification.values:
        raise ValidationError({"classification": _("Unknown classification level.")})
    return value


def _set_labels(record: Record, labels: list[Label]) -> None:
    RecordLabel.objects.filter(record=record).exclude(label__in=labels).delete()
    existing = set(RecordLabel.objects.filter(record=record).values_list("label_id", flat=True))
    RecordLabel.objects.bulk_create(
        [RecordLabel(tenant_id=record.tenant_id, record=record, label=label) for label in labels
         if label.pk not in existing]
    )


@action
def create_record(*, actor: Actor, workspace_id: int, title: str, body: str = "",
                  properties: dict | None = None, classification: str | None = None,
                  label_ids: list[int] | None = None) -> Record:
    workspace = access_workspace(actor.user, workspace_id)
    require(actor, Perm.EDIT_RECORDS)
    record = Record(
        workspace=workspace,
        title=_clean_text(title, "title", 300, required=True),
        body=_clean_text(body, "body", 100_000, required=False),
        properties=clean_properties(properties),
        classification=_clean_classification(classification),
        created_by=actor.user,
    )
    labels = _resolve_labels(label_ids)
    record.save()
    RecordLabel.objects.bulk_create(
        [RecordLabel(tenant_id=record.tenant_id, record=record, label=label) for label in labels]
    )
    record_event("record.created", actor=actor, target=record, after=_record_snapshot(record, labels))
    _cache_labels(record, labels)
    return record


def _cache_labels(record: Record, labels: list[Label]) -> None:
    """Hand callers the labels already in memory as if prefetched, so rendering the
    new record does not read them back (what ``prefetch_related`` stores)."""
    cached = record.labels.all()
    cached._result_cache = sorted(labels, key=lambda label: (label.name, label.pk))
    cached._prefetch_done = True
    record._prefetched_objects_cache = {"labels": cached}


_UNSET: Any = object()


@action
def update_record(*, actor: Actor, record_id: int, title: str = _UNSET, body: str = _UNSET,
                  properties: dict | None = _UNSET, classification: str = _UNSET,
                  label_ids: list[int] | None = _UNSET) -> Record:
    """Change the given fields only (arguments left out keep their value)."""
    record = access_record(actor.user, record_id)
    require(actor, Perm.EDIT_RECORDS)
    before = _record_snapshot(record)
    if title is not _UNSET:
        record.title = _clean_text(title, "title", 300, required=True)
    if body is not _UNSET:
        record.body = _clean_text(body, "body", 100_000, required=False)
    if properties is not _UNSET:
        record.properties = clean_properties(properties)
    if classification is not _UNSET:
        record.classification = _clean_classification(classification)
    record.save()
    if label_ids is not _UNSET:
        _set_labels(record, _resolve_labels(label_ids))
    record = Record.objects.prefetch_related("labels").get(pk=record.pk)
    b, a = diff(before, _record_snapshot(record))
    if a:
        if record.review_status != ReviewStatus.NONE:
            # A review covers the content that was reviewed: a change needs a new review.
            b["review_status"], a["review_status"] = record.review_status, ReviewStatus.NONE.value
            record.review_status, record.reviewed_by, record.reviewed_at = ReviewStatus.NONE, None, None
            record.save(update_fields=["review_status", "reviewed_by", "reviewed_at"])
        record_event("record.updated", actor=actor, target=record, before=b, after=a)
    return record


@action
def delete_record(*, actor: Actor, record_id: int) -> None:
    record = access_record(actor.user, record_id)
    require(actor, Perm.EDIT_RECORDS)
    record_event("record.deleted", actor=actor, target=record, before=_record_snapshot(record))
    record.delete()


# --- Comments and reviews ------------------------------------------------------------

MAX_COMMENT = 5000
REVIEW_DECISIONS = (ReviewStatus.APPROVED, ReviewStatus.CHANGES_REQUESTED)


@action
def comment_on_record(*, actor: Actor, record_id: int, body: str) -> RecordComment:
    """Comment on a record the actor can open (workspace membership still applies)."""
    require(actor, Perm.COMMENT_RECORDS)
    record = access_record(actor.user, record_id)
    body = _clean_text(body, "body", MAX_COMMENT, required=True)
    comment = RecordComment.objects.create(record=record, author=actor.user, body=body)
    record_event("record.commented", actor=actor, target=record, after={"comment": comment.pk, "body": body})
    return comment


@action
def review_record(*, actor: Actor, record_id: int, decision: str, comment: str = "") -> Record:
    """Approve a record or request changes, optionally with a comment (kept with the record)."""
    require(actor, Perm.APPROVE_RECORDS)
    record = access_record(actor.user, record_id)
    if decision not in REVIEW_DECISIONS:
        raise ValidationError({"decision": _("Choose “approve” or “request changes”.")})
    comment = _clean_text(comment, "comment", MAX_COMMENT, required=decision == ReviewStatus.CHANGES_REQUESTED)
    before = {"review_status": record.review_status}
    record.review_status = decision
    record.reviewed_by = actor.user
    record.reviewed_at = timezone.now()
    # updated_at (auto_now) is left alone: a review is not an edit of the record.
    Record.objects.filter(pk=record.pk).update(review_status=record.review_status, reviewed_by=record.reviewed_by,
                                               reviewed_at=record.reviewed_at)
    after: dict[str, Any] = {"review_status": decision}
    if comment:
        note = RecordComment.objects.create(record=record, author=actor.user, body=comment, review_decision=decision)
        after.update(comment=note.pk, body=comment)
    record_event("record.reviewed", actor=actor, target=record, before=before, after=after)
    return record
