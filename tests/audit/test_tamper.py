"""Issue 5 tamper tests: any change, deletion, insertion, reordering or tail truncation of the
log makes ``mamori audit verify`` fail, naming the chain and the first bad sequence number.
Runs on SQLite and PostgreSQL; the PostgreSQL-only part checks the database refuses changes."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from mamori.audit.canonical import event_hash
from mamori.audit.chain import payload_for, verify_chain
from mamori.audit.digests import seal_digests_now
from mamori.audit.events import Actor, record_event, record_provider_event
from mamori.audit.models import AuditDigest, AuditEvent, ChainHead, ProviderEvent
from mamori.audit.purge import allow_purge
from tests.cli.support import mamori_env, postgres_url_for_current_test_db, run_mamori

TABLE = "audit_auditevent"


@pytest.fixture
def chain(tenant, admin):
    """Six more events in acme's chain (after the ones tenant creation wrote)."""
    with transaction.atomic():
        for n in range(6):
            record_event("record.updated", actor=Actor.for_user(admin), target=("records.record", n, f"R{n}"),
                         before={"title": f"old {n}"}, after={"title": f"new {n}", "n": n})
    return list(AuditEvent.objects.order_by("seq"))


@contextmanager
def as_owner_without_trigger():
    """Tamper like someone with direct database access (PostgreSQL: the owner, trigger off)."""
    if connection.vendor != "postgresql":
        yield connection.cursor()
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        user = cursor.fetchone()[0]
        cursor.execute("RESET ROLE")
        # A superuser switches user triggers off (what a DBA with full access could do).
        cursor.execute("SELECT set_config('session_replication_role', 'replica', true)")
        try:
            yield cursor
        finally:
            cursor.execute("SELECT set_config('session_replication_role', 'origin', true)")
            cursor.execute("SELECT set_config('role', %s, true)", [user])


def verify_fails(*args) -> str:
    with pytest.raises(CommandError) as excinfo:
        call_command("audit", "verify", *args)
    return str(excinfo.value)


def test_untouched_chain_verifies(chain, capsys):
    call_command("audit", "verify", "--tenant", "acme")
    assert "acme): OK" in capsys.readouterr().out
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    assert chain[0].prev_hash == "0" * 64 and chain[1].prev_hash == chain[0].hash


def test_change_a_field(chain, tenant):
    with as_owner_without_trigger() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET actor_label = 'someone else' WHERE tenant_id = %s AND seq = 4",
                       [tenant.pk])
    message = verify_fails("--tenant", "acme")
    assert f"chain tenant:{tenant.pk} (acme), first bad seq 4" in message and "hash mismatch" in message


@pytest.mark.parametrize("chunk", [1, 2, 3, 100])
def test_batched_reads_find_the_same_first_bad_event(chain, tenant, monkeypatch, chunk):
    """The verifier reads the chain in batches (PostgreSQL: the next batch in a second thread);
    whatever the batch size, an untouched chain passes, a change is found at its sequence number,
    and the connection stays usable after verification stops early."""
    from mamori.audit import verify
    from mamori.tenancy.context import tenant_context

    monkeypatch.setattr(verify, "CHUNK_SIZE", chunk)
    with tenant_context(tenant):
        assert verify.verify_tenant_chain(tenant).ok
    with as_owner_without_trigger() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET actor_label = 'someone else' WHERE tenant_id = %s AND seq = 5",
                       [tenant.pk])
    with tenant_context(tenant):
        report = verify.verify_tenant_chain(tenant)
    assert not report.ok and report.first_bad_seq == 5 and "hash mismatch" in report.reason
    with tenant_context(tenant):
        assert AuditEvent.objects.filter(seq=5).count() == 1


def test_change_json_content(chain, tenant):
    with as_owner_without_trigger() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET after = %s WHERE tenant_id = %s AND seq = 5",
                       ['{"title": "forged", "n": 1}', tenant.pk])
    assert "first bad seq 5" in verify_fails("--tenant", "acme")


def test_delete_a_row(chain, tenant):
    with as_owner_without_trigger() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE tenant_id = %s AND seq = 3", [tenant.pk])
    message = verify_fails("--tenant", "acme")
    assert "first bad seq 3" in message and "missing" in message


def test_insert_an_unsealed_row(chain, tenant):
    forged = AuditEvent(tenant=tenant, occurred_at=chain[2].occurred_at, action="record.deleted",
                        actor_type="user", actor_label="nobody")
    forged.save()
    message = verify_fails("--tenant", "acme")
    assert f"event id {forged.pk} is not sealed" in message


