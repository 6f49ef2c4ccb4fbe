"""A real SAML 2.0 identity provider built with pysaml2, served on loopback for the SSO tests.

It generates its own signing key and certificate, serves its metadata (``/metadata``) and
an HTTP-Redirect single sign-on endpoint (``/sso/redirect``) that answers an AuthnRequest
with a signed assertion for the chosen user, as an auto-post form (like a browser sees it).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def make_key_pair(directory: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mamori-test-idp")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    key_path, cert_path = directory / "idp.key", directory / "idp.crt"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class SamlIdP:
    def __init__(self, directory: Path):
        from saml2 import BINDING_HTTP_REDIRECT
        from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT

        self.key_path, self.cert_path = make_key_pair(directory)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.entity_id = f"{self.base}/metadata"
        self.config = {
            "entityid": self.entity_id,
            "service": {"idp": {
                "endpoints": {"single_sign_on_service": [(f"{self.base}/sso/redirect", BINDING_HTTP_REDIRECT)]},
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "policy": {"default": {"lifetime": {"minutes": 15}, "name_form": NAME_FORMAT_URI}},
            }},
            "key_file": str(self.key_path),
            "cert_file": str(self.cert_path),
            "xmlsec_binary": shutil.which("xmlsec1"),
            "metadata": {},
        }
        self.server = None
        self.user = {"nameid": "alice-nameid", "email": "alice@example.com", "name": "Alice"}
        self.audience: str | None = None  # override the SP entity id the assertion is for
        self.tamper = None  # callable(xml: str) -> str applied after signing
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def metadata_xml(self) -> str:
        from saml2.config import IdPConfig
        from saml2.metadata import entity_descriptor

        conf = IdPConfig().load(self.config)
        return str(entity_descriptor(conf))

    def trust_sp(self, sp_metadata_xml: str) -> None:
        from saml2.config import IdPConfig
        from saml2.server import Server

        self.config["metadata"] = {"inline": [sp_metadata_xml]}
        self.server = Server(config=IdPConfig().load(self.config))

    def set_user(self, nameid: str, email: str, name: str = "") -> None:
        self.user = {"nameid": nameid, "email": email, "name": name}

    def answer(self, query: dict) -> tuple[str, str, str]:
        """(ACS URL, SAMLResponse, RelayState) for an AuthnRequest sent with HTTP-Redirect."""
        from saml2 import BINDING_HTTP_REDIRECT
        from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID

        request = self.server.parse_authn_request(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT)
        message = request.message
        sp_entity_id = message.issuer.text
        identity = {"mail": [self.user["email"]], "displayName": [self.user["name"] or self.user["email"]]}
        response = self.server.create_authn_response(
            identity, in_response_to=message.id, destination=message.assertion_consumer_service_url,
            sp_entity_id=self.audience or sp_entity_id, userid=self.user["nameid"],
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=self.user["nameid"]),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
            sign_assertion=True, sign_response=False,
            sign_alg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            digest_alg="http://www.w3.org/2001/04/xmlenc#sha256")
        xml = str(response)
        if self.tamper is not None:
            xml = self.tamper(xml)
        return (message.assertion_consumer_service_url, base64.b64encode(xml.encode()).decode(),
                query.get("RelayState", [""])[0])

    def _handler(self):
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: str, content_type: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                parts = urlsplit(self.path)
                if parts.path == "/metadata":
                    return self._send(200, idp.metadata_xml(), "application/samlmetadata+xml")
                if parts.path == "/sso/redirect":
                    acs, saml_response, relay = idp.answer(parse_qs(parts.query))
                    form = (f'<form method="post" action="{html.escape(acs)}">'
                            f'<input type="hidden" name="SAMLResponse" value="{saml_response}">'
                            f'<input type="hidden" name="RelayState" value="{html.escape(relay)}"></form>')
                    return self._send(200, form, "text/html")
                return self._send(404, "not found", "text/plain")

        return Handler

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def parse_form(page: str) -> tuple[str, dict]:
    action = html.unescape(re.search(r'action="([^"]+)"', page).group(1))
    fields = {m.group(1): html.unescape(m.group(2)) for m in re.finditer(r'name="([^"]+)" value="([^"]*)"', page)}
    return action, fields
