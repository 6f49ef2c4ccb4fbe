"""gunicorn's access log without single-use secrets (``logger_class`` of ``mamori serve``).

The links Mamori e-mails carry their secret in the path: ``/t/<slug>/welcome/<secret>/``,
``/t/<slug>/invitation/<secret>/`` and allauth's
``/t/<slug>/accounts/password/reset/key/<uid>-<key>/``. Query strings may carry others (the
OpenID Connect callback's ``code`` and ``state``) and search terms. gunicorn's default access
log line has the request line (``%(r)s``) and the referrer (``%(f)s``, which holds the link's
address on every request the opened page makes), so both would reach the log.

``RedactingLogger`` builds the atoms as gunicorn does, then:

- replaces the secret path segment with ``[redacted]`` in ``%(r)s``, ``%(U)s``, ``%(f)s`` and
  their environ/header forms (``%({raw_uri}e)s``, ``%({referer}i)s``, …);
- drops every query string: ``%(q)s`` is ``[redacted]`` when there was one (empty otherwise),
  and the request line and referrer end in ``?[redacted]``;
- blanks ``Cookie``, ``Authorization`` and ``Set-Cookie`` atoms, in case a provider adds them
  to the format.

Every other path is logged as before (the raw request target, minus its query string).
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from gunicorn.glogging import Logger

REDACTED = "[redacted]"

# One-time secrets in a path, after an optional SCRIPT_NAME and the tenant prefix /t/<slug>.
_SECRET_PATH = re.compile(
    r"^(?P<keep>(?:/[^?#]*?)?/t/[^/?#]+/(?:welcome|invitation|accounts/password/reset/key)/)"
    r"(?!done/?$)(?P<secret>[^/?#]+)")
# Header and environ atoms (``%({name}i)s``, ``%({name}o)s``, ``%({name}e)s``) a format may use.
_HIDDEN = ("{cookie}i", "{authorization}i", "{proxy-authorization}i", "{set-cookie}o", "{http_cookie}e",
           "{http_authorization}e", "{http_proxy_authorization}e")
_TARGETS = ("{location}o", "{raw_uri}e", "{request_uri}e")


def redact_path(path: str) -> str:
    """``path`` (no query string) with a single-use secret segment replaced by ``[redacted]``.

    Matched on the percent-decoded path as well, so an encoded form of a link is caught too."""
    if not path:
        return path
    match = _SECRET_PATH.match(path)
    if match:
        return match["keep"] + REDACTED + path[match.end("secret"):]
    decoded = unquote(path)
    if decoded != path:
        match = _SECRET_PATH.match(decoded)
        if match:
            return quote(match["keep"] + REDACTED + decoded[match.end("secret"):], safe="/[]-._~")
    return path


def redact_target(target: str) -> str:
    """A request target or URL (``/p?q``, ``http://h/p?q``): secret segment redacted, query
    string replaced by ``?[redacted]``, fragment dropped."""
    if not target or target == "-":
        return target
    if target.startswith("/") and not target.startswith("//"):
        path, sep, _query = target.partition("?")
        path = path.partition("#")[0]
        return redact_path(path) + (f"?{REDACTED}" if sep else "")
    try:
        parts = urlsplit(target)
    except ValueError:
        return REDACTED
    return urlunsplit((parts.scheme, parts.netloc, redact_path(parts.path), REDACTED if parts.query else "", ""))


class RedactingLogger(Logger):
    """gunicorn's logger with the access log atoms redacted (see the module docstring)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        method = environ.get("REQUEST_METHOD", "")
        protocol = environ.get("SERVER_PROTOCOL", "")
        atoms["r"] = f"{method} {redact_target(environ.get('RAW_URI', ''))} {protocol}"
        atoms["U"] = redact_path(environ.get("PATH_INFO") or "")
        atoms["q"] = REDACTED if environ.get("QUERY_STRING") else ""
        atoms["f"] = redact_target(environ.get("HTTP_REFERER", "-"))
        for key in _HIDDEN:
            if key in atoms:
                atoms[key] = REDACTED
        for key in _TARGETS:
            if key in atoms:
                atoms[key] = redact_target(str(atoms[key]))
        for key in ("{referer}i", "{http_referer}e"):
            if key in atoms:
                atoms[key] = atoms["f"]
        if "{path_info}e" in atoms:
            atoms["{path_info}e"] = atoms["U"]
        if "{query_string}e" in atoms:
            atoms["{query_string}e"] = atoms["q"]
        return atoms
