"""Two `mamori worker` processes on one queue run each task exactly once."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.cli.support import (
    REPO,
    mamori_cmd,
    mamori_env,
    postgres_url_for_current_test_db,
    run_mamori,
)

N_TASKS = 30
DEADLINE = 60


def _lines(path: Path) -> list[tuple[int, int]]:
    if not path.exists():
        return []
    return [tuple(map(int, line.split())) for line in path.read_text().splitlines() if line.strip()]


def _run_two_workers(env: dict[str, str], out: Path) -> list[tuple[int, int]]:
    deadline = time.monotonic() + DEADLINE
    workers = [
        subprocess.Popen(mamori_cmd("worker", "--interval", "0.1", "--worker-id", f"test-worker-{i}"),
                         env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(2)
    ]
    try:
        while len(_lines(out)) < N_TASKS and time.monotonic() < deadline:
            for w in workers:
                assert w.poll() is None, w.communicate()[0]
            time.sleep(0.2)
        time.sleep(1.0)  # give a duplicate run the chance to show up
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        outputs = []
        for w in workers:
            try:
                outputs.append(w.communicate(timeout=max(5.0, deadline - time.monotonic()))[0])
            except subprocess.TimeoutExpired:
                w.kill()
                outputs.append(w.communicate()[0])
    for w, output in zip(workers, outputs, strict=True):
        assert w.returncode == 0, output  # SIGTERM: graceful exit
    return _lines(out)


def _assert_exactly_once(runs: list[tuple[int, int]]) -> None:
    print("tasks per worker pid:", Counter(pid for _n, pid in runs))
    counts = Counter(number for number, _pid in runs)
    assert sorted(counts) == list(range(N_TASKS)), f"missing: {set(range(N_TASKS)) - set(counts)}"
    assert max(counts.values()) == 1, f"ran twice: {[n for n, c in counts.items() if c > 1]}"


def test_two_workers_on_sqlite_run_each_task_once(sqlite_data_dir, tmp_path):
    out = tmp_path / "runs.txt"
    env = mamori_env(sqlite_data_dir)
    enqueue = (
        "from tests.operations.worker_probe import append_line\n"
        f"for i in range({N_TASKS}): append_line.enqueue({str(out)!r}, i, 0.05)\n"
    )
    result = run_mamori("shell", "-v", "0", "-c", enqueue, env=env)
    assert result.returncode == 0, result.stderr
    runs = _run_two_workers(env, out)
    _assert_exactly_once(runs)
    check = run_mamori("shell", "-v", "0", "-c", (
        "from django_tasks_db.models import DBTaskResult as T\n"
        "print(T.objects.filter(status='SUCCESSFUL').count(), T.objects.count())"), env=env)
    assert check.stdout.split() == [str(N_TASKS), str(N_TASKS)], check.stderr


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_postgres_run_each_task_once(tmp_path):
    from django_tasks_db.models import DBTaskResult

    from tests.operations.worker_probe import append_line

    out = tmp_path / "runs.txt"
    for i in range(N_TASKS):
        append_line.enqueue(str(out), i, 0.05)
    env = mamori_env(tmp_path / "var", DATABASE_URL=postgres_url_for_current_test_db())
    runs = _run_two_workers(env, out)
    _assert_exactly_once(runs)
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == N_TASKS
