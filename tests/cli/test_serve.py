"""`mamori serve` end to end: a real gunicorn process, its worker child, the demo link."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.cli.support import (
    REPO,
    free_port,
    mamori_cmd,
    mamori_env,
    postgres_url_for_current_test_db,
    run_mamori,
)

DEADLINE = 60


class Output:
    """Collects a process's output lines in a thread, so reads never block the test."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream):
        for line in stream:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, deadline: float) -> re.Match:
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text)
            if match:
                return match
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not printed in time; output so far:\n{self.text}")


def _get(url: str, timeout: float = 5.0) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (local URL)
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def _wait_http(url: str, deadline: float, output: Output, process: subprocess.Popen) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}:\n{output.text}")
        try:
            if _get(url, timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in time; output:\n{output.text}")


def _gone(pid: int) -> bool:
    """True when the process has exited (no longer exists, or only a zombie entry is left)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in {"Z", "X"}


def _serve_and_check(env: dict[str, str], stop_signal: int = signal.SIGTERM) -> None:
    deadline = time.monotonic() + DEADLINE
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        mamori_cmd("serve", "--port", str(port), "--workers", "1", "--threads", "2"),
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = Output(process.stdout)
    worker_pid = None
    try:
        _wait_http(f"{base}/healthz", deadline, output, process)

        status, ctype, body = _get(f"{base}/readyz")
        assert status == 200 and ctype.startswith("application/json"), body
        ready = json.loads(body)
        assert ready["status"] == "ok"
        assert ready["checks"]["database"]["status"] == "ok"
        assert ready["checks"]["migrations"] == {"status": "ok", "pending": 0}

        link = output.wait_for(rf"{re.escape(base)}/t/demo/welcome/[A-Za-z0-9_-]+/", deadline).group(0)
        status, _ctype, page = _get(link)
        assert status == 200, page[:500]
        assert 'method="post"' in page and "csrfmiddlewaretoken" in page

        # Static files under gunicorn with DEBUG off (WhiteNoise with finders).
        status, ctype, css = _get(f"{base}/static/mamori/mamori.css")
        assert status == 200 and ctype.startswith("text/css") and "--accent" in css

        worker_pid = int(output.wait_for(r"worker started \(pid (\d+)\)", deadline).group(1))
        assert not _gone(worker_pid)
        with open(f"/proc/{worker_pid}/cmdline", "rb") as f:
            assert b"worker" in f.read()
    finally:
        if process.poll() is None:
            process.send_signal(stop_signal)
        try:
            process.wait(timeout=max(5.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            raise AssertionError(f"serve did not stop on {stop_signal!r}:\n{output.text}")
    assert process.returncode == 0, output.text
    if worker_pid is not None:
        end = time.monotonic() + 5
        while not _gone(worker_pid) and time.monotonic() < end:
            time.sleep(0.1)
        if not _gone(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)
            raise AssertionError("the worker child outlived `mamori serve`")


def test_serve_sqlite_first_run_demo_link_health_static_and_clean_stop(tmp_path):
    _serve_and_check(mamori_env(tmp_path / "var"))


def test_serve_stops_its_worker_on_ctrl_c(tmp_path):
    _serve_and_check(mamori_env(tmp_path / "var"), stop_signal=signal.SIGINT)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_serve_postgres(tmp_path):
    _serve_and_check(mamori_env(tmp_path / "var", DATABASE_URL=postgres_url_for_current_test_db()))


def test_production_profile_refuses_to_serve_insecure_settings(tmp_path):
    result = run_mamori("serve", "--port", str(free_port()),
                        env=mamori_env(tmp_path / "var", MAMORI_PROFILE="production"), timeout=30)
    assert result.returncode != 0
    assert "mamori.E101" in result.stderr
    assert "Serving" not in result.stdout
