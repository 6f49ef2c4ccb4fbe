"""Provider console: incidents (list, create, detail, edit, timeline, notify), notification
deadlines and per-tenant policies, security reports. Thin: forms → actions → templates.

Roles: operators and security officers manage incidents; support staff read them; only
security officers see and triage security reports. Times are shown and entered in JST.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mamori.access.errors import object_id
from mamori.core.forms import apply_validation_error
from mamori.incidents import actions as acts
from mamori.incidents import actions_reports as reports
from mamori.incidents import policy as pol
from mamori.incidents import queries
from mamori.incidents.forms import IncidentForm, NotifyForm, PolicyForm, TimelineForm, TriageForm
from mamori.incidents.models import Delivery, Incident, SecurityReport
from mamori.operations.staff import staff_required
from mamori.tenancy.actions import list_tenants_across_tenants
from mamori.tenancy.models import Tenant

MANAGE = acts.MANAGE_ROLES
READ = ("operator", "security_officer", "support")
TRIAGE = reports.TRIAGE_ROLES


def in_tokyo(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        with timezone.override(pol.TOKYO):
            return view(request, *args, **kwargs)

    return wrapper


def _incident(pk) -> Incident:
    try:
        return Incident.objects.get(pk=object_id(pk))
    except (Incident.DoesNotExist, Exception) as exc:
        raise Http404 from exc


def _can_manage(request) -> bool:
    return request.provider_staff.role in MANAGE


@never_cache
@require_GET
@staff_required(roles=READ)
@in_tokyo
def incident_list(request):
    return render(request, "incidents/provider/list.html", {
        "incidents": queries.incidents()[:300], "summary": queries.deadline_summary(),
        "can_manage": _can_manage(request), "section": "incidents"})


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(roles=MANAGE)
@in_tokyo
def incident_create(request):
    form = IncidentForm(request.POST or None, initial={"state": Incident.State.INVESTIGATING})
    if request.method == "POST" and form.is_valid():
        try:
            incident = acts.create_incident(staff=request.provider_staff, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Incident %(ref)s recorded.") % {"ref": incident.reference})
            return redirect("provider:incident", pk=incident.pk)
    return render(request, "incidents/provider/form.html", {"form": form, "incident": None, "section": "incidents"},
                  status=422 if form.errors else 200)


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(roles=MANAGE)
@in_tokyo
def incident_edit(request, pk):
    incident = _incident(pk)
    initial = {"title_ja": incident.title_ja, "title_en": incident.title_en, "severity": incident.severity,
               "state": incident.state, "started_at": incident.started_at, "detected_at": incident.detected_at,
               "components": incident.components, "all_tenants": incident.all_tenants,
               "tenant_ids": [] if incident.all_tenants else list(incident.affected.values_list("tenant_id", flat=True))}
    form = IncidentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            acts.update_incident(staff=request.provider_staff, incident=incident, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Incident updated."))
            return redirect("provider:incident", pk=incident.pk)
    return render(request, "incidents/provider/form.html", {"form": form, "incident": incident,
                                                             "section": "incidents"},
                  status=422 if form.errors else 200)


def _detail(request, incident, *, timeline_form=None, status=200):
    deliveries = (Delivery.objects.filter(affected__incident=incident)
                  .select_related("affected__tenant", "update").order_by("-created_at", "id"))
    return render(request, "incidents/provider/detail.html", {
        "incident": incident, "updates": incident.updates.select_related("author"),
        "rows": queries.deadline_rows(incident=incident), "deliveries": deliveries[:500],
        "timeline_form": timeline_form or TimelineForm(), "can_manage": _can_manage(request),
        "section": "incidents"}, status=status)


@never_cache
@require_GET
@staff_required(roles=READ)
@in_tokyo
def incident_detail(request, pk):
    return _detail(request, _incident(pk))


@never_cache
@require_POST
@staff_required(roles=MANAGE)
@in_tokyo
def incident_add_update(request, pk):
    incident = _incident(pk)
    form = TimelineForm(request.POST)
    if form.is_valid():
        try:
            acts.add_incident_update(staff=request.provider_staff, incident=incident, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Timeline entry added."))
            return redirect("provider:incident", pk=incident.pk)
    return _detail(request, incident, timeline_form=form, status=422)


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(roles=MANAGE)
@in_tokyo
def incident_notify(request, pk):
    incident = _incident(pk)
    form = NotifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            acts.notify_affected_tenants(staff=request.provider_staff, incident=incident, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("The notice is on the affected tenants' dashboards; the e-mails are being sent."))
            return redirect("provider:incident", pk=incident.pk)
    return render(request, "incidents/provider/notify.html", {
        "incident": incident, "form": form, "rows": queries.deadline_rows(incident=incident),
        "section": "incidents"}, status=422 if form.errors else 200)


@never_cache
@require_GET
@staff_required(roles=READ)
@in_tokyo
def deadlines(request):
    rule = pol.default_policy()
    return render(request, "incidents/provider/deadlines.html", {
        "rows": queries.deadline_rows(), "summary": queries.deadline_summary(),
        "default_policy": rule, "default_rule": pol.describe(rule),
        "section": "incident_deadlines"})


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(roles=READ)
@in_tokyo
def policies(request):
    form = PolicyForm(request.POST or None)
    if request.method == "POST":
        if not _can_manage(request):
            raise DjangoPermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            tenant = list_tenants_across_tenants().get(pk=data["tenant"])
            try:
                acts.set_notification_policy(staff=request.provider_staff, tenant=tenant, preset=data["preset"] or None,
                                             hours=data["hours"], business_hours=data["business_hours"])
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, _("Notification policy of %(slug)s saved.") % {"slug": tenant.slug})
                return redirect("provider:incident_policies")
    default = pol.default_policy()
    rows = []
    for tenant in list_tenants_across_tenants().exclude(status=Tenant.Status.PURGED):
        override = queries.tenant_policy_override(tenant)
        rows.append({"tenant": tenant, "override": override, "rule": pol.describe(override or default)})
    return render(request, "incidents/provider/policies.html", {
        "rows": rows, "form": form, "default_policy": default, "can_manage": _can_manage(request),
        "section": "incident_deadlines"}, status=422 if form.errors else 200)


@never_cache
@require_GET
@staff_required(roles=TRIAGE)
@in_tokyo
def report_list(request):
    state = request.GET.get("state", "")
    qs = SecurityReport.objects.select_related("assignee")
    if state in SecurityReport.State.values:
        qs = qs.filter(state=state)
    return render(request, "incidents/provider/reports.html", {
        "reports": qs[:300], "state": state, "states": SecurityReport.State.choices, "section": "security_reports"})


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(roles=TRIAGE)
@in_tokyo
def report_detail(request, pk):
    try:
        report = SecurityReport.objects.select_related("assignee").get(pk=object_id(pk))
    except Exception as exc:
        raise Http404 from exc
    form = TriageForm(request.POST or None, initial={"state": report.state, "assignee_id": report.assignee_id,
                                                     "notes": report.notes})
    if request.method == "POST" and form.is_valid():
        try:
            reports.triage_security_report(staff=request.provider_staff, report=report, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Report %(ref)s saved.") % {"ref": report.reference})
            return redirect("provider:security_report", pk=report.pk)
    return render(request, "incidents/provider/report.html", {"report": report, "form": form,
                                                               "section": "security_reports"},
                  status=422 if form.errors else 200)
