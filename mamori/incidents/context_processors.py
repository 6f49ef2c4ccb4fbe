"""Tenant console: the incidents the tenant has been notified of, for the dashboard banner
(``incidents/banner.html``, included by ``base.html``)."""

from __future__ import annotations

from django.utils.translation import get_language


def incident_notices(request) -> dict:
    tenant = getattr(request, "tenant", None)
    user = getattr(request, "user", None)
    if tenant is None or user is None or not user.is_authenticated:
        return {}

    def load():
        from mamori.incidents.queries import dashboard_notices

        return dashboard_notices(tenant, get_language())

    return {"incident_notices": _Lazy(load)}


class _Lazy:
    """Evaluated only when a template iterates it (pages without the banner pay nothing)."""

    def __init__(self, load):
        self._load, self._value = load, None

    def _get(self) -> list:
        if self._value is None:
            self._value = self._load()
        return self._value

    def __iter__(self):
        return iter(self._get())

    def __bool__(self) -> bool:
        return bool(self._get())

    def __len__(self) -> int:
        return len(self._get())
