"""allauth's social-account adapter for per-tenant SSO.

- No ``SocialApp`` rows: the active tenant's enabled connection is turned into an
  unsaved app on each request (``list_apps``/``get_app``), so tenant A's IdP can
  never be used at tenant B.
- ``pre_social_login`` checks what allauth's generic provider does not (the
  configured issuer, the nonce, ``sub`` of userinfo = ``sub`` of the ID token),
  then resolves the user by issuer + subject; a first sign-in links an existing
  user with the same (verified) e-mail or creates one just in time through
  Mamori's actions. allauth's sign-up flow (and its global e-mail table) is
  never reached.
- Every refusal renders ``sso/error.html`` (403) and writes ``sso.login_failed``.
"""

from __future__ import annotations

import logging

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from mamori.accounts.signals import set_login_method
from mamori.sso.models import SECRET_PURPOSE, SsoConnection, TenantSocialApp
from mamori.tenancy.context import current_tenant

logger = logging.getLogger("mamori.sso")

REASONS = {
    "wrong_issuer": _("The identity provider's token names another issuer than the one configured."),
    "wrong_nonce": _("The sign-in response does not belong to this sign-in attempt (nonce mismatch)."),
    "wrong_audience": _("The identity provider's token was issued for another application (audience)."),
    "invalid_token": _("The identity provider's token could not be verified."),
    "subject_mismatch": _("The identity provider returned inconsistent user identifiers."),
    "no_account": _("There is no account for you in this tenant. Ask your administrator to create one."),
    "account_inactive": _("Your account in this tenant is suspended."),
    "email_not_verified": _("The identity provider has not verified your e-mail address."),
    "no_email": _("The identity provider did not send an e-mail address."),
    "identity_conflict": _("This account is already linked to another identity at this identity provider."),
    "provider_error": _("The identity provider refused or cancelled the sign-in."),
    "not_configured": _("Single sign-on is not configured for this tenant."),
    "provider_unreachable": _("The identity provider could not be reached, or its address is not allowed. "
                              "Try again later or tell your administrator."),
    "bad_signature": _("The identity provider's SAML response is not correctly signed."),
    "expired": _("The identity provider's SAML assertion has expired or is not yet valid."),
    "invalid_assertion": _("The identity provider's SAML response is not valid."),
    "replayed_assertion": _("This SAML assertion was already used. Sign in again."),
    "unsolicited_response": _("The SAML response does not answer a sign-in started here. Sign in again."),
}


def active_connection() -> SsoConnection | None:
    if current_tenant() is None:
        return None
    return SsoConnection.objects.filter(enabled=True).first()


SAML_EMAIL_ATTRIBUTES = ["urn:oid:0.9.2342.19200300.100.1.3", "email", "mail",
                         "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"]
SAML_NAME_ATTRIBUTES = ["urn:oid:2.16.840.1.113730.3.1.241", "displayName", "name",
                        "http://schemas.microsoft.com/identity/claims/displayname"]


METADATA_CACHE_SECONDS = 3600


def sso_requests_session():
    """HTTP session for everything fetched from a tenant's IdP: public addresses only."""
    from django.conf import settings

    from mamori.core.outbound import public_only_session

    return public_only_session(allow_loopback=settings.MAMORI_SSO_ALLOW_HTTP_LOOPBACK)


def fetch_saml_metadata(conn: SsoConnection) -> str:
    """The IdP's metadata XML from its URL, fetched by Mamori (public addresses only, size
    bounded) rather than by python3-saml's urllib, and cached for an hour."""
    import hashlib

    from django.core.cache import cache

    from mamori.sso.actions import MAX_METADATA_LENGTH

    key = "mamori.sso.metadata." + hashlib.sha256(
        f"{conn.tenant_id}|{conn.saml_metadata_url}".encode()).hexdigest()
    xml = cache.get(key)
    if xml is None:
        with sso_requests_session() as session:
            response = session.get(conn.saml_metadata_url, timeout=10, stream=True)
            response.raise_for_status()
            body = response.raw.read(MAX_METADATA_LENGTH + 1, decode_content=True)
        if len(body) > MAX_METADATA_LENGTH:
            raise ValueError("the IdP metadata is too long")
        xml = body.decode("utf-8")
        cache.set(key, xml, METADATA_CACHE_SECONDS)
    return xml


