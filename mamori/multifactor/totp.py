"""TOTP replay guard: each time step's code is accepted once per authenticator.

allauth marks a used code in Django's cache for one period only, while a code stays
valid for ``MFA_TOTP_TOLERANCE`` steps either side, and a process-local cache is not
shared between workers. Mamori keeps the last accepted time step in the
authenticator's row (``data["last_step"]``, updated under a row lock) and refuses any
code of that step or an earlier one (RFC 6238 §5.2).
"""

from __future__ import annotations

from allauth.core.internal.cryptokit import compare_user_code
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from allauth.mfa.utils import decrypt

LAST_STEP = "last_step"


def matching_step(secret: str, code: str) -> int | None:
    """The time step (within the tolerance window) whose code is ``code``, if any."""
    for counter in yield_hotp_counters_from_time():
        if compare_user_code(actual=code, expected=format_hotp_value(hotp_value(secret, counter))):
            return counter
    return None


def claim_step(authenticator: Authenticator, code: str) -> bool:
    """Record that ``code`` was used; False if its step (or a later one) was used already."""
    row = Authenticator.objects.select_for_update().get(pk=authenticator.pk)
    step = matching_step(decrypt(row.data["secret"]), code)
    if step is None:
        return False
    last = row.data.get(LAST_STEP)
    if last is not None and step <= int(last):
        return False
    row.data[LAST_STEP] = step
    row.save(update_fields=["data"])
    authenticator.data = row.data
    return True
