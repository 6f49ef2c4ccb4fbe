"""Mamori settings, read from environment variables only.

Two profiles: ``development`` (the default: embedded SQLite, local files, local
outbox, debug off unless asked for) and ``production`` (HTTPS, HSTS, secure
cookies, CSP; ``mamori check --deploy`` refuses anything weaker). The README has
the table of every variable read here; keep the two in step.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from mamori.core.env import env_bool, env_int, env_list, read_secret
from mamori.core.net import parse_trusted_proxies as _parse_trusted_proxies

BASE_DIR = Path(__file__).resolve().parent
PROFILE = os.environ.get("MAMORI_PROFILE", "development").strip().lower()
if PROFILE not in {"development", "production"}:
    raise RuntimeError(f"MAMORI_PROFILE must be 'development' or 'production', not {PROFILE!r}")
PRODUCTION = PROFILE == "production"

DATA_DIR = Path(os.environ.get("MAMORI_DATA_DIR", "./var")).resolve()

# The insecure default key exists so `make run` works on a fresh checkout; the
# deploy check refuses it (mamori.core.checks).
INSECURE_DEFAULT_SECRET_KEY = "mamori-insecure-development-key-change-me"  # noqa: S105
SECRET_KEY = read_secret("MAMORI_SECRET_KEY") or INSECURE_DEFAULT_SECRET_KEY

DEBUG = env_bool("MAMORI_DEBUG", False)
ALLOWED_HOSTS = env_list("MAMORI_ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("MAMORI_CSRF_TRUSTED_ORIGINS", [])
# Absolute base URL used in e-mails and printed links.
BASE_URL = os.environ.get("MAMORI_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "mamori.tenancy",
    "mamori.accounts",
    "mamori.audit",
    "mamori.evidence",
    "mamori.access",
    "mamori.records",
    "mamori.operations",
    "mamori.siem",
    "mamori.lifecycle",
    "mamori.multifactor",
    "mamori.sso",
    "mamori.scim",
    "mamori.notices",
    "mamori.incidents",
    "mamori.monitoring",
    "mamori.support",
    "mamori.compliance",
    "mamori.console",
    "mamori.api",
    "mamori.core",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "allauth.usersessions",
]

MIDDLEWARE = [
    # Request count and latency by route name for /metrics (mamori.monitoring.metrics).
    "mamori.monitoring.metrics.RequestMetricsMiddleware",
    "mamori.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so static files get CSP and Permissions-Policy too.
    "mamori.core.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "mamori.tenancy.middleware.TenantMiddleware",
    # Refuses requests to a tenant from addresses outside its IP allowlist (before sign-in).
    "mamori.access.allowlist.IpAllowlistMiddleware",
    # Content-Length, APPEND_SLASH; X-Frame-Options: for API/SCIM responses too.
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # API and SCIM requests skip the console-only middleware below, up to ApiStackEnd, except
    # MAMORI_API_STACK (mamori.core.stacks).
    "mamori.core.stacks.ApiStackMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "mamori.tenancy.middleware.TenantUserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After messages: support access sessions (grant checked on every request, page views audited).
    "mamori.support.sessions.SupportSessionMiddleware",
    # After messages: a tenant in its termination grace period is read-only, for its admins only.
    "mamori.lifecycle.middleware.TerminationGraceMiddleware",
    # After messages: idle timeout / absolute lifetime of console sessions (tenant's session policy).
    "mamori.accounts.sessions.SessionPolicyMiddleware",
    # After messages: it tells a user whose password expired why they are asked for a new one.
    "mamori.accounts.middleware.PasswordChangeRequiredMiddleware",
    "mamori.multifactor.middleware.MfaEnrolmentRequiredMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "mamori.operations.middleware.ProviderStaffMiddleware",
    "mamori.core.stacks.ApiStackEnd",
]
# The console-stack middleware that API and SCIM requests pass through too, in this order.
MAMORI_API_STACK = [
    "mamori.lifecycle.middleware.TerminationGraceMiddleware",
]

ROOT_URLCONF = "mamori.urls"
WSGI_APPLICATION = "mamori.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mamori.tenancy.context_processors.tenant",
                "mamori.incidents.context_processors.incident_notices",
                "mamori.notices.context_processors.notice_banner",
                "mamori.operations.pages.provider_pages",
            ],
        },
    }
]

# --- Database ---------------------------------------------------------------
# Default: SQLite in WAL mode under MAMORI_DATA_DIR. PostgreSQL through DATABASE_URL.
SQLITE_PATH = DATA_DIR / "mamori.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("MAMORI_DB_CONN_MAX_AGE", 60))
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(SQLITE_PATH)}
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # BEGIN IMMEDIATE takes the write lock up front, so two workers cannot
        # claim the same task and writers queue instead of failing mid-transaction.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            "PRAGMA busy_timeout=20000;"
        ),
    }
    _db.setdefault("TEST", {})["NAME"] = os.environ.get("MAMORI_TEST_SQLITE_NAME") or None
elif _db["ENGINE"].startswith("django.db.backends.postgresql"):
    _db["ENGINE"] = "django.db.backends.postgresql"
    _db.setdefault("OPTIONS", {})
    _db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _db}
# PostgreSQL: the API token lookup and the audit chain writer run as prepared statements
# (mamori/core/prepared.py). Off behind a transaction pooler (PgBouncer in transaction mode):
# the token lookup is PREPAREd in SQL, which such a pooler does not carry between sessions.
MAMORI_DB_PREPARED_STATEMENTS = env_bool("MAMORI_DB_PREPARED_STATEMENTS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The role web requests run as on PostgreSQL (see docs/decisions/0002-rls-application-role.md).
# It owns no table, so row-level security always applies to it.
DB_APP_ROLE = os.environ.get("MAMORI_DB_APP_ROLE", "mamori_app")

# --- Accounts ---------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["mamori.accounts.backends.TenantAuthenticationBackend"]
# Argon2id, OWASP's minimum by default (see mamori/accounts/hashers.py and docs/accounts/mfa.md).
MAMORI_ARGON2 = {
    "memory_cost": env_int("MAMORI_ARGON2_MEMORY_KIB", 19456),
    "time_cost": env_int("MAMORI_ARGON2_TIME_COST", 2),
    "parallelism": env_int("MAMORI_ARGON2_PARALLELISM", 1),
}
PASSWORD_HASHERS = [
    "mamori.accounts.hashers.MamoriArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# One validator applies the active tenant's password policy (defaults: NIST SP 800-63B /
# OWASP ASVS 5.0); it calls Django's common-password and similarity checks itself.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "mamori.accounts.policy.TenantPasswordPolicyValidator"},
]
# USERNAME_FIELD is unique per tenant, not globally: lookups go through the tenant-scoped backend.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "console:dashboard"
# A URL name, so it resolves inside the tenant's /t/<slug>/ prefix.
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
LOGIN_LINK_MAX_AGE_HOURS = env_int("MAMORI_LOGIN_LINK_HOURS", 24)
# How long an e-mailed invitation link stays valid (single use; re-sending revokes it).
INVITATION_MAX_AGE_HOURS = env_int("MAMORI_INVITATION_MAX_AGE_HOURS", 72)
# Malware scan of uploads through ClamAV's daemon: clamd://HOST:PORT or clamd:///path/to/socket.
MAMORI_ATTACHMENT_SCANNER = os.environ.get("MAMORI_ATTACHMENT_SCANNER", "").strip()
MAMORI_ATTACHMENT_SCAN_TIMEOUT = env_int("MAMORI_ATTACHMENT_SCAN_TIMEOUT", 30)
# Requests per API or SCIM token: "N/S" (N per S seconds, per server process); "0": no limit.
MAMORI_API_RATE_LIMIT = os.environ.get("MAMORI_API_RATE_LIMIT", "1200/60").strip()
# How long an initial password set by an admin (to be changed at first sign-in) can be used; 0: no limit.
INITIAL_PASSWORD_MAX_AGE_HOURS = env_int("MAMORI_INITIAL_PASSWORD_HOURS", 72)
# The provider's own list of common or breached passwords (one per line, plain or .gz), checked
# instead of Django's 20,000-entry list when a tenant's policy refuses common passwords.
MAMORI_PASSWORD_LIST_FILE = os.environ.get("MAMORI_PASSWORD_LIST_FILE", "").strip()

ACCOUNT_ADAPTER = "mamori.accounts.adapter.MamoriAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PREVENT_ENUMERATION = True
# No mail to addresses without an account (there is no public sign-up to point them to).
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
# Mamori's own sign-in throttle (mamori.accounts.throttle; docs/accounts/sessions.md), kept in the
# database so every process and server sees the same counts. After LOCK_AFTER failures in a
# row (per account, per client address) the next attempt must wait BASE seconds, doubling with
# each further failure up to MAX; a counter is forgotten FORGET seconds after its last failure.
MAMORI_THROTTLE = {
    "account": {"lock_after": env_int("MAMORI_THROTTLE_ACCOUNT_FAILURES", 5),
                "forget": env_int("MAMORI_THROTTLE_ACCOUNT_FORGET", 24 * 3600)},
    "ip": {"lock_after": env_int("MAMORI_THROTTLE_IP_FAILURES", 20),
           "forget": env_int("MAMORI_THROTTLE_IP_FORGET", 3600)},
    "base": env_int("MAMORI_THROTTLE_BASE_DELAY", 1),
    "max": env_int("MAMORI_THROTTLE_MAX_DELAY", 15 * 60),
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Mamori] "

# Multi-factor authentication (allauth.mfa; mamori.multifactor; docs/accounts/mfa.md).
# Secrets are encrypted with the tenant's data key by the adapter; the code forms add the
# brute-force throttle and a database-backed one-use rule for TOTP codes.
MFA_ADAPTER = "mamori.multifactor.adapter.MamoriMFAAdapter"
MFA_FORMS = {
    "authenticate": "mamori.multifactor.forms.MamoriAuthenticateForm",
    "reauthenticate": "mamori.multifactor.forms.MamoriReauthenticateForm",
    "authenticate_webauthn": "mamori.multifactor.forms.MamoriAuthenticateWebAuthnForm",
    "reauthenticate_webauthn": "mamori.multifactor.forms.MamoriReauthenticateWebAuthnForm",
    "add_webauthn": "mamori.multifactor.forms.MamoriAddWebAuthnForm",
}
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_TOTP_ISSUER = "Mamori"  # shown as "Mamori (<tenant name>)" by authenticator apps
MFA_TOTP_PERIOD = 30
MFA_TOTP_DIGITS = 6
MFA_TOTP_TOLERANCE = 1  # one 30-second step either side (clock drift), RFC 6238 §5.2
MFA_RECOVERY_CODE_COUNT = 10
MFA_PASSKEY_LOGIN_ENABLED = False  # passkeys are a second factor after the password
MFA_PASSKEY_SIGNUP_ENABLED = False
MFA_TRUST_ENABLED = False  # no "trust this browser": every sign-in asks for the second factor
# Tests and local development over http://localhost only.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = env_bool("MAMORI_WEBAUTHN_ALLOW_INSECURE_ORIGIN", False)

# Single sign-on per tenant (mamori.sso; docs/accounts/sso.md): apps are built from the
# tenant's connection, never from SocialApp rows; allauth's sign-up flow is never used.
SOCIALACCOUNT_ADAPTER = "mamori.sso.adapter.MamoriSocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = env_int("MAMORI_SSO_TIMEOUT_SECONDS", 10)
# Tests and local development may use an http:// issuer on a loopback address.
MAMORI_SSO_ALLOW_HTTP_LOOPBACK = env_bool("MAMORI_SSO_ALLOW_HTTP_LOOPBACK", False)

# --- Sessions and cookies -----------------------------------------------------
SESSION_COOKIE_AGE = env_int("MAMORI_SESSION_MAX_AGE", 12 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("MAMORI_SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SAMESITE = "Lax"
if SESSION_COOKIE_SECURE:
    # "__Host-" names (ASVS 3.3.1): browsers accept such a cookie only when it is Secure, has no
    # Domain and the path "/", so neither plain HTTP nor a sibling subdomain can plant or
    # overwrite the session, CSRF or language cookie. Changing the names signs everyone out once.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    LANGUAGE_COOKIE_NAME = "__Host-lang"
    LANGUAGE_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = env_bool("MAMORI_SSL_REDIRECT", PRODUCTION)
# Not redirected (ASVS 4.1.2): API and SCIM calls over plain HTTP are refused with 403 instead
# (mamori.core.middleware); health, readiness and metrics stay reachable for internal probes.
SECURE_REDIRECT_EXEMPT = [r"^api/", r"^scim/", r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("MAMORI_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
# Preloading is a one-way commitment for the whole domain, so it is the provider's
# choice (MAMORI_HSTS_PRELOAD=1); Django's W021 reminder is silenced rather than
# failing `mamori check --deploy` (which fails on warnings) for a sound setting.
SECURE_HSTS_PRELOAD = env_bool("MAMORI_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS += ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("MAMORI_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content Security Policy: no inline script or style anywhere in the console.
CONTENT_SECURITY_POLICY = os.environ.get(
    "MAMORI_CSP",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'",
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

# Request size limits: bigger bodies get 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAMORI_MAX_BODY_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

# --- Internationalisation -------------------------------------------------------
LANGUAGE_CODE = os.environ.get("MAMORI_LANGUAGE", "ja")
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"  # storage; display uses the tenant's zone
DEFAULT_TENANT_TIME_ZONE = os.environ.get("MAMORI_TIME_ZONE", "Asia/Tokyo")

# --- Static files ----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# mamori/static is the project package's own directory (not an app's), so list it.
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(DATA_DIR / "files")}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- E-mail ------------------------------------------------------------------------
# Default: a local outbox (database table, printed to the log). SMTP when MAMORI_EMAIL_HOST is set.
if os.environ.get("MAMORI_EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["MAMORI_EMAIL_HOST"]
    EMAIL_PORT = env_int("MAMORI_EMAIL_PORT", 587)
    EMAIL_HOST_USER = os.environ.get("MAMORI_EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = read_secret("MAMORI_EMAIL_PASSWORD") or ""
    EMAIL_USE_TLS = env_bool("MAMORI_EMAIL_STARTTLS", True)
    EMAIL_USE_SSL = env_bool("MAMORI_EMAIL_SSL", False)
    EMAIL_TIMEOUT = 20
else:
    EMAIL_BACKEND = "mamori.operations.mail.OutboxEmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("MAMORI_EMAIL_FROM", "Mamori <no-reply@localhost>")

# --- Background tasks -------------------------------------------------------------
TASKS = {
    "default": {
        "BACKEND": os.environ.get("MAMORI_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# --- Audit retention and evidence export (mamori.evidence; docs/evidence.md) ----------
# Days an audit event is kept, per category; 0 = for the contract's life. Tenant admins may
# override each tenant category inside [MIN, MAX] (MAX 0 = no upper bound, so 0 is allowed).
AUDIT_RETENTION_DAYS = {
    "operation": env_int("MAMORI_AUDIT_RETENTION_OPERATION_DAYS", 365),
    "signin": env_int("MAMORI_AUDIT_RETENTION_SIGNIN_DAYS", 0),
    "api": env_int("MAMORI_AUDIT_RETENTION_API_DAYS", 90),
    "provider": env_int("MAMORI_AUDIT_RETENTION_PROVIDER_DAYS", 365),
}
AUDIT_RETENTION_BOUNDS = {
    category: (env_int(f"MAMORI_AUDIT_RETENTION_{category.upper()}_MIN_DAYS", minimum),
               env_int(f"MAMORI_AUDIT_RETENTION_{category.upper()}_MAX_DAYS", 0))
    for category, minimum in (("operation", 90), ("signin", 90), ("api", 30))
}
EVIDENCE_EXPORT_EXPIRY_DAYS = env_int("MAMORI_EVIDENCE_EXPORT_EXPIRY_DAYS", 7)
# Full tenant export (mamori.lifecycle.export; docs/data-export.md): days a finished export can be
# downloaded before the cleanup job deletes it, and hours after which an export that stopped
# progressing (its worker died) no longer blocks a new one.
TENANT_EXPORT_EXPIRY_DAYS = env_int("MAMORI_TENANT_EXPORT_EXPIRY_DAYS", 7)
TENANT_EXPORT_STALE_HOURS = env_int("MAMORI_TENANT_EXPORT_STALE_HOURS", 6)
# Where the ZIP is assembled before it goes to the storage (default: the system temp folder).
TENANT_EXPORT_WORK_DIR = os.environ.get("MAMORI_TENANT_EXPORT_WORK_DIR", "")

# --- SIEM webhooks (mamori.siem; docs/siem.md) -------------------------------------------
# Endpoints must be https:// on public addresses. Tests and local development may allow
# http://127.0.0.1 / localhost as well.
MAMORI_WEBHOOK_ALLOW_HTTP_LOOPBACK = env_bool("MAMORI_WEBHOOK_ALLOW_HTTP_LOOPBACK", False)
# Failed deliveries in a row before a subscription is disabled (admins are e-mailed).
MAMORI_WEBHOOK_MAX_FAILURES = env_int("MAMORI_WEBHOOK_MAX_FAILURES", 8)

# --- Record attachments (docs/attachments.md) ----------------------------------------------
# Provider default size limit per file (a tenant admin may lower it for the tenant; the
# provider may set another limit per tenant), and the content types accepted (detected
# from the bytes, never from the name).
MAMORI_ATTACHMENT_MAX_BYTES = env_int("MAMORI_ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024)
MAMORI_ATTACHMENT_TYPES = env_list("MAMORI_ATTACHMENT_TYPES", [
    "application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
])

# --- Client address (mamori.core.net; docs/accounts/ip-allowlist.md) -----------------------
# Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For is believed; from any other
# peer the header is ignored. A malformed entry stops the start-up.
MAMORI_TRUSTED_PROXIES = env_list("MAMORI_TRUSTED_PROXIES", [])
_parse_trusted_proxies(MAMORI_TRUSTED_PROXIES)

# --- System backups and periodic jobs (docs/backups.md) ---------------------------------------
# Encrypted system backups (key: MAMORI_BACKUP_KEY_FILE) go to BACKUP_DIR and, when set, are
# copied to BACKUP_OFFSITE_DIR (another filesystem). `mamori backup prune` keeps the newest
# backup of each of the last KEEP_DAILY days and of each of the last KEEP_WEEKLY ISO weeks.
BACKUP_DIR = Path(os.environ.get("MAMORI_BACKUP_DIR") or DATA_DIR / "backups").resolve()
BACKUP_OFFSITE_DIR = os.environ.get("MAMORI_BACKUP_OFFSITE_DIR", "").strip()
BACKUP_KEEP_DAILY = env_int("MAMORI_BACKUP_KEEP_DAILY", 7)
BACKUP_KEEP_WEEKLY = env_int("MAMORI_BACKUP_KEEP_WEEKLY", 4)
BACKUP_PG_DUMP = os.environ.get("MAMORI_PG_DUMP", "pg_dump")
BACKUP_PG_RESTORE = os.environ.get("MAMORI_PG_RESTORE", "pg_restore")
# `mamori worker` enqueues periodic jobs (mamori.core.schedule); times are UTC "HH:MM".
SCHEDULE_ENABLED = env_bool("MAMORI_SCHEDULE", True)
BACKUP_SCHEDULE = env_bool("MAMORI_BACKUP_SCHEDULE", True)  # daily backup + prune
BACKUP_TIME = os.environ.get("MAMORI_BACKUP_TIME", "17:00")  # 02:00 in Tokyo
BACKUP_DRILL_SCHEDULE = env_bool("MAMORI_BACKUP_DRILL_SCHEDULE", True)
BACKUP_DRILL_EVERY_DAYS = env_int("MAMORI_BACKUP_DRILL_EVERY_DAYS", 7)
BACKUP_DRILL_TIME = os.environ.get("MAMORI_BACKUP_DRILL_TIME", "18:00")
# Per-tenant encrypted backups (docs/tenant-backups.md): daily for every active tenant at this
# UTC time, each kept this many days (the newest is always kept).
MAMORI_TENANT_BACKUP_KEEP_DAYS = env_int("MAMORI_TENANT_BACKUP_KEEP_DAYS", 14)
MAMORI_TENANT_BACKUP_TIME = os.environ.get("MAMORI_TENANT_BACKUP_TIME", "17:30")  # 02:30 in Tokyo

# --- Contract termination and purge (mamori.lifecycle.termination; docs/termination.md) ------
# Days between a termination and the irrecoverable purge (the provider may set another value per
# tenant), the days before the end at which the tenant's admins are reminded, rows per purge batch.
MAMORI_TERMINATION_GRACE_DAYS = env_int("MAMORI_TERMINATION_GRACE_DAYS", 30)
MAMORI_TERMINATION_REMINDER_DAYS = env_list("MAMORI_TERMINATION_REMINDER_DAYS", ["14", "7", "1"])
MAMORI_PURGE_BATCH_SIZE = env_int("MAMORI_PURGE_BATCH_SIZE", 500)
MAMORI_PURGE_PAUSE_MS = env_int("MAMORI_PURGE_PAUSE_MS", 50)  # pause between purge batches

# --- Provider profile (whitepaper prose comes from here in later issues) ------------
PROVIDER_NAME = os.environ.get("MAMORI_PROVIDER_NAME", "Mamori demo provider")
DEFAULT_DATA_REGION = os.environ.get("MAMORI_DATA_REGION", "jp-east")
# A TOML file with the provider's own statements (company, contacts, law, certifications,
# policies, sub-processors, storage regions, security.txt): mamori/core/provider_profile.py.
# Development falls back to the shipped demo profile; production without one leaves the
# fields empty, and the whitepaper and the control checks name what is missing.
MAMORI_PROVIDER_PROFILE = os.environ.get("MAMORI_PROVIDER_PROFILE", "").strip()

# --- Provider operations (issue 7): notices, incidents, monitoring, support access ----
# Maintenance must be announced this many days ahead unless marked emergency with a reason.
MAMORI_MAINTENANCE_LEAD_DAYS = env_int("MAMORI_MAINTENANCE_LEAD_DAYS", 7)
# Default incident notification policy for tenants (mamori/incidents/policy.py presets):
# "business_6h" (SO), "within_24h" (PR), "one_business_day" (QL, SA).
MAMORI_INCIDENT_NOTIFICATION_POLICY = os.environ.get("MAMORI_INCIDENT_NOTIFICATION_POLICY", "business_6h")
# Warn the security officer this many minutes before a notification deadline passes.
MAMORI_INCIDENT_WARN_MINUTES = env_int("MAMORI_INCIDENT_WARN_MINUTES", 60)
# Days (MM-DD) the provider is closed every year, besides weekends and Japanese public holidays:
# they are not business days for incident notification deadlines. Default: new-year holidays.
MAMORI_INCIDENT_CLOSED_DAYS = env_list("MAMORI_INCIDENT_CLOSED_DAYS",
                                       ["12-29", "12-30", "12-31", "01-01", "01-02", "01-03"])
# Public security report form: reports accepted per client address per hour.
MAMORI_SECURITY_REPORTS_PER_HOUR = env_int("MAMORI_SECURITY_REPORTS_PER_HOUR", 5)
# SNTP servers the worker measures the clock against every 10 minutes; alert threshold.
MAMORI_NTP_SERVERS = env_list("MAMORI_NTP_SERVERS", ["ntp.nict.jp", "time.google.com"])
MAMORI_CLOCK_MAX_OFFSET_MS = env_int("MAMORI_CLOCK_MAX_OFFSET_MS", 1000)
# Probes: GET /healthz and /api/v1/me through this URL (e.g. https://mamori.example.com);
# empty = in-process through the WSGI application (docs/operations/monitoring.md).
MAMORI_PROBE_BASE_URL = os.environ.get("MAMORI_PROBE_BASE_URL", "")
# Prometheus /metrics: a bearer token (file or variable) and/or client networks (CIDR).
MAMORI_METRICS_TOKEN = read_secret("MAMORI_METRICS_TOKEN") or ""
MAMORI_METRICS_ALLOW = env_list("MAMORI_METRICS_ALLOW", ["127.0.0.1/32", "::1/128"])
# Support access: longest duration a provider may request (hours).
MAMORI_SUPPORT_ACCESS_MAX_HOURS = env_int("MAMORI_SUPPORT_ACCESS_MAX_HOURS", 72)
# Dependency audit (`mamori security audit`) older than this fails the control check.
MAMORI_VULNERABILITY_AUDIT_MAX_AGE_DAYS = env_int("MAMORI_VULNERABILITY_AUDIT_MAX_AGE_DAYS", 7)
# Schedule table (docs/operations/schedules.md): a TOML file of ["job.name"] tables with
# every = "10m"/"1h"/"1d", at = "HH:MM" (UTC), enabled = true/false; overrides the jobs' defaults.
MAMORI_SCHEDULES_FILE = os.environ.get("MAMORI_SCHEDULES_FILE", "").strip()


def _schedule_table(path: str) -> dict:
    if not path:
        return {}
    import tomllib

    with open(path, "rb") as handle:
        return tomllib.load(handle)


MAMORI_SCHEDULES = _schedule_table(MAMORI_SCHEDULES_FILE)
# Provider staff need a TOTP code at every sign-in (enrolment at the first one).
MAMORI_PROVIDER_MFA = env_bool("MAMORI_PROVIDER_MFA", True)
# A provider console session unused this long ends (minutes; NIST SP 800-63B AAL2: 30).
MAMORI_PROVIDER_IDLE_MINUTES = env_int("MAMORI_PROVIDER_IDLE_MINUTES", 30)
# `mamori security audit`: pip-audit's vulnerability service ("pypi" or "osv") and timeout (s).
MAMORI_VULNERABILITY_SERVICE = os.environ.get("MAMORI_VULNERABILITY_SERVICE", "pypi").strip().lower()
MAMORI_VULNERABILITY_AUDIT_TIMEOUT = env_int("MAMORI_VULNERABILITY_AUDIT_TIMEOUT", 300)
# Control checks (`mamori controls check`): a check running longer than this is stopped and
# reported as "error"; the daily job runs at this UTC time.
MAMORI_CONTROL_CHECK_TIMEOUT_SECONDS = env_int("MAMORI_CONTROL_CHECK_TIMEOUT_SECONDS", 60)
MAMORI_CONTROL_CHECK_AT = os.environ.get("MAMORI_CONTROL_CHECK_AT", "04:30")
# Extra provider tables (no customer data) of the provider's own apps, for the 8.1.1 inventory check.
MAMORI_PROVIDER_TABLES = env_list("MAMORI_PROVIDER_TABLES", [])

# --- Logging: structured JSON to stdout ----------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "mamori.core.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "mamori.core.logging.JsonFormatter"}},
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
    },
    "root": {"handlers": ["stdout"], "level": os.environ.get("MAMORI_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}
