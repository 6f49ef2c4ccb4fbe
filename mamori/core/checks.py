"""Deploy checks Mamori adds to Django's (``mamori check --deploy``).

Django's own security checks are warnings; Mamori's command treats warnings as
failures under ``--deploy``, and adds errors for what Django does not check.
"""

from django.conf import settings
from django.core import checks

_REQUIRED_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",  # HTTPS redirect, HSTS, nosniff
    "mamori.core.middleware.SecurityHeadersMiddleware",  # CSP, Permissions-Policy
    "django.middleware.clickjacking.XFrameOptionsMiddleware",  # frame denial
)


@checks.register(checks.Tags.security, deploy=True)
def check_mamori_deploy(app_configs=None, **kwargs):
    errors = []
    if settings.SECRET_KEY == settings.INSECURE_DEFAULT_SECRET_KEY or len(settings.SECRET_KEY) < 50:
        errors.append(checks.Error(
            "The secret key is the development default or too short.",
            hint="Set MAMORI_SECRET_KEY or MAMORI_SECRET_KEY_FILE to at least 50 random characters.",
            id="mamori.E101"))
    if settings.DEBUG:
        errors.append(checks.Error("Debug is on.", hint="Unset MAMORI_DEBUG.", id="mamori.E102"))
    if not settings.SECURE_SSL_REDIRECT:
        errors.append(checks.Error("HTTP is not redirected to HTTPS.",
                                   hint="Set MAMORI_SSL_REDIRECT=1 (the production profile does).", id="mamori.E103"))
    if not (settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE):
        errors.append(checks.Error("Session or CSRF cookies may travel over plain HTTP.",
                                   hint="Set MAMORI_SECURE_COOKIES=1.", id="mamori.E104"))
    if settings.SECURE_HSTS_SECONDS < 31536000:
        errors.append(checks.Error("HSTS is missing or shorter than one year.",
                                   hint="Set MAMORI_HSTS_SECONDS=31536000.", id="mamori.E105"))
    csp = settings.CONTENT_SECURITY_POLICY or ""
    if not csp or "'unsafe-inline'" in csp or "frame-ancestors" not in csp:
        errors.append(checks.Error("Content-Security-Policy is missing, allows unsafe-inline, or lacks frame-ancestors.",
                                   hint="Leave MAMORI_CSP unset to use Mamori's strict policy.", id="mamori.E106"))
    if not settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher"):
        errors.append(checks.Error("Argon2id is not the first password hasher.", id="mamori.E107"))
    from mamori.accounts.hashers import weaker_than_owasp

    if weaker_than_owasp(settings.MAMORI_ARGON2):
        errors.append(checks.Error("Argon2id parameters are weaker than OWASP's minimum (m=19 MiB, t=2, p=1).",
                                   hint="Raise MAMORI_ARGON2_MEMORY_KIB / MAMORI_ARGON2_TIME_COST.",
                                   id="mamori.E112"))
    if not settings.ALLOWED_HOSTS or "*" in settings.ALLOWED_HOSTS:
        errors.append(checks.Error("MAMORI_ALLOWED_HOSTS is empty or a wildcard.", id="mamori.E108"))
    for middleware in _REQUIRED_MIDDLEWARE:
        if middleware not in settings.MIDDLEWARE:
            errors.append(checks.Error(f"{middleware} is not in MIDDLEWARE, so its security headers are missing.",
                                       id="mamori.E109"))
    if not (settings.SESSION_COOKIE_HTTPONLY and settings.CSRF_COOKIE_HTTPONLY):
        errors.append(checks.Error("Session or CSRF cookies are readable from JavaScript.", id="mamori.E110"))
    from mamori.audit.signing import is_configured as signing_key_configured

    if settings.PRODUCTION and not signing_key_configured():
        errors.append(checks.Error("No audit signing key is configured; digests cannot be signed.",
                                   hint="Set MAMORI_SIGNING_KEY_FILE to an Ed25519 PKCS#8 PEM private key "
                                        "(openssl genpkey -algorithm ed25519).", id="mamori.E111"))
    return errors
