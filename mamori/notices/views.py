"""Public notice pages: the maintenance calendar (``/status/maintenance.ics``) and release notes."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from mamori.notices import ical, queries


def _language(request) -> str:
    wanted = request.GET.get("lang", "")
    return wanted if wanted in ("ja", "en") else (translation.get_language() or "ja")[:2]


@require_GET
@cache_control(public=True, max_age=300)
def maintenance_ics(request):
    """Published maintenance for all tenants, as an iCalendar feed (RFC 5545). ``?lang=en|ja``."""
    language = _language(request)
    with translation.override(language):
        body = ical.calendar(queries.feed_notices(), language=language, name=_("Planned maintenance"))
    response = HttpResponse(body.encode("utf-8"), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="maintenance.ics"'
    return response


@require_GET
def release_notes(request):
    return render(request, "notices/release_notes.html", {"notes": queries.release_notes(), "in_console": False})