def saml_idp_settings(conn: SsoConnection) -> dict:
    """allauth's ``idp`` settings from the connection's metadata (XML, or fetched from its URL)."""
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

    xml = fetch_saml_metadata(conn) if conn.saml_metadata_url else conn.saml_metadata_xml
    parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml, entity_id=conn.saml_idp_entity_id)
    idp = parsed.get("idp") or {}
    return {"entity_id": conn.saml_idp_entity_id, "x509cert": idp.get("x509cert", ""),
            "sso_url": (idp.get("singleSignOnService") or {}).get("url", "")}


def build_saml_app(conn: SsoConnection) -> TenantSocialApp:
    from django.conf import settings

    mapping = {
        "email": [a for a in [conn.saml_email_attribute] if a] + SAML_EMAIL_ATTRIBUTES,
        "name": [a for a in [conn.saml_name_attribute] if a] + SAML_NAME_ATTRIBUTES,
    }
    app = TenantSocialApp(provider="saml", provider_id=conn.provider_id, client_id=conn.provider_id,
                          name=conn.name, settings={
                              "idp": saml_idp_settings(conn),
                              "attribute_mapping": mapping,
                              "advanced": {
                                  "strict": True,
                                  "want_assertion_signed": True,
                                  "want_attribute_statement": False,
                                  "reject_idp_initiated_sso": True,
                                  "allow_single_label_domains": settings.MAMORI_SSO_ALLOW_HTTP_LOOPBACK,
                              },
                          })
    app.connection = conn
    return app


def build_app(conn: SsoConnection) -> TenantSocialApp:
    from mamori.lifecycle.keys import decrypt_for_tenant

    if conn.protocol == SsoConnection.Protocol.SAML:
        return build_saml_app(conn)

    secret = ""
    if conn.client_secret_encrypted:
        secret = decrypt_for_tenant(conn.tenant_id, conn.client_secret_encrypted, purpose=SECRET_PURPOSE).decode()
    app = TenantSocialApp(provider="openid_connect", provider_id=conn.provider_id, name=conn.name,
                          client_id=conn.client_id, secret=secret,
                          settings={"server_url": conn.issuer, "issuer": conn.issuer, "oauth_pkce_enabled": True,
                                    "fetch_userinfo": True})
    app.connection = conn
    return app


def refuse(request, reason: str, *, connection=None, detail: str = "", user=None, label: str = ""):
    from mamori.sso.actions import record_refusal

    record_refusal(connection=connection, reason=reason, detail=detail, user=user, label=label)
    logger.info("sso sign-in refused: %s %s", reason, detail)
    response = render(request, "sso/error.html", {"reason": REASONS.get(reason, REASONS["invalid_token"]),
                                                  "code": reason}, status=403)
    raise ImmediateHttpResponse(response)


def _error_reason(error, exception) -> str:
    import jwt

    cause = getattr(exception, "__cause__", None)
    if isinstance(cause, jwt.InvalidAudienceError):
        return "wrong_audience"
    if isinstance(cause, jwt.InvalidIssuerError):
        return "wrong_issuer"
    lowered = f"{exception or ''} {cause or ''}".lower()
    if "audience" in lowered:
        return "wrong_audience"
    if "issuer" in lowered:
        return "wrong_issuer"
    if error == "cancelled" or (exception is None and error):
        return "provider_error"
    return "invalid_token"


def _first_attribute(sociallogin, key: str) -> str:
    attributes = sociallogin.account.extra_data or {}
    for name in sociallogin.provider.app.settings.get("attribute_mapping", {}).get(key, []):
        values = attributes.get(name) or []
        if values:
            return str(values[0])
    return ""


def _saml_reason(text: str) -> str:
    lowered = text.lower()
    if "signature" in lowered or "signed" in lowered:
        return "bad_signature"
    if "audience" in lowered:
        return "wrong_audience"
    if "expired" in lowered or "notonorafter" in lowered or "timestamp" in lowered or "notbefore" in lowered:
        return "expired"
    return "invalid_assertion"


class MamoriSocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_requests_session(self):
        """OIDC discovery, token, userinfo and JWKS requests: public addresses only (SSRF),
        with allauth's timeout."""
        import functools

        from allauth.socialaccount import app_settings

        session = sso_requests_session()
        session.request = functools.partial(session.request, timeout=app_settings.REQUESTS_TIMEOUT)
        return session

    def list_apps(self, request, provider=None, client_id=None) -> list[SocialApp]:
        conn = active_connection()
        if conn is None:
            return []
        kind = "saml" if conn.protocol == SsoConnection.Protocol.SAML else "openid_connect"
        if provider and provider not in (conn.provider_id, kind):
            return []
        if client_id and client_id != (conn.provider_id if kind == "saml" else conn.client_id):
            return []
        from mamori.lifecycle.keys import DecryptionError

        try:
            return [build_app(conn)]
        except DecryptionError:
            logger.error("sso: the client secret of %s cannot be decrypted; re-enter it", conn.provider_id)
            return []
        except Exception:  # noqa: BLE001 — unparsable SAML metadata must not break the sign-in page
            logger.exception("sso: cannot build the app of %s", conn.provider_id)
            return []

    def get_provider(self, request, provider, client_id=None):
        return self.get_app(request, provider=provider, client_id=client_id).get_provider(request)

    def is_open_for_signup(self, request, sociallogin) -> bool:
        return False

    def on_authentication_error(self, request, provider, error=None, exception=None, extra_context=None):
        conn = getattr(getattr(provider, "app", None), "connection", None)
        if getattr(conn, "protocol", "") == SsoConnection.Protocol.SAML:
            detail = str((extra_context or {}).get("saml_last_error_reason") or "")
            # No reason from python3-saml: an IdP-initiated response, or no pending ACS request.
            reason = _saml_reason(detail) if detail else (
                "provider_error" if error == "cancelled" else "unsolicited_response")
            refuse(request, reason, connection=conn, detail=detail)
        refuse(request, _error_reason(error, exception), connection=conn,
               detail=f"{error or ''} {type(exception).__name__ if exception else ''}: {exception or ''} "
                      f"({getattr(exception, '__cause__', None) or ''})".strip())

    def pre_social_login(self, request, sociallogin) -> None:
        app = sociallogin.provider.app
        conn = getattr(app, "connection", None)
        if conn is None:
            refuse(request, "not_configured")
        if conn.protocol == SsoConnection.Protocol.SAML:
            set_login_method(request, "sso_saml")
            # A signed assertion of the tenant's own IdP: its e-mail attribute counts as verified.
            email = str(getattr(sociallogin.user, "email", "") or "").strip()[:254]
            claims = {"email": email, "email_verified": bool(email),
                      "name": _first_attribute(sociallogin, "name")}
        else:
            set_login_method(request, "sso_oidc")
            claims, email = self._check_oidc(request, sociallogin, conn)
        if sociallogin.is_existing:
            user = sociallogin.user
            if not user.is_active:
                refuse(request, "account_inactive", connection=conn, user=user, label=email)
            return
        self._first_sign_in(request, sociallogin, conn, claims, email)

    def _check_oidc(self, request, sociallogin, conn):
        data = sociallogin.account.extra_data or {}
        id_token = data.get("id_token") or {}
        userinfo = data.get("userinfo") or {}
        claims = {**id_token, **userinfo}
        email = str(claims.get("email") or "").strip()[:254]
        # Exact match, except that a trailing slash (Auth0 and others publish one) does not count.
        if str(id_token.get("iss") or "").rstrip("/") != conn.issuer.rstrip("/"):
            refuse(request, "wrong_issuer", connection=conn, label=email,
                   detail=f"iss={id_token.get('iss')!s:.200}")
        nonce = (sociallogin.state or {}).get("nonce")
        if not nonce or id_token.get("nonce") != nonce:
            refuse(request, "wrong_nonce", connection=conn, label=email)
        if userinfo and str(userinfo.get("sub")) != str(id_token.get("sub")):
            refuse(request, "subject_mismatch", connection=conn, label=email)
        return claims, email

    def _first_sign_in(self, request, sociallogin, conn, claims, email) -> None:
        from mamori.accounts.models import User
        from mamori.sso.actions import link_identity, provision_user

        uid = sociallogin.account.uid
        if not email:
            refuse(request, "no_email", connection=conn, detail=uid)
        user = User.objects.filter(email__iexact=email).first()
        if user is not None:
            if claims.get("email_verified") is not True:
                refuse(request, "email_not_verified", connection=conn, user=user, label=email)
            if not user.is_active:
                refuse(request, "account_inactive", connection=conn, user=user, label=email)
            if SocialAccount.objects.filter(user=user, provider=conn.provider_id).exists():
                refuse(request, "identity_conflict", connection=conn, user=user, label=email, detail=uid)
        elif conn.jit_enabled:
            if claims.get("email_verified") is False:
                refuse(request, "email_not_verified", connection=conn, label=email)
            user = provision_user(connection=conn, email=email, name=str(claims.get("name") or ""), uid=uid)
        else:
            refuse(request, "no_account", connection=conn, label=email, detail=uid)
        sociallogin.account = link_identity(connection=conn, user=user, uid=uid,
                                            extra_data=sociallogin.account.extra_data)
        sociallogin.user = user
