"""The service components the status page reports, probes measure, and maintenance
notices and incidents name (by key)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# key → label. Keys are stable identifiers stored in notices, incidents and probe results.
COMPONENTS: dict[str, object] = {
    "console": _("Web console"),
    "api": _("API"),
    "database": _("Database"),
    "storage": _("File storage"),
    "mail": _("E-mail delivery"),
    "worker": _("Background jobs"),
}


def component_choices() -> list[tuple[str, object]]:
    return list(COMPONENTS.items())
