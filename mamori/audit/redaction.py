"""Remove secrets from anything that goes into an audit event.

Keys that look like secrets are replaced by a marker at any depth, whatever
their value; the marker tells a reader that a value changed without showing it.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|private|credential|otp|totp|"
    r"recovery|session|cookie|authorization|signature|hash|dek|kek|^key$|_key$)",
    re.IGNORECASE,
)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if is_secret_key(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value
