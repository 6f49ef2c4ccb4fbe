"""Per-tenant IP allowlist (ISMS 9.2.3): parsing, matching and enforcement.

**Matching.** A tenant's entries are compiled once into sorted, merged integer ranges
per address family (``ipaddress.collapse_addresses``), and an address is looked up with
one ``bisect``: the cost does not grow noticeably with the number of entries (see
``bench/ip_allowlist.py``). IPv4-mapped IPv6 addresses (``::ffff:192.0.2.1``) are
matched as the IPv4 address they carry.

**Caching and invalidation.** The compiled ranges are kept per process under
(tenant, version); the version is a random stamp on ``IpAllowlistSettings`` replaced
by every change. The small (enabled, version) state is read through Django's cache for
``STATE_TTL`` seconds (and memoised in the process for ``LOCAL_TTL`` seconds in front of
it) and deleted from both when a change is saved and again when it commits. An *allowed*
request therefore costs no query; another worker may keep allowing an address removed
from the list, or keep the list off after it was turned on, for at most
``STATE_TTL + LOCAL_TTL`` seconds (``LOCAL_TTL`` with a shared cache such as Redis). A *refusal* is always confirmed against the database first, so
an address just added, or a list just disabled, is honoured at once everywhere.

**Enforcement.** ``IpAllowlistMiddleware`` (right after ``TenantMiddleware``) checks
every request that has a tenant: the console ``/t/<slug>/`` including its sign-in
pages (before any authentication), and ``/api/`` requests with a valid token of the
tenant. SCIM calls ``enforce_allowlist(request, tenant)`` itself. Health checks,
``/static/`` and the provider console have no tenant and are never checked.

**Audit.** A refusal writes ``access.ip_blocked`` to the tenant's log, at most once per
tenant and client address per ``BLOCK_EVENT_WINDOW`` seconds (``cache.add``), so a
flood from one address writes one event a minute rather than one per request.
With a per-process cache the window is per worker.
"""

from __future__ import annotations

import bisect
import ipaddress
import secrets
import time
from contextlib import nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from mamori.core.net import IPAddress, client_address, parse_ip
from mamori.tenancy.context import current_tenant, tenant_context

#: Seconds the (enabled, version) state of a tenant is cached (see the module docstring).
STATE_TTL = 5
#: At most one ``access.ip_blocked`` event per tenant and address in this many seconds.
BLOCK_EVENT_WINDOW = 60
MAX_ENTRIES = 5000
MAX_COMMENT = 200

_STATE_KEY = "mamori:ip-allowlist:state:{}"
_BLOCK_KEY = "mamori:ip-allowlist:blocked:{}:{}"


# --- Parsing ----------------------------------------------------------------------------------

def parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """One entry as a network, normalised; ValidationError with a translated message.

    ``192.0.2.7`` → ``192.0.2.7/32``; an IPv4-mapped IPv6 network becomes IPv4. A
    network with host bits set (``192.0.2.7/24``) is refused with the likely meaning.
    """
    value = (text or "").strip()
    if not value:
        raise ValidationError(_("Enter an IPv4 or IPv6 address or network."))
    if len(value) > 64 or "%" in value:
        raise ValidationError(_("“%(value)s” is not an IPv4 or IPv6 address or network (CIDR)."),
                              params={"value": value[:64]})
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValidationError(_("“%(value)s” is not an IPv4 or IPv6 address or network (CIDR)."),
                                  params={"value": value}) from None
        raise ValidationError(
            _("“%(value)s” has bits set after the prefix length; did you mean %(network)s?"),
            params={"value": value, "network": str(loose)}) from None
    if network.version == 6 and network.prefixlen >= 96 and network.network_address.ipv4_mapped is not None:
        network = ipaddress.ip_network(f"{network.network_address.ipv4_mapped}/{network.prefixlen - 96}")
    return network


def normalise_cidr(text: str) -> str:
    return str(parse_network(text))


@dataclass(frozen=True)
class EntryLine:
    """One entry as typed in the console's text box: ``CIDR [comment]``, with its line number."""

    line: int
    cidr: str
    comment: str


def split_lines(text: str) -> list[EntryLine]:
    """The console's text box: one ``network comment`` per line; blank lines and ``#`` lines skipped."""
    entries = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        comment = parts[1].strip() if len(parts) > 1 else ""
        if comment.startswith("#"):
            comment = comment[1:].strip()
        entries.append(EntryLine(number, parts[0], comment))
    return entries


# --- Matching ---------------------------------------------------------------------------------

