"""The attachments section of a record's page: ``{% record_attachments record attachment_form %}``."""

from __future__ import annotations

from django import template

from mamori.access.roles import Perm, can

register = template.Library()


@register.inclusion_tag("console/attachments/_section.html", takes_context=True)
def record_attachments(context, record, form=None):
    from mamori.console.views.attachments import AttachmentForm
    from mamori.records.actions_attachments import human_size
    from mamori.records.attachments import allowed_types
    from mamori.records.queries import attachment_limit, record_attachments

    request = context["request"]
    can_edit = can(request.user, Perm.EDIT_RECORDS)
    rows = [{"attachment": a, "size": human_size(a.size)} for a in record_attachments(request.user, record.pk)]
    return {
        "record": record, "rows": rows, "can_edit": can_edit, "form": form or AttachmentForm(),
        "limit": human_size(attachment_limit()) if can_edit else "",
        "accepted_types": allowed_types() if can_edit else [],
        "csrf_token": context.get("csrf_token"), "request": request,
    }
