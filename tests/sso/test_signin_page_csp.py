"""The sign-in page lets the IdP's origin into CSP form-action, and nothing else."""

from __future__ import annotations

import pytest

from mamori.sso.templatetags.sso import _origin


@pytest.mark.parametrize("url, origin", [
    ("https://idp.example.com/realms/acme", "https://idp.example.com"),
    ("https://idp.example.com:8443/x?y=1", "https://idp.example.com:8443"),
    ("http://127.0.0.1:5556/", "http://127.0.0.1:5556"),
    ("https://a.example;script-src 'unsafe-inline' */x", ""),
    ("https://a.example\r\nSet-Cookie: x=1", ""),
    ("javascript:alert(1)", ""),
    ("https://a.example:99999/", ""),
    ("", ""),
])
def test_only_a_clean_origin_reaches_the_policy(url, origin):
    assert _origin(url) == origin
