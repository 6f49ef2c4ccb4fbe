"""Provider console at /provider/: staff sign-in, tenants, provider log, local outbox.

Provider staff are a population of their own (``ProviderStaff``, their own
session key). These pages run with no active tenant (``TenantMiddleware``
wraps them in ``tenant_context(None)``; on PostgreSQL that is the application
role with no tenant set, so row-level security hides every tenant row) and read
provider tables only. Views are thin: actions write, ``queries`` read.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mamori.core.context import current_request_context
from mamori.operations import actions, actions_staff, mfa, queries
from mamori.operations.forms import StaffSignInForm
from mamori.operations.middleware import complete_sign_in, start_second_step
from mamori.operations.staff import OPERATIONS_ROLES, OUTBOX_ROLES, staff_required
from mamori.tenancy.actions import list_tenants_across_tenants

# Failed sign-ins allowed before the form refuses to check passwords for a while.
MAX_FAILURES_PER_EMAIL = 5  # in THROTTLE_MINUTES
MAX_FAILURES_PER_IP = 20
THROTTLE_MINUTES = 15


def _safe_next(request, value: str | None) -> str:
    if value and value.startswith("/provider/") and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return reverse("provider:dashboard")


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request):
    if request.provider_staff is not None:
        return redirect("provider:dashboard")
    form = StaffSignInForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        ctx = current_request_context()
        by_email, by_ip = queries.recent_staff_sign_in_failures(
            email=email, ip=ctx.ip if ctx else None, minutes=THROTTLE_MINUTES)
        if by_email >= MAX_FAILURES_PER_EMAIL or by_ip >= MAX_FAILURES_PER_IP:
            form.add_error(None, _("Too many failed sign-in attempts. Wait a few minutes and try again."))
            status = 429
        elif mfa.required():
            staff = actions_staff.staff_password_step(email=email, password=form.cleaned_data["password"])
            if staff is not None:  # second step: a TOTP code (or enrolment at the first sign-in)
                start_second_step(request, staff, _safe_next(request, request.POST.get("next")))
                return redirect("provider:mfa" if staff.mfa_enrolled_at else "provider:mfa_setup")
            form.add_error(None, _("The e-mail address or the password is not correct."))
        else:
            staff = actions.staff_sign_in(email=email, password=form.cleaned_data["password"])
            if staff is not None:
                complete_sign_in(request, staff, mfa=False)
                return redirect(_safe_next(request, request.POST.get("next")))
            # One answer for an unknown address and a wrong password.
            form.add_error(None, _("The e-mail address or the password is not correct."))
    return render(request, "provider/sign_in.html",
                  {"form": form, "next": _safe_next(request, request.GET.get("next") or request.POST.get("next"))},
                  status=status)


@require_POST
def sign_out(request):
    staff = request.provider_staff
    if staff is not None:
        actions.staff_sign_out(staff=staff)
    request.session.flush()
    return redirect("provider:login")


@never_cache
@require_GET
@staff_required
def dashboard(request):
    tenants = list(list_tenants_across_tenants())
    for tenant in tenants:  # counts only, each read in the tenant's own context
        tenant.usage = queries.tenant_usage(tenant)
    return render(request, "provider/dashboard.html", {"tenants": tenants, "section": "tenants"})


@never_cache
@require_GET
@staff_required(roles=OPERATIONS_ROLES)
def provider_log(request):
    page = queries.provider_events_page(request.GET.get("page"))
    slugs = dict(list_tenants_across_tenants().values_list("pk", "slug"))
    for event in page.object_list:
        event.tenant_slug = slugs.get(event.tenant_ref, event.tenant_ref)
    return render(request, "provider/log.html", {"page": page, "section": "log"})


def _outbox_in_use() -> bool:
    return settings.EMAIL_BACKEND == "mamori.operations.mail.OutboxEmailBackend"


@never_cache
@require_GET
@staff_required(roles=OUTBOX_ROLES)
def outbox(request):
    page = queries.outbox_page(request.GET.get("page"))
    return render(request, "provider/outbox.html",
                  {"page": page, "section": "outbox", "outbox_in_use": _outbox_in_use()})


@never_cache
@require_GET
@staff_required(roles=OUTBOX_ROLES)
def outbox_message(request, message_id: int):
    message = queries.outbox_message(message_id)
    if message is None:
        raise Http404
    actions.record_outbox_view(staff=request.provider_staff, message=message)
    return render(request, "provider/outbox_message.html", {"message": message, "section": "outbox"})
