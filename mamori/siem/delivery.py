"""The wire side of SIEM webhooks: URL checks (SSRF), payload, signature, one HTTP POST.

No Django models here except for reading event fields; the task in ``tasks.py``
decides what to send and records the outcome.

SSRF: an endpoint must be ``https://`` on a public address. The host name is
resolved when the URL is saved *and* again at every delivery, and the socket is
opened to the address that was checked (no second lookup a DNS rebinding could
change); redirects are never followed. ``MAMORI_WEBHOOK_ALLOW_HTTP_LOOPBACK``
(tests, local development) additionally allows ``http://127.0.0.1`` /
``http://localhost`` / ``http://[::1]``.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from mamori.audit.canonical import format_time
from mamori.core.outbound import is_public_address

TIMEOUT_SECONDS = 10
MAX_BATCH = 100
SIGNATURE_HEADER = "X-Mamori-Signature"
TIMESTAMP_HEADER = "X-Mamori-Timestamp"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


class UnsafeURL(ValueError):
    """The URL may not receive deliveries (scheme, host, or a non-public address)."""


def _allow_loopback() -> bool:
    return bool(getattr(settings, "MAMORI_WEBHOOK_ALLOW_HTTP_LOOPBACK", False))


def _is_loopback_exception(scheme: str, host: str) -> bool:
    return _allow_loopback() and host.lower() in LOOPBACK_HOSTS and scheme in ("http", "https")


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked IP address to connect to


def check_url_syntax(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an acceptable URL, or UnsafeURL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL(_("Enter a valid URL.")) from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeURL(_("Enter a valid URL."))
    if parts.username or parts.password:
        raise UnsafeURL(_("Do not put a user name or password in the URL; use the signature to authenticate."))
    if scheme != "https" and not (scheme == "http" and _is_loopback_exception(scheme, host)):
        raise UnsafeURL(_("The endpoint must use https://."))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def resolve_target(url: str) -> Target:
    """Check the URL and resolve its host to an address that may be contacted."""
    scheme, host, port, path = check_url_syntax(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeURL(_("The host name could not be resolved.")) from None
    addresses = []
    for info in infos:
        try:
            addresses.append(ipaddress.ip_address(info[4][0].split("%")[0]))
        except ValueError:
            continue
    if not addresses:
        raise UnsafeURL(_("The host name could not be resolved."))
    loopback_ok = _is_loopback_exception(scheme, host)
    for address in addresses:
        if not is_public_address(address) and not (loopback_ok and address.is_loopback):
            raise UnsafeURL(_("The endpoint resolves to a private, loopback or link-local address, "
                              "which Mamori does not call."))
    return Target(scheme, host, port, path, str(addresses[0]))


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over the raw body, keyed with the secret as shown (UTF-8)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_payload(event) -> dict[str, Any]:
    """One audit event as delivered: the chain fields, times in ISO 8601 UTC."""
    return {
        "seq": event.seq,
        "id": event.pk,
        "occurred_at": format_time(event.occurred_at),
        "action": event.action,
        "actor_type": event.actor_type,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "before": event.before,
        "after": event.after,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def batch_body(tenant_slug: str, events: list[dict[str, Any]], *, test: bool = False) -> bytes:
    seqs = [e["seq"] for e in events if e.get("seq") is not None]
    body: dict[str, Any] = {
        "tenant": tenant_slug,
        "events": events,
        "first_seq": seqs[0] if seqs else None,
        "last_seq": seqs[-1] if seqs else None,
    }
    if test:
        body["test"] = True
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


@dataclass
class Outcome:
    ok: bool
    status_code: int | None
    error: str
    duration_ms: int


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self):
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def post(url: str, secret: str, body: bytes, *, timeout: float = TIMEOUT_SECONDS) -> Outcome:
    """POST ``body`` signed with ``secret``; 2xx is success, anything else (or no answer) a failure."""
    started = time.monotonic()

    def done(ok: bool, status: int | None, error: str) -> Outcome:
        return Outcome(ok, status, error[:500], int((time.monotonic() - started) * 1000))

    try:
        target = resolve_target(url)
    except UnsafeURL as exc:
        return done(False, None, str(exc))
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Mamori-Webhook/1",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, body),
    }
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        status = response.status
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        return done(False, None, f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()
    if 200 <= status < 300:
        return done(True, status, "")
    return done(False, status, f"HTTP {status}")
