"""allauth's MFA code forms (``settings.MFA_FORMS``) with Mamori's extra checks.

- The brute-force throttle (``mamori.accounts.throttle``, kinds ``totp`` and
  ``recovery_code``) is asked before any code is checked; while an account or address
  must wait, the code is not even looked at.
- A TOTP code is accepted once (``mamori.multifactor.totp``): a replayed code is refused
  like a wrong one, with the same message and audit event.
"""

from __future__ import annotations

from allauth.core import context
from allauth.core.internal.cryptokit import normalize_user_code
from allauth.mfa import app_settings
from allauth.mfa.adapter import get_adapter
from allauth.mfa.base.forms import AuthenticateForm, ReauthenticateForm
from allauth.mfa.models import Authenticator
from allauth.mfa.webauthn.forms import (
    AddWebAuthnForm,
    AuthenticateWebAuthnForm,
    ReauthenticateWebAuthnForm,
)
from django import forms
from django.utils.translation import gettext as _

from mamori.accounts import throttle
from mamori.multifactor.totp import claim_step


def code_kind(code: str) -> str:
    """``recovery_code`` for a code of the recovery codes' length, else ``totp``."""
    digits = normalize_user_code(code or "")
    if len(digits) == app_settings.RECOVERY_CODE_DIGITS and app_settings.RECOVERY_CODE_DIGITS != app_settings.TOTP_DIGITS:
        return throttle.RECOVERY_CODE
    return throttle.TOTP


class ThrottledCodeMixin:
    def clean_code(self) -> str:
        request = context.request
        code = self.cleaned_data.get("code", "")
        kind = code_kind(code)
        key = self.user.email
        wait = throttle.check_allowed(request, kind=kind, account_key=key)
        if wait:
            raise forms.ValidationError(
                _("Too many wrong codes. Try again in %(seconds)d seconds.") % {"seconds": max(1, round(wait))},
                code="throttled")
        try:
            code = super().clean_code()
            if self.authenticator.type == Authenticator.Type.TOTP and not claim_step(self.authenticator, code):
                # Same answer and audit event as a wrong code.
                self._emit_authentication_failed(self.authenticator)
                raise get_adapter().validation_error("incorrect_code")
        except forms.ValidationError:
            throttle.attempt_failed(request, kind=kind, account_key=key)
            raise
        throttle.attempt_succeeded(request, kind=kind, account_key=key)
        return code


class MamoriAuthenticateForm(ThrottledCodeMixin, AuthenticateForm):
    pass


class MamoriReauthenticateForm(ThrottledCodeMixin, ReauthenticateForm):
    pass


# --- WebAuthn ------------------------------------------------------------------------------
# allauth parses the posted credential with fido2, which raises KeyError/TypeError/ValueError
# on some malformed payloads (a 500): here every malformed or wrong credential is the same
# "Incorrect code." answer, counted by the throttle (kind ``webauthn``) and audited.

_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError)


def _record_webauthn_failure(user, reauthentication: bool) -> None:
    from mamori.audit.events import Actor, record_event

    record_event("auth.mfa_failed", actor=Actor.for_user(user), target=("accounts.user", str(user.pk), user.email),
                 after={"type": Authenticator.Type.WEBAUTHN, "reauthentication": reauthentication,
                        "reason": "invalid_credential"})


class ThrottledWebAuthnMixin:
    def clean_credential(self):
        request = context.request
        key = self.user.email
        wait = throttle.check_allowed(request, kind=throttle.WEBAUTHN, account_key=key)
        if wait:
            raise forms.ValidationError(
                _("Too many wrong codes. Try again in %(seconds)d seconds.") % {"seconds": max(1, round(wait))},
                code="throttled")
        try:
            try:
                authenticator = super().clean_credential()
            except _MALFORMED:
                raise get_adapter().validation_error("incorrect_code") from None
        except forms.ValidationError:
            throttle.attempt_failed(request, kind=throttle.WEBAUTHN, account_key=key)
            _record_webauthn_failure(self.user, self.reauthenticated)
            raise
        throttle.attempt_succeeded(request, kind=throttle.WEBAUTHN, account_key=key)
        return authenticator


class MamoriAuthenticateWebAuthnForm(ThrottledWebAuthnMixin, AuthenticateWebAuthnForm):
    pass


class MamoriReauthenticateWebAuthnForm(ThrottledWebAuthnMixin, ReauthenticateWebAuthnForm):
    pass


class MamoriAddWebAuthnForm(AddWebAuthnForm):
    def clean(self):
        try:
            return super().clean()
        except _MALFORMED:
            raise get_adapter().validation_error("incorrect_code") from None
