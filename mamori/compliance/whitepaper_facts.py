"""Every number and name the whitepaper prints, read from the running configuration.

``build_facts()`` gathers them in one :class:`Facts` value — from settings, the code's own
defaults (password policy, session policy), the database (latest control check results) and
the provider profile — so the prose in ``whitepaper_sections`` never holds a literal number
and cannot drift from what the system does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.urls import get_resolver
from django.utils import timezone

from mamori.core import provider_profile as profile_module

# Standard algorithms only, all from the ``cryptography`` library / Python's hashlib and
# argon2-cffi; the whitepaper lists them under 10.1.1 and 18.1.5.
ALGORITHMS = (
    ("AES-256-GCM", "encryption"),
    ("HKDF-SHA256", "key_derivation"),
    ("Ed25519", "signature"),
    ("SHA-256", "hash"),
    ("Argon2id", "password_hash"),
    ("TLS (HTTPS)", "transport"),
)

@dataclass(frozen=True)
class PasswordFacts:
    min_length: int
    max_length: int
    class_rule: str
    min_classes: int
    expiry_days: int
    history_count: int
    refuse_common: bool
    refuse_similar: bool
    floor: int
    ceiling: int
    expiry_max_days: int
    history_max: int
    presets: tuple[str, ...]


@dataclass(frozen=True)
class Facts:
    generated_at: dt.datetime
    time_zone: str
    password: PasswordFacts
    argon2: dict[str, int]
    mfa_types: tuple[str, ...]
    totp_period: int
    totp_digits: int
    recovery_codes: int
    session_idle_minutes: int
    session_absolute_hours: int
    throttle_account_failures: int
    throttle_ip_failures: int
    throttle_max_delay_seconds: int
    invitation_hours: int
    audit_retention_days: dict[str, int]
    audit_retention_bounds: dict[str, tuple[int, int]]
    termination_grace_days: int
    termination_reminder_days: tuple[int, ...]
    export_expiry_days: int
    backup_keep_daily: int
    backup_keep_weekly: int
    backup_time_utc: str
    drill_enabled: bool
    drill_every_days: int
    offsite_configured: bool
    tenant_backup_keep_days: int
    maintenance_lead_days: int
    incident_policy: str
    incident_policy_description: str | None  # mamori.incidents.policy.describe(); None if invalid
    incident_warn_minutes: int
    security_reports_per_hour: int
    ntp_servers: tuple[str, ...]
    clock_max_offset_ms: int
    support_access_max_hours: int
    vulnerability_audit_max_age_days: int
    hsts_seconds: int
    algorithms: tuple[tuple[str, str], ...]
    features: dict[str, bool]
    profile: dict[str, Any]
    missing: tuple[str, ...]
    regions: tuple[dict[str, Any], ...]
    storage_targets: tuple[dict[str, Any], ...]
    subprocessors: tuple[dict[str, Any], ...]
    results: dict[str, Any] = field(default_factory=dict)

    # -- provider profile helpers -------------------------------------------------------
    def text(self, dotted: str, language: str) -> str | None:
        """The profile's text in ``language``, or ``None`` when the field is empty."""
        value = profile_module.text(dotted, language, "", profile=self.profile)
        return value or None

    def value(self, dotted: str) -> Any:
        return profile_module.value(dotted, None, profile=self.profile)


def _tenant_route(name: str) -> bool:
    """Whether the tenant console offers the URL ``namespace:name`` (features follow the routes)."""
    resolver = get_resolver("mamori.urls_tenant")
    *namespaces, url_name = name.split(":")
    for namespace in namespaces:
        if namespace not in resolver.namespace_dict:
            return False
        resolver = resolver.namespace_dict[namespace][1]
    return url_name in resolver.reverse_dict


def _features() -> dict[str, bool]:
    return {
        "tenant_export": _tenant_route("console:data_export_download"),
        "tenant_backups_view": _tenant_route("console:data_backups"),
        "audit_search": _tenant_route("console:audit"),
        "siem": _tenant_route("console:siem"),
        "evidence": _tenant_route("console:evidence"),
        "sso": _tenant_route("console:security_sso"),
        "ip_allowlist": _tenant_route("console:security_ip_allowlist"),
        "scim": _tenant_route("console:security_scim"),
        "csv_import": _tenant_route("console:user_import"),
        "signin_history": _tenant_route("console:signins"),
        "labels": _tenant_route("console:labels"),
        "units": _tenant_route("console:units"),
        "help": _tenant_route("console:help"),
    }


def _incident_policy_description(key: str) -> str | None:
    """The incidents app's wording of the notification rule (active language); ``None`` when
    the setting names no valid rule."""
    from mamori.incidents.policy import describe, parse_policy  # noqa: PLC0415

    try:
        return str(describe(parse_policy(key)))
    except ValueError:
        return None


