"""Settings → Security → Single sign-on: the tenant's OpenID Connect connection (ISMS 9.2.3)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from mamori.access.roles import Perm
from mamori.console.forms import apply_validation_error
from mamori.console.views.common import FORM, actor, console_view
from mamori.sso.actions import save_connection
from mamori.sso.forms import SsoConnectionForm
from mamori.sso.queries import idp_values, tenant_connection


@console_view(FORM, perm=Perm.MANAGE_SECURITY, reauth=True)
def security_sso(request):
    conn = tenant_connection()
    if request.method == "POST":
        form = SsoConnectionForm(request.POST)
        if form.is_valid():
            try:
                save_connection(actor=actor(request), **form.cleaned_data)
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, _("Single sign-on settings saved."))
                return redirect("console:security_sso")
    else:
        form = SsoConnectionForm(initial=SsoConnectionForm.initial_for(conn))
    return render(request, "console/sso/settings.html", {
        "form": form, "connection": conn, "values": idp_values(request, conn),
        "login_url": request.build_absolute_uri(reverse("account_login")),
    })
