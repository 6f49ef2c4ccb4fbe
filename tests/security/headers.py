"""The security headers every response must carry, as one reusable check.

Used by ``tests/security/test_headers.py`` (Django's test client, production settings)
and by ``scripts/security-scan`` (a production-profile server on loopback).
"""

from __future__ import annotations

from collections.abc import Mapping

MIN_HSTS_SECONDS = 31536000  # one year

# The page types of the brief: path, expected status, what it is.
PAGE_TYPES = {
    "console page": "a signed-in tenant console page (HTML)",
    "sign-in page": "the tenant sign-in form (HTML)",
    "API JSON": "GET /api/v1/me with a token (application/json)",
    "problem JSON": "GET /api/v1/me without a token (401 application/problem+json)",
    "static file": "/static/mamori/mamori.css (WhiteNoise)",
    "404 page": "an unknown URL (HTML)",
    "health endpoint": "/healthz",
}


def header_problems(headers: Mapping[str, str], *, https: bool = True) -> list[str]:
    """What is missing or too weak in ``headers`` (names case-insensitive); empty when fine."""
    h = {k.lower(): v for k, v in headers.items()}
    problems: list[str] = []
    csp = h.get("content-security-policy", "")
    if not csp:
        problems.append("no Content-Security-Policy")
    else:
        directives = {d.strip().split(" ", 1)[0]: d.strip() for d in csp.split(";") if d.strip()}
        if "'unsafe-inline'" in csp or "'unsafe-eval'" in csp:
            problems.append(f"CSP allows unsafe-inline/unsafe-eval: {csp}")
        if directives.get("frame-ancestors") not in ("frame-ancestors 'none'", "frame-ancestors 'self'"):
            problems.append(f"CSP without frame-ancestors 'none'/'self': {csp}")
        if "default-src" not in directives:
            problems.append("CSP without default-src")
        if "object-src" not in directives and "'none'" not in directives.get("default-src", ""):
            problems.append("CSP without object-src")
    if https:
        hsts = h.get("strict-transport-security", "")
        try:
            max_age = int(hsts.split("max-age=", 1)[1].split(";", 1)[0]) if "max-age=" in hsts else 0
        except ValueError:
            max_age = 0
        if max_age < MIN_HSTS_SECONDS:
            problems.append(f"HSTS missing or shorter than a year: {hsts!r}")
    if h.get("referrer-policy", "") not in ("same-origin", "no-referrer", "strict-origin",
                                             "strict-origin-when-cross-origin"):
        problems.append(f"Referrer-Policy missing or weak: {h.get('referrer-policy')!r}")
    if not h.get("permissions-policy"):
        problems.append("no Permissions-Policy")
    if h.get("x-content-type-options", "").lower() != "nosniff":
        problems.append("X-Content-Type-Options is not nosniff")
    return problems
