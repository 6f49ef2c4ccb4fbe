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
    ProviderPage("provider:log", _("Provider log"), "log", ("operator", "security_officer")),
    ProviderPage("provider:outbox", _("Outbox"), "outbox", ("operator",)),
    ProviderPage("provider:backups", _("Backups"), "backups", ("operator", "security_officer")),
    ProviderPage("provider:terminations", _("Terminations"), "terminations"),
    ProviderPage("provider:schedules", _("Schedules"), "schedules", ("operator", "security_officer")),
    ProviderPage("provider:vulnerabilities", _("Vulnerabilities"), "vulnerabilities",
                 ("operator", "security_officer")),
    ProviderPage("provider:monitoring", _("Monitoring"), "monitoring"),
    ProviderPage("provider:controls", _("Control checks"), "controls", ("operator", "security_officer")),
    ProviderPage("provider:incidents", _("Incidents"), "incidents"),
    ProviderPage("provider:incident_deadlines", _("Notification deadlines"), "incident_deadlines"),
    ProviderPage("provider:security_reports", _("Security reports"), "security_reports", ("security_officer",)),
    ProviderPage("provider:notices", _("Notices"), "notices"),
    ProviderPage("provider:support", _("Support access"), "support", ("support", "operator")),
]


def pages_for(staff) -> list[ProviderPage]:
    if staff is None:
        return []
    return [page for page in PROVIDER_PAGES if not page.roles or staff.role in page.roles]


def provider_pages(request) -> dict:
    """Context processor: ``provider_pages`` for the signed-in staff member."""
    return {"provider_pages": pages_for(getattr(request, "provider_staff", None))}
