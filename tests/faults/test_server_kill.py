"""Fault (a): SIGKILL the web server in the middle of a stream of API writes.

Six clients create records in three tenants through ``POST /api/v1/records`` on a real
``mamori serve`` (gunicorn, 2 workers × 4 threads). Once writes are flowing, the whole
process group gets SIGKILL (master and workers: requests die mid-transaction). After a
restart:

- every record has its ``record.created`` audit event and every such event its record
  (the action writes both in one transaction: a kill leaves both or neither);
- every write the server acknowledged (201) is there, and nothing more than was sent;
- the audit verifier (``mamori audit verify``'s) accepts every tenant's chain and the provider's;
- the restarted server takes writes again.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest

from tests.faults.conftest import kill9, start_server, stop

CLIENTS_PER_TENANT = 2
TENANTS = 3
MIN_WRITES_BEFORE_KILL = 40
WRITE_PHASE_LIMIT = 40.0

CHECK = """
import json
from mamori.audit.models import AuditEvent
from mamori.records.models import Record
from mamori.tenancy.context import tenant_context
from mamori.tenancy.models import Tenant
out = {}
for tenant in Tenant.objects.filter(slug__startswith="fault-").order_by("slug"):
    with tenant_context(tenant):
        records = {str(pk) for pk in Record.objects.values_list("pk", flat=True)}
        events = list(AuditEvent.objects.filter(action="record.created").values_list("target_id", flat=True))
        titles = sorted(Record.objects.filter(title__startswith="kill ").values_list("title", flat=True))
    out[tenant.slug] = {"records": sorted(records), "events": sorted(events), "titles": titles}
from mamori.audit.verify import verify_across_tenants
reports = verify_across_tenants(None, provider=True)  # what `mamori audit verify` runs
out["chains"] = {"count": len(reports), "failed": [r.describe() for r in reports if not r.ok]}
print("JSON" + json.dumps(out))
"""

# Shares the pytest-django test database with the subprocesses on PostgreSQL.
pytestmark = pytest.mark.django_db(transaction=True)


def _post(base: str, token: str, payload: dict) -> int:
    request = urllib.request.Request(
        f"{base}/api/v1/records", data=json.dumps(payload).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


class Writers:
    """Client threads sending record creations until stopped or the server goes away."""

    def __init__(self, base: str, tenants: list[dict]):
        self.base, self.tenants = base, tenants
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent: dict[str, list[str]] = {t["slug"]: [] for t in tenants}
        self.acknowledged: dict[str, list[str]] = {t["slug"]: [] for t in tenants}
        self.outcomes: Counter = Counter()
        self.threads = [threading.Thread(target=self._run, args=(t, c), daemon=True)
                        for t in tenants for c in range(CLIENTS_PER_TENANT)]

    def _run(self, tenant: dict, client: int) -> None:
        n = 0
        while not self.stop.is_set():
            title = f"kill {client}-{n:05d}"
            n += 1
            with self.lock:
                self.sent[tenant["slug"]].append(title)
            try:
                status = _post(self.base, tenant["token"], {
                    "workspace_id": tenant["workspace_id"], "title": title, "body": "written under fire"})
            except OSError as exc:  # the server is gone: connection refused or reset
                with self.lock:
                    self.outcomes[type(exc).__name__] += 1
                return
            with self.lock:
                self.outcomes[status] += 1
                if status == 201:
                    self.acknowledged[tenant["slug"]].append(title)

    def acknowledged_count(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.acknowledged.values())

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)
        assert not any(t.is_alive() for t in self.threads), "a client hung after the kill"


def test_server_killed_during_writes_loses_no_audit_event(fault_db, tmp_path):
    tenants = fault_db.seed(tenants=TENANTS)
    log = tmp_path / "server.log"
    server, base = start_server(fault_db.env, log)
    writers = Writers(base, tenants)
    try:
        writers.start()
        deadline = time.monotonic() + WRITE_PHASE_LIMIT
        while writers.acknowledged_count() < MIN_WRITES_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.05)
        assert writers.acknowledged_count() >= MIN_WRITES_BEFORE_KILL, (writers.outcomes, log.read_text()[-3000:])
        kill9(server)  # while the clients are still writing
        writers.join()
    finally:
        stop(server)
    print("outcomes:", dict(writers.outcomes))
    assert set(writers.outcomes) <= {201, "ConnectionRefusedError", "ConnectionResetError", "RemoteDisconnected",
                                     "URLError", "BrokenPipeError", "IncompleteRead"}, writers.outcomes

    server, base = start_server(fault_db.env, tmp_path / "server-2.log")
    try:
        for tenant in tenants:
            assert _post(base, tenant["token"], {"workspace_id": tenant["workspace_id"],
                                                 "title": "kill after-restart"}) == 201
    finally:
        stop(server)

    state = fault_db.shell_json(CHECK)
    for tenant in tenants:
        slug = tenant["slug"]
        got = state[slug]
        assert got["records"] == got["events"], f"{slug}: records and record.created events differ"
        titles = set(got["titles"])
        assert set(writers.acknowledged[slug]) <= titles, f"{slug}: an acknowledged write is missing"
        assert titles - {"kill after-restart"} <= set(writers.sent[slug]), f"{slug}: a record nobody sent"
    assert state["chains"]["failed"] == [] and state["chains"]["count"] >= TENANTS + 1, state["chains"]
