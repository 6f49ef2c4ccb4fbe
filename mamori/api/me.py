"""GET /me: who the token acts as, and in which tenant."""

from __future__ import annotations

from ninja import Router, Schema

from mamori.api.auth import api_user
from mamori.api.common import AUTH

router = Router(tags=["me"])


class TenantOut(Schema):
    slug: str
    name: str
    time_zone: str
    language: str


class MeOut(Schema):
    id: int
    email: str
    name: str
    role: str
    language: str
    tenant: TenantOut


@router.get("/me", response={200: MeOut, **AUTH})
def get_me(request):
    """The token's user and tenant (the tenant comes from the token, never from the URL)."""
    user = api_user(request)
    return {
        "id": user.pk,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "language": user.language or request.tenant.language,
        "tenant": request.tenant,
    }
