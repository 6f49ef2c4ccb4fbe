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


# Verdicts per key seen (the same few field names recur in every event): the regular expression
# runs once per distinct key. Bounded: cleared when it grows past _KNOWN_MAX distinct keys.
_KNOWN: dict[str, bool] = {}
_KNOWN_MAX = 4096


def is_secret_key(key: str) -> bool:
    verdict = _KNOWN.get(key)
    if verdict is None:
        verdict = bool(_SECRET_KEY.search(key))
        if len(_KNOWN) >= _KNOWN_MAX:
            _KNOWN.clear()
        _KNOWN[key] = verdict
    return verdict


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            name = k if type(k) is str else str(k)
            verdict = _KNOWN.get(name)
            if verdict is None:
                verdict = is_secret_key(name)
            if verdict:
                out[k] = REDACTED
            elif type(v) is str or type(v) is int or v is None or type(v) is bool:
                out[k] = v
            else:
                out[k] = redact(v)
        return out
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value
