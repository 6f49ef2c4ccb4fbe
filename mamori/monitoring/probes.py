"""The probes: one check per status-page component, run by the worker every minute.

==========  ==================================================================================
console     GET ``/healthz`` → 200 ``{"status": "ok"}``
api         GET ``/api/v1/me`` without a token → 401 ``application/problem+json`` (the API
            stack — routing, tenant middleware, ninja, token authentication — answers)
database    ``SELECT 1`` with its round-trip time
storage     write, read back and delete a small object under ``PROBE_PREFIX`` of the default
            storage (a provider-only prefix, never under ``tenants/``)
mail        SMTP configured: connect (+ STARTTLS/SSL as configured) and ``NOOP``; otherwise the
            embedded outbox table answers a query
worker      the probe task itself runs in the worker: its row is the worker's heartbeat
==========  ==================================================================================

The two HTTP probes run **in process** by default: the worker calls the WSGI application
through Django's request handler (every middleware, URL resolution, views) with the host set
to the first ``ALLOWED_HOSTS`` entry. This needs no network path from the worker to the web
tier (which often has none) and cannot be answered by a different deployment. With
``MAMORI_PROBE_BASE_URL`` set (e.g. ``https://mamori.example.com``) they are real HTTP GETs
through that URL instead — load balancer, TLS and web processes included — with a
``PROBE_TIMEOUT`` second timeout. An in-process request that takes longer than the timeout is
recorded as failed too.

A probe never raises: any error becomes ``ok=False`` with a short reason (the exception's
class and message cut to 300 characters; connection strings and secrets are not in these
messages).
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from mamori.monitoring.components import COMPONENTS

logger = logging.getLogger("mamori.monitoring")
PROBE_PREFIX = "_monitoring/probes/"
PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str = ""


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text}"[:300] if text else exc.__class__.__name__


# --- HTTP self-check ------------------------------------------------------------------------

_client = None


def _probe_host() -> str:
    for host in settings.ALLOWED_HOSTS:
        host = host.lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def _in_process_client():
    """The request handler, built once per process. Building it (middleware, URL
    configuration, view imports) takes seconds and is not what a probe measures, so the first
    use makes one untimed request (``warm_up``)."""
    global _client
    if _client is None:
        from django.test import Client

        client = Client(raise_request_exception=False)
        client.get("/healthz", HTTP_HOST=_probe_host(), secure=bool(getattr(settings, "SECURE_SSL_REDIRECT", False)))
        _client = client
    return _client


def warm_up() -> None:
    if not getattr(settings, "MAMORI_PROBE_BASE_URL", ""):
        try:
            _in_process_client()
        except Exception:  # noqa: BLE001 — the timed probe reports the failure
            logger.warning("in-process probe client could not be built", exc_info=True)


def _in_process_get(path: str) -> tuple[int, str, bytes]:
    response = _in_process_client().get(path, HTTP_HOST=_probe_host(), secure=bool(getattr(settings, "SECURE_SSL_REDIRECT", False)))
    return response.status_code, response.get("Content-Type", ""), response.content


def _url_get(path: str) -> tuple[int, str, bytes]:
    url = settings.MAMORI_PROBE_BASE_URL.rstrip("/") + path
    if not url.startswith(("https://", "http://")):
        raise ValueError("MAMORI_PROBE_BASE_URL must be an http(s) URL")
    request = urllib.request.Request(url, headers={"User-Agent": "mamori-probe",  # noqa: S310 (checked above)
                                                   "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT) as response:  # noqa: S310 (provider-set URL)
            return response.status, response.headers.get("Content-Type", ""), response.read(65536)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read(65536)


def _http_get(path: str) -> tuple[int, str, bytes]:
    if getattr(settings, "MAMORI_PROBE_BASE_URL", ""):
        return _url_get(path)
    return _in_process_get(path)


def probe_console() -> Outcome:
    status, _, body = _http_get("/healthz")
    if status != 200:
        return Outcome(False, f"/healthz answered {status}")
    if json.loads(body or b"{}").get("status") != "ok":
        return Outcome(False, "/healthz did not report ok")
    return Outcome(True, "/healthz 200")


def probe_api() -> Outcome:
    status, content_type, _ = _http_get("/api/v1/me")
    if status != 401 or "application/problem+json" not in content_type:
        return Outcome(False, f"/api/v1/me without a token answered {status} ({content_type or 'no type'})")
    return Outcome(True, "/api/v1/me 401 problem+json")


# --- Database, storage, mail, worker ------------------------------------------------------------

def probe_database() -> Outcome:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        row = cursor.fetchone()
    if not row or row[0] != 1:
        return Outcome(False, "SELECT 1 returned no 1")
    return Outcome(True, f"SELECT 1 on {connection.vendor}")


def probe_storage() -> Outcome:
    name = f"{PROBE_PREFIX}{uuid.uuid4().hex}.txt"
    payload = f"mamori probe {timezone.now().isoformat()}".encode()
    saved = default_storage.save(name, ContentFile(payload))
    try:
        if not saved.startswith(PROBE_PREFIX):
            return Outcome(False, "storage saved the probe outside its prefix")
        with default_storage.open(saved, "rb") as handle:
            if handle.read() != payload:
                return Outcome(False, "object read back differs from what was written")
    finally:
        default_storage.delete(saved)
    if default_storage.exists(saved):
        return Outcome(False, "probe object still exists after delete")
    return Outcome(True, "write, read and delete")


def smtp_configured() -> bool:
    return settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"


def probe_mail() -> Outcome:
    if not smtp_configured():
        from mamori.operations.models import OutboxMessage

        OutboxMessage.objects.order_by("-id").values_list("id", flat=True).first()
        return Outcome(True, "embedded outbox (no SMTP configured)")
    timeout = min(float(getattr(settings, "EMAIL_TIMEOUT", None) or PROBE_TIMEOUT), PROBE_TIMEOUT)
    host, port = settings.EMAIL_HOST, int(settings.EMAIL_PORT)
    context = ssl.create_default_context()
    if getattr(settings, "EMAIL_USE_SSL", False):
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        smtp.ehlo_or_helo_if_needed()
        if getattr(settings, "EMAIL_USE_TLS", False):
            smtp.starttls(context=context)
            smtp.ehlo()
        code, _ = smtp.noop()
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    if code != 250:
        return Outcome(False, f"SMTP NOOP answered {code}")
    return Outcome(True, f"SMTP {host}:{port} NOOP 250")


def probe_worker() -> Outcome:
    """Runs inside the worker's probe task: that it runs at all is the heartbeat."""
    return Outcome(True, "heartbeat")


