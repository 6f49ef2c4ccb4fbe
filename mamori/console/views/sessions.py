"""Sessions: the tenant's session policy (Settings → Security → Sessions) and "My sessions"
(every user lists their own signed-in browsers and devices and ends the others)."""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from mamori.access.errors import object_id
from mamori.access.roles import Perm
from mamori.accounts import actions
from mamori.accounts.actions_sessions import (
    end_all_sessions,
    end_own_session,
    update_session_policy,
)
from mamori.accounts.sessions import (
    ABSOLUTE_MAX,
    ABSOLUTE_MIN,
    IDLE_MAX,
    IDLE_MIN,
    clean_session_policy,
    nist_notes,
    session_policy_for_tenant,
    track_session,
    user_sessions,
)
from mamori.console.forms import apply_validation_error
from mamori.console.views.common import FORM, WRITE, actor, console_view


class SessionPolicyForm(forms.Form):
    idle_timeout_minutes = forms.IntegerField(
        label=gettext_lazy("Idle timeout (minutes)"), min_value=IDLE_MIN, max_value=IDLE_MAX,
        help_text=gettext_lazy("A session that is not used for this long is signed out. Recommended: 30."))
    absolute_lifetime_hours = forms.IntegerField(
        label=gettext_lazy("Maximum session length (hours)"), min_value=ABSOLUTE_MIN, max_value=ABSOLUTE_MAX,
        help_text=gettext_lazy("Every session is signed out this long after sign-in, however active. "
                               "Recommended: 12."))


@never_cache
@console_view(FORM, perm=Perm.MANAGE_SECURITY, reauth=True)
def security_sessions(request):
    saved = session_policy_for_tenant(request.tenant)
    shown = saved
    if request.method == "POST":
        form = SessionPolicyForm(request.POST)
        if form.is_valid():
            try:
                update_session_policy(actor=actor(request), **form.cleaned_data)
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, _("Session policy saved."))
                return redirect("console:security_sessions")
            try:
                shown = clean_session_policy(form.cleaned_data)
            except ValidationError:
                shown = saved
    else:
        form = SessionPolicyForm(initial=saved.as_dict())
    notes = nist_notes(shown)
    return render(request, "console/sessions/policy.html", {
        "form": form, "rows": [(field, notes.get(field.name)) for field in form], "saved": saved,
    })


@never_cache
@console_view(WRITE, perm=Perm.MANAGE_SECURITY, reauth=True)
def security_sessions_end_all(request):
    """Sign out every user of the tenant (this admin's session is kept under a new id)."""
    summary = end_all_sessions(actor=actor(request))
    request.user.refresh_from_db(fields=["session_stamp"])
    update_session_auth_hash(request, request.user)
    track_session(request)
    messages.success(request, _("Every user was signed out: %(sessions)s sessions ended. Your session continues.")
                     % {"sessions": summary["sessions_ended"]})
    return redirect("console:security_sessions")


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Safari/", "Safari"))
_SYSTEMS = (("Windows", "Windows"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Android", "Android"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def describe_user_agent(ua: str) -> str:
    """"Firefox · Linux" from a User-Agent header (the raw header is shown beside it)."""
    browser = next((name for token, name in _BROWSERS if token in ua), "")
    system = next((name for token, name in _SYSTEMS if token in ua), "")
    parts = [p for p in (browser, system) if p]
    if parts:
        return " · ".join(parts)
    return re.split(r"[\s/]", ua.strip(), maxsplit=1)[0][:40] if ua.strip() else _("Unknown browser")


@never_cache
@console_view()
def my_sessions(request):
    """The signed-in user's sessions (browsers and devices), the current one first."""
    current = request.session.session_key
    track_session(request)
    rows = user_sessions(request.user, current_key=current)
    sessions = [{"row": row, "current": row.session_key == current,
                 "device": describe_user_agent(row.user_agent)} for row in rows]
    return render(request, "console/sessions/mine.html", {
        "sessions": sessions, "others": sum(1 for s in sessions if not s["current"]),
        "limits": session_policy_for_tenant(request.tenant),
    })


@console_view(WRITE)
def my_session_end(request, session_id: int):
    end_own_session(actor=actor(request), session_id=object_id(session_id),
                    current_key=request.session.session_key)
    messages.success(request, _("The session was ended."))
    return redirect("console:my_sessions")


@console_view(WRITE)
def my_sessions_end_others(request):
    """Sign out of every other browser and device; this session stays (under a new id)."""
    user = actions.end_sessions(actor=actor(request), user=request.user)
    update_session_auth_hash(request, user)
    track_session(request)  # this session's new id in the list
    messages.success(request, _("You were signed out of every other session."))
    return redirect("console:my_sessions")
