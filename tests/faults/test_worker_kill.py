"""Fault (b): SIGKILL ``mamori worker`` in the middle of a tenant export, a system backup and a purge.

Each test queues the job as production does, starts a real worker, waits until the job is
visibly in progress (a row state, a partial file), kills the worker's process group with
SIGKILL, starts a new worker and checks that the work completes and verifies.

What "completes on restart" means differs per job, as designed (docs/security/load-and-faults.md):

- **tenant export**: the killed export stays ``running`` (no half-written ZIP is ever
  offered). The next export request marks it failed ("interrupted") once it is older than
  ``MAMORI_TENANT_EXPORT_STALE_HOURS`` — 0 in this test instead of 6 — and the new export,
  built by the new worker, completes and its signature and checksums verify.
- **system backup**: the killed backup leaves only ``.partial`` files, never listed as a
  backup. The next run (the daily schedule, enqueued here) writes a complete backup that
  verifies, and the interrupted one is still not listed.
- **purge**: the purge stores its progress with each batch; the next run of the hourly
  termination job (enqueued here) continues where it stopped, the tenant ends with zero
  rows and a signed deletion certificate that counts every row exactly once.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.faults.conftest import kill9, start_worker, stop, wait_until

JOB_DEADLINE = 60

REQUEST_EXPORT = """
import json
from mamori.audit.events import Actor
from mamori.lifecycle.actions_export import request_tenant_export
from mamori.tenancy.context import tenant_context
from mamori.tenancy.models import Tenant
with tenant_context(Tenant.objects.get(slug="fault-0")):
    export = request_tenant_export(actor=Actor.system("fault test"), provider=True)
print("JSON" + json.dumps({"id": export.pk}))
"""

VERIFY_EXPORT = """
import json
from mamori.lifecycle.export import verify_archive
from mamori.lifecycle.export_queries import open_export
from mamori.lifecycle.models import TenantExport
from mamori.tenancy.context import tenant_context
from mamori.tenancy.models import Tenant
out = {}
with tenant_context(Tenant.objects.get(slug="fault-0")):
    for export in TenantExport.objects.order_by("pk"):
        row = {"status": export.status, "error": export.error, "rows": export.rows_done}
        if export.status == "completed":
            with open_export(export) as handle:
                row["problems"] = verify_archive(handle)
        out[str(export.pk)] = row