class CompiledAllowlist:
    """Sorted, merged ranges per family; ``contains`` is one bisect."""

    __slots__ = ("_v4_starts", "_v4_ends", "_v6_starts", "_v6_ends", "size")

    def __init__(self, networks) -> None:
        v4 = [n for n in networks if n.version == 4]
        v6 = [n for n in networks if n.version == 6]
        self.size = len(v4) + len(v6)
        self._v4_starts, self._v4_ends = self._ranges(v4)
        self._v6_starts, self._v6_ends = self._ranges(v6)

    @staticmethod
    def _ranges(networks) -> tuple[list[int], list[int]]:
        starts: list[int] = []
        ends: list[int] = []
        for net in ipaddress.collapse_addresses(networks):  # sorted, merged, no overlaps
            first, last = int(net.network_address), int(net.broadcast_address)
            if ends and first <= ends[-1] + 1:
                ends[-1] = max(ends[-1], last)
            else:
                starts.append(first)
                ends.append(last)
        return starts, ends

    @classmethod
    def from_strings(cls, cidrs) -> CompiledAllowlist:
        return cls([parse_network(c) for c in cidrs])

    def contains_ip(self, ip: IPAddress) -> bool:
        if ip.version == 6:
            mapped = ip.ipv4_mapped
            if mapped is not None:
                ip = mapped
        if ip.version == 4:
            starts, ends = self._v4_starts, self._v4_ends
        else:
            starts, ends = self._v6_starts, self._v6_ends
        number = int(ip)
        index = bisect.bisect_right(starts, number) - 1
        return index >= 0 and number <= ends[index]

    def contains(self, address: str) -> bool:
        ip = parse_ip(address or "")
        return ip is not None and self.contains_ip(ip)


# --- State and cache --------------------------------------------------------------------------

@dataclass(frozen=True)
class State:
    enabled: bool
    version: str


_DISABLED = State(False, "")
# tenant id → (version, compiled ranges); a new version replaces the tenant's entry.
_COMPILED: dict[int, tuple[str, CompiledAllowlist]] = {}


def new_version() -> str:
    return secrets.token_hex(8)


def _read_state(tenant_id: int) -> State:
    from mamori.access.allowlist_models import IpAllowlistSettings

    row = IpAllowlistSettings.objects_across_tenants.filter(tenant_id=tenant_id).values_list(
        "enabled", "version").first()
    return State(bool(row[0]), row[1]) if row else _DISABLED


# Process-local memo in front of Django's cache (whose local-memory backend pickles every
# value: ~7 µs a read). Keyed by tenant id and creation time, so a re-used id is another key.
_LOCAL: dict[tuple[int, object], tuple[float, State]] = {}
LOCAL_TTL = 1.0


def _state(tenant, *, fresh: bool = False) -> State:
    local_key = (tenant.pk, tenant.created_at)
    now = time.monotonic()
    if not fresh:
        hit = _LOCAL.get(local_key)
        if hit is not None and hit[0] > now:
            return hit[1]
    key = _STATE_KEY.format(tenant.pk)
    cached = None if fresh else cache.get(key)
    if cached is not None:
        state = State(*cached)
    else:
        state = _read_state(tenant.pk)
        cache.set(key, (state.enabled, state.version), STATE_TTL)
    if len(_LOCAL) > 10_000:
        _LOCAL.clear()
    _LOCAL[local_key] = (now + LOCAL_TTL, state)
    return state


def forget_state(tenant_id: int) -> None:
    """Called when a change commits: the next request reads the new state."""
    cache.delete(_STATE_KEY.format(tenant_id))
    for key in [k for k in _LOCAL if k[0] == tenant_id]:
        _LOCAL.pop(key, None)
    _COMPILED.pop(tenant_id, None)


def compiled_for(tenant_id: int, version: str) -> CompiledAllowlist:
    hit = _COMPILED.get(tenant_id)
    if hit is not None and hit[0] == version:
        return hit[1]
    from mamori.access.allowlist_models import IpAllowlistEntry

    cidrs = IpAllowlistEntry.objects_across_tenants.filter(tenant_id=tenant_id).values_list("cidr", flat=True)
    compiled = CompiledAllowlist([ipaddress.ip_network(c) for c in cidrs])
    _COMPILED[tenant_id] = (version, compiled)
    return compiled


def active_override(tenant_id: int, now=None):
    from mamori.access.allowlist_models import IpAllowlistOverride

    now = now or timezone.now()
    return (IpAllowlistOverride.objects_across_tenants
            .filter(tenant_id=tenant_id, ended_at__isnull=True, starts_at__lte=now, expires_at__gt=now)
            .order_by("-expires_at").first())


# --- Enforcement ------------------------------------------------------------------------------

def surface(request) -> str:
    path = request.path
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/scim/"):
        return "scim"
    return "console"


def _tenant_scope(tenant):
    active = current_tenant()
    return nullcontext() if active is not None and active.pk == tenant.pk else tenant_context(tenant)


_UNCHECKED = object()


