"""The chain writer, the pure verifier, the signing key and the signed digests."""

from __future__ import annotations

import os
import stat
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.db import connection, transaction

from mamori.audit import signing
from mamori.audit.canonical import GENESIS_HASH, canonical_bytes, event_hash
from mamori.audit.chain import payload_for, verify_chain
from mamori.audit.digests import digest_message, seal_digests_now, verify_digest
from mamori.audit.events import Actor, record_event, record_events, record_provider_event
from mamori.audit.models import AuditDigest, AuditEvent, ChainHead, ProviderEvent
from mamori.audit.purge import allow_purge
from tests.cli.support import mamori_env, run_mamori


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


# --- writer -------------------------------------------------------------------------------

def test_events_get_consecutive_sequence_numbers_and_linked_hashes(tenant, admin):
    with transaction.atomic():
        first = record_event("record.updated", actor=Actor.for_user(admin), after={"n": 1, "tuple": (1, 2)})
        second = record_event("record.updated", actor=Actor.for_user(admin), after={"n": 2})
    assert second.seq == first.seq + 1 and second.prev_hash == first.hash
    stored = AuditEvent.objects.get(pk=first.pk)
    assert stored.after == {"n": 1, "tuple": [1, 2]}  # what the hash covers is what is stored
    assert event_hash(payload_for(stored)) == stored.hash
    head = ChainHead.objects.get(name=f"tenant:{tenant.pk}")
    assert (head.last_seq, head.last_hash) == (second.seq, second.hash)


def test_one_event_and_batch_writers_link_and_hash_alike(tenant, admin):
    """On PostgreSQL a single event is hashed by the server in the statement that takes the head;
    batches are hashed in Python. Both must give the hash of the canonical bytes, whatever the
    text holds, and link to each other in either order."""
    awkward = {"title": 'Quote " backslash \\ 改行\nタブ\t\u0001 emoji 🛡️ é', "n": 1.5, "none": None,
               "nested": {"b": [1, "二"], "a": True}}
    actor = Actor.for_user(admin)
    with transaction.atomic():
        one = record_event("record.updated", actor=actor, target=("records.record", 7, "名前 \"x\""),
                           before=awkward, after={"title": "after"})
        many = record_events("record.updated", actor=actor,
                             items=[{"target": ("records.record", i, f"R{i}"), "after": awkward} for i in range(3)])
        last = record_event("record.updated", actor=actor, after=None)
    assert many[0].prev_hash == one.hash and last.prev_hash == many[-1].hash
    assert last.seq == one.seq + 4
    for event in AuditEvent.objects.filter(seq__gte=one.seq):
        assert event_hash(payload_for(event)) == event.hash
    head = ChainHead.objects.get(name=f"tenant:{tenant.pk}")
    assert (head.last_seq, head.last_hash, head.previous_hash) == (last.seq, last.hash, many[-1].hash)


@pytest.mark.parametrize("pipeline", [True, False])
def test_batches_in_parts_link_and_verify(tenant, admin, monkeypatch, pipeline):
    """PostgreSQL sends a batch in parts, pipelined when libpq can (else one after the other);
    either way the events are numbered, linked and stored exactly as hashed."""
    import psycopg

    from mamori.audit.verify import verify_tenant_chain

    monkeypatch.setattr(psycopg.Pipeline, "is_supported", classmethod(lambda cls: pipeline))
    actor = Actor.for_user(admin)
    with transaction.atomic():
        events = record_events("record.updated", actor=actor,
                               items=[{"target": ("records.record", i, f"R{i}"), "after": {"i": i, "t": "\x1f"[: i % 2]}}
                                      for i in range(37)])
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + 37))
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:]))
    for event in AuditEvent.objects.filter(seq__gte=events[0].seq):
        assert event_hash(payload_for(event)) == event.hash
    assert verify_tenant_chain(tenant).ok


def test_rolled_back_event_gives_its_number_back(tenant, admin):
    with transaction.atomic():
        before = record_event("record.updated", actor=Actor.for_user(admin))
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        record_event("record.updated", actor=Actor.for_user(admin))
        1 / 0  # noqa: B018
    with transaction.atomic():
        after = record_event("record.updated", actor=Actor.for_user(admin))
    assert after.seq == before.seq + 1 and after.prev_hash == before.hash


def test_record_events_bulk(tenant, admin):
    with transaction.atomic():
        events = record_events("record.updated", actor=Actor.for_user(admin),
                               items=[{"target": ("records.record", i, f"R{i}"), "after": {"i": i, "token": "x"}}
                                      for i in range(7)])
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + 7))
    assert AuditEvent.objects.get(pk=events[3].pk).after == {"i": 3, "token": "[redacted]"}
    assert verify_chain(AuditEvent.objects.order_by("seq")).ok


