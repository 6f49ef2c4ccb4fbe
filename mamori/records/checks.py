"""Startup checks of the records settings."""

from __future__ import annotations

from django.core import checks


@checks.register(checks.Tags.security)
def check_attachment_scanner(app_configs=None, **kwargs):
    """A malformed ``MAMORI_ATTACHMENT_SCANNER`` would refuse every upload: say so at start-up."""
    from mamori.records.scanning import configured_scanner

    try:
        configured_scanner()
    except ValueError as exc:
        return [checks.Error(f"MAMORI_ATTACHMENT_SCANNER: {exc}",
                             hint="clamd://HOST:PORT or clamd:///path/to/clamd.sock", id="mamori.E141")]
    return []
