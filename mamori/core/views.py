"""Health endpoints and error pages (never a stack trace, never a 500 page that leaks)."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.shortcuts import redirect, render
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


@never_cache
@require_GET
def readyz(request):
    """Ready to serve: the database answers and every migration is applied (503 otherwise).

    Runs outside the request transaction (see ``TenantMiddleware``) so that an
    unreachable database is reported here as 503 JSON rather than as an error page.
    """
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
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)


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
    return _error(request, 500, "Internal Server Error", "500.html")
