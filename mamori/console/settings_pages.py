"""The tenant's settings areas, each listed on one overview page (Settings → Security,
Settings → Data).

Each feature adds one entry to its area: the URL name of its page, a title and a
one-line description (both lazily translated). The overviews and the navigation read
these lists, so a new settings page appears without editing templates.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class SettingsPage:
    url_name: str
    title: str
    description: str


SECURITY_PAGES: list[SettingsPage] = [
    SettingsPage("console:security_mfa", _("Two-factor authentication"),
                 _("Who must use an authenticator app, security key or passkey in addition to the password.")),
    SettingsPage("console:password_policy", _("Password policy"),
                 _("Length, character rules, expiry and history of passwords.")),
    SettingsPage("console:security_sessions", _("Sessions and sign-in attempts"),
                 _("Idle timeout and maximum length of console sessions; what happens after repeated failed sign-ins.")),
    SettingsPage("console:security_ip_allowlist", _("IP allowlist"),
                 _("The networks from which the console, the API and SCIM of this tenant may be used.")),
    SettingsPage("console:security_scim", _("SCIM provisioning"),
                 _("Let your identity provider create, update and remove users and units (SCIM 2.0).")),
    SettingsPage("console:security_sso", _("Single sign-on"),
                 _("Sign-in through your identity provider (OpenID Connect or SAML 2.0); optionally SSO only, with break-glass admins.")),
    SettingsPage("console:security_attachments", _("Attachments"),
                 _("Size limit for files attached to records; the accepted file types.")),
    SettingsPage("console:security_support_access", _("Support access"),
                 _("Approve, shorten, refuse or revoke the provider's requests for support access to this tenant.")),
]

DATA_PAGES: list[SettingsPage] = [
    SettingsPage("console:data_export", _("Export all data"),
             _("Download every table of your tenant's data (CSV and JSON lines), the attachments and a signed manifest.")),
    SettingsPage("console:data_backups", _("Backups of your data"),
             _("The daily encrypted backups of your tenant, from which the provider can restore your tenant alone.")),
    SettingsPage("console:organisation", _("Organisation: notices and data location"),
                 _("The address that receives the provider's notices; where your data is stored and which "
                   "sub-processors the provider uses.")),
    SettingsPage("console:data_termination", _("Terminate the contract"),
             _("End the contract: after a grace period every record, file and backup is deleted for good, "
               "with a signed deletion certificate.")),
]