def enforce_allowlist(request, tenant) -> HttpResponse | None:
    """None when ``request`` may reach ``tenant``; else the 403 page or problem (already audited).

    Checked once per request (the answer is remembered on the request), so SCIM may call it
    even where the middleware already did. Runs inside the tenant's context; opens it if needed.
    """
    remembered = getattr(request, "_mamori_allowlist", _UNCHECKED)
    if remembered is not _UNCHECKED and remembered[0] == tenant.pk:
        return remembered[1]
    with _tenant_scope(tenant):
        state = _state(tenant)
        if not state.enabled:
            result = None
        else:
            ip = client_address(request)
            if ip is not None and compiled_for(tenant.pk, state.version).contains_ip(ip):
                result = None
            else:
                result = _confirm_refusal(request, tenant, ip)
    request._mamori_allowlist = (tenant.pk, result)
    return result


def _confirm_refusal(request, tenant, ip: IPAddress | None) -> HttpResponse | None:
    """The cached answer said no: check again against the database, then the override."""
    state = _state(tenant, fresh=True)
    if not state.enabled:
        return None
    if ip is not None and compiled_for(tenant.pk, state.version).contains_ip(ip):
        return None
    if active_override(tenant.pk) is not None:
        return None
    where = surface(request)
    _audit_refusal(request, tenant, ip, where)
    return blocked_response(request, tenant, ip, where)


def _audit_refusal(request, tenant, ip, where: str) -> None:
    from mamori.access.actions_allowlist import record_ip_blocked
    from mamori.audit.events import Actor

    address = str(ip) if ip is not None else ""
    try:
        first = cache.add(_BLOCK_KEY.format(tenant.pk, address or "unknown"), 1, BLOCK_EVENT_WINDOW)
    except Exception:  # noqa: BLE001 — a broken cache must not stop the audit
        first = True
    if not first:
        return
    token = getattr(request, "api_token", None)
    actor = Actor.for_api_token(token) if token is not None else Actor.anonymous(address or "unknown")
    record_ip_blocked(actor=actor, ip=address, surface=where, path=request.path)


def _language(request, tenant, where: str) -> str:
    from django.utils.translation import get_supported_language_variant

    if where == "console":
        candidate = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    else:
        from mamori.api.auth import _accepted_language

        user = getattr(request, "api_user", None)
        candidate = _accepted_language(request) or getattr(user, "language", "")
    for code in (candidate, tenant.language, settings.LANGUAGE_CODE):
        if code:
            try:
                return get_supported_language_variant(code)
            except LookupError:
                continue
    return settings.LANGUAGE_CODE


def blocked_response(request, tenant, ip: IPAddress | None, where: str) -> HttpResponse:
    address = str(ip) if ip is not None else ""
    with translation.override(_language(request, tenant, where)):
        if where in ("api", "scim"):
            from mamori.api.problems import problem

            if address:
                detail = _("Requests from your IP address (%(ip)s) are not allowed for this tenant. "
                           "Ask the tenant's administrator to add it to the IP allowlist.") % {"ip": address}
            else:
                detail = _("Your IP address could not be determined, and this tenant only allows listed "
                           "addresses.")
            response = problem(request, 403, detail)
        else:
            html = render_to_string("console/allowlist/blocked.html", {
                "tenant": tenant, "ip": address, "LANGUAGE_CODE": translation.get_language(),
                "request_id": getattr(request, "request_id", ""),
            })
            response = HttpResponse(html, status=403, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


class IpAllowlistMiddleware:
    """Refuse requests to a tenant from addresses outside its allowlist (after TenantMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            refused = enforce_allowlist(request, tenant)
            if refused is not None:
                return refused
        return self.get_response(request)


# --- Reading for pages and the API --------------------------------------------------------------

@dataclass(frozen=True)
class AllowlistView:
    enabled: bool
    entries: list
    updated_at: object
    updated_by: object
    override: object
    client_ip: str | None
    client_listed: bool


def allowlist_for(request, tenant) -> AllowlistView:
    """What the settings page and the API show (the active tenant's rows)."""
    from mamori.access.allowlist_models import IpAllowlistEntry, IpAllowlistSettings

    row = IpAllowlistSettings.objects.select_related("updated_by").first()
    entries = list(IpAllowlistEntry.objects.order_by("id"))
    compiled = CompiledAllowlist([ipaddress.ip_network(e.cidr) for e in entries])
    ip = client_address(request)
    return AllowlistView(
        enabled=bool(row and row.enabled), entries=entries,
        updated_at=row.updated_at if row else None, updated_by=row.updated_by if row else None,
        override=active_override(tenant.pk), client_ip=str(ip) if ip is not None else None,
        client_listed=ip is not None and compiled.contains_ip(ip),
    )
