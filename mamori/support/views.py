"""Support access pages: Settings → Security → Support access (tenant admins) and the
provider console's "Support access" page (staff). Thin: parse, call an action, render."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from mamori.access.errors import NotFound
from mamori.access.roles import Perm
from mamori.console.views.common import FORM, WRITE, actor, console_view
from mamori.operations.staff import staff_required
from mamori.support import actions, queries, sessions
from mamori.support.forms import AccessRequestForm, DecisionForm, ShortenForm
from mamori.tenancy.models import Tenant

# --- tenant console ----------------------------------------------------------------------------


def _tenant_page(request, *, row_errors=None, status=200):
    pending, active = list(queries.pending_requests()), list(queries.active_grants())
    for grant in pending + active:
        grant.row_errors = (row_errors or {}).get(grant.pk, [])
    return render(request, "support/console/page.html", {
        "section": "security",
        "pending": pending,
        "active": active,
        "history": queries.history(),
        "max_hours": actions.max_hours(),
    }, status=status)


@never_cache
@console_view(perm=Perm.MANAGE_SECURITY)
def support_access(request):
    return _tenant_page(request)


def _decide(request, pk: int, call, done: str, form_class=DecisionForm):
    queries.access_request(pk)  # NotFound (404) first: another tenant's id is never "bad input"
    form = form_class(request.POST)
    if not form.is_valid():
        errors = [m for errs in form.errors.values() for m in errs]
        return _tenant_page(request, row_errors={pk: errors}, status=400)
    try:
        call(form.cleaned_data)
    except ValidationError as exc:
        return _tenant_page(request, row_errors={pk: exc.messages}, status=400)
    messages.success(request, done)
    return redirect("console:security_support_access")


@console_view(WRITE, perm=Perm.MANAGE_SECURITY, reauth=True)
def support_access_approve(request, pk: int):
    return _decide(request, pk, lambda d: actions.approve_request(
        actor=actor(request), tenant=request.tenant, grant_id=pk, hours=d.get("hours"), note=d.get("note", "")),
        _("Support access approved."))


@console_view(WRITE, perm=Perm.MANAGE_SECURITY, reauth=True)
def support_access_refuse(request, pk: int):
    return _decide(request, pk, lambda d: actions.refuse_request(
        actor=actor(request), tenant=request.tenant, grant_id=pk, note=d.get("note", "")),
        _("Support access refused."))


@console_view(WRITE, perm=Perm.MANAGE_SECURITY, reauth=True)
def support_access_shorten(request, pk: int):
    return _decide(request, pk, lambda d: actions.shorten_access(
        actor=actor(request), tenant=request.tenant, grant_id=pk, hours=d["hours"]),
        _("Support access shortened."), ShortenForm)


@console_view(WRITE, perm=Perm.MANAGE_SECURITY)
def support_access_revoke(request, pk: int):
    """Revoking only takes access away: no re-authentication in the way of ending it at once."""
    return _decide(request, pk, lambda d: actions.revoke_access(
        actor=actor(request), tenant=request.tenant, grant_id=pk), _("Support access revoked."))


@never_cache
def support_enter(request):
    """GET only (checked inside, after the sign-in redirect anonymous visitors get everywhere)."""
    return sessions.enter(request)


# --- provider console --------------------------------------------------------------------------

PROVIDER_ROLES = tuple(actions.REQUESTING_ROLES)


@never_cache
@require_http_methods(FORM)
@staff_required(roles=PROVIDER_ROLES)
def provider_support(request):
    staff = request.provider_staff
    tenants = list(queries.requestable_tenants())
    form = AccessRequestForm(request.POST or None, tenants=tenants)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            tenant = next((t for t in tenants if t.slug == form.cleaned_data["tenant"]), None)
            try:
                if tenant is None:
                    raise ValidationError({"tenant": _("Choose a tenant.")})
                actions.request_access(staff=staff, tenant=tenant, reason=form.cleaned_data["reason"],
                                       scope=form.cleaned_data["scope"], hours=form.cleaned_data["hours"])
            except ValidationError as exc:
                from mamori.console.forms import apply_validation_error

                apply_validation_error(form, exc)
            else:
                messages.success(request, _("Request sent. The tenant's admins have been notified."))
                return redirect("provider:support")
        status = 400
    return render(request, "support/provider/page.html", {
        "section": "support", "form": form, "items": queries.staff_requests_across_tenants(staff),
    }, status=status)


def _own(request, slug: str, pk: int):
    try:
        return queries.staff_grant(request.provider_staff, slug, pk)
    except NotFound:
        raise Http404 from None


@require_POST
@staff_required(roles=PROVIDER_ROLES)
def provider_support_cancel(request, slug: str, pk: int):
    item = _own(request, slug, pk)
    try:
        actions.cancel_request(staff=request.provider_staff, tenant=item.tenant, grant_id=pk)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except NotFound:
        raise Http404 from None
    else:
        messages.success(request, _("Request cancelled."))
    return redirect("provider:support")


@require_POST
@staff_required(roles=PROVIDER_ROLES)
def provider_support_open(request, slug: str, pk: int):
    """Hand the staff member over to the tenant console (only for an active grant of their own)."""
    item = _own(request, slug, pk)
    if not item.can_open or item.tenant.status not in Tenant.OPEN_STATUSES:
        raise Http404
    return redirect(sessions.issue_handoff(request, staff=request.provider_staff, tenant=item.tenant,
                                           grant=item.grant))
