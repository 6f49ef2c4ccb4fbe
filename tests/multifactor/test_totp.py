"""TOTP with codes made by pyotp, as an authenticator app makes them (RFC 6238)."""

from __future__ import annotations

import pyotp
import pytest
from allauth.mfa.models import Authenticator
from django.db import connection

from mamori.audit.models import AuditEvent
from mamori.multifactor.adapter import MamoriMFAAdapter
from mamori.tenancy.context import use_tenant
from tests.multifactor.helpers import (
    NOW,
    code,
    enrol,
    freeze,
    mfa_step,
    password_step,
    recovery_codes,
)

pytestmark = pytest.mark.django_db


def _events(user, action):
    with use_tenant(user.tenant):
        return list(AuditEvent.objects.filter(action=action, target_id=str(user.pk)))


def _signed_in(client, user) -> bool:
    return client.get(f"/t/{user.tenant.slug}/").status_code == 200


@pytest.mark.parametrize("steps", [0, -1, 1])
def test_current_and_adjacent_step_accepted(admin, monkeypatch, steps):
    freeze(monkeypatch)
    secret = enrol(admin)
    client, response = password_step(admin)
    assert response["Location"].endswith("/accounts/2fa/authenticate/")
    assert not _signed_in(client, admin)
    response = mfa_step(admin, client, code(secret, steps))
    assert response.status_code == 302
    assert _signed_in(client, admin)
    assert _events(admin, "auth.mfa_succeeded")
    assert _events(admin, "auth.login")


@pytest.mark.parametrize("steps", [-2, 2])
def test_two_steps_away_refused(admin, monkeypatch, steps):
    freeze(monkeypatch)
    secret = enrol(admin)
    client, _ = password_step(admin)
    response = mfa_step(admin, client, code(secret, steps))
    assert response.status_code == 200
    assert not _signed_in(client, admin)
    assert _events(admin, "auth.mfa_failed")


def test_wrong_code_refused_and_audited(admin, monkeypatch):
    freeze(monkeypatch)
    secret = enrol(admin)
    client, _ = password_step(admin)
    wrong = f"{(int(code(secret)) + 1) % 1_000_000:06d}"
    response = mfa_step(admin, client, wrong)
    assert response.status_code == 200
    assert "id_code_errors" in response.content.decode()
    [event] = _events(admin, "auth.mfa_failed")
    assert event.after["type"] == "totp"
    assert not _events(admin, "auth.login")


def test_reused_code_refused_even_after_cache_expiry(admin, monkeypatch):
    from django.core.cache import cache

    freeze(monkeypatch)
    secret = enrol(admin)
    value = code(secret)
    client, _ = password_step(admin)
    assert mfa_step(admin, client, value).status_code == 302
    cache.clear()  # allauth's own one-period marker is gone; the row's last step still refuses
    # 30 seconds later the same code is still inside the ±1 window
    freeze(monkeypatch, NOW + 30)
    client2, _ = password_step(admin)
    response = mfa_step(admin, client2, value)
    assert response.status_code == 200
    assert not _signed_in(client2, admin)
    assert _events(admin, "auth.mfa_failed")
    # the next step's code works
    assert mfa_step(admin, client2, code(secret, 1)).status_code == 302


def test_recovery_codes_single_use(admin, monkeypatch):
    freeze(monkeypatch)
    enrol(admin)
    first = recovery_codes(admin)[0]
    client, _ = password_step(admin)
    assert mfa_step(admin, client, first).status_code == 302
    assert first not in recovery_codes(admin)
    client2, _ = password_step(admin)
    assert mfa_step(admin, client2, first).status_code == 200
    assert not _signed_in(client2, admin)


