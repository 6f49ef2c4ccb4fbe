"""Rotating the provider's Ed25519 audit signing key (issue 5 item 2, review finding).

Everything signed before the rotation (digests, retention checkpoints, deletion certificates,
evidence packages) keeps verifying once the old public key is listed in
``MAMORI_SIGNING_RETIRED_PUBLIC_KEYS_FILE``; without it the failure names the old key id; a
signature by an unrelated key fails. Real components: the database of the run (SQLite, or
PostgreSQL with ``DATABASE_URL``), the management commands, the standalone verifier as a
separate process.
"""

from __future__ import annotations

import json
from datetime import timedelta
from unittest import mock

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from mamori.audit import signing
from mamori.audit.canonical import chain_name
from mamori.audit.digests import create_digest, seal_digests_now
from mamori.audit.events import Actor, record_event
from mamori.audit.models import AuditDigest
from mamori.audit.verify import verify_tenant_chain
from mamori.evidence import actions as evidence_actions
from mamori.evidence import retention
from mamori.evidence.models import AuditCheckpoint
from mamori.lifecycle import actions_termination as termination
from mamori.lifecycle import certificate as certs
from mamori.lifecycle.purge import purge_tenant
from mamori.tenancy.context import use_tenant
from tests.evidence.test_export import _export, _extract, run_verifier

SYSTEM = Actor.system("test")


class Key:
    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        self.key_id = signing.key_id_for(self.private.public_key())
        self.private_pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class Provider:
    """The provider's key configuration, as the operator would set it in the environment."""

    def __init__(self, monkeypatch, tmp_path) -> None:
        self.monkeypatch = monkeypatch
        self.retired_file = tmp_path / "retired-signing-keys.pem"
        monkeypatch.delenv("MAMORI_SIGNING_KEY_FILE", raising=False)
        monkeypatch.delenv("MAMORI_SIGNING_RETIRED_PUBLIC_KEYS", raising=False)
        monkeypatch.delenv("MAMORI_SIGNING_RETIRED_PUBLIC_KEYS_FILE", raising=False)

    def use(self, key: Key, *retired: Key) -> None:
        self.monkeypatch.setenv("MAMORI_SIGNING_KEY", key.private_pem)
        # A comment line between blocks, as `mamori audit public-key --all` prints them.
        self.retired_file.write_text("".join(f"# key id {k.key_id}\n{k.public_pem}" for k in retired))
        self.monkeypatch.setenv("MAMORI_SIGNING_RETIRED_PUBLIC_KEYS_FILE", str(self.retired_file))
        assert signing.key_id() == key.key_id


@pytest.fixture
def keys():
    return Key(), Key(), Key()


@pytest.fixture
def provider(monkeypatch, tmp_path):
    return Provider(monkeypatch, tmp_path)


def _events(admin, n: int, label: str) -> None:
    with transaction.atomic():
        for i in range(n):
            record_event("record.updated", actor=Actor.for_user(admin), target=("records.record", i, f"{label}{i}"),
                         after={"title": f"{label} {i}"})


def _verify_fails(*args) -> str:
    with pytest.raises(CommandError) as excinfo:
        call_command("audit", "verify", *args)
    return str(excinfo.value)


@pytest.fixture
def rotated(tenant, admin, provider, keys):
    """Events and digests (tenant and provider chains) under key A, then the rotation to B with A
    retired, then more events and digests under B."""
    a, b, _c = keys
    provider.use(a)
    _events(admin, 4, "before")
    assert seal_digests_now()["digests"] >= 2
    provider.use(b, a)
    _events(admin, 3, "after")
    assert seal_digests_now()["digests"] >= 2
    used = set(AuditDigest.objects.values_list("key_id", flat=True))
    assert used == {a.key_id, b.key_id}
    return a, b


def test_verify_passes_across_a_rotation(rotated, capsys):
    call_command("audit", "verify")
    out = capsys.readouterr().out
    assert "acme): OK" in out and "(provider): OK" in out


def test_retired_key_removed_fails_naming_it(rotated, provider):
    a, b = rotated
    provider.use(b)  # A no longer listed
    message = _verify_fails("--tenant", "acme")
    assert f"signed by an unknown key {a.key_id}" in message and "first bad seq" in message
    assert "invalid signature" not in message
    # Listing it again (in the variable holding the PEM text this time) restores verification.
    provider.monkeypatch.delenv("MAMORI_SIGNING_RETIRED_PUBLIC_KEYS_FILE")
    provider.monkeypatch.setenv("MAMORI_SIGNING_RETIRED_PUBLIC_KEYS", a.public_pem)
    call_command("audit", "verify", "--tenant", "acme")


def test_digest_forged_with_an_unrelated_key_fails(rotated, provider, keys, tenant, admin):
    _a, b = rotated
    c = keys[2]
    _events(admin, 2, "forged")
    provider.use(c)  # someone holding an unrelated key C signs a digest
    assert create_digest(chain_name(tenant.pk)) is not None
    provider.use(b, rotated[0])
    message = _verify_fails("--tenant", "acme")
    assert f"signed by an unknown key {c.key_id}" in message
    # C's signature relabelled with a trusted key id is a bad signature, not an unknown key.
    AuditDigest.objects.filter(key_id=c.key_id).update(key_id=b.key_id)
    message = _verify_fails("--tenant", "acme")
    assert "invalid signature" in message and b.key_id in message


def test_public_key_command_lists_retired_keys(rotated, capsys):
    a, b = rotated
    call_command("audit", "public-key")
    out = capsys.readouterr().out
    assert b.key_id in out and a.key_id not in out
    call_command("audit", "public-key", "--all")
    out = capsys.readouterr().out
    assert f"# key id {a.key_id} (retired)" in out and out.count("BEGIN PUBLIC KEY") == 2
    # The output is itself a valid retired-keys file.
    assert set(signing.parse_public_keys(out, "output")) == {a.key_id, b.key_id}


