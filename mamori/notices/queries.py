"""Reads of notices used by other apps (placeholder until the notices app lands)."""

from __future__ import annotations


def status_page_notices(now=None) -> list[dict]:
    """Published maintenance notices that are upcoming or in progress, for the status page
    and its Atom feed: dicts with id, kind, title, body, starts_at, ends_at, components
    (component keys), impact, emergency, published_at, updated_at, url."""
    return []
