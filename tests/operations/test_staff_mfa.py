"""Provider staff MFA: TOTP enrolment at the first sign-in, a code at every sign-in, no replay,
throttling, the secret wrapped by the master key, and the staff CLI."""

from __future__ import annotations

import time
from io import StringIO

import pyotp
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import translation

from mamori.audit.models import ProviderEvent
from mamori.lifecycle.keys import MasterKeyError
from mamori.operations import mfa
from mamori.operations.middleware import PENDING_KEY, PROVIDER_MFA_KEY, PROVIDER_SESSION_KEY
from mamori.operations.models import ProviderStaff
from tests.operations.conftest import STAFF_PASSWORD


@pytest.fixture(autouse=True)
def _mfa_on(settings):
    settings.MAMORI_PROVIDER_MFA = True


def _password(client: Client, staff, next_url: str | None = None):
    data = {"email": staff.email, "password": STAFF_PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post("/provider/login/", data)


def _setup_secret(client: Client) -> str:
    page = client.get("/provider/login/setup/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'src="data:image/svg+xml;base64,' in html  # the QR code, allowed by img-src data:
    secret = html.split('id="totp-secret">')[1].split("<")[0]
    assert len(secret) == 32
    return secret


def _enrol(client: Client, staff) -> pyotp.TOTP:
    assert _password(client, staff)["Location"] == "/provider/login/setup/"
    totp = pyotp.TOTP(_setup_secret(client))
    response = client.post("/provider/login/setup/", {"code": totp.now()})
    assert response.status_code == 302 and response["Location"] == "/provider/"
    return totp


def test_first_sign_in_enrols_then_every_sign_in_needs_a_code(make_staff):
    staff = make_staff()
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = _password(client, staff)
    assert response.status_code == 302 and response["Location"] == "/provider/login/setup/"
    # The password alone signs nobody in.
    assert client.get("/provider/").status_code == 302
    assert PROVIDER_SESSION_KEY not in client.session
    totp = pyotp.TOTP(_setup_secret(client))
    assert client.post("/provider/login/setup/", {"code": "123456" if totp.now() != "123456" else "654321"}
                       ).status_code == 422
    response = client.post("/provider/login/setup/", {"code": totp.now()})
    assert response.status_code == 302 and response["Location"] == "/provider/"
    assert client.get("/provider/").status_code == 200
    staff.refresh_from_db()
    assert staff.mfa_enrolled_at is not None and staff.totp_last_step is not None
    actions = list(ProviderEvent.objects.filter(target_id=str(staff.pk)).order_by("id").values_list("action", flat=True))
    assert actions[-4:] == ["provider.login_password_ok", "provider.mfa_failed", "provider.mfa_enrolled",
                            "provider.login"]
    assert ProviderEvent.objects.filter(action="provider.login").order_by("id").last().after == {"mfa": "totp"}

    # Next sign-in: the code page, not the enrolment page; the same code is refused (replay).
    second = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert _password(second, staff, "/provider/log/")["Location"] == "/provider/login/verify/"
    assert second.get("/provider/login/setup/")["Location"] == "/provider/login/verify/"
    used = mfa.code_for(totp.secret, staff.totp_last_step)
    refused = second.post("/provider/login/verify/", {"code": used})
    assert refused.status_code == 422 and b"already been used" in refused.content
    assert ProviderEvent.objects.filter(action="provider.mfa_failed").order_by("id").last().after["reason"] == "replayed"
    fresh = mfa.code_for(totp.secret, staff.totp_last_step + 1)  # the next step (within the tolerance)
    response = second.post("/provider/login/verify/", {"code": fresh})
    assert response.status_code == 302 and response["Location"] == "/provider/log/"
    assert second.session[PROVIDER_MFA_KEY] is True and PENDING_KEY not in second.session


def test_the_secret_is_wrapped_by_the_master_key_and_bound_to_the_staff_row(make_staff):
    staff = make_staff()
    totp = _enrol(Client(), staff)
    staff.refresh_from_db()
    assert totp.secret not in staff.totp_secret and staff.totp_secret.startswith("kw1.")
    assert mfa.open_secret(staff) == totp.secret
    other = make_staff("support")
    other.totp_secret = staff.totp_secret  # copied to another row: does not open
    with pytest.raises(MasterKeyError):
        mfa.open_secret(other)
    assert not ProviderEvent.objects.filter(after__icontains=totp.secret).exists()


def test_wrong_codes_are_throttled(make_staff):
    staff = make_staff()
    totp = _enrol(Client(), staff)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    _password(client, staff)
    wrong = "000000" if totp.now() != "000000" else "111111"
    for _ in range(mfa.MAX_FAILURES):
        assert client.post("/provider/login/verify/", {"code": wrong}).status_code == 422
    response = client.post("/provider/login/verify/", {"code": totp.now()})
    assert response.status_code == 429 and b"Too many wrong codes" in response.content
    assert client.get("/provider/").status_code == 302
    assert ProviderEvent.objects.filter(action="provider.mfa_failed").count() == mfa.MAX_FAILURES


def test_the_second_step_expires_and_needs_the_password_first(make_staff, monkeypatch):
    staff = make_staff()
    assert Client().get("/provider/login/verify/")["Location"] == "/provider/login/"
    assert Client().get("/provider/login/setup/")["Location"] == "/provider/login/"
    client = Client()
    _password(client, staff)
    later = time.time() + 301
    monkeypatch.setattr("mamori.operations.middleware.time.time", lambda: later)
    assert client.get("/provider/login/setup/")["Location"] == "/provider/login/"


def test_a_session_without_the_second_factor_is_not_accepted_once_mfa_is_on(make_staff, settings):
    settings.MAMORI_PROVIDER_MFA = False
    staff = make_staff()
    client = Client()
    assert _password(client, staff)["Location"] == "/provider/"
    assert client.get("/provider/").status_code == 200
    settings.MAMORI_PROVIDER_MFA = True
    assert client.get("/provider/").status_code == 302  # signed in with a password only: sign in again


def test_mfa_off_signs_in_with_the_password(make_staff, settings):
    settings.MAMORI_PROVIDER_MFA = False
    staff = make_staff()
    client = Client()
    assert _password(client, staff)["Location"] == "/provider/"
    assert client.get("/provider/").status_code == 200
    assert not ProviderEvent.objects.filter(action="provider.login_password_ok").exists()


def test_deploy_check_refuses_production_without_provider_mfa(settings):
    from mamori.operations.checks import check_provider_mfa

    settings.PRODUCTION = True
    settings.MAMORI_PROVIDER_MFA = True
    assert check_provider_mfa() == []
    settings.MAMORI_PROVIDER_MFA = False
    assert [m.id for m in check_provider_mfa()] == ["mamori.E302"]


def test_cli_created_staff_enrols_at_first_sign_in_and_reset_forces_enrolment_again(db, tmp_path):
    """The bootstrap path: an operator created with the CLI signs in, enrols, and after
    `mamori staff reset-mfa` must enrol again; every step is in the provider log."""
    path = tmp_path / "pw"
    path.write_text(STAFF_PASSWORD + "\n")
    out = StringIO()
    call_command("staff", "create", "Boot@Provider.example", "--role", "operator", "--password-file", str(path),
                 stdout=out)
    assert "two-step verification is set up at the first sign-in" in out.getvalue()
    staff = ProviderStaff.objects.get(email="boot@provider.example")
    _enrol(Client(), staff)
    listing = StringIO()
    call_command("staff", "list", "--json", stdout=listing)
    assert '"mfa": "totp"' in listing.getvalue() and "kw1." not in listing.getvalue()
    call_command("staff", "reset-mfa", "boot@provider.example", stdout=StringIO())
    staff.refresh_from_db()
    assert staff.totp_secret == "" and staff.mfa_enrolled_at is None
    assert _password(Client(), staff)["Location"] == "/provider/login/setup/"
    reset = ProviderEvent.objects.get(action="provider.mfa_reset")
    assert reset.actor_type == "system" and reset.actor_label.startswith("cli") and reset.after == {"was_enrolled": True}


def test_cli_deactivate_ends_sessions_and_is_audited(make_staff, settings):
    settings.MAMORI_PROVIDER_MFA = False
    staff = make_staff()
    client = Client()
    _password(client, staff)
    assert client.get("/provider/").status_code == 200
    call_command("staff", "deactivate", staff.email, stdout=StringIO())
    assert client.get("/provider/").status_code == 302
    assert ProviderEvent.objects.filter(action="provider.staff_deactivated", target_id=str(staff.pk)).count() == 1
    with translation.override("en"), pytest.raises(CommandError, match="already deactivated"):
        call_command("staff", "deactivate", staff.email, stdout=StringIO())
    with pytest.raises(CommandError, match="No provider staff"):
        call_command("staff", "reset-mfa", "nobody@provider.example", stdout=StringIO())


def test_codes_match_rfc6238_within_one_step(settings):
    secret = mfa.new_secret()
    now = 1_800_000_000
    step = mfa.current_step(now)
    assert mfa.matching_step(secret, pyotp.TOTP(secret).at(now), now) == step
    assert mfa.matching_step(secret, pyotp.TOTP(secret).at(now - 30), now) == step - 1
    assert mfa.matching_step(secret, pyotp.TOTP(secret).at(now - 90), now) is None
    assert mfa.matching_step(secret, "12345", now) is None and mfa.matching_step(secret, "abcdef", now) is None


def test_wrong_password_and_unknown_address_leave_no_pending_step(make_staff):
    staff = make_staff()
    unknown, wrong = Client(HTTP_ACCEPT_LANGUAGE="en"), Client(HTTP_ACCEPT_LANGUAGE="en")
    a = unknown.post("/provider/login/", {"email": "nobody@provider.example", "password": STAFF_PASSWORD})
    b = wrong.post("/provider/login/", {"email": staff.email, "password": "not the password at all"})
    assert a.status_code == b.status_code == 200
    assert b"The e-mail address or the password is not correct." in a.content and PENDING_KEY not in unknown.session
    assert PENDING_KEY not in wrong.session and wrong.get("/provider/login/verify/")["Location"] == "/provider/login/"
    assert not ProviderEvent.objects.filter(action="provider.login_password_ok").exists()
