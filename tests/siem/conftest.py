"""A real HTTP endpoint on loopback that checks signatures, and a task runner for the tests.

``webhook_server`` answers 500 to the first ``fail_first`` requests, then 200;
it records every request it accepted (with a valid HMAC) in order. ``run_tasks``
runs queued django_tasks_db tasks by calling their functions directly, in order,
without waiting for ``run_after`` (back-off is asserted from the queued rows).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils.module_loading import import_string


@dataclass
class Endpoint:
    url: str
    secret: str = ""
    fail_first: int = 0
    requests: list[dict] = field(default_factory=list)   # accepted (2xx) bodies, in order
    rejected: int = 0
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def seqs(self) -> list[int]:
        return [e["seq"] for body in self.requests for e in body["events"] if e["seq"] is not None]


@pytest.fixture
def webhook_server(settings):
    settings.MAMORI_WEBHOOK_ALLOW_HTTP_LOOPBACK = True
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            endpoint: Endpoint = state["endpoint"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            expected = "sha256=" + hmac.new(endpoint.secret.encode(), body, hashlib.sha256).hexdigest()
            with endpoint.lock:
                if not hmac.compare_digest(expected, self.headers.get("X-Mamori-Signature", "")) \
                        or not self.headers.get("X-Mamori-Timestamp", "").isdigit():
                    endpoint.bad_signatures += 1
                    status = 401
                elif endpoint.rejected < endpoint.fail_first:
                    endpoint.rejected += 1
                    status = 500
                else:
                    endpoint.requests.append(json.loads(body))
                    status = 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["endpoint"] = Endpoint(url=f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["endpoint"]
    server.shutdown()
    server.server_close()


@dataclass
class Run:
    task: str
    kwargs: dict
    delay: float  # seconds between enqueueing and run_after
    result: object


@pytest.fixture
def run_tasks():
    from django_tasks_db.models import DBTaskResult

    def _run(max_runs: int = 500) -> list[Run]:
        runs: list[Run] = []
        for _ in range(max_runs):
            row = DBTaskResult.objects.filter(status="READY").order_by("enqueued_at").first()
            if row is None:
                return runs
            kwargs = row.args_kwargs["kwargs"]
            delay = (row.run_after - row.enqueued_at).total_seconds() if row.run_after.year < 9000 else 0.0
            DBTaskResult.objects.filter(pk=row.pk).update(status="SUCCESSFUL")
            task = import_string(row.task_path)
            runs.append(Run(row.task_path.rsplit(".", 1)[-1], kwargs, delay,
                            task.func(*row.args_kwargs["args"], **kwargs)))
        raise AssertionError("tasks keep queueing more tasks")

    return _run
