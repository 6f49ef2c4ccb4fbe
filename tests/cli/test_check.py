"""`mamori check --deploy`: insecure production settings exit non-zero and are named."""

from __future__ import annotations

import base64
import secrets

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tests.cli.support import mamori_env, run_mamori

GOOD_SECRET = secrets.token_urlsafe(60)
# The audit signing key production requires (mamori.E111; tests/audit/test_chain.py covers its absence).
SIGNING_KEY = Ed25519PrivateKey.generate().private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
# The master key production requires (mamori.E120; tests/lifecycle/test_master_key.py covers its absence).
MASTER_KEY = base64.b64encode(secrets.token_bytes(32)).decode()


def _production(tmp_path, **extra):
    return mamori_env(tmp_path / "var", MAMORI_PROFILE="production", MAMORI_SIGNING_KEY=SIGNING_KEY,
                      MAMORI_MASTER_KEY=MASTER_KEY, **extra)


def test_production_without_secret_fails_and_names_the_problems(tmp_path):
    result = run_mamori("check", "--deploy", env=_production(tmp_path))
    assert result.returncode != 0
    assert "mamori.E101" in result.stderr  # default secret
    assert "mamori.E108" in result.stderr  # no allowed hosts


def test_production_with_secret_and_hosts_passes(tmp_path):
    result = run_mamori("check", "--deploy", env=_production(
        tmp_path, MAMORI_SECRET_KEY=GOOD_SECRET, MAMORI_ALLOWED_HOSTS="mamori.example.com"))
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_secret_from_a_file_is_accepted(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(GOOD_SECRET + "\n")
    result = run_mamori("check", "--deploy", env=_production(
        tmp_path, MAMORI_SECRET_KEY_FILE=str(secret_file), MAMORI_ALLOWED_HOSTS="mamori.example.com"))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("variable", "value", "problem"), [
    ("MAMORI_DEBUG", "1", "mamori.E102"),
    ("MAMORI_SSL_REDIRECT", "0", "mamori.E103"),
    ("MAMORI_SECURE_COOKIES", "0", "mamori.E104"),
    ("MAMORI_HSTS_SECONDS", "0", "mamori.E105"),
    ("MAMORI_CSP", "default-src 'self' 'unsafe-inline'", "mamori.E106"),
    ("MAMORI_ALLOWED_HOSTS", "*", "mamori.E108"),
    ("MAMORI_ARGON2_MEMORY_KIB", "8192", "mamori.E112"),
])
def test_each_insecure_setting_fails_the_deploy_check(tmp_path, variable, value, problem):
    env = _production(tmp_path, MAMORI_SECRET_KEY=GOOD_SECRET, MAMORI_ALLOWED_HOSTS="mamori.example.com")
    env[variable] = value
    result = run_mamori("check", "--deploy", env=env)
    assert result.returncode != 0
    assert problem in result.stderr


def test_development_profile_is_not_deployable(tmp_path):
    """The development defaults (no HTTPS, no HSTS, default secret) fail --deploy."""
    result = run_mamori("check", "--deploy", env=mamori_env(tmp_path / "var"))
    assert result.returncode != 0
    for problem in ("mamori.E101", "mamori.E103", "mamori.E104", "mamori.E105"):
        assert problem in result.stderr


def test_plain_check_passes_in_development(tmp_path):
    result = run_mamori("check", env=mamori_env(tmp_path / "var"))
    assert result.returncode == 0, result.stderr


def test_deploy_fails_on_warnings_by_default(settings):
    """Django's own deploy findings are warnings; under --deploy they fail the command."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    settings.SECRET_KEY = GOOD_SECRET
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["mamori.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = False  # Django: security.W005 (a warning)
    with pytest.raises(SystemCheckError, match="security.W005"):
        call_command("check", deploy=True)
    call_command("check", deploy=True, fail_level="ERROR")  # explicit level still honoured
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    call_command("check", deploy=True)


def test_production_cookies_carry_the_host_prefix(tmp_path):
    """ASVS 3.3.1: with secure cookies the session, CSRF and language cookies are "__Host-"
    cookies (Secure, no Domain, path /); the development profile keeps Django's names."""
    show = ("from django.conf import settings as s; print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, "
            "s.LANGUAGE_COOKIE_NAME, s.LANGUAGE_COOKIE_SECURE, s.SESSION_COOKIE_DOMAIN, s.CSRF_COOKIE_PATH)")
    production = run_mamori("shell", "-c", show, env=_production(
        tmp_path, MAMORI_SECRET_KEY=GOOD_SECRET, MAMORI_ALLOWED_HOSTS="mamori.example.com"))
    assert production.returncode == 0, production.stderr
    assert production.stdout.splitlines()[-1].split() == ["__Host-sessionid", "__Host-csrftoken", "__Host-lang", "True", "None", "/"]
    development = run_mamori("shell", "-c", show, env=mamori_env(tmp_path / "dev"))
    assert development.stdout.splitlines()[-1].split()[:3] == ["sessionid", "csrftoken", "django_language"]
