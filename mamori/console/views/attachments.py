"""Record attachments in the console: upload, download and delete on the record's page, and the
tenant's size limit (Settings → Security → Attachments).

The views are thin: the actions in ``mamori.records.actions_attachments`` check access (the
record's workspace, classification and labels), the limit, the type and write the audit events.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from mamori.access.roles import Perm
from mamori.console.forms import apply_validation_error
from mamori.console.views.common import FORM, READ, WRITE, actor, console_view
from mamori.records import actions_attachments as attachment_actions
from mamori.records import attachments as files
from mamori.records.queries import (
    access_attachment,
    access_record,
    attachment_limit,
    attachment_limits,
)

MIB = 1024 * 1024


class AttachmentForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("File"), required=False, allow_empty_file=True)


class AttachmentLimitForm(forms.Form):
    max_mb = forms.DecimalField(
        label=gettext_lazy("Size limit per file (MB)"), required=False, min_value=0.01, max_digits=10,
        decimal_places=2,
        help_text=gettext_lazy("Leave empty to use the provider's limit. You can only lower it. 1 MB = 1,048,576 bytes."))


def _detail_with_error(request, record, form: AttachmentForm, status: int):
    from mamori.console.views.record_reviews import review_context
    from mamori.console.views.records import record_detail_context

    response = render(request, "console/records/detail.html", {
        **record_detail_context(request, record), **review_context(request, record), "attachment_form": form,
    })
    response.status_code = status
    return response


@csrf_exempt
def record_attachment_upload(request, pk: int):
    """Stop reading an oversized file early: the size handler must be in place before anything
    parses the body (the CSRF check does), so the CSRF check runs inside, after it."""
    if request.method == "POST" and getattr(request, "tenant", None) is not None:
        files.install_upload_limit(request, attachment_limit())
    return _record_attachment_upload(request, pk)


@csrf_protect
@console_view(WRITE, perm=Perm.EDIT_RECORDS)
def _record_attachment_upload(request, pk: int):
    record = access_record(request.user, pk, for_write=True)
    form = AttachmentForm(request.POST, request.FILES)
    handler = getattr(request, "_attachment_limit_handler", None)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            attachment_actions.upload_attachment(
                actor=actor(request), record_id=record.pk, file=upload,
                filename=upload.name if upload else "", size=upload.size if upload else None,
                exceeded=handler is not None and handler.exceeded)
        except attachment_actions.AttachmentTooLarge as exc:
            form.add_error("file", exc.message_text)
            return _detail_with_error(request, record, form, 413)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("File attached."))
            return redirect(reverse("console:record_detail", kwargs={"pk": record.pk}) + "#attachments-h")
    return _detail_with_error(request, record, form, 422)




@console_view(READ)
def record_attachment_download(request, pk: int, attachment_id: int):
    try:
        download = attachment_actions.download_attachment(actor=actor(request), record_id=pk,
                                                          attachment_id=attachment_id)
    except files.AttachmentUnreadable as exc:
        record = access_record(request.user, pk)
        response = render(request, "console/attachments/unreadable.html", {"record": record, "reason": str(exc)})
        response.status_code = 409
        return response
    response = StreamingHttpResponse(download.chunks())
    for name, value in download.headers.items():
        response[name] = value
    return response


@console_view(FORM, perm=Perm.EDIT_RECORDS)
def record_attachment_delete(request, pk: int, attachment_id: int):
    attachment = access_attachment(request.user, pk, attachment_id)
    access_record(request.user, pk, for_write=True)
    errors: list[str] = []
    if request.method == "POST":
        try:
            attachment_actions.delete_attachment(actor=actor(request), record_id=pk, attachment_id=attachment.pk)
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(request, _("Attachment deleted."))
            return redirect(reverse("console:record_detail", kwargs={"pk": pk}) + "#attachments-h")
    return render(request, "console/confirm_delete.html", {
        "object_kind": _("attachment"), "object_name": attachment.filename, "errors": errors,
        "cancel_url": reverse("console:record_detail", kwargs={"pk": pk}),
    })


@never_cache
@console_view(FORM, perm=Perm.MANAGE_SECURITY)
def security_attachments(request):
    limits = attachment_limits()
    if request.method == "POST":
        form = AttachmentLimitForm(request.POST)
        if form.is_valid():
            value = form.cleaned_data["max_mb"]
            try:
                attachment_actions.set_attachment_limit(
                    actor=actor(request), max_bytes=None if value is None else int(value * MIB))
            except ValidationError as exc:
                if hasattr(exc, "error_dict") and "max_bytes" in exc.error_dict:
                    exc = ValidationError({"max_mb": exc.error_dict["max_bytes"]})
                apply_validation_error(form, exc)
            else:
                messages.success(request, _("Attachment size limit saved."))
                return redirect("console:security_attachments")
    else:
        initial = {"max_mb": round(limits["tenant"] / MIB, 2) if limits["tenant"] else None}
        form = AttachmentLimitForm(initial=initial)
    human = attachment_actions.human_size
    response = render(request, "console/attachments/settings.html", {
        "form": form, "provider_limit": human(limits["provider"]), "provider_limit_bytes": limits["provider"],
        "effective_limit": human(limits["effective"]), "accepted_types": files.allowed_types(),
    })
    if form.errors:
        response.status_code = 422
    return response
