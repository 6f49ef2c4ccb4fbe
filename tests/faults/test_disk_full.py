"""Fault (d): the backup directory fills up during a system backup.

``MAMORI_BACKUP_DIR`` is a real 4 MB tmpfs (``mount -t tmpfs``; needs root, otherwise the
test is skipped with the reason). A first backup fits; then the database grows by 6 MB of
incompressible data and the next ``mamori backup create`` runs out of space. Proven:

- the command fails cleanly: exit status 1, a one-line message naming the cause (no
  traceback), and a ``backup.failed`` event in the provider log;
- nothing of the failed attempt is left in the directory (no partial file, no manifest),
  so nothing can be mistaken for a complete backup;
- the older backup is untouched and still verifies (``mamori backup verify``);
- once space is available again, the next backup succeeds (complete: file and manifest).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

SIZE = "4m"
BALLAST_MB = 6

# Shares the pytest-django test database with the subprocesses on PostgreSQL.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def small_backup_dir(tmp_path):
    target = tmp_path / "backups"
    target.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; run the fault tests as root (CI does) to cover a full disk")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0700", "tmpfs", str(target)],  # noqa: S603, S607
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (container without CAP_SYS_ADMIN?): {mounted.stderr.strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)  # noqa: S603, S607


def _grow(db, *, drop: bool = False) -> None:
    if drop:
        db.query("DROP TABLE IF EXISTS fault_ballast")
        if db.url is None:
            db.query("VACUUM")
        return
    if db.url is None:
        db.query("CREATE TABLE fault_ballast (b BLOB)")
        db.query(f"INSERT INTO fault_ballast SELECT randomblob(1048576) FROM (WITH RECURSIVE n(i) AS "
                 f"(SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {BALLAST_MB}) SELECT i FROM n)")
    else:
        db.query("CREATE TABLE fault_ballast (b bytea)")
        db.query("INSERT INTO fault_ballast SELECT decode(string_agg(md5(random()::text || g::text), ''), 'hex') "
                 "FROM generate_series(1, 65536) g, generate_series(1, %s) r GROUP BY r", (BALLAST_MB,))


def _complete(directory) -> list[str]:
    """The complete backups, as ``mamori backup list`` finds them: a manifest next to each file."""
    return sorted(p.name.removesuffix(".manifest.json") + ".mbk" for p in directory.glob("mamori-*.manifest.json"))


def test_disk_full_during_backup_fails_cleanly_and_keeps_older_backups(fault_db, small_backup_dir):
    from mamori.lifecycle.backup_crypto import generate_backup_key

    fault_db.env.update(MAMORI_BACKUP_KEY=generate_backup_key(), MAMORI_BACKUP_DIR=str(small_backup_dir))
    first = fault_db.mamori("backup", "create")
    assert first.returncode == 0, first.stdout + first.stderr
    [older] = _complete(small_backup_dir)
    before = sorted(p.name for p in small_backup_dir.iterdir())

    _grow(fault_db)
    try:
        full = fault_db.mamori("backup", "create")
        assert full.returncode == 1, full.stdout + full.stderr
        message = full.stderr.strip()
        # PostgreSQL (pg_dump → our file): ENOSPC; SQLite's snapshot: "database or disk is full".
        assert "No space left on device" in message or "disk is full" in message, message
        assert "Backup failed, nothing was kept" in message, message
        assert "Traceback" not in message and len(message.splitlines()) <= 3, message
        assert sorted(p.name for p in small_backup_dir.iterdir()) == before, "the failed backup left files"
        assert _complete(small_backup_dir) == [older]
        verify = fault_db.mamori("backup", "verify")  # every listed backup: file, manifest HMAC, decryption
        assert verify.returncode == 0 and f"OK {older}" in verify.stdout, verify.stdout + verify.stderr
        failed = fault_db.query("SELECT after FROM audit_providerevent WHERE action = %s", ("backup.failed",))
        assert len(failed) == 1
        error = failed[0][0] if isinstance(failed[0][0], dict) else json.loads(failed[0][0])
        assert "No space left on device" in error["error"] or "disk is full" in error["error"]
    finally:
        _grow(fault_db, drop=True)

    again = fault_db.mamori("backup", "create")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(_complete(small_backup_dir)) == 2 and older in _complete(small_backup_dir)
