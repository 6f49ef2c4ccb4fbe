"""Provider console sign-in, second step: TOTP enrolment (first sign-in) and code entry.

Both pages accept only a session that passed the password step moments ago
(``middleware.pending_staff``); wrong codes are counted in the provider log and, after
``mfa.MAX_FAILURES`` in ``mfa.FAILURE_MINUTES``, refused without checking (429).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from mamori.operations import actions_staff, mfa, queries
from mamori.operations.forms import TotpCodeForm
from mamori.operations.middleware import TOTP_SETUP_KEY as SETUP_SECRET_KEY
from mamori.operations.middleware import complete_sign_in, pending_next, pending_staff


def _finish(request, staff):
    next_url = pending_next(request) or reverse("provider:dashboard")
    complete_sign_in(request, staff, mfa=True)
    return redirect(next_url)


def _throttled(staff, form) -> bool:
    if queries.recent_mfa_failures(staff.pk, minutes=mfa.FAILURE_MINUTES) >= mfa.MAX_FAILURES:
        form.add_error(None, _("Too many wrong codes. Wait a few minutes and sign in again."))
        return True
    return False


def _code_error(form, exc: ValidationError) -> None:
    for message in exc.messages:
        form.add_error("code", message)


@never_cache
@require_http_methods(["GET", "POST"])
def mfa_verify(request):
    staff = pending_staff(request)
    if staff is None:
        return redirect("provider:login")
    if staff.mfa_enrolled_at is None:
        return redirect("provider:mfa_setup")
    form = TotpCodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        if _throttled(staff, form):
            status = 429
        else:
            try:
                if actions_staff.verify_staff_totp(staff=staff, code=form.cleaned_data["code"]):
                    return _finish(request, staff)
                form.add_error("code", _("This code is not correct or has already been used."))
            except ValidationError as exc:
                _code_error(form, exc)
    if form.errors and status == 200:
        status = 422
    return render(request, "provider/mfa_verify.html", {"form": form, "staff": staff}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def mfa_setup(request):
    staff = pending_staff(request)
    if staff is None:
        return redirect("provider:login")
    if staff.mfa_enrolled_at is not None:
        return redirect("provider:mfa")
    secret = request.session.get(SETUP_SECRET_KEY)
    if not secret:
        secret = request.session[SETUP_SECRET_KEY] = mfa.new_secret()
    form = TotpCodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        if _throttled(staff, form):
            status = 429
        else:
            try:
                if actions_staff.enrol_staff_totp(staff=staff, secret=secret, code=form.cleaned_data["code"]):
                    return _finish(request, staff)
                form.add_error("code", _("This code is not correct. Check the time on your device and try again."))
            except ValidationError as exc:
                _code_error(form, exc)
    if form.errors and status == 200:
        status = 422
    uri = mfa.otpauth_uri(staff.email, secret)
    return render(request, "provider/mfa_setup.html", {
        "form": form, "staff": staff, "secret": secret, "qr": mfa.qr_data_uri(uri), "uri": uri,
    }, status=status)
