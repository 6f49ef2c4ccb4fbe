"""Tenant console: the tenant's notices, hiding a banner, its maintenance calendar, release notes."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from mamori.console.views.common import READ, WRITE, actor, console_view
from mamori.notices import ical, queries
from mamori.notices.actions import dismiss_notice


@console_view(READ)
def notice_list(request):
    return render(request, "notices/console/list.html", {
        **queries.console_notices(request.tenant), "lead_days": queries.lead_time_days()})


@console_view(WRITE)
def notice_dismiss(request):
    """Hide one notice's banner for the signed-in user, then go back to the page they were on."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()) or not target.startswith("/"):
        target = ""
    notice_id = request.POST.get("notice", "")
    if not notice_id:
        messages.error(request, _("Choose the notice to hide."))
    else:
        dismiss_notice(actor=actor(request), notice_id=notice_id)  # NotFound → 404 (console_view)
        messages.success(request, _("The notice is hidden. It stays listed under Notices."))
    return redirect(target) if target else redirect("console:notices")


@console_view(READ)
def notices_ics(request):
    """The tenant's maintenance calendar (iCalendar), for a signed-in user of the tenant."""
    language = translation.get_language() or "ja"
    body = ical.calendar(queries.feed_notices(request.tenant), language=language,
                         name=_("Maintenance · %(tenant)s") % {"tenant": request.tenant.name})
    response = HttpResponse(body.encode("utf-8"), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="maintenance-{request.tenant.slug}.ics"'
    response["Cache-Control"] = "private, no-store"
    return response


@console_view(READ)
def release_notes(request):
    return render(request, "notices/release_notes.html", {"notes": queries.release_notes(), "in_console": True})