def test_bad_retired_keys_file_is_a_clear_error(provider, keys, tmp_path):
    a, _b, _c = keys
    provider.use(a)
    provider.retired_file.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(signing.SigningKeyError, match="MAMORI_SIGNING_RETIRED_PUBLIC_KEYS_FILE"):
        signing.validate_configured_key()
    provider.retired_file.write_text(a.private_pem)
    with pytest.raises(signing.SigningKeyError, match="no '-----BEGIN PUBLIC KEY-----' block"):
        signing.validate_configured_key()


# --- Evidence package over both periods ------------------------------------------------------

def test_evidence_package_over_both_periods_verifies_offline(rotated, admin, tmp_path):
    a, b = rotated
    export = _export(admin)
    folder = _extract(export, tmp_path / "package")
    pem = (folder / "public_key.pem").read_text()
    assert signing.parse_public_keys(pem, "package").keys() == {b.key_id, a.key_id}
    assert list(signing.parse_public_keys(pem, "package"))[0] == b.key_id  # current key first
    digests = json.loads((folder / "digests.json").read_text())["digests"]
    assert {d["key_id"] for d in digests} == {a.key_id, b.key_id}
    result = run_verifier(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Provider key id {b.key_id}" in result.stdout
    # The customer's own copy of the published keys: both keys verify, the current one alone names A.
    published = tmp_path / "published.pem"
    published.write_text(b.public_pem + a.public_pem)
    result = run_verifier(folder, "--public-key", str(published))
    assert result.returncode == 0, result.stdout + result.stderr
    published.write_text(b.public_pem)
    result = run_verifier(folder, "--public-key", str(published))
    assert result.returncode == 1
    assert f"signed by an unknown key {a.key_id}" in result.stdout


def test_evidence_package_without_the_retired_key_names_it(rotated, provider, admin, tmp_path):
    a, b = rotated
    provider.use(b)  # the operator forgot the retired key: the package cannot carry it
    folder = _extract(_export(admin), tmp_path / "package")
    assert signing.parse_public_keys((folder / "public_key.pem").read_text(), "package").keys() == {b.key_id}
    result = run_verifier(folder)
    assert result.returncode == 1 and f"signed by an unknown key {a.key_id}" in result.stdout


# --- Retention checkpoints -------------------------------------------------------------------

@pytest.fixture
def purged(make_tenant, provider, keys):
    """A tenant whose oldest events were purged under key A (signed checkpoint), then rotation to B."""
    a, b, _c = keys
    provider.use(a)
    now = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=now - timedelta(days=400)):
        tenant = make_tenant("oldco", "Old Co")
    with use_tenant(tenant):
        with mock.patch("django.utils.timezone.now", return_value=now - timedelta(days=399)), transaction.atomic():
            for i in range(4):
                record_event("record.created", actor=SYSTEM, after={"i": i})
        with transaction.atomic():
            record_event("record.updated", actor=SYSTEM, after={"recent": True})
        evidence_actions.purge_expired_events(actor=SYSTEM, now=now)
        chain = chain_name(tenant.pk)
        checkpoint = AuditCheckpoint.objects.get(chain=chain)
        assert checkpoint.key_id == a.key_id
        # Only the checkpoint anchors the chain (no digest at the last purged sequence number).
        AuditDigest.objects.filter(chain=chain, up_to_seq=checkpoint.purged_through_seq).delete()
        provider.use(b, a)
        yield tenant, checkpoint


def test_checkpoint_signed_with_retired_key_verifies(purged, provider, keys):
    tenant, checkpoint = purged
    a, b, _c = keys
    assert retention.checkpoint_is_valid(checkpoint)
    report = verify_tenant_chain(tenant)
    assert report.ok, report.describe()
    provider.use(b)
    assert not retention.checkpoint_is_valid(checkpoint)
    report = verify_tenant_chain(tenant)
    assert not report.ok and f"signed by an unknown key {a.key_id}" in report.reason


# --- Deletion certificates -------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "files")}}}


def test_certificate_signed_with_retired_key_verifies(tenant, admin, provider, keys, tmp_path, capsys):
    a, b, _c = keys
    provider.use(a)
    termination.request_termination(actor=Actor.for_user(admin), confirm_slug="acme")
    with use_tenant(None):
        certificate = purge_tenant(tenant, actor=SYSTEM, force=True)
    path = tmp_path / "cert.json"
    path.write_text(certificate.document, encoding="utf-8")
    provider.use(b, a)
    result = certs.verify_document(certificate.document)
    assert result.ok and result.key_id == a.key_id and "retired" in result.message
    call_command("certificate", "verify", str(path))
    assert "valid" in capsys.readouterr().out
    provider.use(b)
    result = certs.verify_document(certificate.document)
    assert not result.ok and f"signed by an unknown key {a.key_id}" in result.message
    with pytest.raises(CommandError) as err:
        call_command("certificate", "verify", str(path))
    assert err.value.returncode == 1 and a.key_id in str(err.value)
    # The signer's public key given explicitly still works; an unrelated key names the unknown key.
    public = tmp_path / "a.pem"
    public.write_text(a.public_pem)
    call_command("certificate", "verify", str(path), "--public-key", str(public))
    public.write_text(keys[2].public_pem)
    result = certs.verify_document(certificate.document, public_key_pem=keys[2].public_pem)
    assert not result.ok and f"signed by an unknown key {a.key_id}" in result.message
