"""Provider console: control checks — latest result of every control, each control's history,
"run now" and the auditor export (ZIP). Operators and security officers only.

Thin views: the runner (``mamori.compliance.runner.run_checks``) and the export
(``mamori.compliance.export.export_report``) record their provider-log events themselves.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mamori.audit.events import Actor
from mamori.compliance import queries, registry
from mamori.compliance.export import export_report, parse_period
from mamori.compliance.runner import run_checks, select
from mamori.compliance.sections import SECTIONS
from mamori.operations.staff import OPERATIONS_ROLES, staff_required


def status_labels() -> dict[str, str]:
    return {"pass": _("Pass"), "fail": _("Fail"), "error": _("Error"), "not_applicable": _("Not applicable"),
            "organisational": _("Organisational")}


class ExportForm(forms.Form):
    date_from = forms.CharField(label=gettext_lazy("From (UTC)"), max_length=10,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.CharField(label=gettext_lazy("To (UTC, inclusive)"), max_length=10,
                              widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        try:
            data["period"] = parse_period(data.get("date_from", ""), data.get("date_to", ""))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field not in self.errors:  # "required" already said for an empty field
                    for message in errors:
                        self.add_error(field, message)
        return data


def _rows() -> list[dict]:
    latest = queries.latest_results()
    titles = {s.key: s.title for s in SECTIONS}
    return [{"control": c, "section_title": titles.get(c.section, c.section), "result": latest.get(c.key),
             "anchor": "control-" + "".join(ch if ch.isalnum() else "-" for ch in c.key.lower())}
            for c in select()]


def _page(request, form: ExportForm | None = None, status: int = 200):
    today = timezone.now().date()
    form = form or ExportForm(initial={"date_from": today.replace(day=1).isoformat(), "date_to": today.isoformat()})
    rows = _rows()
    counts: dict[str, int] = {}
    for row in rows:
        key = row["result"].status if row["result"] else "never"
        counts[key] = counts.get(key, 0) + 1
    return render(request, "compliance/controls.html", {
        "rows": rows, "counts": counts, "runs": list(queries.recent_runs(10)), "form": form,
        "labels": status_labels(), "section": "controls",
    }, status=status)


@never_cache
@require_GET
@staff_required(roles=OPERATIONS_ROLES)
def controls(request):
    return _page(request)


@require_POST
@staff_required(roles=OPERATIONS_ROLES)
def controls_run(request):
    run = run_checks(trigger="console", actor=Actor.for_staff(request.provider_staff))
    counts = run.counts
    if run.ok:
        messages.success(request, _("Control checks finished: %(n)d controls, none failed.") % {"n": counts["total"]})
    else:
        messages.error(request, _("Control checks finished: %(fail)d failed, %(error)d errors.")
                       % {"fail": counts["fail"], "error": counts["error"]})
    return redirect("provider:controls")


@never_cache
@require_GET
@staff_required(roles=OPERATIONS_ROLES)
def control_history(request, key: str):
    item = registry.get(key)
    if item is None:
        raise Http404
    page = Paginator(queries.history(key), 50).get_page(request.GET.get("page"))
    for row in page.object_list:
        row.evidence_text = json.dumps(row.evidence, ensure_ascii=False, indent=2, sort_keys=True)
    return render(request, "compliance/control_history.html", {
        "control": item, "page": page, "labels": status_labels(), "section": "controls",
    })


@never_cache
@require_http_methods(["POST"])
@staff_required(roles=OPERATIONS_ROLES)
def controls_export(request):
    form = ExportForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    start, end = form.cleaned_data["period"]
    report = export_report(actor=Actor.for_staff(request.provider_staff), date_from=start, date_to=end)
    response = HttpResponse(report.data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{report.filename}"'
    return response
