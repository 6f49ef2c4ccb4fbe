"""Outbound HTTP to addresses a tenant admin chose (SSO discovery, JWKS, SAML metadata).

A tenant admin types the URL, so without a check the server could be made to call
its own private network (SSRF, ASVS 5.0 V1.3.6 / V13.2.4). Every such request
resolves the host and refuses private, loopback, link-local, multicast, reserved
and other non-global addresses; loopback is allowed only when the setting named by
the caller is on (tests and local development). The check runs when the request is
sent, not only when the URL is saved, so a name re-pointed later is caught too.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class UnsafeDestination(requests.exceptions.ConnectionError):
    """The URL's host resolves to an address Mamori does not call."""


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
                or address.is_reserved or address.is_unspecified or not address.is_global)


def check_destination(url: str, *, allow_loopback: bool = False) -> None:
    """Raise ``UnsafeDestination`` unless every address of the URL's host is public."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeDestination(f"no host in {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        raise UnsafeDestination(f"{host} could not be resolved") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if is_public_address(address):
            continue
        if allow_loopback and address.is_loopback:
            continue
        raise UnsafeDestination(f"{host} resolves to a non-public address ({address})")


class PublicOnlyAdapter(HTTPAdapter):
    """A requests transport that refuses non-public destinations (redirects included:
    requests sends every hop through the adapter)."""

    def __init__(self, *args, allow_loopback: bool = False, **kwargs):
        self.allow_loopback = allow_loopback
        super().__init__(*args, **kwargs)

    def send(self, request, *args, **kwargs):
        check_destination(request.url, allow_loopback=self.allow_loopback)
        return super().send(request, *args, **kwargs)


def public_only_session(*, allow_loopback: bool = False) -> requests.Session:
    session = requests.Session()
    adapter = PublicOnlyAdapter(allow_loopback=allow_loopback)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
