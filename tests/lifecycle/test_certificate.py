"""Issue 6 item 4: deletion certificates verify; any modification fails; `mamori certificate verify`."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError

from mamori.audit import signing
from mamori.audit.events import Actor
from mamori.lifecycle import actions_termination as acts
from mamori.lifecycle import certificate as certs
from mamori.lifecycle.purge import purge_tenant
from mamori.tenancy.context import use_tenant


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "files")}}}


@pytest.fixture
def certificate(tenant, admin):
    acts.request_termination(actor=Actor.for_user(admin), confirm_slug="acme")
    with use_tenant(None):
        return purge_tenant(tenant, actor=Actor.system("test"), force=True)


def _write(tmp_path, text: str, name="cert.json"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_stored_certificate_verifies(certificate):
    result = certs.verify_document(certificate.document)
    assert result.ok and result.tenant_slug == "acme" and result.key_id == signing.key_id()
    doc = json.loads(certificate.document)
    assert doc["signature"]["algorithm"] == "Ed25519"
    assert certificate.sha256 == certs.document_sha256(doc)


def _tamper_cases():
    def set_(path, value):
        def change(doc):
            node = doc["certificate"]
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        return change

    def drop_table(doc):
        doc["certificate"]["tables"].popitem()

    def flip_signature(doc):
        value = doc["signature"]["value"]
        doc["signature"]["value"] = ("A" if value[0] != "A" else "B") + value[1:]

    def add_fact(doc):
        doc["certificate"]["note"] = "extra"

    return {
        "rows": set_(["rows_deleted"], 1),
        "tenant name": set_(["tenant", "name"], "Other"),
        "tenant id": set_(["tenant", "id"], 999),
        "finished": set_(["purge", "finished_at"], "2020-01-01T00:00:00.000000Z"),
        "files": set_(["files_removed"], 12345),
        "key fingerprint": set_(["data_keys_destroyed"], [{"version": 1, "fingerprint": "0" * 64}]),
        "table dropped": drop_table,
        "signature": flip_signature,
        "extra fact": add_fact,
        "key id": lambda doc: doc["signature"].update(key_id="0123456789abcdef"),
    }


@pytest.mark.parametrize("case", sorted(_tamper_cases()))
def test_any_modification_fails(certificate, case, tmp_path):
    doc = json.loads(certificate.document)
    _tamper_cases()[case](doc)
    text = certs.dumps(doc)
    assert not certs.verify_document(text).ok
    with pytest.raises(CommandError) as err:
        call_command("certificate", "verify", str(_write(tmp_path, text)))
    assert err.value.returncode == 1 and "NOT VALID" in str(err.value)


def test_cli_verify_valid_and_show(certificate, tmp_path, capsys):
    call_command("certificate", "show", "acme")
    shown = capsys.readouterr().out
    assert json.loads(shown) == json.loads(certificate.document)
    path = _write(tmp_path, shown)
    call_command("certificate", "verify", str(path))
    out = capsys.readouterr().out
    assert "valid" in out and certificate.certificate_id in out
    # Whitespace and key order do not matter: the signature covers the canonical form.
    compact = json.dumps(json.loads(shown), separators=(",", ":"))
    call_command("certificate", "verify", str(_write(tmp_path, compact, "compact.json")))
    call_command("certificate", "list", "--json")
    assert certificate.certificate_id in capsys.readouterr().out


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"certificate": {}, "signature": {}}',
                                     '{"a": 1}', '{"certificate": {"type": "mamori.deletion-certificate"}, '
                                                 '"signature": {"algorithm": "Ed25519", "key_id": "x", "value": "!"}}'])
def test_cli_verify_rejects_garbage(content, tmp_path, db):
    with pytest.raises(CommandError) as err:
        call_command("certificate", "verify", str(_write(tmp_path, content)))
    assert err.value.returncode == 1


def test_cli_missing_file_and_unknown_certificate(tmp_path, db):
    with pytest.raises(CommandError) as err:
        call_command("certificate", "verify", str(tmp_path / "missing.json"))
    assert "cannot read" in str(err.value)
    with pytest.raises(CommandError):
        call_command("certificate", "show", "nope")


def test_verify_with_explicit_public_key(certificate, tmp_path):
    public = tmp_path / "provider.pem"
    public.write_text(signing.public_key_pem())
    call_command("certificate", "verify", str(_write(tmp_path, certificate.document)), "--public-key", str(public))
    other = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    wrong = tmp_path / "other.pem"
    wrong.write_text(other)
    with pytest.raises(CommandError):
        call_command("certificate", "verify", str(_write(tmp_path, certificate.document)), "--public-key", str(wrong))
