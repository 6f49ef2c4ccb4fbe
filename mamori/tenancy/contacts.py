"""Who hears from the provider about a tenant: its active tenant admins plus the
tenant's notification address (``Tenant.notification_email``).

Maintenance and vulnerability notices, incident notifications and termination mails all
use this one list, so a tenant that adds a shared mailbox (for example its IT desk) gets
every provider notice there too.
"""

from __future__ import annotations

from dataclasses import dataclass

from mamori.tenancy.context import tenant_context
from mamori.tenancy.models import Tenant


@dataclass(frozen=True)
class Contact:
    email: str
    language: str  # "ja" or "en": the user's language, else the tenant's
    user_id: int | None = None  # None for the tenant's notification address


def tenant_contacts(tenant: Tenant) -> list[Contact]:
    """Active tenant admins and the notification address, each address once, sorted."""
    from mamori.access.roles import Role
    from mamori.accounts.models import User

    contacts: dict[str, Contact] = {}
    with tenant_context(tenant):
        rows = (User.objects.filter(role=Role.TENANT_ADMIN, is_active=True).exclude(email="")
                .values_list("pk", "email", "language"))
        for pk, email, language in rows:
            contacts.setdefault(email.lower(), Contact(email, language or tenant.language, pk))
    if tenant.notification_email:
        contacts.setdefault(tenant.notification_email.lower(),
                            Contact(tenant.notification_email, tenant.language, None))
    return [contacts[key] for key in sorted(contacts)]
