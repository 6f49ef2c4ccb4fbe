"""Client address.

Taken from the socket (``REMOTE_ADDR``). When the immediate peer is one of the
configured trusted proxies (setting ``MAMORI_TRUSTED_PROXIES``, from the environment
variable of the same name: addresses or CIDR ranges, comma-separated), the right-most
address in ``X-Forwarded-For`` that is not itself a trusted proxy is used. A header
sent by an untrusted peer is ignored, so a client cannot choose its own address.

Details that matter for the IP allowlist (``mamori.access.allowlist``):

- IPv4-mapped IPv6 addresses (``::ffff:192.0.2.1``, what a dual-stack socket reports
  for an IPv4 peer) are treated as the IPv4 address, for the peer, the trusted
  proxies and the forwarded hops alike.
- A forwarded hop may carry a port (``192.0.2.1:5000``, ``[2001:db8::1]:443``); it is
  dropped. A hop that is not an address at all (``unknown``, garbage) where the
  walk needs it gives ``None``: the address is unknown, and the allowlist refuses
  unknown addresses. (Before this review the proxy's own address was returned.)
- When every forwarded hop is itself a trusted proxy, the left-most hop is the client.
- No peer address (a Unix socket without a proxy) also gives ``None``.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_FORWARDED_HOPS = 32  # more hops than any real proxy chain: the rest is not read


@lru_cache(maxsize=65536)
def parse_ip(text: str) -> IPAddress | None:
    """An address (IPv4-mapped IPv6 unwrapped to IPv4), or None when ``text`` is not one.

    Memoised (addresses repeat from request to request; parsing IPv6 costs microseconds).
    """
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _parse_hop(hop: str) -> IPAddress | None:
    hop = hop.strip().strip('"')
    if hop.startswith("["):  # [2001:db8::1]:443
        inside, closed, rest = hop[1:].partition("]")
        if not closed or (rest and not rest[1:].isdigit()) or (rest and rest[0] != ":"):
            return None
        hop = inside
    elif hop.count(":") == 1:  # 192.0.2.1:5000 (an IPv6 address has at least two colons)
        hop = hop.partition(":")[0]
    return parse_ip(hop)


def parse_trusted_proxies(values) -> tuple[IPNetwork, ...]:
    """Parse the setting; raises RuntimeError naming the bad entry (refuses to start)."""
    networks = []
    for value in values:
        try:
            net = ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            raise RuntimeError(f"MAMORI_TRUSTED_PROXIES: {value!r} is not an IP address or CIDR range") from None
        if net.version == 6 and net.network_address.ipv4_mapped is not None and net.prefixlen >= 96:
            mapped = net.network_address.ipv4_mapped
            net = ipaddress.ip_network(f"{mapped}/{net.prefixlen - 96}", strict=False)
        networks.append(net)
    return tuple(networks)


@lru_cache(maxsize=8)
def _trusted_networks(values: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return parse_trusted_proxies(values)


def trusted_networks() -> tuple[IPNetwork, ...]:
    from django.conf import settings

    return _trusted_networks(tuple(getattr(settings, "MAMORI_TRUSTED_PROXIES", ()) or ()))


def _is_trusted(ip: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


def client_address(request) -> IPAddress | None:
    """The client's address as an ``ipaddress`` object (see the module docstring)."""
    peer = parse_ip(request.META.get("REMOTE_ADDR", "") or "")
    if peer is None:
        return None
    networks = trusted_networks()
    if not networks or not _is_trusted(peer, networks):
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not forwarded:
        return peer
    hops = [h for h in forwarded.split(",") if h.strip()][-MAX_FORWARDED_HOPS:]
    last = peer
    for hop in reversed(hops):
        ip = _parse_hop(hop)
        if ip is None:
            return None
        if not _is_trusted(ip, networks):
            return ip
        last = ip
    return last  # every hop is a trusted proxy: the left-most one is the client


def client_ip(request) -> str | None:
    ip = client_address(request)
    return str(ip) if ip is not None else None