print("JSON" + json.dumps(out))
"""

# Shares the pytest-django test database with the subprocesses on PostgreSQL.
pytestmark = pytest.mark.django_db(transaction=True)


def _export_status(db, export_id: int) -> str | None:
    return db.scalar("SELECT status FROM lifecycle_tenantexport WHERE id = %s", (export_id,))


def test_export_killed_in_the_worker_is_interrupted_then_a_new_one_completes(fault_db, tmp_path):
    fault_db.env["MAMORI_TENANT_EXPORT_STALE_HOURS"] = "0"  # production: 6 hours
    fault_db.seed(tenants=1, records=600, files=20)
    first = fault_db.shell_json(REQUEST_EXPORT)["id"]
    log = tmp_path / "worker.log"
    worker = start_worker(fault_db.env, log, "fault-export-1")
    try:
        wait_until(lambda: _export_status(fault_db, first) != "pending", timeout=JOB_DEADLINE, interval=0.01,
                   what="the export to start", process=worker, log=log)
        kill9(worker)
    finally:
        stop(worker)
    assert _export_status(fault_db, first) == "running", "the export finished before the kill: seed more rows"

    second = fault_db.shell_json(REQUEST_EXPORT)["id"]  # the killed one no longer blocks a new request
    worker = start_worker(fault_db.env, tmp_path / "worker-2.log", "fault-export-2")
    try:
        wait_until(lambda: _export_status(fault_db, second) in {"completed", "failed"}, timeout=JOB_DEADLINE,
                   interval=0.2, what="the new export to finish", process=worker, log=tmp_path / "worker-2.log")
    finally:
        stop(worker)
    exports = fault_db.shell_json(VERIFY_EXPORT)
    assert exports[str(first)]["status"] == "failed" and exports[str(first)]["error"].startswith("interrupted")
    done = exports[str(second)]
    assert done["status"] == "completed", done
    assert done["problems"] == [] and done["rows"] >= 600


# --- system backup ---------------------------------------------------------------------------

ENQUEUE_BACKUP = """
from mamori.lifecycle.backup_tasks import system_backup_task
system_backup_task.enqueue()
print("JSON{}")
"""


def _partials(directory) -> list[str]:
    return sorted(p.name for p in directory.glob(".mamori-*.partial")) if directory.is_dir() else []


def _complete(directory) -> list[str]:
    """The complete backups, as ``mamori backup list`` finds them: a manifest next to each file."""
    return sorted(p.name.removesuffix(".manifest.json") + ".mbk" for p in directory.glob("mamori-*.manifest.json"))


@pytest.fixture
def slow_backup(fault_db):
    """Make the backup take long enough to be caught: SQLite gets 48 MB of ballast to copy and
    encrypt; on PostgreSQL a table lock held by the test makes the snapshot wait (yielded)."""
    if fault_db.url is None:
        fault_db.query("CREATE TABLE fault_ballast (b BLOB)")
        for _ in range(2):
            fault_db.query("INSERT INTO fault_ballast SELECT randomblob(1048576) FROM "
                           "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 24) "
                           "SELECT i FROM n)")
        yield None
        return
    import psycopg

    lock = psycopg.connect(fault_db.url, autocommit=False)
    lock.execute("LOCK TABLE records_record IN ACCESS EXCLUSIVE MODE")
    try:
        yield lock
    finally:
        lock.close()


def test_backup_killed_in_the_worker_leaves_no_backup_and_the_next_run_completes(fault_db, slow_backup, tmp_path):
    from mamori.lifecycle.backup_crypto import generate_backup_key

    fault_db.env["MAMORI_BACKUP_KEY"] = generate_backup_key()
    backups = fault_db.data_dir / "backups"
    fault_db.shell_json(ENQUEUE_BACKUP)  # as the daily schedule does (the lock is on records only)
    log = tmp_path / "worker.log"
    worker = start_worker(fault_db.env, log, "fault-backup-1")
    try:
        wait_until(lambda: _partials(backups), timeout=JOB_DEADLINE, interval=0.005,
                   what="a partial backup file", process=worker, log=log)
        if slow_backup is not None:
            time.sleep(0.5)  # the snapshot is now waiting for the lock
        kill9(worker)
    finally:
        stop(worker)
        if slow_backup is not None:
            slow_backup.rollback()  # release the lock: the orphaned pg_dump/backend may now end
    killed_partials = _partials(backups)
    assert killed_partials, "the backup finished before the kill: make it slower"
    assert _complete(backups) == [], "an interrupted backup is listed as a backup"

    fault_db.shell_json(ENQUEUE_BACKUP)  # the next scheduled run
    log2 = tmp_path / "worker-2.log"
    worker = start_worker(fault_db.env, log2, "fault-backup-2")
    try:
        wait_until(lambda: _complete(backups), timeout=JOB_DEADLINE, interval=0.1,
                   what="the next backup to complete", process=worker, log=log2)
    finally:
        stop(worker)
    listed = _complete(backups)
    assert len(listed) == 1, listed
    verify = fault_db.mamori("backup", "verify")  # every listed backup: file, manifest HMAC, decryption
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"OK {listed[0]}" in verify.stdout and verify.stdout.count("OK ") == 1, verify.stdout
    # The interrupted run's files are still only partials (removed by `backup prune` after 6 h).
    assert not any(name.endswith((".mbk", ".manifest.json")) for name in killed_partials)


# --- purge -----------------------------------------------------------------------------------

PURGE_SETUP = """
import json
from mamori.audit.events import Actor
from mamori.lifecycle import actions_termination as acts
from mamori.tenancy.actions import create_tenant
from mamori.tenancy.context import use_tenant
from mamori.tenancy.models import Tenant
from tests.lifecycle.termination_helpers import files_of, make_tenant_data, table_counts
out = {}
for slug, n in (("acme", 60), ("globex", 5)):
    tenant, admin, _ = create_tenant(actor=Actor.system("t"), slug=slug, name=slug.title(),
                                     admin_email=f"owner@{slug}.example")
    make_tenant_data(tenant, admin, records=n, files=4)
