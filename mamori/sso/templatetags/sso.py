from django import template
from django.urls import reverse

register = template.Library()


@register.simple_tag
def sso_signin():
    """The tenant's enabled connection for the sign-in page: name, login URL, whether SSO is required."""
    from mamori.sso.adapter import active_connection

    conn = active_connection()
    if conn is None:
        return None
    if conn.protocol == "saml":
        url = reverse("saml_login", kwargs={"organization_slug": conn.provider_id})
    else:
        url = reverse("openid_connect_login", kwargs={"provider_id": conn.provider_id})
    return {"name": conn.name, "required": conn.sso_required, "url": url}