def check_results() -> dict[str, Any]:
    """The latest stored check result per control key (empty until the first run)."""
    try:
        from mamori.compliance.queries import latest_results  # noqa: PLC0415
    except ImportError:
        return {}
    return dict(latest_results())


def build_facts(*, now: dt.datetime | None = None) -> Facts:
    from mamori.accounts import policy as password_policy  # noqa: PLC0415
    from mamori.accounts.models_sessions import DEFAULT_ABSOLUTE_HOURS, DEFAULT_IDLE_MINUTES  # noqa: PLC0415

    default = password_policy.DEFAULT
    data = profile_module.provider_profile()
    throttle = settings.MAMORI_THROTTLE
    reminders = []
    for item in settings.MAMORI_TERMINATION_REMINDER_DAYS:
        try:
            reminders.append(int(item))
        except (TypeError, ValueError):
            continue
    return Facts(
        generated_at=now or timezone.now(),
        time_zone=getattr(settings, "DEFAULT_TENANT_TIME_ZONE", "Asia/Tokyo"),
        password=PasswordFacts(
            min_length=default.min_length, max_length=default.max_length,
            class_rule=default.class_rule, min_classes=default.min_classes,
            expiry_days=default.expiry_days, history_count=default.history_count,
            refuse_common=default.refuse_common, refuse_similar=default.refuse_similar,
            floor=password_policy.MIN_LENGTH_FLOOR, ceiling=password_policy.LENGTH_CEILING,
            expiry_max_days=password_policy.EXPIRY_MAX_DAYS, history_max=password_policy.HISTORY_MAX,
            presets=tuple(p.slug for p in password_policy.PRESETS),
        ),
        argon2=dict(settings.MAMORI_ARGON2),
        mfa_types=tuple(getattr(settings, "MFA_SUPPORTED_TYPES", ())),
        totp_period=getattr(settings, "MFA_TOTP_PERIOD", 30),
        totp_digits=getattr(settings, "MFA_TOTP_DIGITS", 6),
        recovery_codes=getattr(settings, "MFA_RECOVERY_CODE_COUNT", 10),
        session_idle_minutes=DEFAULT_IDLE_MINUTES,
        session_absolute_hours=DEFAULT_ABSOLUTE_HOURS,
        throttle_account_failures=throttle["account"]["lock_after"],
        throttle_ip_failures=throttle["ip"]["lock_after"],
        throttle_max_delay_seconds=throttle["max"],
        invitation_hours=settings.INVITATION_MAX_AGE_HOURS,
        audit_retention_days=dict(settings.AUDIT_RETENTION_DAYS),
        audit_retention_bounds={k: tuple(v) for k, v in settings.AUDIT_RETENTION_BOUNDS.items()},
        termination_grace_days=settings.MAMORI_TERMINATION_GRACE_DAYS,
        termination_reminder_days=tuple(sorted(reminders, reverse=True)),
        export_expiry_days=settings.TENANT_EXPORT_EXPIRY_DAYS,
        backup_keep_daily=settings.BACKUP_KEEP_DAILY,
        backup_keep_weekly=settings.BACKUP_KEEP_WEEKLY,
        backup_time_utc=settings.BACKUP_TIME,
        drill_enabled=bool(settings.BACKUP_DRILL_SCHEDULE),
        drill_every_days=settings.BACKUP_DRILL_EVERY_DAYS,
        offsite_configured=bool(settings.BACKUP_OFFSITE_DIR),
        tenant_backup_keep_days=settings.MAMORI_TENANT_BACKUP_KEEP_DAYS,
        maintenance_lead_days=settings.MAMORI_MAINTENANCE_LEAD_DAYS,
        incident_policy=settings.MAMORI_INCIDENT_NOTIFICATION_POLICY,
        incident_policy_description=_incident_policy_description(settings.MAMORI_INCIDENT_NOTIFICATION_POLICY),
        incident_warn_minutes=settings.MAMORI_INCIDENT_WARN_MINUTES,
        security_reports_per_hour=settings.MAMORI_SECURITY_REPORTS_PER_HOUR,
        ntp_servers=tuple(settings.MAMORI_NTP_SERVERS),
        clock_max_offset_ms=settings.MAMORI_CLOCK_MAX_OFFSET_MS,
        support_access_max_hours=settings.MAMORI_SUPPORT_ACCESS_MAX_HOURS,
        vulnerability_audit_max_age_days=settings.MAMORI_VULNERABILITY_AUDIT_MAX_AGE_DAYS,
        hsts_seconds=settings.SECURE_HSTS_SECONDS,
        algorithms=ALGORITHMS,
        features=_features(),
        profile=data,
        missing=tuple(profile_module.missing(data)),
        regions=tuple(profile_module.regions(data)),
        storage_targets=tuple(profile_module.storage_targets(data)),
        subprocessors=tuple(profile_module.subprocessors(data)),
        results=check_results(),
    )
