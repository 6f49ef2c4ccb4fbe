"""Sign-in history: everyone's for ``signins.view`` holders (tenant admins; unit admins see their
units' users), with filters, keyset paging and a CSV export; and "My sign-ins" for every user."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.access.roles import Perm
from mamori.accounts import queries_signins as signins
from mamori.accounts.actions_signins import record_signin_export
from mamori.console.forms import apply_validation_error
from mamori.console.views.common import actor, console_view
from mamori.evidence.verify_evidence import csv_cell

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
FILTER_FIELDS = ("user", "result", "method", "ip", "since", "until")


def _day_start(day) -> datetime:
    """Midnight of ``day`` in the active (tenant) time zone."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


class SigninFilterForm(forms.Form):
    """Filters of the sign-in history. Dates are days in the tenant's time zone, both inclusive."""

    user = forms.CharField(label=gettext_lazy("User"), required=False, max_length=254,
                           help_text=gettext_lazy("An e-mail address, or part of one."))
    result = forms.ChoiceField(label=gettext_lazy("Result"), required=False)
    method = forms.ChoiceField(label=gettext_lazy("Method"), required=False)
    ip = forms.CharField(label=gettext_lazy("IP address or network"), required=False, max_length=64,
                         help_text=gettext_lazy("e.g. 192.0.2.10 or 192.0.2.0/24"))
    since = forms.DateField(label=gettext_lazy("From"), required=False, widget=DATE_INPUT)
    until = forms.DateField(label=gettext_lazy("To"), required=False, widget=DATE_INPUT)
    before = forms.CharField(required=False, max_length=120, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        everything = [("", _("All"))]
        self.fields["result"].choices = everything + list(signins.result_labels().items())
        self.fields["method"].choices = everything + list(signins.METHOD_LABELS.items())

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        since, until = data.get("since"), data.get("until")
        try:
            data["filters"] = signins.clean_signin_filters(signins.SigninFilters(
                user=data.get("user") or "", result=data.get("result") or "", method=data.get("method") or "",
                ip=data.get("ip") or "",
                since=_day_start(since) if since else None,
                until=_day_start(until + timedelta(days=1)) if until else None))
            data["cursor"] = signins.decode_cursor(data["before"]) if data.get("before") else None
        except ValidationError as exc:
            apply_validation_error(self, exc)
        except OverflowError:
            self.add_error("until", _("Enter a date between the years 1900 and 9999."))
        return data


def _rows(events):
    return [{
        "event": event,
        "result": signins.result_of(event),
        "method": signins.method_label(signins.signin_method(event)),
        "reason": signins.reason_label(signins.signin_reason(event)),
    } for event in events]


def _paging(request, page) -> dict:
    next_query = None
    if page is not None and page.next_cursor is not None:
        query = request.GET.copy()
        query["before"] = page.next_cursor
        next_query = query.urlencode()
    first_query = request.GET.copy()
    first_query.pop("before", None)
    return {"next_query": next_query, "first_query": first_query.urlencode(),
            "is_first_page": not request.GET.get("before")}


@console_view(perm=Perm.VIEW_SIGNINS)
def signin_list(request):
    form = SigninFilterForm(request.GET or None)
    page = None
    if not request.GET:
        page = signins.search_signins(request.user, signins.SigninFilters())
    elif form.is_valid():
        page = signins.search_signins(request.user, form.cleaned_data["filters"],
                                      before=form.cleaned_data["cursor"])
    export_query = request.GET.copy()
    export_query.pop("before", None)
    return render(request, "console/signins/list.html", {
        "form": form, "rows": _rows(page.events) if page else [], "has_errors": page is None,
        "export_query": export_query.urlencode(), **_paging(request, page),
    })


CSV_HEADER = ("time", "result", "event", "user_id", "email", "method", "reason", "ip", "user_agent")


def _csv(events) -> str:
    """The CSV text, built while the request's tenant transaction is still open (RLS)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for event in events:
        writer.writerow([csv_cell(value) for value in (
            timezone.localtime(event.occurred_at).isoformat(timespec="microseconds"),
            signins.result_of(event), event.action, event.target_id, event.target_label,
            signins.signin_method(event), signins.signin_reason(event), event.ip or "", event.user_agent,
        )])
    return out.getvalue()


@console_view(perm=Perm.VIEW_SIGNINS)
def signin_export(request):
    """The filtered history as an Excel-compatible CSV (UTF-8 with BOM, CRLF, formulas neutralised),
    newest first, at most ``EXPORT_MAX_ROWS`` rows; the download is an audit event."""
    form = SigninFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "console/signins/list.html", {
            "form": form, "rows": [], "has_errors": True, "export_query": "", "is_first_page": True,
        }, status=400)
    filters = form.cleaned_data["filters"] if request.GET else signins.SigninFilters()
    events = signins.export_signins(request.user, filters)
    record_signin_export(actor=actor(request), filters={
        name: str(request.GET.get(name, ""))[:254] for name in FILTER_FIELDS})
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response = HttpResponse(_csv(events), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sign-ins-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@console_view()
def my_signins(request):
    """The signed-in user's own history, any role: paged, filterable by result."""
    result = request.GET.get("result", "")
    if result not in signins.result_labels():
        result = ""
    cursor = request.GET.get("before", "")[:120]
    try:
        page = signins.my_signins(request.user, result=result, before=cursor or None)
    except ValidationError:
        page = signins.my_signins(request.user, result=result)
        cursor = ""
    next_query = None
    if page.next_cursor:
        next_query = f"before={page.next_cursor}" + (f"&result={result}" if result else "")
    return render(request, "console/signins/mine.html", {
        "rows": _rows(page.events), "next_query": next_query, "is_first_page": not cursor,
        "result": result, "results": list(signins.result_labels().items()),
    })
