"""Provider console: notices (12.1.2, 12.6.1). Every staff role reads; operators and
security officers write, publish and cancel (the actions check the role again)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mamori.access.errors import NotFound
from mamori.core.forms import apply_validation_error, error_messages
from mamori.notices import actions, queries
from mamori.notices.forms import CancelNoticeForm, NoticeForm
from mamori.notices.models import Notice
from mamori.operations.staff import staff_required

WRITERS = actions.PUBLISHER_ROLES
SECTION = "notices"


def _notice(pk: int) -> Notice:
    notice = Notice.objects.filter(pk=pk).first()
    if notice is None:
        raise Http404
    return notice


def _may_write(request) -> bool:
    return request.provider_staff.role in WRITERS


@never_cache
@require_GET
@staff_required
def notice_list(request):
    state = request.GET.get("state", "")
    return render(request, "notices/provider/list.html", {
        "notices": list(queries.provider_notices(state)[:300]), "state": state, "states": Notice.State.choices,
        "may_write": _may_write(request), "lead_days": queries.lead_time_days(), "section": SECTION})


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(roles=WRITERS)
def notice_create(request):
    form = NoticeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            notice = actions.create_notice(staff=request.provider_staff, data=form.notice_data())
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Draft saved. Check it, then publish it to send it to the tenants."))
            return redirect("provider:notice_detail", pk=notice.pk)
    return render(request, "notices/provider/form.html", {
        "form": form, "notice": None, "lead_days": queries.lead_time_days(), "section": SECTION},
        status=422 if form.errors else 200)


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(roles=WRITERS)
def notice_edit(request, pk: int):
    notice = _notice(pk)
    if notice.state == Notice.State.CANCELLED:
        messages.error(request, _("A cancelled notice cannot be changed."))
        return redirect("provider:notice_detail", pk=notice.pk)
    form = NoticeForm(request.POST or None, initial=NoticeForm.initial_for(notice))
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_notice(staff=request.provider_staff, notice_id=notice.pk, data=form.notice_data())
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Notice saved."))
            return redirect("provider:notice_detail", pk=notice.pk)
    return render(request, "notices/provider/form.html", {
        "form": form, "notice": notice, "lead_days": queries.lead_time_days(), "section": SECTION},
        status=422 if form.errors else 200)


@never_cache
@require_GET
@staff_required
def notice_detail(request, pk: int):
    notice = _notice(pk)
    return render(request, "notices/provider/detail.html", _detail_context(request, notice))


def _detail_context(request, notice: Notice, **extra) -> dict:
    deliveries = queries.delivery_summary(notice)
    return {"notice": notice, "deliveries": deliveries, "failed_mails": sum(row["failed"] for row in deliveries),
            "tenants": actions.affected_tenants(notice) if notice.kind in actions.TENANT_KINDS else [],
            "may_write": _may_write(request), "cancel_form": extra.pop("cancel_form", CancelNoticeForm()),
            "publish_errors": extra.pop("publish_errors", []), "section": SECTION, **extra}


@never_cache
@require_POST
@staff_required(roles=WRITERS)
def notice_publish(request, pk: int):
    notice = _notice(pk)
    try:
        actions.publish_notice(staff=request.provider_staff, notice_id=notice.pk)
    except NotFound:
        raise Http404 from None
    except ValidationError as exc:
        errors = [f"{NoticeForm.base_fields[f].label if f in NoticeForm.base_fields else ''}: {m}".lstrip(": ")
                  for f, ms in error_messages(exc).items() for m in ms]
        notice.refresh_from_db()
        return render(request, "notices/provider/detail.html",
                      _detail_context(request, notice, publish_errors=errors), status=422)
    messages.success(request, _("Published: the notice is shown in the tenants' consoles and the mails are on their way."))
    return redirect("provider:notice_detail", pk=notice.pk)


@never_cache
@require_POST
@staff_required(roles=WRITERS)
def notice_cancel(request, pk: int):
    notice = _notice(pk)
    form = CancelNoticeForm(request.POST)
    if form.is_valid():
        try:
            actions.cancel_notice(staff=request.provider_staff, notice_id=notice.pk, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("The notice is cancelled."))
            return redirect("provider:notice_detail", pk=notice.pk)
    notice.refresh_from_db()
    return render(request, "notices/provider/detail.html", _detail_context(request, notice, cancel_form=form),
                  status=422)


@never_cache
@require_POST
@staff_required(roles=WRITERS)
def notice_retry(request, pk: int):
    notice = _notice(pk)
    try:
        count = actions.retry_failed_deliveries(staff=request.provider_staff, notice_id=notice.pk)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(n)d failed mails are queued again.") % {"n": count})
    return redirect("provider:notice_detail", pk=notice.pk)