def test_provider_events_form_the_provider_chain(db):
    a = record_provider_event("provider.login", actor=Actor.system("a"))
    b = record_provider_event("provider.logout", actor=Actor.system("a"), tenant_ref=9)
    assert b.seq == a.seq + 1 and b.prev_hash == a.hash
    assert payload_for(a)["chain"] == "provider"
    assert verify_chain(ProviderEvent.objects.order_by("seq"), chain="provider").ok


def test_event_with_ip_and_request_context(tenant, admin):
    from mamori.core.context import RequestContext, reset_request_context, set_request_context

    token = set_request_context(RequestContext(ip="2001:DB8::1", user_agent="UA", request_id="r1"))
    try:
        with transaction.atomic():
            event = record_event("auth.login", actor=Actor.for_user(admin))
    finally:
        reset_request_context(token)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert str(stored.ip) == "2001:db8::1"
    assert event_hash(payload_for(stored)) == stored.hash


# --- pure verifier --------------------------------------------------------------------------

def _dict_chain(n: int) -> list[dict]:
    events, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        payload = {"chain": "tenant:1", "seq": seq, "occurred_at": "2026-01-01T00:00:00.000000Z",
                   "action": "record.created", "actor_type": "user", "actor_id": "1", "actor_label": "a",
                   "target_type": "", "target_id": "", "target_label": "", "before": None, "after": {"n": seq},
                   "ip": None, "user_agent": "", "request_id": "", "prev_hash": prev}
        prev = event_hash(payload)
        events.append({**payload, "hash": prev})
    return events


def test_verify_chain_on_plain_dicts():
    events = _dict_chain(5)
    result = verify_chain(events)
    assert result.ok and result.count == 5 and result.last_seq == 5 and result.last_hash == events[-1]["hash"]
    assert verify_chain(events[2:], start_seq=3, start_hash=events[1]["hash"]).ok
    assert verify_chain(events[2:]).first_bad_seq == 1
    tampered = [dict(e) for e in events]
    tampered[3]["after"] = {"n": 99}
    assert verify_chain(tampered).first_bad_seq == 4
    assert verify_chain(events[:2] + events[3:]).first_bad_seq == 3
    assert verify_chain([events[0], events[2], events[1]]).first_bad_seq == 2
    assert verify_chain(events, chain="tenant:2").first_bad_seq == 1


# --- signing ---------------------------------------------------------------------------------

def test_sign_and_verify_with_a_configured_key(monkeypatch):
    key = Ed25519PrivateKey.generate()
    monkeypatch.setenv("MAMORI_SIGNING_KEY", _pem(key))
    monkeypatch.delenv("MAMORI_SIGNING_KEY_FILE", raising=False)
    key_id, signature = signing.sign(b"hello")
    assert key_id == signing.key_id() and len(key_id) == 16
    assert signing.verify(b"hello", key_id, signature)
    assert not signing.verify(b"hellO", key_id, signature)
    assert not signing.verify(b"hello", "0" * 16, signature)
    assert signing.verify(b"hello", key_id, signature, public_key_pem=signing.public_key_pem())
    other = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert not signing.verify(b"hello", key_id, signature, public_key_pem=other)


def test_key_from_file(monkeypatch, tmp_path):
    path = tmp_path / "key.pem"
    path.write_text(_pem(Ed25519PrivateKey.generate()))
    monkeypatch.setenv("MAMORI_SIGNING_KEY_FILE", str(path))
    assert signing.key_source() == "MAMORI_SIGNING_KEY_FILE"


@pytest.mark.parametrize("value", ["not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"])
def test_wrong_key_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("MAMORI_SIGNING_KEY", value)
    monkeypatch.delenv("MAMORI_SIGNING_KEY_FILE", raising=False)
    with pytest.raises(signing.SigningKeyError, match="MAMORI_SIGNING_KEY"):
        signing.validate_configured_key()


def test_rsa_key_is_refused(monkeypatch):
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    monkeypatch.setenv("MAMORI_SIGNING_KEY", pem)
    with pytest.raises(signing.SigningKeyError, match="not an Ed25519"):
        signing.validate_configured_key()


def test_unreadable_key_file_stops_start_up(tmp_path):
    env = mamori_env(tmp_path / "var", MAMORI_SIGNING_KEY_FILE=str(tmp_path / "missing.pem"))
    result = run_mamori("check", env=env)
    assert result.returncode != 0
    assert "MAMORI_SIGNING_KEY_FILE points to an unreadable file" in result.stderr


