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
from mamori.core.prepared import (
    SqlPrepared,
    execute_prepared,
    first_row,
    first_statements,
    prepared_enabled,
)
from mamori.tenancy.context import rls_statement, rls_statement_bytes

LAST_USED_RESOLUTION = timedelta(minutes=1)
API_TOKENS = TenantTokenFormat("mmr")
ParsedToken = ParsedTenantToken
generate_token = API_TOKENS.generate
parse_api_token = API_TOKENS.parse


def verify_api_token(parsed: ParsedToken, *, apply_tenant: bool = False) -> ApiToken | None:
    """The usable token row (with user and tenant), or None.

    Called with the token's claimed tenant already applied to the database, or with
    ``apply_tenant=True`` to apply it here, in the same round trip as the lookup (on
    PostgreSQL the ``set_config`` statement and then the lookup, as two statements of one
    query string: the lookup still runs as the application role under that tenant's RLS).
    The explicit tenant filter keeps the ORM layer equally strict on SQLite.
    This runs on every API request, so the one SELECT (token, user, tenant) is
    compiled once per process and its rows become model instances directly:
    building and compiling the equivalent ``select_related`` queryset cost more
    than the database did (bench/api_bench_findings.md, item 3). The same SELECT
    also answers whether the token's user is a support user (``token.support_user``;
    ``mamori.support.accounts.is_support_user`` as a column, not a second query) and
    whether the tenant has an active SIEM subscription (``token.siem_subscribed``).
    """
    row = _fetch_token_row(parsed, apply_tenant=apply_tenant)
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


def _fetch_token_row(parsed: ParsedToken, *, apply_tenant: bool = False) -> ApiToken | None:
    from django.db import connections

    using = "default"
    connection = connections[using]
    sql, parts = _token_query(connection)
    params: list = [parsed.prefix, parsed.tenant_id]
    rls = apply_tenant and connection.vendor == "postgresql"
    if rls and prepared_enabled() and connection.in_atomic_block:
        # The lookup costs PostgreSQL ten times more to plan than to run, so it runs prepared
        # (mamori.core.prepared): with the transaction's BEGIN and the set_config, in one
        # round trip, as an SQL-level prepared statement; failing that, protocol-level.
        result = first_statements(connection, [rls_statement_bytes(parsed.tenant_id)],
                                  then=_lookup_statement(connection), params=params)
        if result is not None:
            return _token_from_row(first_row(connection, result), parts, connection, using)
        from psycopg import Cursor

        prefix_sql, prefix_params = rls_statement(parsed.tenant_id)

        connection.ensure_connection()
        with Cursor(connection.connection) as cursor:
            execute_prepared(cursor, prefix_sql, prefix_params)
            execute_prepared(cursor, sql, params)
            values = cursor.fetchone()
        return _token_from_row(values, parts, connection, using)
    # Two statements in one string need client-side binding (Django's default for psycopg 3);
    # with server-side binding the set_config goes first, in its own round trip.
    together = rls and connection.settings_dict.get("OPTIONS", {}).get("server_side_binding") is not True
    with connection.cursor() as cursor:
        if rls:
            prefix_sql, prefix_params = rls_statement(parsed.tenant_id)
            if together:
                sql, params = f"{prefix_sql}; {sql}", [*prefix_params, *params]
            else:
                cursor.execute(prefix_sql, prefix_params)
        # The key id is unique per tenant: LIMIT 1 needs no ORDER BY.
        cursor.execute(sql, params)
        if together:
            cursor.nextset()  # past the set_config row, to the lookup's
        values = cursor.fetchone()
    return _token_from_row(values, parts, connection, using)


def _token_from_row(values, parts, connection, using: str) -> ApiToken | None:
    if values is None:
        return None
    values = list(values)
    siem_subscribed = bool(values.pop())
    support_user = bool(values.pop())
    for index, converters in _CONVERTERS[connection.vendor]:
        for converter, expression in converters:
            values[index] = converter(values[index], expression, connection)
    token, user, tenant = (model.from_db(using, names, values[part]) for model, names, part in parts)
    user.tenant = tenant
    token.user = user
    token.tenant = tenant
    token.support_user = support_user
    token.siem_subscribed = siem_subscribed
    return token


_LOOKUP: list[SqlPrepared] = []


def _lookup_statement(connection) -> SqlPrepared:
    """The token lookup as ``PREPARE mamori_token_lookup(text, bigint)``."""
    if not _LOOKUP:
        sql, _parts = _token_query(connection)
        numbered = sql.replace("%s", "$1", 1).replace("%s", "$2", 1)
        _LOOKUP.append(SqlPrepared("mamori_token_lookup", ["text", "bigint"], numbered))
    return _LOOKUP[0]


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
    from mamori.siem.models import WebhookSubscription
    from mamori.support.models import SupportAccessRequest
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
    # Last column: is the user a support user (some support grant maps to it)? As
    # ``is_support_user``: scoped to the user's own tenant (and by RLS on PostgreSQL).
    grant_user = SupportAccessRequest._meta.get_field("support_user").column
    columns.append(
        f"EXISTS (SELECT 1 FROM {qn(SupportAccessRequest._meta.db_table)} s"  # noqa: S608
        f" WHERE s.{qn('tenant_id')} = u.{qn('tenant_id')} AND s.{qn(grant_user)} = u.{qn('id')})"
    )
    # And does the tenant have an active SIEM subscription (``mamori.siem.signals``: a write
    # of this request then needs no query of its own to decide whether to queue deliveries)?
    columns.append(
        f"EXISTS (SELECT 1 FROM {qn(WebhookSubscription._meta.db_table)} w"  # noqa: S608
        f" WHERE w.{qn('tenant_id')} = t.{qn('tenant_id')} AND w.{qn('active')})"
    )
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
