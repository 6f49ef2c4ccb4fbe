"""Reads of incidents used by other apps (placeholder until the incidents app lands)."""

from __future__ import annotations


def status_page_incidents(now=None, days: int = 90) -> list[dict]:
    """Incidents with public information from the last ``days`` (open ones first), for the
    status page and its Atom feed: dicts with id, title, severity, state, started_at,
    resolved_at, components (component keys), updated_at, url, and updates: a list of dicts
    {at, text} holding only the public updates, newest first."""
    return []
