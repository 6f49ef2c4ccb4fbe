"""Reads for the SSO pages and API."""

from __future__ import annotations

from django.urls import get_script_prefix, reverse

from mamori.tenancy.context import require_tenant


def tenant_connection():
    """The active tenant's SSO connection (enabled or not), or None."""
    from mamori.sso.models import SsoConnection

    return SsoConnection.objects.first()


def tenant_url(request, name: str, **kwargs) -> str:
    """Absolute URL of a tenant page, also from the API (which runs outside ``/t/<slug>/``)."""
    path = reverse(name, urlconf="mamori.urls_tenant", kwargs=kwargs)[len(get_script_prefix()):]
    return request.build_absolute_uri(f"/t/{require_tenant().slug}/{path}")


def idp_values(request, conn) -> dict | None:
    """What the administrator enters at the identity provider (None until the connection is saved)."""
    if conn is None:
        return None
    if conn.protocol == "saml":
        metadata = tenant_url(request, "saml_metadata", organization_slug=conn.provider_id)
        return {
            "acs_url": tenant_url(request, "saml_acs", organization_slug=conn.provider_id),
            "sp_entity_id": metadata,
            "sp_metadata_url": metadata,
            "initiate_login_uri": tenant_url(request, "saml_login", organization_slug=conn.provider_id),
        }
    return {
        "redirect_uri": tenant_url(request, "openid_connect_callback", provider_id=conn.provider_id),
        "initiate_login_uri": tenant_url(request, "openid_connect_login", provider_id=conn.provider_id),
        "scopes": "openid email profile",
    }


def connection_out(request, conn) -> dict:
    values = idp_values(request, conn) or {}
    return {
        "protocol": conn.protocol, "name": conn.name, "enabled": conn.enabled, "issuer": conn.issuer,
        "client_id": conn.client_id, "client_secret_set": conn.has_secret, "jit_enabled": conn.jit_enabled,
        "jit_role": conn.jit_role, "sso_required": conn.sso_required,
        "break_glass_user_ids": list(conn.break_glass_user_ids or []),
        "saml_idp_entity_id": conn.saml_idp_entity_id, "saml_metadata_url": conn.saml_metadata_url,
        "saml_metadata_xml": conn.saml_metadata_xml, "saml_email_attribute": conn.saml_email_attribute,
        "saml_name_attribute": conn.saml_name_attribute,
        "redirect_uri": values.get("redirect_uri", ""), "initiate_login_uri": values.get("initiate_login_uri", ""),
        "acs_url": values.get("acs_url", ""), "sp_entity_id": values.get("sp_entity_id", ""),
    }