def test_insert_a_correctly_hashed_row_at_the_tail(chain, tenant):
    """An attacker who knows the algorithm appends a well-formed event: the chain head catches it."""
    last = chain[-1]
    forged = AuditEvent(tenant=tenant, occurred_at=last.occurred_at, action="record.deleted",
                        actor_type="user", actor_label="nobody", seq=last.seq + 1, prev_hash=last.hash)
    forged.hash = event_hash(payload_for(forged))
    forged.save()
    message = verify_fails("--tenant", "acme")
    assert f"first bad seq {last.seq + 1}" in message and "inserted" in message


def test_insert_in_the_middle_by_renumbering(chain, tenant):
    with as_owner_without_trigger() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET seq = seq + 1000 WHERE tenant_id = %s AND seq >= 3", [tenant.pk])
        cursor.execute(f"UPDATE {TABLE} SET seq = seq - 999 WHERE tenant_id = %s AND seq >= 1003", [tenant.pk])
    AuditEvent(tenant=tenant, occurred_at=chain[2].occurred_at, action="record.deleted", actor_type="user",
               seq=3, prev_hash=chain[1].hash, hash="f" * 64).save()
    assert "first bad seq 3" in verify_fails("--tenant", "acme")


def test_swap_two_rows(chain, tenant):
    with as_owner_without_trigger() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET seq = -1 WHERE tenant_id = %s AND seq = 2", [tenant.pk])
        cursor.execute(f"UPDATE {TABLE} SET seq = 2 WHERE tenant_id = %s AND seq = 5", [tenant.pk])
        cursor.execute(f"UPDATE {TABLE} SET seq = 5 WHERE tenant_id = %s AND seq = -1", [tenant.pk])
    assert "first bad seq 2" in verify_fails("--tenant", "acme")


def test_truncate_the_tail(chain, tenant):
    last = chain[-1].seq
    with as_owner_without_trigger() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE tenant_id = %s AND seq >= %s", [tenant.pk, last - 1])
    message = verify_fails("--tenant", "acme")
    assert f"first bad seq {last - 1}" in message and "tail truncated" in message


def test_truncate_the_tail_and_the_head_is_caught_by_the_digest(chain, tenant):
    seal_digests_now()
    last = chain[-1]
    with as_owner_without_trigger() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE tenant_id = %s AND seq = %s", [tenant.pk, last.seq])
    ChainHead.objects.filter(name=f"tenant:{tenant.pk}").update(last_seq=last.seq - 1, last_hash=last.prev_hash)
    message = verify_fails("--tenant", "acme")
    assert f"first bad seq {last.seq}" in message and "digest" in message


def test_rewritten_chain_is_caught_by_the_digest(chain, tenant):
    """Change an event and recompute every later hash and the head: only the signature betrays it."""
    seal_digests_now()
    with as_owner_without_trigger() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET actor_label = 'rewritten' WHERE tenant_id = %s AND seq = 3",
                       [tenant.pk])
        prev = None
        for event in AuditEvent.objects.order_by("seq"):
            if prev is not None:
                event.prev_hash = prev
            new = event_hash(payload_for(event))
            cursor.execute(f"UPDATE {TABLE} SET prev_hash = %s, hash = %s WHERE id = %s",
                           [event.prev_hash, new, event.pk])
            prev = new
    ChainHead.objects.filter(name=f"tenant:{tenant.pk}").update(last_hash=prev)
    assert verify_chain(AuditEvent.objects.order_by("seq")).ok  # internally consistent again
    message = verify_fails("--tenant", "acme")
    assert "digest" in message and "does not match" in message and "first bad seq 1" in message


def test_forged_digest_signature(chain, tenant):
    seal_digests_now()
    AuditDigest.objects.filter(chain=f"tenant:{tenant.pk}").update(head_hash="a" * 64)
    assert "invalid signature" in verify_fails("--tenant", "acme")


def test_provider_chain_tamper(chain, admin):
    for n in range(3):
        record_provider_event("provider.login", actor=Actor.system(f"s{n}"))
    call_command("audit", "verify", "--provider")
    seq = ProviderEvent.objects.order_by("seq").values_list("seq", flat=True)[1]
    with as_owner_without_trigger() as cursor:
        cursor.execute("UPDATE audit_providerevent SET actor_label = 'x' WHERE seq = %s", [seq])
    message = verify_fails("--provider")
    assert f"chain provider (provider), first bad seq {seq}" in message


def test_verify_records_its_result_in_the_provider_log(chain):
    call_command("audit", "verify", "--tenant", "acme")
    event = ProviderEvent.objects.filter(action="audit.verified").order_by("-seq").first()
    assert event.after["ok"] is True and event.after["chains"] == 1


