"""Helpers for MFA tests: a frozen clock for allauth's TOTP check and pyotp codes."""

from __future__ import annotations

import types

import pyotp
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal import auth as totp_auth
from allauth.mfa.totp.internal.auth import TOTP
from django.test import Client

from mamori.tenancy.context import use_tenant
from tests.conftest import PASSWORD

# The middle of a 30-second step, so "now ± k steps" never straddles a boundary.
NOW = 1_800_000_015.0


def freeze(monkeypatch, when: float = NOW) -> None:
    monkeypatch.setattr(totp_auth, "time", types.SimpleNamespace(time=lambda: when))


def code(secret: str, steps: int = 0, when: float = NOW) -> str:
    """The code an authenticator app shows ``steps`` periods from ``when``."""
    return pyotp.TOTP(secret).at(when + 30 * steps)


def enrol(user, secret: str | None = None) -> str:
    """Give ``user`` a TOTP authenticator (and recovery codes), as enrolment does."""
    secret = secret or pyotp.random_base32()
    with use_tenant(user.tenant):
        TOTP.activate(user, secret)
        RecoveryCodes.activate(user)
    return secret


def recovery_codes(user) -> list[str]:
    with use_tenant(user.tenant):
        row = Authenticator.objects.get(user_id=user.pk, type=Authenticator.Type.RECOVERY_CODES)
        return row.wrap().get_unused_codes()


def password_step(user, client: Client | None = None):
    client = client or Client()
    response = client.post(f"/t/{user.tenant.slug}/accounts/login/",
                           {"login": user.email, "password": PASSWORD})
    return client, response


def mfa_step(user, client: Client, value: str):
    return client.post(f"/t/{user.tenant.slug}/accounts/2fa/authenticate/", {"code": value})
