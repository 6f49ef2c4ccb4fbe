"""The console form of the tenant's SSO connection (parses input; the action validates)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from mamori.access.roles import Role
from mamori.accounts.models import User


class SsoConnectionForm(forms.Form):
    protocol = forms.ChoiceField(label=_("Protocol"), choices=[("oidc", "OpenID Connect"), ("saml", "SAML 2.0")])
    name = forms.CharField(label=_("Display name"), max_length=80,
                           help_text=_("Shown on the sign-in button: “Sign in with …”."))
    issuer = forms.CharField(label=_("Issuer URL (OIDC)"), max_length=500, required=False,
                             help_text=_("For example https://login.microsoftonline.com/<tenant-id>/v2.0 or "
                                         "https://keycloak.example.com/realms/main."))
    client_id = forms.CharField(label=_("Client ID (OIDC)"), max_length=255, required=False)
    client_secret = forms.CharField(label=_("Client secret (OIDC)"), required=False, max_length=2000,
                                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                                    help_text=_("Write-only. Leave empty to keep the stored secret."))
    saml_idp_entity_id = forms.CharField(label=_("IdP entity ID (SAML)"), max_length=500, required=False)
    saml_metadata_url = forms.CharField(label=_("IdP metadata URL (SAML)"), max_length=500, required=False,
                                        help_text=_("Either the metadata URL or the metadata XML."))
    saml_metadata_xml = forms.CharField(label=_("IdP metadata XML (SAML)"), required=False, max_length=200_000,
                                        widget=forms.Textarea(attrs={"rows": 4}))
    saml_email_attribute = forms.CharField(label=_("E-mail attribute (SAML)"), max_length=200, required=False,
                                           help_text=_("Empty: the usual names (mail, urn:oid:0.9.2342.19200300.100.1.3, "
                                                       "…/claims/emailaddress)."))
    saml_name_attribute = forms.CharField(label=_("Name attribute (SAML)"), max_length=200, required=False)
    enabled = forms.BooleanField(label=_("Enabled"), required=False)
    jit_enabled = forms.BooleanField(label=_("Create users at their first sign-in"), required=False,
                                     help_text=_("Off: only users who already exist in Mamori can sign in."))
    jit_role = forms.ChoiceField(label=_("Role of users created at sign-in"),
                                 choices=[c for c in Role.choices if c[0] != Role.TENANT_ADMIN])
    sso_required = forms.BooleanField(label=_("Require SSO"), required=False,
                                      help_text=_("Password sign-in is refused except for the break-glass admins."))
    break_glass_user_ids = forms.TypedMultipleChoiceField(
        label=_("Break-glass admins"), required=False, coerce=int, widget=forms.CheckboxSelectMultiple,
        help_text=_("Tenant admins who may still sign in with a password when SSO is required "
                    "(for example when the identity provider is down)."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["break_glass_user_ids"].choices = [
            (u.pk, u.email) for u in User.objects.filter(role=Role.TENANT_ADMIN, is_active=True).order_by("email")]

    @staticmethod
    def initial_for(conn) -> dict:
        if conn is None:
            return {"jit_role": Role.VIEWER}
        return {f: getattr(conn, f) for f in (
            "protocol", "name", "issuer", "client_id", "saml_idp_entity_id", "saml_metadata_url", "saml_metadata_xml",
            "saml_email_attribute", "saml_name_attribute", "enabled", "jit_enabled", "jit_role", "sso_required",
            "break_glass_user_ids")}
