"""WebAuthn (security keys / passkeys) with a software authenticator built from fido2's
own data classes and ``cryptography`` (a P-256 key, "none" attestation): registration
on allauth's "Add a security key" page, then the second sign-in step with an assertion
signed by that key. The browser's JavaScript (allauth's static webauthn.js) is not run
here; the server side (options, challenge, origin, signature, counter) is real.
``MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN`` lets the test client's http://testserver origin in.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from allauth.mfa.models import Authenticator
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)

from mamori.audit.models import AuditEvent
from mamori.tenancy.context import use_tenant
from tests.multifactor.helpers import password_step

pytestmark = pytest.mark.django_db

ORIGIN = "http://testserver"
RP_HASH = hashlib.sha256(b"testserver").digest()


class SoftKey:
    def __init__(self):
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.counter = 0

    def register(self, options: dict) -> dict:
        challenge = websafe_decode(options["publicKey"]["challenge"])
        client = CollectedClientData.create("webauthn.create", challenge, ORIGIN)
        attested = AttestedCredentialData.create(b"\0" * 16, self.credential_id,
                                                 ES256.from_cryptography_key(self.private.public_key()))
        auth_data = AuthenticatorData.create(RP_HASH, AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.AT,
                                             self.counter, bytes(attested))
        attestation = AttestationObject.create("none", auth_data, {})
        cid = websafe_encode(self.credential_id)
        return {"id": cid, "rawId": cid, "type": "public-key", "clientExtensionResults": {},
                "response": {"clientDataJSON": websafe_encode(bytes(client)),
                             "attestationObject": websafe_encode(bytes(attestation))}}

    def assert_(self, options: dict, *, origin: str = ORIGIN) -> dict:
        challenge = websafe_decode(options["publicKey"]["challenge"])
        client = CollectedClientData.create("webauthn.get", challenge, origin)
        self.counter += 1
        auth_data = AuthenticatorData.create(RP_HASH, AuthenticatorData.FLAG.UP, self.counter)
        signature = self.private.sign(bytes(auth_data) + hashlib.sha256(bytes(client)).digest(),
                                      ec.ECDSA(hashes.SHA256()))
        cid = websafe_encode(self.credential_id)
        return {"id": cid, "rawId": cid, "type": "public-key", "clientExtensionResults": {},
                "response": {"clientDataJSON": websafe_encode(bytes(client)),
                             "authenticatorData": websafe_encode(bytes(auth_data)),
                             "signature": websafe_encode(signature), "userHandle": None}}


@pytest.fixture(autouse=True)
def _insecure_origin(settings):
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True


def _register(user, client, key: SoftKey):
    page = client.get("/t/acme/accounts/2fa/webauthn/add/")
    assert page.status_code == 200
    options = page.context["js_data"]["creation_options"]
    assert options["publicKey"]["rp"]["name"] == f"Mamori ({user.tenant.name})"
    response = client.post("/t/acme/accounts/2fa/webauthn/add/",
                           {"name": "Soft key", "credential": json.dumps(key.register(options))})
    assert response.status_code == 302, response.content.decode()[-2000:]


def test_register_and_sign_in_with_a_security_key(admin, console_client):
    key = SoftKey()
    client = console_client(admin)
    _register(admin, client, key)
    with use_tenant(admin.tenant):
        assert Authenticator.objects.filter(user_id=admin.pk, type="webauthn").count() == 1
        assert AuditEvent.objects.filter(action="mfa.authenticator_added", after__type="webauthn").exists()

    fresh, response = password_step(admin)
    assert response["Location"].endswith("/accounts/2fa/authenticate/")
    page = fresh.get(response["Location"])
    options = page.context["js_data"]["request_options"]
    assert options["publicKey"]["allowCredentials"]
    done = fresh.post("/t/acme/accounts/2fa/authenticate/", {"credential": json.dumps(key.assert_(options))})
    assert done.status_code == 302 and done["Location"].endswith("/t/acme/")
    assert fresh.get("/t/acme/").status_code == 200
    with use_tenant(admin.tenant):
        assert AuditEvent.objects.filter(action="auth.mfa_succeeded", after__type="webauthn").exists()


def test_assertion_signed_by_another_key_refused(admin, console_client):
    key = SoftKey()
    client = console_client(admin)
    _register(admin, client, key)
    impostor = SoftKey()
    impostor.credential_id = key.credential_id  # same id, different private key
    fresh, response = password_step(admin)
    options = fresh.get(response["Location"]).context["js_data"]["request_options"]
    refused = fresh.post("/t/acme/accounts/2fa/authenticate/",
                         {"credential": json.dumps(impostor.assert_(options))})
    assert refused.status_code == 200
    assert fresh.get("/t/acme/").status_code == 302


def test_malformed_credential_is_refused_not_500(admin, console_client):
    key = SoftKey()
    client = console_client(admin)
    _register(admin, client, key)
    fresh, response = password_step(admin)
    fresh.get(response["Location"])
    for junk in ('{"id": 1}', "[]", '"x"', '{"response": {}}'):
        assert fresh.post("/t/acme/accounts/2fa/authenticate/", {"credential": junk}).status_code == 200


def test_failures_audited(admin, console_client):
    key = SoftKey()
    client = console_client(admin)
    _register(admin, client, key)
    fresh, response = password_step(admin)
    fresh.get(response["Location"])
    fresh.post("/t/acme/accounts/2fa/authenticate/", {"credential": '{"id": 1}'})
    with use_tenant(admin.tenant):
        assert AuditEvent.objects.filter(action="auth.mfa_failed", after__type="webauthn").exists()


def test_malformed_registration_refused_not_500(admin, console_client):
    client = console_client(admin)
    client.get("/t/acme/accounts/2fa/webauthn/add/")
    for junk in ('{"id": 1}', "[]", '{"response": {}}'):
        response = client.post("/t/acme/accounts/2fa/webauthn/add/", {"name": "x", "credential": junk})
        assert response.status_code == 200
