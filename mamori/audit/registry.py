"""The one registry of audit event names.

Every event an action writes is a dotted verb registered here with a Japanese
and English label (through gettext). Writing an unregistered name raises, so a
typo cannot create an event nobody can search for.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class EventType:
    name: str
    label: object  # lazy translation
    category: str  # operation | signin | api | provider


EVENT_TYPES: dict[str, EventType] = {}


def register(name: str, label, category: str = "operation") -> EventType:
    if name in EVENT_TYPES:
        raise ValueError(f"Audit event {name} registered twice")
    event = EventType(name, label, category)
    EVENT_TYPES[name] = event
    return event


def get_event_type(name: str) -> EventType:
    try:
        return EVENT_TYPES[name]
    except KeyError:
        raise KeyError(f"Unregistered audit event name: {name}") from None


# Tenancy
register("tenant.created", _("Tenant created"))
register("tenant.updated", _("Tenant updated"))
# Accounts and sign-in
register("user.created", _("User created"))
register("user.updated", _("User updated"))
register("user.password_set", _("Password set"))
register("user.login_link_created", _("One-time sign-in link issued"))
register("user.login_link_used", _("Signed in with a one-time link"), "signin")
register("auth.login", _("Signed in"), "signin")
register("auth.login_failed", _("Sign-in failed"), "signin")
register("auth.logout", _("Signed out"), "signin")
register("api_token.created", _("API token created"))
register("api_token.revoked", _("API token revoked"))
register("access.denied", _("Permission denied"))
# Records
register("workspace.created", _("Workspace created"))
register("workspace.updated", _("Workspace updated"))
register("workspace.deleted", _("Workspace deleted"))
register("workspace.member_added", _("Workspace member added"))
register("workspace.member_removed", _("Workspace member removed"))
register("label.created", _("Label created"))
register("label.updated", _("Label updated"))
register("label.deleted", _("Label deleted"))
register("record.created", _("Record created"))
register("record.updated", _("Record updated"))
register("record.deleted", _("Record deleted"))
# Provider log
register("provider.staff_created", _("Provider staff created"), "provider")
register("provider.login", _("Provider staff signed in"), "provider")
register("provider.login_failed", _("Provider staff sign-in failed"), "provider")
register("provider.logout", _("Provider staff signed out"), "provider")
register("provider.outbox_message_viewed", _("Provider staff read a local outbox message"), "provider")