def test_throttle_refuses_without_checking(admin, monkeypatch, settings):
    from django.core.cache import cache

    freeze(monkeypatch)
    secret = enrol(admin)
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "1000/m/ip,1000/m/key"}
    settings.MAMORI_THROTTLE = {**settings.MAMORI_THROTTLE,
                                "account": {"lock_after": 3, "forget": 3600}}
    client, _ = password_step(admin)
    for _ in range(3):
        assert mfa_step(admin, client, "000000" if code(secret) != "000000" else "111111").status_code == 200
    cache.clear()
    response = mfa_step(admin, client, code(secret))  # right code, but the account must wait
    assert response.status_code == 200
    assert not _signed_in(client, admin)
    with use_tenant(admin.tenant):
        assert AuditEvent.objects.filter(action="auth.lockout").exists()


def test_secret_encrypted_at_rest(admin):
    secret = pyotp.random_base32()
    enrol(admin, secret)
    with use_tenant(admin.tenant):
        row = Authenticator.objects.get(user_id=admin.pk, type=Authenticator.Type.TOTP)
        codes_row = Authenticator.objects.get(user_id=admin.pk, type=Authenticator.Type.RECOVERY_CODES)
        with connection.cursor() as cursor:
            cursor.execute("SELECT data FROM mfa_authenticator WHERE id = %s", [row.pk])
            raw = str(cursor.fetchone()[0])
        assert secret not in raw
        assert row.data["secret"].startswith("mk1.")
        assert codes_row.data["seed"].startswith("mk1.")
        assert MamoriMFAAdapter().decrypt(row.data["secret"]) == secret


def test_secret_of_other_tenant_does_not_decrypt(admin, outsider):
    from mamori.lifecycle.keys import DecryptionError

    enrol(admin)
    with use_tenant(admin.tenant):
        token = Authenticator.objects.get(user_id=admin.pk, type=Authenticator.Type.TOTP).data["secret"]
    with use_tenant(outsider.tenant), pytest.raises(DecryptionError):
        MamoriMFAAdapter().decrypt(token)


def test_enrolment_through_the_pages(admin, console_client, monkeypatch):
    freeze(monkeypatch)
    client = console_client(admin)
    page = client.get("/t/acme/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "data:image/svg+xml;base64," in body
    secret = client.session["mfa.totp.secret"]
    assert secret in body
    assert "Acme" in page.context["totp_url"]  # issuer names the tenant
    response = client.post("/t/acme/accounts/2fa/totp/activate/", {"code": code(secret)})
    assert response.status_code == 302
    assert {e.after["type"] for e in _events(admin, "mfa.authenticator_added")} == {"totp", "recovery_codes"}
    # new recovery codes: one event, the old codes stop working
    old = recovery_codes(admin)
    assert client.post("/t/acme/accounts/2fa/recovery-codes/generate/").status_code == 302
    assert _events(admin, "mfa.recovery_codes_regenerated")
    assert set(old).isdisjoint(recovery_codes(admin))
    # the code typed at enrolment cannot sign in again
    fresh, _ = password_step(admin)
    assert mfa_step(admin, fresh, code(secret)).status_code == 200
    # overview page and recovery codes render in the Mamori layout
    assert client.get("/t/acme/accounts/2fa/").status_code == 200
    assert client.get("/t/acme/accounts/2fa/recovery-codes/").status_code == 200
    assert client.get("/t/acme/accounts/2fa/webauthn/").status_code == 200
    assert client.get("/t/acme/accounts/2fa/webauthn/add/").status_code == 200


def test_removal_audited(admin, console_client, monkeypatch):
    client = console_client(admin)
    enrol(admin)
    response = client.post("/t/acme/accounts/2fa/totp/deactivate/")
    assert response.status_code == 302, response.content[:300]
    assert "reauthenticate" not in response["Location"], response["Location"]
    types = {e.before["type"] for e in _events(admin, "mfa.authenticator_removed")}
    assert types == {"totp", "recovery_codes"}


@pytest.mark.parametrize("language,text", [("en", "Two-factor authentication"), ("ja", "二要素認証")])
def test_pages_in_both_languages(admin, console_client, language, text):
    client = console_client(admin)
    client.cookies["django_language"] = language
    body = client.get("/t/acme/accounts/2fa/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert text in body
