"""Small template helpers for the console (all output escaped by format_html)."""

from __future__ import annotations

import hashlib

from django import template
from django.db import DatabaseError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from mamori.console import queries

register = template.Library()


@register.simple_tag
def labels_css_url() -> str:
    """URL of the tenant's label stylesheet, versioned by the label colours so a
    changed colour is fetched at once despite the cache."""
    url = reverse("console:labels_css")
    try:
        palette = queries.label_palette()
    except DatabaseError:  # e.g. rendering the 500 page after a failed query
        return url
    version = hashlib.sha256(repr(palette).encode()).hexdigest()[:12]
    return f"{url}?v={version}"


@register.simple_tag
def when(value, seconds: bool = False):
    """A <time> element in the active (tenant) time zone, with the UTC offset."""
    if not value:
        return "—"
    local = timezone.localtime(value)
    iso = local.isoformat(timespec="seconds")
    shown = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return format_html('<time datetime="{}">{} <span class="muted">{}</span></time>', iso, shown, iso[-6:])


@register.filter
def may(user, perm: str) -> bool:
    """``{% if user|may:"audit.view" %}`` — the permission matrix, for showing links."""
    from mamori.access.roles import can

    return can(user, perm)


_SECTIONS = {
    "dashboard": "dashboard", "workspace": "workspaces", "record": "records", "label": "labels",
    "user": "users", "unit": "units", "audit": "audit", "token": "tokens",
    # Security settings pages are all named security_* (see mamori.console.settings_pages).
    "security": "security", "password_policy": "security",
}


@register.simple_tag(takes_context=True)
def nav_section(context) -> str:
    """Which top-level console section the current page belongs to (for aria-current)."""
    match = getattr(context.get("request"), "resolver_match", None)
    if match is None or match.namespace != "console":
        return ""
    for prefix, section in _SECTIONS.items():
        if match.url_name.startswith(prefix):
            return section
    return ""
