"""Second factor for provider staff: TOTP (RFC 6238) with allauth's HOTP helpers.

Provider staff are not tenant users, so allauth's ``Authenticator`` (a row per tenant user)
does not fit; the secret lives on ``ProviderStaff`` instead:

- generated with ``allauth.mfa.totp.internal.auth.generate_totp_secret`` (160 bits, base32);
- stored wrapped by the provider's master key (``mamori.lifecycle.keys.get_key_provider()
  .wrap``, AES-256-GCM, associated data binding the staff id: a secret copied to another
  staff row does not open). ``mamori keys rotate-master`` re-wraps them with the new key in
  the same transaction as the tenants' data keys (``rewrap_staff_secrets``, registered by
  the app);
- codes are checked with allauth's ``hotp_value`` over the steps within
  ``MFA_TOTP_TOLERANCE`` of now; the accepted step is stored (``totp_last_step``) and a code
  of that step or an earlier one is refused (no replay, across processes);
- wrong codes are counted in the provider log (``provider.mfa_failed``) and throttled by the
  views (``MAX_FAILURES`` in ``FAILURE_MINUTES``).
"""

from __future__ import annotations

import base64
import time
from urllib.parse import quote, urlencode

from allauth.core.internal.cryptokit import compare_user_code
from allauth.mfa.totp.internal.auth import format_hotp_value, generate_totp_secret, hotp_value
from django.conf import settings

MAX_FAILURES = 5
FAILURE_MINUTES = 15
PURPOSE = b"mamori.provider_staff.totp:"


def required() -> bool:
    return bool(getattr(settings, "MAMORI_PROVIDER_MFA", True))


def new_secret() -> str:
    return generate_totp_secret()


def _aad(staff_id: int) -> bytes:
    return PURPOSE + str(staff_id).encode("ascii")


def seal_secret(staff_id: int, secret: str) -> str:
    from mamori.lifecycle.keys import get_key_provider

    return get_key_provider().wrap(secret.encode("ascii"), aad=_aad(staff_id))


def open_secret(staff) -> str:
    from mamori.lifecycle.keys import get_key_provider

    return get_key_provider().unwrap(staff.totp_secret, aad=_aad(staff.pk)).decode("ascii")


def rewrap_staff_secrets(old, new) -> int:
    """Re-wrap every staff TOTP secret from the ``old`` master key provider to ``new``."""
    from mamori.operations.models import ProviderStaff

    rows = list(ProviderStaff.objects.select_for_update().exclude(totp_secret="")
                .order_by("pk").values_list("pk", "totp_secret"))
    for pk, wrapped in rows:
        secret = old.unwrap(wrapped, aad=_aad(pk))
        ProviderStaff.objects.filter(pk=pk).update(totp_secret=new.wrap(secret, aad=_aad(pk)))
    return len(rows)


def _period() -> int:
    return int(getattr(settings, "MFA_TOTP_PERIOD", 30))


def current_step(now: float | None = None) -> int:
    return int(now if now is not None else time.time()) // _period()


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code equals ``code`` (within the tolerance), or None."""
    code = "".join((code or "").split())
    if not code.isdigit() or len(code) != int(getattr(settings, "MFA_TOTP_DIGITS", 6)):
        return None
    step = current_step(now)
    tolerance = int(getattr(settings, "MFA_TOTP_TOLERANCE", 1))
    found = None
    for candidate in range(step - tolerance, step + tolerance + 1):
        if compare_user_code(actual=code, expected=format_hotp_value(hotp_value(secret, candidate))):
            found = candidate  # no early exit: the same work for every code
    return found


def code_for(secret: str, step: int) -> str:
    """The code of ``step`` (tests, and the enrolment page's self-check)."""
    return format_hotp_value(hotp_value(secret, step))


def otpauth_uri(email: str, secret: str) -> str:
    issuer = f"{getattr(settings, 'PROVIDER_NAME', 'Mamori')} (provider console)"
    query = urlencode({"secret": secret, "issuer": issuer, "digits": getattr(settings, "MFA_TOTP_DIGITS", 6),
                       "period": _period()})
    return f"otpauth://totp/{quote(issuer)}:{quote(email)}?{query}"


def qr_data_uri(uri: str) -> str:
    """An SVG QR code as a data: URI (the CSP allows ``img-src data:``)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode("ascii")