with use_tenant(None):
    acme = Tenant.objects.get(slug="acme")
    acts.terminate_tenant(actor=Actor.system("fault test"), tenant=acme, grace_days=0, reason="fault test")
for slug in ("acme", "globex"):
    tenant = Tenant.objects.get(slug=slug)
    out[slug] = {"counts": table_counts(tenant), "files": sorted(files_of(tenant))}
print("JSON" + json.dumps(out))
"""

ENQUEUE_TERMINATION_JOB = """
from mamori.lifecycle.termination import termination_job
termination_job.enqueue()
print("JSON{}")
"""

PURGE_CHECK = """
import json
from mamori.lifecycle.certificate import verify_document
from mamori.lifecycle.models import DeletionCertificate, Termination
from mamori.tenancy.models import Tenant
from tests.lifecycle.termination_helpers import files_of, table_counts
acme, globex = Tenant.objects.get(slug="acme"), Tenant.objects.get(slug="globex")
cert = DeletionCertificate.objects.filter(tenant_ref=acme.pk).first()
print("JSON" + json.dumps({
    "status": acme.status, "acme": table_counts(acme), "acme_files": files_of(acme),
    "globex": table_counts(globex), "globex_files": sorted(files_of(globex)),
    "certificate": json.loads(cert.document)["certificate"] if cert else None,
    "valid": verify_document(cert.document).ok if cert else False,
}))
"""


def _purge_progress(db) -> tuple[str, dict]:
    row = db.query("SELECT t.state, t.progress FROM lifecycle_termination t "
                   "JOIN tenancy_tenant n ON n.id = t.tenant_id WHERE n.slug = %s", ("acme",))
    state, progress = row[0]
    if isinstance(progress, str):
        progress = json.loads(progress)
    return state, progress or {}


def _purged_rows(db) -> int:
    state, progress = _purge_progress(db)
    return sum((progress.get("tables") or {}).values()) if state == "purging" else 0


def test_purge_killed_in_the_worker_completes_on_the_next_run(fault_db, tmp_path):
    fault_db.env.update(MAMORI_PURGE_BATCH_SIZE="5", MAMORI_PURGE_PAUSE_MS="60")  # many small batches
    before = fault_db.shell_json(PURGE_SETUP)
    fault_db.shell_json(ENQUEUE_TERMINATION_JOB)
    log = tmp_path / "worker.log"
    worker = start_worker(fault_db.env, log, "fault-purge-1")
    try:
        wait_until(lambda: _purged_rows(fault_db) >= 20, timeout=JOB_DEADLINE, interval=0.05,
                   what="the purge to delete rows", process=worker, log=log)
        kill9(worker)
    finally:
        stop(worker)
    state, progress = _purge_progress(fault_db)
    assert state == "purging" and progress.get("step") == "tables", (state, progress)

    fault_db.env["MAMORI_PURGE_PAUSE_MS"] = "0"
    fault_db.shell_json(ENQUEUE_TERMINATION_JOB)  # the next hourly run
    log2 = tmp_path / "worker-2.log"
    worker = start_worker(fault_db.env, log2, "fault-purge-2")
    try:
        wait_until(lambda: _purge_progress(fault_db)[0] == "purged", timeout=JOB_DEADLINE, interval=0.2,
                   what="the purge to finish", process=worker, log=log2)
    finally:
        stop(worker)
    after = fault_db.shell_json(PURGE_CHECK)
    assert after["status"] == "purged"
    assert after["acme"] == {label: 0 for label in after["acme"]}, "rows of the purged tenant remain"
    assert after["acme_files"] == []
    assert after["globex"] == before["globex"]["counts"] and after["globex_files"] == before["globex"]["files"]
    assert after["valid"], "the deletion certificate does not verify"
    cert = after["certificate"]
    assert cert["tables"] == {label: n for label, n in before["acme"]["counts"].items() if n}
    assert cert["files_removed"] == len(before["acme"]["files"])