def test_development_key_is_generated_once_with_mode_0600(monkeypatch, settings, tmp_path):
    monkeypatch.delenv("MAMORI_SIGNING_KEY", raising=False)
    monkeypatch.delenv("MAMORI_SIGNING_KEY_FILE", raising=False)
    settings.DATA_DIR = tmp_path
    first = signing.key_id()
    path = tmp_path / "keys" / "signing-ed25519.pem"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    signing._cache.clear()
    assert signing.key_id() == first


def test_production_without_a_key_fails_the_deploy_check(tmp_path):
    import secrets

    env = mamori_env(tmp_path / "var", MAMORI_PROFILE="production", MAMORI_SECRET_KEY=secrets.token_urlsafe(60),
                     MAMORI_ALLOWED_HOSTS="mamori.example.com",
                     MAMORI_MASTER_KEY="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
    result = run_mamori("check", "--deploy", env=env)
    assert result.returncode != 0 and "mamori.E111" in result.stderr
    env["MAMORI_SIGNING_KEY"] = _pem(Ed25519PrivateKey.generate())
    result = run_mamori("check", "--deploy", env=env)
    assert result.returncode == 0, result.stderr


# --- digests -----------------------------------------------------------------------------------

def test_digests_sign_each_chain_with_new_events_once(tenant, other_tenant, admin):
    summary = seal_digests_now()
    assert summary["digests"] == 3  # two tenants and the provider
    digest = AuditDigest.objects.get(chain=f"tenant:{tenant.pk}")
    head = ChainHead.objects.get(name=f"tenant:{tenant.pk}")
    assert (digest.up_to_seq, digest.head_hash, digest.event_count) == (head.last_seq, head.last_hash, head.last_seq)
    assert verify_digest(digest)
    message = digest_message(chain=digest.chain, up_to_seq=digest.up_to_seq, head_hash=digest.head_hash,
                             created_at=digest.created_at)
    assert message == canonical_bytes({"chain": digest.chain, "up_to_seq": digest.up_to_seq,
                                       "head_hash": digest.head_hash,
                                       "created_at": digest.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
    event = ProviderEvent.objects.filter(action="audit.digest_created").get()
    assert event.after["digests"] == 3
    # Only the provider chain (which gained audit.digest_created) has something new.
    assert seal_digests_now()["digests"] == 1
    with transaction.atomic():
        record_event("record.updated", actor=Actor.for_user(admin))
    assert seal_digests_now()["digests"] == 2


def test_digest_task_and_command(tenant, capsys):
    from mamori.audit.digests import seal_daily_digests

    assert seal_daily_digests.call()["digests"] >= 2
    call_command("audit", "digest")
    assert "digests signed" in capsys.readouterr().out
    call_command("audit", "public-key")
    out = capsys.readouterr().out
    assert "BEGIN PUBLIC KEY" in out and signing.key_id() in out


def test_purge_checkpoint_anchors_a_chain_that_no_longer_starts_at_one(tenant, admin):
    from mamori.audit.digests import create_digest
    from mamori.audit.verify import verify_tenant_chain

    with transaction.atomic():
        for n in range(5):
            record_event("record.updated", actor=Actor.for_user(admin), after={"n": n})
    third = AuditEvent.objects.get(seq=3)
    create_digest(f"tenant:{tenant.pk}", up_to_seq=3, head_hash=third.hash)
    with transaction.atomic(), allow_purge():
        AuditEvent.objects.filter(seq__lte=3).delete()
    report = verify_tenant_chain(tenant)
    assert report.ok, report.describe()
    assert report.count == AuditEvent.objects.count()


# --- concurrency (PostgreSQL: the head row lock serialises writers of one chain) --------------

@pytest.mark.postgres
def test_concurrent_writers_get_consecutive_numbers(transactional_db):
    from mamori.audit.verify import verify_tenant_chain
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import tenant_context, use_tenant

    with use_tenant(None):
        tenant, admin, _ = create_tenant(actor=Actor.system("t"), slug="race", name="Race",
                                         admin_email="a@race.example")
    errors = []

    def writer():
        try:
            for _ in range(25):
                with tenant_context(tenant):
                    record_event("record.updated", actor=Actor.for_user(admin))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = verify_tenant_chain(tenant)
    assert report.ok, report.describe()
    assert report.count == 100 + 3


def test_fully_purged_chain_verifies_from_its_checkpoint(db):
    from mamori.audit.digests import create_digest
    from mamori.audit.verify import verify_provider_chain

    for n in range(3):
        last = record_provider_event("provider.login", actor=Actor.system(f"s{n}"))
    create_digest("provider", up_to_seq=last.seq, head_hash=last.hash)
    with transaction.atomic(), allow_purge():
        ProviderEvent.objects.all().delete()
    report = verify_provider_chain()
    assert report.ok and report.count == 0 and report.last_seq == last.seq, report.describe()
