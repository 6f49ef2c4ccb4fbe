"""Client address.

Taken from the socket (``REMOTE_ADDR``). When the immediate peer is one of the
configured trusted proxies (``MAMORI_TRUSTED_PROXIES``), the right-most address
in ``X-Forwarded-For`` that is not itself a trusted proxy is used. A header sent
by an untrusted peer is ignored, so a client cannot choose its own address.
"""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache


@lru_cache(maxsize=1)
def _trusted_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    raw = os.environ.get("MAMORI_TRUSTED_PROXIES", "")
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip())


def _is_trusted(addr: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in net for net in _trusted_networks())


def _valid(addr: str) -> str | None:
    try:
        return str(ipaddress.ip_address(addr.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    peer = _valid(request.META.get("REMOTE_ADDR", "") or "")
    if peer is None or not _is_trusted(peer):
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        addr = _valid(hop)
        if addr is None:
            return peer
        if not _is_trusted(addr):
            return addr
    return peer
