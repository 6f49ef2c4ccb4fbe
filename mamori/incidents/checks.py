"""``mamori check``: the incident notification settings parse (mamori.E410, mamori.E411)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def incident_settings(app_configs=None, **kwargs) -> list[Error]:
    from mamori.incidents import policy as pol

    errors = []
    try:
        pol.parse_policy(getattr(settings, "MAMORI_INCIDENT_NOTIFICATION_POLICY", pol.BUSINESS_6H))
    except ValueError as exc:
        errors.append(Error(f"MAMORI_INCIDENT_NOTIFICATION_POLICY: {exc}",
                            hint="business_6h, within_24h, one_business_day, custom:<hours>h[:business]",
                            id="mamori.E410"))
    try:
        pol.parse_closed_days(getattr(settings, "MAMORI_INCIDENT_CLOSED_DAYS", []) or [])
    except ValueError as exc:
        errors.append(Error(str(exc), hint="A comma-separated list of MM-DD, e.g. 12-29,12-30,12-31",
                            id="mamori.E411"))
    return errors
