"""Fixtures for SSO tests: a real OpenID Provider (npm ``oidc-provider``, run with Node.js).

The provider lives in ``tests/sso/oidc_provider`` (``npm ci`` there installs it; ``make test``
and ``.ci/run`` do). Without Node.js or the installed package the OIDC tests are skipped —
unless ``MAMORI_REQUIRE_IDP=1`` (set by CI), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

OP_DIR = Path(__file__).parent / "oidc_provider"
CLIENT_ID = "mamori-test"
CLIENT_SECRET = "test-client-secret-0123456789"  # noqa: S105 (test IdP)


def _unavailable(reason: str):
    if os.environ.get("MAMORI_REQUIRE_IDP") == "1":
        pytest.fail(f"MAMORI_REQUIRE_IDP=1 but the test OpenID Provider cannot run: {reason}")
    pytest.skip(f"test OpenID Provider unavailable: {reason} (run `npm ci` in {OP_DIR})")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OpenIDProvider:
    def __init__(self, process: subprocess.Popen, port: int, issuer: str):
        self.process = process
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.issuer = issuer
        self.browser = requests.Session()  # the user's browser at the IdP (its cookies)

    def set_user(self, sub: str, email: str, *, name: str = "", email_verified: bool = True) -> None:
        response = requests.post(f"{self.base}/_test/user", timeout=5, data=json.dumps(
            {"sub": sub, "email": email, "email_verified": email_verified, "name": name}))
        response.raise_for_status()
        self.browser = requests.Session()  # a fresh IdP session: the next sign-in is this user

    def authorize(self, url: str, *, stop_prefix: str = "http://testserver/") -> str:
        """Follow the IdP's redirects like a browser until it sends the user back to Mamori."""
        for _ in range(20):
            response = self.browser.get(url, allow_redirects=False, timeout=10)
            assert response.status_code in (302, 303), (response.status_code, response.text[:500])
            url = urljoin(url, response.headers["Location"])
            if url.startswith(stop_prefix):
                return url[len(stop_prefix) - 1:]
        raise AssertionError("the IdP redirected too often")


@pytest.fixture
def start_op():
    """``start_op(redirect_uri, issuer=None, misbehave="")`` → a running ``OpenIDProvider``."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        _unavailable("node/npm not found on PATH")
    if not (OP_DIR / "node_modules" / "oidc-provider").is_dir():
        _unavailable("node package oidc-provider not installed")
    started: list[OpenIDProvider] = []

    def _start(redirect_uri: str, *, issuer: str | None = None, misbehave: str = "") -> OpenIDProvider:
        port = _free_port()
        issuer = issuer or f"http://127.0.0.1:{port}"
        env = {**os.environ, "OP_PORT": str(port), "OP_ISSUER": issuer, "OP_MISBEHAVE": misbehave,
               "OP_CLIENTS": json.dumps([{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                          "redirect_uris": [redirect_uri]}])}
        process = subprocess.Popen([node, "server.mjs"], cwd=OP_DIR, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        line = process.stdout.readline()
        if not line.startswith("READY"):
            process.kill()
            _unavailable(f"server did not start: {line!r} {process.stderr.read()[:500]}")
        op = OpenIDProvider(process, port, issuer)
        started.append(op)
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                requests.get(f"{op.base}/.well-known/openid-configuration", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.05)
        return op

    yield _start
    for op in started:
        op.process.terminate()
        try:
            op.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            op.process.kill()



@pytest.fixture
def saml_idp(tmp_path):
    """A pysaml2 identity provider on loopback (needs the xmlsec1 binary)."""
    if shutil.which("xmlsec1") is None:
        if os.environ.get("MAMORI_REQUIRE_IDP") == "1":
            pytest.fail("MAMORI_REQUIRE_IDP=1 but xmlsec1 is missing (apt-get install xmlsec1)")
        pytest.skip("xmlsec1 not installed (apt-get install xmlsec1)")
    from tests.sso.saml_idp import SamlIdP

    idp = SamlIdP(tmp_path)
    yield idp
    idp.close()
