"""Personal API tokens: ``mmr_<tenant id>_<key id>_<secret>``.

The tenant id in the token tells the middleware which tenant to open, so the API
needs no tenant in its URLs; the key id finds the row; the secret is compared in
constant time with its stored SHA-256. A token of tenant A can never resolve in
tenant B: the lookup runs inside tenant A's scope (and RLS on PostgreSQL).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from mamori.accounts.models import ApiToken
from mamori.accounts.secrets import ParsedTenantToken, TenantTokenFormat, secret_matches

LAST_USED_RESOLUTION = timedelta(minutes=1)
API_TOKENS = TenantTokenFormat("mmr")
ParsedToken = ParsedTenantToken
generate_token = API_TOKENS.generate
parse_api_token = API_TOKENS.parse


def verify_api_token(parsed: ParsedToken) -> ApiToken | None:
    """The usable token row (with user and tenant), or None.

    Called with the token's claimed tenant already applied to the database;
    the explicit tenant filter keeps the ORM layer equally strict on SQLite.
    This runs on every API request, so the one SELECT (token, user, tenant) is
    compiled once per process and its rows become model instances directly:
    building and compiling the equivalent ``select_related`` queryset cost more
    than the database did (bench/api_bench_findings.md, item 3).
    """
    row = _fetch_token_row(parsed)
    if row is None:
        # Same work as a hit, so timing does not tell whether the key id exists.
        secret_matches(parsed.secret, "0" * 64)
        return None
    token = row
    if not secret_matches(parsed.secret, token.secret_hash):
        return None
    if not token.is_usable or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects_across_tenants.filter(pk=token.pk, tenant_id=parsed.tenant_id).update(last_used_at=now)
    return token


def _fetch_token_row(parsed: ParsedToken) -> ApiToken | None:
    from django.db import connections

    using = "default"
    connection = connections[using]
    sql, parts = _token_query(connection)
    with connection.cursor() as cursor:
        # The key id is unique per tenant: LIMIT 1 needs no ORDER BY.
        cursor.execute(sql, [parsed.prefix, parsed.tenant_id])
        values = cursor.fetchone()
    if values is None:
        return None
    values = list(values)
    for index, converters in _CONVERTERS[connection.vendor]:
        for converter, expression in converters:
            values[index] = converter(values[index], expression, connection)
    token, user, tenant = (model.from_db(using, names, values[part]) for model, names, part in parts)
    user.tenant = tenant
    token.user = user
    token.tenant = tenant
    return token


_QUERIES: dict[str, tuple] = {}
_CONVERTERS: dict[str, list] = {}


def _token_query(connection) -> tuple[str, tuple]:
    """``SELECT <token>, <user>, <tenant> … WHERE prefix = %s AND tenant_id = %s LIMIT 1``,
    and the from-database converters of its columns (datetimes and booleans on
    SQLite, JSON everywhere, as the ORM applies them), built once per vendor."""
    cached = _QUERIES.get(connection.vendor)
    if cached is not None:
        return cached
    from mamori.accounts.models import User
    from mamori.tenancy.models import Tenant

    qn = connection.ops.quote_name
    columns: list[str] = []
    parts = []
    converters = []
    for model, alias in ((ApiToken, "t"), (User, "u"), (Tenant, "n")):
        fields = model._meta.concrete_fields
        start = len(columns)
        for field in fields:
            expression = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(expression) + field.get_db_converters(connection)
            if found:
                converters.append((len(columns), [(c, expression) for c in found]))
            columns.append(f"{alias}.{qn(field.column)}")
        parts.append((model, [f.attname for f in fields], slice(start, len(columns))))
    # Identifiers only, all from model metadata and quoted; the values are parameters.
    sql = (
        f"SELECT {', '.join(columns)} FROM {qn(ApiToken._meta.db_table)} t"  # noqa: S608
        f" INNER JOIN {qn(User._meta.db_table)} u ON u.{qn('id')} = t.{qn('user_id')}"
        f" INNER JOIN {qn(Tenant._meta.db_table)} n ON n.{qn('id')} = t.{qn('tenant_id')}"
        f" WHERE t.{qn('prefix')} = %s AND t.{qn('tenant_id')} = %s LIMIT 1"
    )
    _CONVERTERS[connection.vendor] = converters
    _QUERIES[connection.vendor] = (sql, tuple(parts))
    return _QUERIES[connection.vendor]
