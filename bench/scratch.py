"""Run a benchmark's worker process against a fresh scratch database.

The audit and evidence benchmarks all do the same thing: a new temporary
``MAMORI_DATA_DIR`` (SQLite) or a PostgreSQL database dropped and created again
(``BENCH_DATABASE_URL``), a clean environment, the worker started as a separate
process that prints its figures as JSON on its last line, and everything removed
afterwards — whatever happened.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_worker(kind: str, script: str, worker_args: list[str], *, name: str,
               settings: str = "mamori.settings", show_stderr: bool = False) -> dict:
    """Run ``script --worker *worker_args`` on a fresh ``kind`` database; return its JSON figures."""
    from bench.api_bench import _drop_postgres, _fresh_postgres, _postgres_url, _postgres_version

    data_dir = tempfile.mkdtemp(prefix=f"mamori-{name}-bench-{kind}-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAMORI_") and k != "DATABASE_URL"}
    env.update({
        "DJANGO_SETTINGS_MODULE": settings,
        "MAMORI_DATA_DIR": data_dir,
        "MAMORI_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    })
    url = None
    if kind == "postgresql":
        url = _fresh_postgres(_postgres_url())
        env["DATABASE_URL"] = url
        version = _postgres_version(url).split(" on ")[0]
    else:
        import sqlite3

        version = f"SQLite {sqlite3.sqlite_version}"
    try:
        out = subprocess.run(  # noqa: S603
            [sys.executable, script, "--worker", *worker_args],
            env=env, cwd=ROOT, text=True, stdout=subprocess.PIPE,
            stderr=None if show_stderr else subprocess.PIPE, check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"worker failed ({out.returncode}): {(out.stderr or '')[-4000:]}")
        run = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        if url:
            _drop_postgres(url)
    run["database"] = version
    run["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    return run
