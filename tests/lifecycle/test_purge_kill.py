"""Issue 6 item 4: a purge killed (SIGKILL) at random points completes on re-run, counting nothing twice.

Everything runs in real ``mamori`` subprocesses against a throw-away data directory
(SQLite) or the test database (PostgreSQL): set-up, several purges killed after a random
delay, a final purge to completion, and the checks.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time

import pytest

from tests.cli.support import (  # noqa: F401 - fixtures
    REPO,
    mamori_cmd,
    mamori_env,
    migrated_sqlite_template,
    postgres_url_for_current_test_db,
    run_mamori,
    sqlite_data_dir,
)

SETUP = """
from django.db import transaction
from mamori.audit.events import Actor
from mamori.access.roles import Role
from mamori.accounts.models import User
from mamori.lifecycle import actions_termination as acts
from mamori.tenancy.actions import create_tenant
from mamori.tenancy.context import use_tenant
from tests.lifecycle.termination_helpers import make_tenant_data, table_counts, files_of
import json
out = {}
for slug, n in (("acme", 60), ("globex", 10)):
    tenant, admin, _ = create_tenant(actor=Actor.system("t"), slug=slug, name=slug.title(),
                                     admin_email=f"owner@{slug}.example")
    make_tenant_data(tenant, admin, records=n, files=4)
    out[slug] = {"counts": table_counts(tenant), "files": sorted(files_of(tenant))}
with use_tenant(None):
    acme = __import__("mamori.tenancy.models", fromlist=["Tenant"]).Tenant.objects.get(slug="acme")
    acts.terminate_tenant(actor=Actor.system("t"), tenant=acme, reason="kill test")
out["acme"]["counts"] = table_counts(acme)
print("JSON" + json.dumps(out))
"""

CHECK = """
import json
from mamori.lifecycle.models import DeletionCertificate, Termination
from mamori.lifecycle.certificate import verify_document
from mamori.tenancy.models import Tenant
from tests.lifecycle.termination_helpers import table_counts, files_of
acme, globex = Tenant.objects.get(slug="acme"), Tenant.objects.get(slug="globex")
cert = DeletionCertificate.objects.get()
print("JSON" + json.dumps({
    "status": acme.status, "other_status": globex.status,
    "acme": table_counts(acme), "globex": table_counts(globex),
    "acme_files": files_of(acme), "globex_files": sorted(files_of(globex)),
    "certificate": json.loads(cert.document)["certificate"], "valid": verify_document(cert.document).ok,
    "step": Termination.objects.get(tenant=acme).progress.get("step"),
}))
"""


PROGRESS = """
import json
from mamori.lifecycle.models import Termination
t = Termination.objects.get(tenant__slug="acme")
p = t.progress or {}
print("JSON" + json.dumps({"state": t.state, "step": p.get("step"), "rows": sum((p.get("tables") or {}).values())}))
"""


def _json(result) -> dict:
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("JSON"))
    return json.loads(line[4:])


def _kill_and_finish(env: dict, seed: int) -> list[str]:
    rng = random.Random(seed)
    steps_seen = []
    for _attempt in range(4):
        proc = subprocess.Popen(mamori_cmd("termination", "-v", "2", "purge", "acme", "--now", "--batch-size", "3"),
                                env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Kill after a random number of batches (the process keeps running meanwhile, so the
        # SIGKILL lands anywhere: inside a batch transaction, between steps, in the file step …).
        wanted, batches = rng.randint(1, 40), 0
        for line in proc.stdout:
            batches += line.startswith("batch ")
            if batches >= wanted:
                break
        if proc.poll() is None:
            time.sleep(rng.uniform(0.0, 0.05))
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
            state = _json(run_mamori("shell", "-v", "0", "-c", PROGRESS, env=env))
            steps_seen.append(f"killed at {state['state']}/{state['step']} after {state['rows']} rows")
        else:
            proc.communicate(timeout=30)
            steps_seen.append(f"finished rc={proc.returncode}")
    final = run_mamori("termination", "purge", "acme", "--now", "--batch-size", "3", env=env, timeout=300)
    assert final.returncode == 0, final.stderr[-3000:]
    again = run_mamori("termination", "purge", "acme", env=env)  # idempotent
    assert again.returncode == 0, again.stderr[-3000:]
    return steps_seen


def _run(env: dict, seed: int) -> None:
    before = _json(run_mamori("shell", "-v", "0", "-c", SETUP, env=env, timeout=300))
    seen = _kill_and_finish(env, seed)
    print("attempts:", seen)
    assert any(s.startswith("killed at purging/") for s in seen), \
        f"no purge was interrupted while purging: {seen}"
    after = _json(run_mamori("shell", "-v", "0", "-c", CHECK, env=env, timeout=120))
    assert after["status"] == "purged" and after["other_status"] == "active" and after["step"] == "done"
    assert after["acme"] == {label: 0 for label in after["acme"]}, "rows of the purged tenant remain"
    assert after["acme_files"] == []
    assert after["globex"] == before["globex"]["counts"], "the other tenant changed"
    assert after["globex_files"] == before["globex"]["files"]
    cert = after["certificate"]
    assert after["valid"]
    # Resumed, yet every row counted exactly once: the certificate equals what was there.
    assert cert["tables"] == {label: n for label, n in before["acme"]["counts"].items() if n}
    assert cert["files_removed"] == len(before["acme"]["files"])
    assert cert["data_keys_destroyed"] and all(k["fingerprint"] for k in cert["data_keys_destroyed"])


def test_killed_purge_completes_on_sqlite(sqlite_data_dir):  # noqa: F811 - the fixture imported above
    _run(mamori_env(sqlite_data_dir), seed=6)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_killed_purge_completes_on_postgres(tmp_path):
    env = mamori_env(tmp_path, DATABASE_URL=postgres_url_for_current_test_db())
    _run(env, seed=7)
