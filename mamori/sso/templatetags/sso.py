import re
from urllib.parse import urlsplit

from django import template
from django.urls import reverse

register = template.Library()


# A CSP source expression for one origin: scheme, host name (or IPv4) and port only, so a
# configured URL can never inject another directive (";", spaces, quotes) into the header.
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?")


def _origin(url: str) -> str:
    try:
        parts = urlsplit(url or "")
        origin = f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    except ValueError:  # a bad port
        return ""
    return origin if parts.hostname and _ORIGIN.fullmatch(origin) else ""


def _idp_origins(conn) -> set[str]:
    """Where the sign-in button's form submission is redirected to: the IdP's origin.

    The console's CSP has ``form-action 'self'``, which browsers also apply to the redirects
    of a form submission; without the IdP's origin the "Sign in with …" button is blocked.
    """
    if conn.protocol != "saml":
        return {o for o in [_origin(conn.issuer)] if o}
    if conn.saml_metadata_url and not conn.saml_metadata_xml:
        # The metadata URL's origin; the page never waits for a fetch of the metadata itself.
        return {o for o in [_origin(conn.saml_metadata_url)] if o}
    try:  # the SSO URL from the inline metadata
        from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

        idp = OneLogin_Saml2_IdPMetadataParser.parse(conn.saml_metadata_xml,
                                                     entity_id=conn.saml_idp_entity_id).get("idp") or {}
        return {o for o in [_origin((idp.get("singleSignOnService") or {}).get("url", ""))] if o}
    except Exception:  # noqa: BLE001 (unreadable metadata must not break the sign-in page)
        return set()


@register.simple_tag(takes_context=True)
def sso_signin(context):
    """The tenant's enabled connection for the sign-in page: name, login URL, whether SSO is required.

    Also lets the IdP's origin into this page's CSP ``form-action`` (SecurityHeadersMiddleware).
    """
    from mamori.sso.adapter import active_connection

    conn = active_connection()
    if conn is None:
        return None
    if conn.protocol == "saml":
        url = reverse("saml_login", kwargs={"organization_slug": conn.provider_id})
    else:
        url = reverse("openid_connect_login", kwargs={"provider_id": conn.provider_id})
    request = context.get("request")
    if request is not None:
        request.csp_form_action = getattr(request, "csp_form_action", set()) | _idp_origins(conn)
    return {"name": conn.name, "required": conn.sso_required, "url": url}
