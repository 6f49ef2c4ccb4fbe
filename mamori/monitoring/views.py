"""Public status page and its Atom feed, the metrics endpoint, the provider's monitoring page.

Views stay thin: they read ``queries`` (and the incidents/notices apps' status-page queries)
and render. The status page shows no tenant data: components, probe-measured uptime, public
incident updates and published maintenance only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from mamori.core import provider_profile
from mamori.monitoring import metrics, queries
from mamori.operations.staff import staff_required

STATUS_MAX_AGE = 30  # seconds: probes run every minute
FEED_MAX_AGE = 60
ATOM_NS = "http://www.w3.org/2005/Atom"
LANGUAGES = ("ja", "en")


def _language(request) -> str:
    wanted = request.GET.get("lang", "")
    return wanted if wanted in LANGUAGES else (translation.get_language() or "ja")[:2]


def _display_zone():
    import zoneinfo

    return zoneinfo.ZoneInfo(settings.DEFAULT_TENANT_TIME_ZONE)


def _status_items(now):
    from mamori.incidents.queries import status_page_incidents
    from mamori.notices.queries import status_page_notices

    return list(status_page_incidents(now=now) or []), list(status_page_notices(now=now) or [])


def _public(response, max_age: int):
    patch_cache_control(response, public=True, max_age=max_age)
    patch_vary_headers(response, ("Accept-Language", "Cookie"))
    return response


@require_GET
def status_page(request):
    now = timezone.now()
    language = _language(request)
    with translation.override(language), timezone.override(_display_zone()):
        incidents, notices = _status_items(now)
        statuses = queries.component_states(now, incidents=incidents, notices=notices)
        days = queries.uptime_days(now)
        percentages = queries.uptime_percentages(days)
        rows = [{"status": s, "uptime": percentages[s.key], "cells": days[s.key]} for s in statuses]
        overall = queries.overall_state(statuses)
        response = render(request, "monitoring/status.html", {
            "now": now, "overall": overall, "overall_label": queries.STATE_LABELS[overall],
            "rows": rows, "incidents": [i for i in incidents if queries._open(i)],
            "past_incidents": [i for i in incidents if not queries._open(i)][:10],
            "notices": notices, "bar_width": queries.UPTIME_DAYS * (queries.CELL_WIDTH + queries.CELL_GAP),
            "cell_width": queries.CELL_WIDTH, "language": language,
            "company": provider_profile.text("company.name", language),
        })
        response["Content-Language"] = language
    return _public(response, STATUS_MAX_AGE)


# --- Atom (RFC 4287) ------------------------------------------------------------------------------

def _authority(request) -> str:
    url = provider_profile.value("company.url") or ""
    host = urlsplit(str(url)).hostname if url else None
    return host or request.get_host().split(":")[0] or "localhost"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _tag(authority: str, when: datetime | None, specific: str) -> str:
    day = (when or datetime(2025, 1, 1, tzinfo=UTC)).astimezone(UTC).date().isoformat()
    return f"tag:{authority},{day}:{specific}"


def _sub(parent, name: str, text: str | None = None, **attrs):
    element = ET.SubElement(parent, f"{{{ATOM_NS}}}{name}", {k: str(v) for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def _component_names(keys) -> str:
    from mamori.monitoring.components import COMPONENTS

    return ", ".join(str(COMPONENTS.get(key, key)) for key in keys or ())


def build_feed(request, incidents: list[dict], notices: list[dict], language: str, now: datetime) -> bytes:
    ET.register_namespace("", ATOM_NS)
    authority = _authority(request)
    status_url = request.build_absolute_uri(reverse("monitoring:status"))
    feed = ET.Element(f"{{{ATOM_NS}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": language})
    entries = []
    for incident in incidents:
        updates = incident.get("updates") or []
        body = "\n\n".join(f"{_iso(u['at'])} {u.get('text', '')}" for u in updates if u.get("at"))
        entries.append({
            "id": _tag(authority, incident.get("started_at"), f"incident/{incident['id']}"),
            "title": _("Incident: %(title)s") % {"title": incident.get("title", "")},
            "updated": incident.get("updated_at") or incident.get("started_at") or now,
            "published": incident.get("started_at"),
            "url": incident.get("url") or status_url,
            "summary": " · ".join(filter(None, [
                _("Resolved") if not queries._open(incident) else _("Ongoing"),
                _component_names(incident.get("components")),
            ])),
            "content": body,
        })
    for notice in notices:
        window = f"{_iso(notice['starts_at'])} – {_iso(notice['ends_at'])}" if notice.get("starts_at") and notice.get("ends_at") else ""
        entries.append({
            "id": _tag(authority, notice.get("published_at") or notice.get("starts_at"), f"notice/{notice['id']}"),
            "title": _("Maintenance: %(title)s") % {"title": notice.get("title", "")},
            "updated": notice.get("updated_at") or notice.get("published_at") or now,
            "published": notice.get("published_at"),
            "url": notice.get("url") or status_url,
            "summary": " · ".join(filter(None, [window, _component_names(notice.get("components")),
                                                str(notice.get("impact") or "")])),
            "content": str(notice.get("body") or ""),
        })
    entries.sort(key=lambda e: e["updated"], reverse=True)
    _sub(feed, "id", _tag(authority, None, "status"))
    _sub(feed, "title", _("Service status"))
    _sub(feed, "updated", _iso(max((e["updated"] for e in entries), default=now)))
    author = _sub(feed, "author")
    _sub(author, "name", provider_profile.text("company.name", language) or authority)
    _sub(feed, "link", rel="self", type="application/atom+xml",
         href=request.build_absolute_uri(reverse("monitoring:feed")))
    _sub(feed, "link", rel="alternate", type="text/html", href=status_url)
    for item in entries:
        entry = _sub(feed, "entry")
        _sub(entry, "id", item["id"])
        _sub(entry, "title", item["title"])
        _sub(entry, "updated", _iso(item["updated"]))
        if item["published"]:
            _sub(entry, "published", _iso(item["published"]))
        _sub(entry, "link", rel="alternate", type="text/html", href=request.build_absolute_uri(item["url"]))
        _sub(entry, "summary", item["summary"] or item["title"])
        if item["content"]:
            _sub(entry, "content", item["content"], type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


@require_GET
def status_feed(request):
    now = timezone.now()
    language = _language(request)
    with translation.override(language):
        incidents, notices = _status_items(now)
        body = build_feed(request, incidents, notices, language, now)
    response = HttpResponse(body, content_type="application/atom+xml; charset=utf-8")
    response["Content-Language"] = language
    return _public(response, FEED_MAX_AGE)


# --- Metrics --------------------------------------------------------------------------------------

@never_cache
def metrics_view(request):
    if metrics.access_granted(request) is None:
        raise Http404  # the same answer as an unknown URL: the endpoint is not revealed
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    from prometheus_client import CONTENT_TYPE_LATEST

    return HttpResponse(metrics.render_metrics(), content_type=CONTENT_TYPE_LATEST)


# --- Provider console ---------------------------------------------------------------------------------

@never_cache
@require_GET
@staff_required
def provider_monitoring(request):
    now = timezone.now()
    incidents, notices = _status_items(now)
    statuses = queries.component_states(now, incidents=incidents, notices=notices)
    percentages = queries.uptime_percentages(queries.uptime_days(now))
    heartbeat = queries.worker_heartbeat()
    return render(request, "provider/monitoring.html", {
        "rows": [{"status": s, "uptime": percentages[s.key]} for s in statuses],
        "overall": queries.STATE_LABELS[queries.overall_state(statuses)],
        "clock": queries.clock_state(),
        "readings": queries.recent_clock_readings(),
        "history": queries.probe_history(),
        "heartbeat": heartbeat,
        "heartbeat_age": int((now - heartbeat).total_seconds()) if heartbeat else None,
        "max_offset_ms": settings.MAMORI_CLOCK_MAX_OFFSET_MS,
        "ntp_servers": settings.MAMORI_NTP_SERVERS,
        "metrics_protection": metrics.protection_mode(),
        "section": "monitoring",
    })
