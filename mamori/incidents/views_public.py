"""Public pages (no account): the security event report form and ``security.txt`` (RFC 9116)."""

from __future__ import annotations

from datetime import UTC, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from mamori.core import provider_profile as profile
from mamori.core.forms import apply_validation_error
from mamori.core.net import client_ip
from mamori.incidents import actions_reports as reports
from mamori.incidents.forms import SecurityReportForm

SESSION_REFERENCE = "_mamori_security_report_ref"


def report_form_enabled() -> bool:
    return getattr(settings, "MAMORI_SECURITY_REPORTS_PER_HOUR", 0) > 0


def _contacts() -> list[str]:
    found = []
    email = profile.value("contacts.security_email")
    if email:
        found.append(f"mailto:{email}")
    url = profile.value("contacts.security_report_url")
    if url:
        found.append(str(url))
    if report_form_enabled():
        found.append(f"{settings.BASE_URL}/security/report")
    return found


@never_cache
@require_http_methods(["GET", "POST"])
def security_report(request):
    if not report_form_enabled():
        raise Http404
    form = SecurityReportForm(request.POST or None)
    context = {"form": form, "security_email": profile.value("contacts.security_email")}
    if request.method != "POST":
        return render(request, "incidents/report_form.html", context)
    if not form.is_valid():
        return render(request, "incidents/report_form.html", context, status=422)
    data = form.cleaned_data
    if data.pop("website"):  # the honeypot: answer like a success, store nothing
        request.session[SESSION_REFERENCE] = ""
        return redirect("security_report_sent")
    try:
        report = reports.submit_security_report(client_ip=client_ip(request), language=(get_language() or "ja")[:2],
                                                **data)
    except reports.RateLimited:
        context["rate_limited"] = True
        response = render(request, "incidents/report_form.html", context, status=429)
        response["Retry-After"] = "3600"
        return response
    except ValidationError as exc:
        apply_validation_error(form, exc)
        return render(request, "incidents/report_form.html", context, status=422)
    request.session[SESSION_REFERENCE] = report.reference
    return redirect("security_report_sent")


@never_cache
@require_GET
def security_report_sent(request):
    if SESSION_REFERENCE not in request.session:
        return redirect("security_report")
    return render(request, "incidents/report_sent.html", {"reference": request.session[SESSION_REFERENCE]})


def security_txt_lines(now=None) -> list[str]:
    """The fields of ``security.txt``; ``Expires`` one year after ``now`` (request time)."""
    now = (now or timezone.now()).astimezone(UTC).replace(microsecond=0)
    lines = [f"Contact: {contact}" for contact in _contacts()]
    lines.append(f"Expires: {(now + timedelta(days=365)).strftime('%Y-%m-%dT%H:%M:%SZ')}")
    pgp = profile.value("contacts.pgp_key_url")
    if pgp:
        lines.append(f"Encryption: {pgp}")
    languages = profile.value("contacts.preferred_languages", ["ja", "en"])
    if isinstance(languages, str):
        languages = [languages]
    lines.append(f"Preferred-Languages: {', '.join(str(lang) for lang in languages)}")
    lines.append(f"Canonical: {settings.BASE_URL}/.well-known/security.txt")
    policy = profile.value("policies.security_policy_url")
    if policy:
        lines.append(f"Policy: {policy}")
    return lines


@require_GET
def security_txt(request):
    body = "# Security contact of this service (RFC 9116)\n" + "\n".join(security_txt_lines()) + "\n"
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "max-age=3600"
    return response


@require_GET
def security_txt_redirect(request):
    return HttpResponsePermanentRedirect("/.well-known/security.txt")
