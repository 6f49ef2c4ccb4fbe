"""Single sign-on: the tenant's OpenID Connect or SAML 2.0 connection (ISMS 9.2.3). Tenant admins only.

``GET`` returns the connection with the values to register at the identity provider
(OIDC redirect URI; SAML ACS URL and SP entity ID); the client secret is write-only (only
``client_secret_set`` is returned). ``PUT`` creates or replaces the connection; an
absent or empty ``client_secret`` keeps the stored one.
"""

from __future__ import annotations

from typing import Annotated, Literal

from ninja import Router, Schema
from pydantic import Field

from mamori.access.errors import NotFound
from mamori.access.roles import Perm
from mamori.api.auth import actor, require_permission
from mamori.api.common import CHANGE, RESTRICTED_READ, Storable
from mamori.sso.actions import save_connection
from mamori.sso.queries import connection_out, tenant_connection

router = Router(tags=["security"])

Role = Literal["unit_admin", "editor", "reviewer", "viewer"]


class SsoConnectionIn(Schema):
    protocol: Literal["oidc", "saml"] = "oidc"
    name: Annotated[str, Field(max_length=200), Storable]
    issuer: Annotated[str, Field(max_length=1000), Storable] = Field(
        default="", description="OIDC: the OpenID Provider's issuer URL (https); discovery is read from it.")
    client_id: Annotated[str, Field(max_length=1000), Storable] = ""
    client_secret: Annotated[str, Field(max_length=2000), Storable] | None = Field(
        default=None, description="Write-only. Absent or empty: keep the stored secret.")
    saml_idp_entity_id: Annotated[str, Field(max_length=1000), Storable] = ""
    saml_metadata_url: Annotated[str, Field(max_length=1000), Storable] = Field(
        default="", description="SAML: the IdP's metadata URL (or give saml_metadata_xml).")
    saml_metadata_xml: Annotated[str, Field(max_length=200_000), Storable] = ""
    saml_email_attribute: Annotated[str, Field(max_length=200), Storable] = ""
    saml_name_attribute: Annotated[str, Field(max_length=200), Storable] = ""
    enabled: bool = False
    jit_enabled: bool = Field(default=False, description="Create users at their first sign-in.")
    jit_role: Role = "viewer"
    sso_required: bool = Field(default=False, description="Refuse password sign-in except for break-glass admins.")
    break_glass_user_ids: list[Annotated[int, Field(ge=1, lt=2**63)]] = Field(default_factory=list, max_length=50)


class SsoConnectionOut(Schema):
    protocol: str
    name: str
    enabled: bool
    issuer: str
    client_id: str
    client_secret_set: bool
    jit_enabled: bool
    jit_role: str
    sso_required: bool
    break_glass_user_ids: list[int]
    saml_idp_entity_id: str
    saml_metadata_url: str
    saml_metadata_xml: str
    saml_email_attribute: str
    saml_name_attribute: str
    redirect_uri: str = Field(description="OIDC: register this redirect URI at the identity provider.")
    initiate_login_uri: str
    acs_url: str = Field(description="SAML: the assertion consumer service URL to register at the IdP.")
    sp_entity_id: str = Field(description="SAML: Mamori's entity ID (the audience of the assertions).")


def _require_admin(request) -> None:
    require_permission(request, Perm.MANAGE_SECURITY, view="api:get_sso_connection")


@router.get("/sso", response={200: SsoConnectionOut, **RESTRICTED_READ})
def get_sso_connection(request):
    """The tenant's SSO connection (404 when none is configured). The secret is never returned."""
    _require_admin(request)
    conn = tenant_connection()
    if conn is None:
        raise NotFound
    return connection_out(request, conn)


@router.put("/sso", response={200: SsoConnectionOut, **CHANGE})
def put_sso_connection(request, payload: SsoConnectionIn):
    """Create or replace the SSO connection; 422 lists each invalid setting."""
    conn = save_connection(actor=actor(request), **payload.model_dump())
    return connection_out(request, conn)
