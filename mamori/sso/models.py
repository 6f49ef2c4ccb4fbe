"""Single sign-on connections, one per tenant (ISMS 9.2.3).

The connection describes the tenant's OpenID Provider; allauth never sees a global
``SocialApp`` row: ``mamori.sso.adapter`` builds the tenant's app from this model on
each request. The client secret is stored encrypted with the tenant's key
(``mamori.lifecycle.keys``) and is never shown again.
"""

from __future__ import annotations

from allauth.socialaccount.models import SocialApp
from django.db import models
from django.utils.translation import gettext_lazy as _

from mamori.access.roles import Role
from mamori.tenancy.models import TenantModel

SECRET_PURPOSE = "sso.client_secret"  # noqa: S105 (a key-derivation label, not a secret)


class SsoConnection(TenantModel):
    class Protocol(models.TextChoices):
        OIDC = "oidc", _("OpenID Connect")
        SAML = "saml", _("SAML 2.0")

    protocol = models.CharField(_("protocol"), max_length=10, choices=Protocol.choices, default=Protocol.OIDC)
    name = models.CharField(_("display name"), max_length=80,
                            help_text=_("Shown on the sign-in button: “Sign in with …”."))
    enabled = models.BooleanField(_("enabled"), default=False)
    issuer = models.URLField(_("issuer URL"), max_length=500, blank=True, default="",
                             help_text=_("The OpenID Provider's issuer; its discovery document is read from "
                                         "<issuer>/.well-known/openid-configuration."))
    client_id = models.CharField(_("client ID"), max_length=255, blank=True, default="")
    client_secret_encrypted = models.TextField(blank=True, default="", editable=False)
    # SAML 2.0: the IdP's metadata (URL or XML), its entity id and the attribute names.
    saml_idp_entity_id = models.CharField(_("IdP entity ID"), max_length=500, blank=True, default="")
    saml_metadata_url = models.URLField(_("IdP metadata URL"), max_length=500, blank=True, default="")
    saml_metadata_xml = models.TextField(_("IdP metadata XML"), blank=True, default="")
    saml_email_attribute = models.CharField(_("e-mail attribute"), max_length=200, blank=True, default="")
    saml_name_attribute = models.CharField(_("name attribute"), max_length=200, blank=True, default="")
    jit_enabled = models.BooleanField(_("create users at first sign-in"), default=False,
                                      help_text=_("Off: only users who already exist in Mamori can sign in."))
    jit_role = models.CharField(_("role of users created at sign-in"), max_length=20, choices=Role.choices,
                                default=Role.VIEWER)
    sso_required = models.BooleanField(_("SSO required"), default=False,
                                       help_text=_("Password sign-in is refused except for break-glass admins."))
    break_glass_user_ids = models.JSONField(_("break-glass admins"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("SSO connection")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="sso_connection_per_tenant")]

    def __str__(self) -> str:
        return self.name

    @property
    def provider_id(self) -> str:
        """allauth's provider id: unique per connection (and so per tenant), part of the callback URL."""
        return f"sso{self.pk}"

    @property
    def has_secret(self) -> bool:
        return bool(self.client_secret_encrypted)


class TenantSocialApp(SocialApp):
    """An unsaved SocialApp built from a tenant's connection; gives allauth Mamori's provider class."""

    class Meta:
        proxy = True
        app_label = "sso"

    connection: SsoConnection | None = None

    def get_provider(self, request):
        from mamori.sso.provider import MamoriOIDCProvider, MamoriSAMLProvider

        if self.provider == "saml":
            return MamoriSAMLProvider(request=request, app=self)
        return MamoriOIDCProvider(request=request, app=self)


class SamlAssertionUse(TenantModel):
    """SAML assertion ids already accepted (until they expire): a replayed assertion is refused."""

    connection = models.ForeignKey(SsoConnection, on_delete=models.CASCADE, related_name="+")
    assertion_id = models.CharField(max_length=255)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "connection", "assertion_id"],
                                               name="saml_assertion_once")]