def test_verify_json_output(chain, tenant, capsys):
    call_command("audit", "verify", "--tenant", "acme", "--json")
    assert '"ok": true' in capsys.readouterr().out


# --- as a separate process ---------------------------------------------------------------

def test_verify_as_a_subprocess_sqlite(sqlite_data_dir):
    env = mamori_env(sqlite_data_dir)
    created = run_mamori("tenant", "create", "acme", "--name", "Acme", "--admin-email", "a@acme.example", env=env)
    assert created.returncode == 0, created.stderr
    ok = run_mamori("audit", "verify", env=env)
    assert ok.returncode == 0, ok.stderr
    with sqlite3.connect(sqlite_data_dir / "mamori.sqlite3") as db:
        db.execute(f"UPDATE {TABLE} SET target_label = 'x' WHERE seq = 2")
    bad = run_mamori("audit", "verify", "--tenant", "acme", env=env)
    assert bad.returncode == 1
    assert "chain tenant:1 (acme), first bad seq 2" in bad.stderr


@pytest.mark.postgres
def test_verify_as_a_subprocess_postgres(transactional_db):
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import use_tenant

    with use_tenant(None):
        tenant, _admin, _secret = create_tenant(actor=Actor.system("test"), slug="acme", name="Acme",
                                                admin_email="a@acme.example")
    env = mamori_env(None, DATABASE_URL=postgres_url_for_current_test_db())
    ok = run_mamori("audit", "verify", "--tenant", "acme", env=env)
    assert ok.returncode == 0, ok.stderr
    with transaction.atomic(), as_owner_without_trigger() as cursor:
        cursor.execute("SELECT set_config('mamori.tenant_id', %s, true)", [str(tenant.pk)])
        cursor.execute(f"DELETE FROM {TABLE} WHERE tenant_id = %s AND seq = 2", [tenant.pk])
    bad = run_mamori("audit", "verify", "--tenant", "acme", env=env)
    assert bad.returncode == 1
    assert f"chain tenant:{tenant.pk} (acme), first bad seq 2" in bad.stderr


# --- PostgreSQL refuses changes -------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.parametrize("statement", ["UPDATE {t} SET actor_label = 'x'", "DELETE FROM {t}"])
@pytest.mark.parametrize("table", ["audit_auditevent", "audit_providerevent"])
def test_app_role_may_not_update_or_delete(chain, statement, table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == "mamori_app"
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            cursor.execute(statement.format(t=table))


@pytest.mark.postgres
@pytest.mark.parametrize("statement", ["UPDATE {t} SET actor_label = 'x'", "DELETE FROM {t}"])
@pytest.mark.parametrize("table", ["audit_auditevent", "audit_providerevent"])
def test_owner_without_the_purge_flag_is_refused_by_the_trigger(chain, statement, table):
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute(statement.format(t=table))


@pytest.mark.postgres
def test_allow_purge_permits_delete_only(chain, tenant):
    first = chain[0].seq
    with allow_purge():
        with connection.cursor() as cursor, pytest.raises(DatabaseError, match="append-only"), \
                transaction.atomic():
            cursor.execute(f"UPDATE {TABLE} SET actor_label = 'x' WHERE seq = %s", [first])
        assert AuditEvent.objects.filter(seq=first).delete()[0] == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_setting('mamori.audit_purge', true)")
        assert cursor.fetchone() == ("mamori_app", "off")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(seq=first + 1).delete()


def test_text_appended_to_a_stored_time_is_detected(chain, tenant):
    """SQLite keeps times as text: characters added after the microseconds must not be ignored."""
    if connection.vendor != "sqlite":
        pytest.skip("times are text only on SQLite")
    with as_owner_without_trigger() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET occurred_at = occurred_at || '9' WHERE tenant_id = %s AND seq = 4",
                       [tenant.pk])
    assert "first bad seq 4" in verify_fails("--tenant", "acme")


@pytest.mark.parametrize("value", [1e16, -2.5e20, 1e300, 123456789.0, 0.1, 1e-7, 1.5])
def test_numbers_in_before_and_after_verify_after_the_database_round_trip(tenant, admin, value):
    """PostgreSQL's jsonb prints 1e16 as 10000000000000000 (an integer when read back): such
    floats are stored as the integers they equal, so the sealed hash and the stored row agree."""
    with transaction.atomic():
        record_event("record.updated", actor=Actor.for_user(admin), target=("records.record", 1, "R"),
                     before={"amount": value}, after={"amounts": [value, {"x": value}]})
    call_command("audit", "verify", "--tenant", "acme")
    stored = AuditEvent.objects.order_by("-seq").first()
    assert float(stored.before["amount"]) == value