PROBES: dict[str, Callable[[], Outcome]] = {
    "console": probe_console,
    "api": probe_api,
    "database": probe_database,
    "storage": probe_storage,
    "mail": probe_mail,
    "worker": probe_worker,
}
if set(PROBES) != set(COMPONENTS):  # checked at import: a component without a probe is a bug
    raise ImportError("every status-page component needs a probe: "
                      f"{sorted(set(COMPONENTS) ^ set(PROBES))}")


def run_probe(component: str) -> tuple[Outcome, float]:
    start = time.perf_counter()
    try:
        outcome = PROBES[component]()
    except Exception as exc:  # noqa: BLE001 — a probe reports, never raises
        outcome = Outcome(False, _reason(exc))
    latency_ms = (time.perf_counter() - start) * 1000
    if outcome.ok and latency_ms > PROBE_TIMEOUT * 1000:
        outcome = Outcome(False, f"slower than {PROBE_TIMEOUT:g} s ({latency_ms:.0f} ms)")
    return outcome, round(latency_ms, 3)


def run_probes(now=None) -> list:
    """Run every probe once and store one ``ProbeResult`` per component (provider table)."""
    from mamori.monitoring.models import ProbeResult

    now = now or timezone.now()
    warm_up()
    results = []
    for component in COMPONENTS:
        outcome, latency_ms = run_probe(component)
        results.append(ProbeResult(component=component, at=now, ok=outcome.ok,
                                   latency_ms=latency_ms, detail=outcome.detail[:300]))
        if not outcome.ok:
            logger.warning("probe failed", extra={"component": component, "detail": outcome.detail})
    ProbeResult.objects.bulk_create(results)
    return results
