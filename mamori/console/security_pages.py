"""The tenant's security settings pages, listed on one overview (Settings → Security).

Each area adds one entry: the URL name of its page, a title and a one-line
description (both lazily translated). The overview and the navigation read this
list, so a new security page appears without editing templates.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class SecurityPage:
    url_name: str
    title: str
    description: str


SECURITY_PAGES: list[SecurityPage] = [
    SecurityPage("console:security_mfa", _("Two-factor authentication"),
                 _("Who must use an authenticator app, security key or passkey in addition to the password.")),
    SecurityPage("console:password_policy", _("Password policy"),
                 _("Length, character rules, expiry and history of passwords.")),
    SecurityPage("console:security_sessions", _("Sessions and sign-in attempts"),
                 _("Idle timeout and maximum length of console sessions; what happens after repeated failed sign-ins.")),
    SecurityPage("console:security_ip_allowlist", _("IP allowlist"),
                 _("The networks from which the console, the API and SCIM of this tenant may be used.")),
    SecurityPage("console:security_scim", _("SCIM provisioning"),
                 _("Let your identity provider create, update and remove users and units (SCIM 2.0).")),
    SecurityPage("console:security_sso", _("Single sign-on"),
                 _("Sign-in through your identity provider (OpenID Connect or SAML 2.0); optionally SSO only, with break-glass admins.")),
    SecurityPage("console:security_attachments", _("Attachments"),
                 _("Size limit for files attached to records; the accepted file types.")),
]
