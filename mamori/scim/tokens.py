"""SCIM bearer tokens: ``mmrscim_<tenant id>_<key id>_<secret>``.

Distinct from personal API tokens (``mmr_…``): a SCIM token belongs to the tenant,
not to a user, and is only accepted under ``/scim/``. As with API tokens, the tenant
id tells the middleware which tenant to open, the key id finds the row and the
secret is compared in constant time with its stored SHA-256; the lookup runs inside
the claimed tenant (RLS on PostgreSQL), so a token of tenant A never resolves in B.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from mamori.accounts.secrets import ParsedTenantToken, TenantTokenFormat, secret_matches

PREFIX = "mmrscim_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
SCIM_TOKENS = TenantTokenFormat(PREFIX.rstrip("_"))
ParsedScimToken = ParsedTenantToken
generate_scim_token = SCIM_TOKENS.generate
parse_scim_token = SCIM_TOKENS.parse


def verify_scim_token(parsed: ParsedScimToken):
    """``(token, None)`` for a usable token, else ``(row or None, reason)``.

    Runs with the claimed tenant applied to the database; the explicit tenant filter
    keeps SQLite (no RLS) equally strict. The reason is for the audit log only.
    """
    from mamori.scim.models import ScimToken

    row = (ScimToken.objects_across_tenants.select_related("tenant")
           .filter(tenant_id=parsed.tenant_id, prefix=parsed.prefix).first())
    if row is None:
        secret_matches(parsed.secret, "0" * 64)  # same work as a hit
        return None, "unknown_token"
    if not secret_matches(parsed.secret, row.secret_hash):
        return row, "wrong_secret"
    if row.revoked_at is not None:
        return row, "revoked"
    if not row.is_usable:
        return row, "expired"
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        ScimToken.objects_across_tenants.filter(pk=row.pk, tenant_id=parsed.tenant_id).update(last_used_at=now)
        row.last_used_at = now
    return row, None
