from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "mamori.sso"
    label = "sso"
    verbose_name = "Single sign-on (OIDC and SAML) per tenant"
