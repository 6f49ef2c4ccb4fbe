"""Health endpoints and error pages (never a stack trace, never a 500 page that leaks)."""

from __future__ import annotations

import sys

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
def home(request):
    return redirect("/provider/")


@never_cache
@require_GET
def healthz(request):
    """The process is up (no dependencies checked)."""
    return JsonResponse({"status": "ok"})


# Once every migration is applied, the code of this process cannot fall behind the
# database again (a new release restarts the process), so the plan is not rebuilt.
_migrations_applied = False


def _pending_migrations() -> int:
    global _migrations_applied
    if _migrations_applied:
        return 0
    executor = MigrationExecutor(connection)
    pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    _migrations_applied = pending == 0
    return pending


WORKER_STALE_SECONDS = 180  # the worker probes every minute: three missed beats
CLOCK_STALE_SECONDS = 30 * 60  # the clock is checked every 10 minutes


def _storage_check() -> dict:
    from mamori.monitoring.probes import probe_storage

    try:
        outcome = probe_storage()
    except Exception as exc:  # noqa: BLE001 — report, never raise
        return {"status": "error", "reason": exc.__class__.__name__}
    return {"status": "ok"} if outcome.ok else {"status": "error", "reason": outcome.detail}


def _worker_check(now) -> dict:
    from mamori.monitoring.queries import worker_heartbeat

    beat = worker_heartbeat()
    if beat is None:
        return {"status": "unknown", "reason": "no heartbeat recorded (is mamori worker running?)"}
    age = int((now - beat).total_seconds())
    if age > WORKER_STALE_SECONDS:
        return {"status": "stale", "age_seconds": age, "reason": f"last heartbeat {age} s ago"}
    return {"status": "ok", "age_seconds": age}


def _clock_check(now) -> dict:
    from django.conf import settings

    from mamori.monitoring.queries import clock_state

    state = clock_state()
    limit = settings.MAMORI_CLOCK_MAX_OFFSET_MS
    if state is None:
        return {"status": "unknown", "reason": "the clock has not been checked yet", "max_offset_ms": limit}
    body = {"status": state.state, "offset_ms": state.offset_ms, "max_offset_ms": limit,
            "checked_at": state.checked_at.isoformat()}
    if (now - state.checked_at).total_seconds() > CLOCK_STALE_SECONDS:
        body.update(status="stale", reason="no clock check in the last 30 minutes")
    elif state.state != "ok":
        body["reason"] = state.reason
    return body


@never_cache
@require_GET
def readyz(request):
    """Ready to serve (200) or not (503), with each check and its reason as JSON.

    Decide readiness: the database answers, every migration is applied, the default storage
    can write, read and delete an object. Reported without failing readiness (taking web
    processes out of the load balancer would not fix them): the worker's heartbeat age and
    the clock check's state — when either is not ``ok`` its name is listed in ``warnings``. Runs outside the request
    transaction (see ``TenantMiddleware``) so that an unreachable database is reported here
    as 503 JSON rather than as an error page. Only states and exception class names are
    shown, never connection strings or secrets.
    """
    from django.utils import timezone

    checks: dict[str, dict] = {}
    ok = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = {"status": "ok", "vendor": connection.vendor}
    except Exception as exc:  # noqa: BLE001 — report, never raise
        ok = False
        checks["database"] = {"status": "error", "error": exc.__class__.__name__}
    if ok:
        try:
            pending = _pending_migrations()
            checks["migrations"] = {"status": "ok" if not pending else "pending", "pending": pending}
            ok = not pending
        except Exception as exc:  # noqa: BLE001
            ok = False
            checks["migrations"] = {"status": "error", "error": exc.__class__.__name__}
    else:
        checks["migrations"] = {"status": "unknown"}
    checks["storage"] = _storage_check()
    ok = ok and checks["storage"]["status"] == "ok"
    warnings: list[str] = []
    if checks["migrations"]["status"] == "ok":
        now = timezone.now()
        for name, check in (("worker", _worker_check), ("clock", _clock_check)):
            try:
                checks[name] = check(now)
            except Exception as exc:  # noqa: BLE001
                checks[name] = {"status": "error", "reason": exc.__class__.__name__}
            if checks[name]["status"] != "ok":
                warnings.append(name)
    else:
        reason = "database not ready"
        checks["worker"] = {"status": "unknown", "reason": reason}
        checks["clock"] = {"status": "unknown", "reason": reason}
        warnings = ["worker", "clock"]
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks, "warnings": warnings},
                        status=200 if ok else 503)


def _wants_json(request) -> bool:
    return request.path_info.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def _error(request, status: int, title: str, template: str):
    if _wants_json(request):
        return JsonResponse({"type": "about:blank", "title": title, "status": status},
                            status=status, content_type="application/problem+json")
    return render(request, template, status=status)


def not_found(request, exception=None):
    return _error(request, 404, "Not Found", "404.html")


def forbidden(request, exception=None):
    return _error(request, 403, "Forbidden", "403.html")


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        return _error(request, 413, "Content Too Large", "413.html")
    return _error(request, 400, "Bad Request", "400.html")


def server_error(request):
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return _database_unavailable(request)
    return _error(request, 500, "Internal Server Error", "500.html")


def _database_unavailable(request):
    """The database is unreachable or restarting (tests/faults): 503 with Retry-After. The page is
    rendered without the request's context processors, which may need the database."""
    if _wants_json(request):
        response = JsonResponse({"type": "about:blank", "title": "Service Unavailable", "status": 503},
                                status=503, content_type="application/problem+json")
    else:
        response = HttpResponse(loader.get_template("500.html").render(), status=503)
    response["Retry-After"] = "5"
    return response
