"""System checks of the provider console: the schedule table and provider staff MFA."""

from django.conf import settings
from django.core import checks


@checks.register()
def check_schedule_table(app_configs=None, **kwargs):
    """``MAMORI_SCHEDULES``: malformed entries are errors, unknown job names warnings."""
    from mamori.core import schedule

    table = getattr(settings, "MAMORI_SCHEDULES", {}) or {}
    _overrides, errors = schedule.parse_table(table)
    messages = [checks.Error(f"MAMORI_SCHEDULES: {error}", hint="See docs/operations/schedules.md.",
                             id="mamori.E301") for error in errors]
    if isinstance(table, dict):
        known = set(schedule.registered_jobs())
        for name in sorted(set(table) - known):
            messages.append(checks.Warning(
                f"MAMORI_SCHEDULES names the job {name!r}, which no app registers; the entry has no effect.",
                hint="`mamori schedule list` shows the registered jobs.", id="mamori.W301"))
    return messages


@checks.register(checks.Tags.security, deploy=True)
def check_provider_mfa(app_configs=None, **kwargs):
    if settings.PRODUCTION and not getattr(settings, "MAMORI_PROVIDER_MFA", True):
        return [checks.Error("MAMORI_PROVIDER_MFA is off: provider staff would sign in with a password only.",
                               hint="Leave MAMORI_PROVIDER_MFA unset (on) in production.", id="mamori.E302")]
    return []
