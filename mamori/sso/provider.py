"""allauth's OpenID Connect provider, made strict for Mamori.

- The authorization request carries a ``nonce`` kept in allauth's state; the ID
  token must return it (allauth's generic provider sends none).
- PKCE (S256) is always on.
- The account ``uid`` is the issuer plus the subject (SAML: the IdP's entity id plus
  the NameID), so a user is identified by issuer + subject and never by e-mail alone.
"""

from __future__ import annotations

import hashlib
import secrets

import requests
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.saml.provider import SAMLProvider
from django.http import HttpResponseRedirect

UID_MAX_LENGTH = 191


def identity_uid(issuer: str, subject: str) -> str:
    """The stored identity of a user at an IdP: ``<issuer>#<subject>`` (hashed when too long)."""
    raw = f"{issuer}#{subject}"
    if len(raw) <= UID_MAX_LENGTH:
        return raw
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


class MamoriOIDCProvider(OpenIDConnectProvider):
    id = "openid_connect"
    pkce_enabled_default = True

    def get_pkce_params(self) -> dict:
        from allauth.socialaccount.providers.oauth2.utils import generate_code_challenge

        return generate_code_challenge()

    def extract_uid(self, data):
        id_token = data.get("id_token") or {}
        userinfo = data.get("userinfo") or {}
        issuer = id_token.get("iss") or self.app.settings.get("issuer", "")
        subject = id_token.get("sub") or userinfo.get("sub")
        if not subject:
            raise OAuth2Error("missing_sub")
        return identity_uid(str(issuer), str(subject))

    def redirect(self, request, process, next_url=None, data=None, **kwargs):
        app = self.app
        oauth2_adapter = self.get_oauth2_adapter(request)
        try:  # fetches the discovery document: the IdP may be down, or on a refused address
            client = oauth2_adapter.get_client(request, app)
        except (requests.RequestException, OSError, ValueError, KeyError) as exc:
            from mamori.sso.adapter import refuse

            refuse(request, "provider_unreachable", connection=getattr(app, "connection", None),
                   detail=f"{type(exc).__name__}: {exc}")
        auth_params = kwargs.pop("auth_params", None) or self.get_auth_params()
        pkce_params = self.get_pkce_params()
        code_verifier = pkce_params.pop("code_verifier", None)
        auth_params.update(pkce_params)
        nonce = secrets.token_urlsafe(32)
        auth_params["nonce"] = nonce
        scope = kwargs.pop("scope", None) or self.get_scope()
        state_id = self.stash_redirect_state(
            request, process, next_url, data, pkce_code_verifier=code_verifier, nonce=nonce, **kwargs
        )
        client.state = state_id
        try:
            return HttpResponseRedirect(client.get_redirect_url(oauth2_adapter.authorize_url, scope, auth_params))
        except (OAuth2Error, OSError) as exc:
            from allauth.socialaccount.helpers import render_authentication_error

            return render_authentication_error(request, self, extra_context={"state_id": state_id}, exception=exc)


class MamoriSAMLProvider(SAMLProvider):
    """allauth's SAML provider, with Mamori's checks on top of python3-saml's (signature,
    audience, destination, validity window, issuer), run by allauth's ACS view:

    - each assertion id is accepted once (``SamlAssertionUse``): a replay is refused;
    - only responses to a sign-in this browser started here are accepted (no IdP-initiated
      or unsolicited responses);
    - the uid is the IdP's entity id plus the NameID.
    """

    def sociallogin_from_response(self, request, response):
        remember_assertion(request, self.app.connection, response)
        return super().sociallogin_from_response(request, response)

    def unstash_redirect_state(self, request, state_id):
        from django.core.exceptions import PermissionDenied

        from mamori.sso.adapter import refuse

        try:
            state = super().unstash_redirect_state(request, state_id)
        except PermissionDenied:
            state = None
        if state is None:
            refuse(request, "unsolicited_response", connection=self.app.connection, detail=str(state_id)[:100])
        return state

    def extract_uid(self, data):
        nameid = data.get_nameid()
        if not nameid:
            raise ValueError("missing NameID")
        return identity_uid(self.app.settings["idp"]["entity_id"], str(nameid))


def remember_assertion(request, connection, auth) -> None:
    """Accept each SAML assertion id once, until the assertion expires; refuse a replay."""
    import datetime as dt

    from django.db import IntegrityError, transaction

    from mamori.sso.adapter import refuse
    from mamori.sso.models import SamlAssertionUse

    assertion_id = (auth.get_last_assertion_id() or "")[:255]
    not_after = auth.get_last_assertion_not_on_or_after()
    now = dt.datetime.now(tz=dt.UTC)
    expires = dt.datetime.fromtimestamp(not_after, tz=dt.UTC) if not_after else now + dt.timedelta(hours=1)
    if not assertion_id:
        refuse(request, "invalid_assertion", connection=connection, detail="assertion without ID")
    try:
        with transaction.atomic():
            SamlAssertionUse.objects.create(connection=connection, assertion_id=assertion_id, expires_at=expires)
    except IntegrityError:
        refuse(request, "replayed_assertion", connection=connection, detail=assertion_id)
    SamlAssertionUse.objects.filter(expires_at__lt=now - dt.timedelta(minutes=10)).delete()
