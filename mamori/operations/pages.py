"""The provider console's navigation: one list, one line per page.

Each area (notices, incidents, monitoring, support access, control checks…) appends its
page here instead of editing the navigation template. ``roles`` limits who sees the link
(empty: every staff role); the view itself must still check the role
(``mamori.operations.staff.staff_required(roles=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class ProviderPage:
    url_name: str  # e.g. "provider:incidents"
    title: object  # lazy translated
    section: str  # the ``section`` value the page's views put in their context
    roles: tuple[str, ...] = ()  # ProviderStaff.StaffRole values; () = all


PROVIDER_PAGES: list[ProviderPage] = [
    ProviderPage("provider:dashboard", _("Tenants"), "tenants"),
    ProviderPage("provider:log", _("Provider log"), "log"),
    ProviderPage("provider:outbox", _("Outbox"), "outbox"),
    ProviderPage("provider:backups", _("Backups"), "backups"),
    ProviderPage("provider:terminations", _("Terminations"), "terminations"),
]


def pages_for(staff) -> list[ProviderPage]:
    if staff is None:
        return []
    return [page for page in PROVIDER_PAGES if not page.roles or staff.role in page.roles]


def provider_pages(request) -> dict:
    """Context processor: ``provider_pages`` for the signed-in staff member."""
    return {"provider_pages": pages_for(getattr(request, "provider_staff", None))}
