"""Comments and reviews on a record's page (editors and reviewers comment; reviewers approve).

Workspace membership still decides which records one reaches: the actions open
the record through ``access_record``, so a record outside one's workspaces is 404.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.access.roles import Perm, can
from mamori.console.forms import apply_validation_error
from mamori.console.views.common import WRITE, actor, console_view
from mamori.records import actions
from mamori.records.models import ReviewStatus
from mamori.records.queries import access_record, record_comments


class CommentForm(forms.Form):
    body = forms.CharField(label=gettext_lazy("Comment"), max_length=actions.MAX_COMMENT,
                           widget=forms.Textarea(attrs={"rows": 3}))


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(label=gettext_lazy("Decision"), choices=[
        (ReviewStatus.APPROVED, gettext_lazy("Approve")),
        (ReviewStatus.CHANGES_REQUESTED, gettext_lazy("Request changes")),
    ])
    comment = forms.CharField(label=gettext_lazy("Review comment"), max_length=actions.MAX_COMMENT,
                              required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text=gettext_lazy("Required when you request changes."))


def review_context(request, record, *, comment_form=None, review_form=None) -> dict:
    """What the record page needs for its comments and review section."""
    may_comment = can(request.user, Perm.COMMENT_RECORDS)
    may_review = can(request.user, Perm.APPROVE_RECORDS)
    return {
        "comments": record_comments(request.user, record.pk),
        "comment_form": (comment_form or CommentForm()) if may_comment else None,
        "review_form": (review_form or ReviewForm()) if may_review else None,
    }


def _detail(request, record, **forms_):
    from mamori.console.views.records import record_detail_context

    response = render(request, "console/records/detail.html",
                      {**record_detail_context(request, record), **review_context(request, record, **forms_)})
    response.status_code = 422
    return response


@console_view(WRITE, perm=Perm.COMMENT_RECORDS)
def record_comment(request, pk: int):
    record = access_record(request.user, pk)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            actions.comment_on_record(actor=actor(request), record_id=record.pk, body=form.cleaned_data["body"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Comment added."))
            return redirect("console:record_detail", pk=record.pk)
    return _detail(request, record, comment_form=form)


@console_view(WRITE, perm=Perm.APPROVE_RECORDS)
def record_review(request, pk: int):
    record = access_record(request.user, pk)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            actions.review_record(actor=actor(request), record_id=record.pk, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            if form.cleaned_data["decision"] == ReviewStatus.APPROVED:
                messages.success(request, _("Record approved."))
            else:
                messages.success(request, _("Changes requested."))
            return redirect("console:record_detail", pk=record.pk)
    return _detail(request, record, review_form=form)
