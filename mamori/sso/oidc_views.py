"""OpenID Connect callback that always checks the ID token's signature.

allauth's generic adapter skips the signature when the token came straight from the
token endpoint over TLS (OIDC Core 3.1.3.7 allows it). Mamori checks it anyway against
the provider's JWKS (ASVS 5.0 V6.8.2): a token endpoint reached through a compromised
or misconfigured proxy, or a provider that signs with an unexpected key, is refused.
"""

from __future__ import annotations

from allauth.account.internal.decorators import login_not_required
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.http import Http404


class SignatureCheckingOIDCAdapter(OpenIDConnectOAuth2Adapter):
    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict:
        return jwtkit.verify_and_decode(
            credential=id_token,
            keys_url=self.openid_config["jwks_uri"],
            issuer=self.openid_config["issuer"],
            audience=app.client_id,
            lookup_kid=jwtkit.lookup_kid_jwk,
            verify_signature=True,
        )


@login_not_required
def callback(request, provider_id: str):
    try:
        view = OAuth2CallbackView.adapter_view(SignatureCheckingOIDCAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
