"""Start the production web server for one side of the benchmark.

Both sides run the server ``mamori serve`` runs (gunicorn, gthread workers,
same options, see ``mamori.operations.server.MamoriServer``), without the
migrate / demo / task-worker steps. ``DJANGO_SETTINGS_MODULE`` picks the side:
``mamori.settings`` or ``bench.bare_settings``.

    python -m bench.server --port 8123 --workers 2 --threads 4
    python -m bench.server --port 8123 --timing-log /tmp/timing.log   # the load test

``--timing-log PATH`` (benchmarks only, never in production) adds one line per request to
PATH, written by gunicorn's access logger next to the usual access log line:
``<X-Load-Id header> <pid> <end> <duration µs> <status> <cpu µs>`` — ``end`` is the wall-clock
time (``time.time()``) when the response had been written to the socket, ``duration`` gunicorn's
own request time (from the parsed request to the written response, ``%(D)s``), ``cpu`` the CPU
time the worker thread spent on the request (``time.thread_time()``). The load test
joins these lines with its clients' samples to split each request's latency into time
before the application started it (connection, poller, thread-pool queue), time in the
server, and time until the client process read the answer.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

TIMING_LOG_ENV = "MAMORI_BENCH_TIMING_LOG"


_thread = threading.local()


def mark_request_start(worker, req) -> None:
    """Gunicorn ``pre_request`` hook (``--timing-log``): the thread's CPU time as the request starts."""
    _thread.cpu = time.thread_time()


class TimingMixin:
    """Added to the server's own access logger (``--timing-log``): one timing line per request."""

    _fd: int | None = None

    def access(self, resp, req, environ, request_time):
        end, cpu = time.time(), time.thread_time() - getattr(_thread, "cpu", time.thread_time())
        super().access(resp, req, environ, request_time)
        load_id = environ.get("HTTP_X_LOAD_ID", "-")
        status = str(resp.status).split(None, 1)[0] if resp is not None else "-"
        micros = request_time.seconds * 1_000_000 + request_time.microseconds
        if TimingMixin._fd is None:
            # O_APPEND: every line is one write(2), whole even with several processes and threads.
            TimingMixin._fd = os.open(
                os.environ[TIMING_LOG_ENV], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
            )
        line = f"{load_id} {os.getpid()} {end:.6f} {micros} {status} {round(cpu * 1e6)}\n"
        os.write(TimingMixin._fd, line.encode())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--timing-log", help="benchmarks only: one timing line per request in this file"
    )
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
    from mamori.operations.server import Bind, MamoriServer

    server = MamoriServer(
        bind=Bind("127.0.0.1", args.port), workers=args.workers, threads=args.threads
    )
    if args.timing_log:
        os.environ[TIMING_LOG_ENV] = args.timing_log
        # The server's own logger (Mamori's redacting access log) with the timing line added.
        logger = server.cfg.logger_class
        server.cfg.set("logger_class", type("TimingLogger", (TimingMixin, logger), {}))
        server.cfg.set("pre_request", mark_request_start)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
