"""gunicorn's access log never holds the secrets of e-mailed single-use links (ASVS V16.2.5,
docs/security/application-log.md).

Two levels: gunicorn's own request parser, WSGI environ and logger write an access line for a
raw HTTP request (``RedactingLogger`` through ``Logger.access``, the format ``mamori serve``
uses); and a real ``mamori serve`` on loopback answers real requests to the welcome,
invitation and password-reset links, and its access log has no secret in it.
"""

from __future__ import annotations

import datetime
import socket
import urllib.error
import urllib.request

import pytest
from gunicorn.config import Config
from gunicorn.http import wsgi
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader

from mamori.operations.access_log import REDACTED, RedactingLogger, redact_target
from mamori.operations.server import Bind, MamoriServer

SECRET = "Zq3xV9kP2mN7tR4wY8bC1dF6gH0jL5sA"  # noqa: S105 - a made-up link secret
RESET = f"3f-{SECRET}"


def _access_line(tmp_path, raw: bytes, *, status: str = "200 OK", headers=()) -> str:
    """What gunicorn writes to the access log for the raw request (its parser, environ, logger)."""
    log = tmp_path / "access.log"
    cfg = Config()
    cfg.set("accesslog", str(log))
    cfg.set("logger_class", "mamori.operations.access_log.RedactingLogger")
    logger = cfg.logger_class(cfg)
    assert isinstance(logger, RedactingLogger)
    req = Request(cfg, IterUnreader([raw]), ("127.0.0.1", 50000))
    left, right = socket.socketpair()
    try:
        resp, environ = wsgi.create(req, left, ("127.0.0.1", 50000), ("127.0.0.1", 8000), cfg)
        resp.start_response(status, list(headers))
        logger.access(resp, req, environ, datetime.timedelta(milliseconds=3))
    finally:
        left.close()
        right.close()
        for handler in logger.access_log.handlers:
            handler.close()
    return log.read_text()


def _get(path: str, referer: str | None = None) -> bytes:
    extra = f"Referer: {referer}\r\n" if referer else ""
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: probe\r\n{extra}"
            "Cookie: sessionid=abc123cookie\r\n\r\n").encode()


def test_mamori_serve_uses_the_redacting_logger():
    server = MamoriServer(bind=Bind("127.0.0.1", 8000), workers=1, threads=1)
    assert server.cfg.logger_class is RedactingLogger


@pytest.mark.parametrize(("path", "logged"), [
    (f"/t/acme/welcome/{SECRET}/", f"/t/acme/welcome/{REDACTED}/"),
    (f"/t/acme/invitation/{SECRET}/", f"/t/acme/invitation/{REDACTED}/"),
    (f"/t/acme/accounts/password/reset/key/{RESET}/", f"/t/acme/accounts/password/reset/key/{REDACTED}/"),
    # Percent-encoded forms of a link are caught too.
    (f"/t/acme/%77elcome/{SECRET}/", f"/t/acme/welcome/{REDACTED}/"),
])
def test_secret_links_are_logged_without_their_secret(tmp_path, path, logged):
    line = _access_line(tmp_path, _get(path), status="200 OK")
    assert SECRET not in line
    assert f'"GET {logged} HTTP/1.1" 200' in line
    assert "abc123cookie" not in line


def test_query_strings_and_referrers_are_redacted(tmp_path):
    line = _access_line(tmp_path, _get("/t/acme/accounts/oidc/sso1/login/callback/?code=SECRETCODE&state=XYZ",
                                       referer=f"http://127.0.0.1/t/acme/welcome/{SECRET}/?next=/x"))
    assert "SECRETCODE" not in line and "XYZ" not in line and SECRET not in line
    assert f'"GET /t/acme/accounts/oidc/sso1/login/callback/?{REDACTED} HTTP/1.1"' in line
    assert f'"http://127.0.0.1/t/acme/welcome/{REDACTED}/?{REDACTED}"' in line


def test_ordinary_paths_are_logged_as_before(tmp_path):
    line = _access_line(tmp_path, _get("/t/acme/records/42/", referer="http://127.0.0.1/t/acme/records/"))
    assert '"GET /t/acme/records/42/ HTTP/1.1" 200' in line
    assert '"http://127.0.0.1/t/acme/records/" "probe"' in line
    # Pages whose names look like the links but carry no secret are not changed.
    for path in ("/t/acme/accounts/password/reset/key/done/", "/t/acme/help/welcome/", "/healthz"):
        assert f'"GET {path} HTTP/1.1"' in _access_line(tmp_path, _get(path))


def test_every_atom_is_redacted(tmp_path):
    """Also the atoms a provider might add to the format: %(U)s, %(q)s, environ and header forms."""
    cfg = Config()
    logger = RedactingLogger(cfg)
    req = Request(cfg, IterUnreader([_get(f"/t/acme/invitation/{SECRET}/?q=search-term",
                                          referer=f"/t/acme/invitation/{SECRET}/")]), ("127.0.0.1", 1))
    left, right = socket.socketpair()
    try:
        resp, environ = wsgi.create(req, left, ("127.0.0.1", 1), ("127.0.0.1", 8000), cfg)
        resp.start_response("302 Found", [("Location", f"/t/acme/invitation/{SECRET}/?x=1"),
                                          ("Set-Cookie", "sessionid=abc123cookie")])
        atoms = logger.atoms(resp, req, environ, datetime.timedelta(0))
    finally:
        left.close()
        right.close()
    text = repr(atoms)
    assert SECRET not in text and "search-term" not in text and "abc123cookie" not in text
    assert atoms["U"] == f"/t/acme/invitation/{REDACTED}/"
    assert atoms["q"] == REDACTED
    assert atoms["{raw_uri}e"] == f"/t/acme/invitation/{REDACTED}/?{REDACTED}"


def test_redact_target_forms():
    assert redact_target("-") == "-"
    assert redact_target("/a/b?c") == f"/a/b?{REDACTED}"
    assert redact_target(f"https://h.example/t/x/welcome/{SECRET}") == f"https://h.example/t/x/welcome/{REDACTED}"
    assert redact_target("/records/") == "/records/"


# --- the real server ------------------------------------------------------------------------

def _fetch(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=15) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_real_server_access_log_has_no_link_secrets(sqlite_data_dir, tmp_path):
    from tests.faults.conftest import mamori_env, start_server, stop, wait_until

    log = tmp_path / "serve.log"
    process, base = start_server(mamori_env(sqlite_data_dir), log, workers=1, threads=2)
    try:
        paths = [f"/t/acme/welcome/{SECRET}/", f"/t/acme/invitation/{SECRET}/",
                 f"/t/acme/accounts/password/reset/key/{RESET}/", "/healthz?probe=SECRETQUERY", "/readyz"]
        for path in paths:
            _fetch(base + path)
        wait_until(lambda: log.read_text(errors="replace").count('"GET /readyz HTTP/1.1"') >= 1, timeout=15,
                   interval=0.2, what="the access log line of /readyz", process=process, log=log)
    finally:
        stop(process)
    text = log.read_text(errors="replace")
    assert SECRET not in text and "SECRETQUERY" not in text
    for logged in (f"/t/acme/welcome/{REDACTED}/", f"/t/acme/invitation/{REDACTED}/",
                   f"/t/acme/accounts/password/reset/key/{REDACTED}/", f"/healthz?{REDACTED}"):
        assert f'"GET {logged} HTTP/1.1"' in text
    assert '"GET /readyz HTTP/1.1" 200' in text
