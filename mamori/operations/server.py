"""The production web server behind ``mamori serve``: gunicorn, plus a task worker.

Gunicorn runs ``mamori.wsgi:application`` with ``gthread`` workers (processes ×
threads, each worker with its own ``SO_REUSEPORT`` listening socket, the application and
its URLconf loaded once before the workers are forked); static files are served by WhiteNoise from the app directories, so
no ``collectstatic`` step is needed. Unless told otherwise, a ``mamori worker``
child process runs the background tasks next to it and is stopped (SIGTERM,
then SIGKILL after a grace period) whenever the server stops — on SIGINT,
SIGTERM, or an error.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass

from gunicorn.app.base import BaseApplication

logger = logging.getLogger("mamori.serve")


@dataclass(frozen=True)
class Bind:
    host: str
    port: int

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    @property
    def address(self) -> str:
        """The address for gunicorn's ``bind``."""
        return f"[{self.host}]:{self.port}" if self.is_ipv6 else f"{self.host}:{self.port}"

    @property
    def is_wildcard(self) -> bool:
        return self.host in {"0.0.0.0", "::", ""}  # noqa: S104 — recognising it, not binding

    @property
    def base_url(self) -> str:
        """The URL a browser on this machine uses to reach the bind address."""
        if self.is_wildcard:
            host = "127.0.0.1" if not self.is_ipv6 else "[::1]"
        elif self.is_ipv6:
            host = f"[{self.host}]"
        else:
            host = self.host
        return f"http://{host}:{self.port}"

    @property
    def url_host(self) -> str:
        """The host part (as it appears in a Host header) of ``base_url``."""
        return self.base_url.removeprefix("http://").rsplit(":", 1)[0]


class TaskWorkerChild:
    """A ``mamori worker`` subprocess owned by the serving process."""

    def __init__(self, *, grace_seconds: float = 15.0):
        self.process: subprocess.Popen | None = None
        self.owner_pid = os.getpid()
        self.grace_seconds = grace_seconds

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self.owner_pid = os.getpid()
        self.process = subprocess.Popen(  # noqa: S603 — our own interpreter and module
            [sys.executable, "-m", "mamori", "worker"],
            env=os.environ.copy(),
        )

    def stop(self) -> None:
        """Stop the worker and reap it. Does nothing in a forked web worker."""
        process = self.process
        if process is None or os.getpid() != self.owner_pid:
            return
        self.process = None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.grace_seconds)
            except subprocess.TimeoutExpired:
                logger.warning("task worker %s did not stop in %ss; killing it", process.pid,
                               self.grace_seconds)
                process.kill()
                process.wait(timeout=5)
        logger.info("task worker %s stopped", process.pid)


class MamoriServer(BaseApplication):
    """Gunicorn configured from code; it never reads gunicorn's own command line."""

    def __init__(self, *, bind: Bind, workers: int, threads: int, on_exit=None):
        self.settings_map = {
            "bind": [bind.address],
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": "-",
            "errorlog": "-",
            "logger_class": "mamori.operations.access_log.RedactingLogger",  # no link secrets in the access log
            "timeout": 60,
            "graceful_timeout": 10,
            "keepalive": 5,
            # One listening socket per worker (SO_REUSEPORT): the kernel spreads new connections
            # evenly over the workers. With one shared socket, the worker that is already awake
            # takes most of them, and keep-alive connections stay with it: under the load test
            # 83-88 % of 100 clients ended on one of two workers, whose thread pool then queued
            # requests while the other had a fifth of the work (docs/operations/server.md).
            "reuse_port": True,
            "preload_app": True,
            "proc_name": "mamori",
            "control_socket_disable": True,
        }
        if on_exit is not None:
            self.settings_map["on_exit"] = on_exit
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.settings_map.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        from django.urls import get_resolver

        from mamori.wsgi import application

        # preload_app: the master imports the application once and forks the workers from it.
        # Import the URLconf (every view module, the API schema) here too, or each worker
        # would do it on its first request (about 2 CPU-seconds on a small host). It opens no
        # database connection.
        get_resolver().url_patterns  # noqa: B018 — evaluated for its side effect
        return application
