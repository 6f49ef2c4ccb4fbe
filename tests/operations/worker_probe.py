"""A task for the worker tests: appends one line per run to a file (O_APPEND writes are atomic)."""

from __future__ import annotations

import os
import time

from django_tasks import task


@task()
def append_line(path: str, number: int, pause: float = 0.0) -> int:
    if pause:
        time.sleep(pause)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{number} {os.getpid()}\n".encode())
    finally:
        os.close(fd)
    return number
