"""Startup checks of the accounts settings."""

from __future__ import annotations

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def check_password_list_file(app_configs=None, **kwargs):
    """A configured password list that cannot be read would fail the first password change: say so
    at start-up instead."""
    path = getattr(settings, "MAMORI_PASSWORD_LIST_FILE", "")
    if not path:
        return []
    from mamori.accounts.policy import _load_common_validator

    try:
        validator = _load_common_validator(path)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        return [checks.Error(f"MAMORI_PASSWORD_LIST_FILE cannot be read: {exc.__class__.__name__}.",
                             hint="One password per line, UTF-8, plain or gzip-compressed.", id="mamori.E131")]
    if not validator.passwords:
        return [checks.Error("MAMORI_PASSWORD_LIST_FILE holds no passwords.",
                             hint="One password per line, UTF-8, plain or gzip-compressed.", id="mamori.E132")]
    return []
