"""The master key: configuration, development fallback, wrong key, deploy check."""

from __future__ import annotations

import base64
import os
import secrets
import stat

import pytest

from mamori.lifecycle import keys
from mamori.lifecycle.keys import MasterKeyError, decrypt_for_tenant, encrypt_for_tenant
from mamori.lifecycle.models import MasterKeyMarker, TenantDataKey
from mamori.tenancy.context import use_tenant
from tests.cli.support import mamori_env, run_mamori


def _b64key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def test_key_from_environment_and_file(monkeypatch, tmp_path):
    value = _b64key()
    monkeypatch.setenv("MAMORI_MASTER_KEY", value)
    provider = keys.get_key_provider()
    assert provider.source == "MAMORI_MASTER_KEY"
    assert provider.key_id == keys.kek_id_for(base64.b64decode(value))
    assert value not in repr(provider)
    path = tmp_path / "master.key"
    path.write_text(value + "\n")
    monkeypatch.setenv("MAMORI_MASTER_KEY_FILE", str(path))
    provider = keys.get_key_provider()
    assert provider.source == "MAMORI_MASTER_KEY_FILE" and provider.key_id == keys.kek_id_for(base64.b64decode(value))


@pytest.mark.parametrize("value", ["not base64 at all!", base64.b64encode(b"short").decode(), ""])
def test_malformed_key_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("MAMORI_MASTER_KEY", value or " ")
    if not value:
        assert not keys.is_configured()
        return
    with pytest.raises(MasterKeyError, match="MAMORI_MASTER_KEY"):
        keys.validate_configured_key()


def test_unreadable_key_file(monkeypatch, tmp_path):
    monkeypatch.setenv("MAMORI_MASTER_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(MasterKeyError, match="MAMORI_MASTER_KEY_FILE"):
        keys.get_key_provider()


def test_development_key_is_generated_once_with_mode_0600(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    first = keys.get_key_provider().key_id
    path = tmp_path / "keys" / "master.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    keys.clear_cache()
    keys._provider = None
    assert keys.get_key_provider().key_id == first


def test_production_without_key_refuses_to_use_keys(settings):
    settings.PRODUCTION = True
    with pytest.raises(MasterKeyError, match="No master key"):
        keys.get_key_provider()


def test_wrong_master_key_decrypts_and_writes_nothing(tenant, other_tenant, monkeypatch):
    token = encrypt_for_tenant(tenant.pk, b"secret", purpose="t.p")
    assert MasterKeyMarker.objects.get().kek_id == keys.get_key_provider().key_id
    monkeypatch.setenv("MAMORI_MASTER_KEY", _b64key())  # another key
    with pytest.raises(MasterKeyError, match="Wrong master key"):
        decrypt_for_tenant(tenant.pk, token, purpose="t.p")
    with pytest.raises(MasterKeyError, match="Wrong master key"):
        encrypt_for_tenant(tenant.pk, b"x", purpose="t.p")
    # A tenant without a data key yet: refused before a key wrapped with the wrong master key is written.
    with use_tenant(None), pytest.raises(MasterKeyError, match="Wrong master key"):
        encrypt_for_tenant(other_tenant.pk, b"x", purpose="t.p")
    with use_tenant(other_tenant):
        assert not TenantDataKey.objects.exists()
    monkeypatch.delenv("MAMORI_MASTER_KEY")
    assert decrypt_for_tenant(tenant.pk, token, purpose="t.p") == b"secret"


def test_modified_wrapped_key_is_refused(tenant):
    token = encrypt_for_tenant(tenant.pk, b"secret", purpose="t.p")
    row = TenantDataKey.objects.get()
    prefix, kek_id, body = row.wrapped_key.split(".")
    blob = bytearray(keys._b64d(body))
    blob[-1] ^= 1
    TenantDataKey.objects.filter(pk=row.pk).update(wrapped_key=f"{prefix}.{kek_id}.{keys._b64e(bytes(blob))}")
    keys.clear_cache()
    with pytest.raises(MasterKeyError):
        decrypt_for_tenant(tenant.pk, token, purpose="t.p")


def _production_env(tmp_path, **extra):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signing = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return mamori_env(tmp_path / "var", MAMORI_PROFILE="production", MAMORI_SECRET_KEY=secrets.token_urlsafe(60),
                      MAMORI_ALLOWED_HOSTS="mamori.example.com", MAMORI_SIGNING_KEY=signing, **extra)


def test_deploy_check_requires_a_master_key_in_production(tmp_path):
    result = run_mamori("check", "--deploy", env=_production_env(tmp_path))
    assert result.returncode != 0 and "mamori.E120" in result.stderr
    path = tmp_path / "master.key"
    path.write_text(_b64key())
    result = run_mamori("check", "--deploy", env=_production_env(tmp_path, MAMORI_MASTER_KEY_FILE=str(path)))
    assert result.returncode == 0, result.stderr


def test_malformed_key_stops_start_up(tmp_path):
    result = run_mamori("check", env=mamori_env(tmp_path / "var", MAMORI_MASTER_KEY="bm90IDMyIGJ5dGVz"))
    assert result.returncode != 0
    assert "MAMORI_MASTER_KEY" in result.stderr and "32 bytes" in result.stderr


def test_database_check_reports_a_wrong_master_key(tenant, monkeypatch):
    from mamori.lifecycle.checks import check_master_key_matches

    encrypt_for_tenant(tenant.pk, b"x", purpose="t.p")
    assert check_master_key_matches(databases=["default"]) == []
    monkeypatch.setenv("MAMORI_MASTER_KEY", _b64key())
    assert [e.id for e in check_master_key_matches(databases=["default"])] == ["mamori.E122"]
    assert check_master_key_matches(databases=None) == []
