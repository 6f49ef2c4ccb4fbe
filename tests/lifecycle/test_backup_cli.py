"""``mamori backup`` in real processes against a file SQLite database: exit codes, messages,
the live-database guard and the audit trail."""

from __future__ import annotations

import json
import sqlite3

import pytest

from mamori.lifecycle.backup_crypto import generate_backup_key
from tests.cli.support import mamori_env, migrated_sqlite_template, run_mamori, sqlite_data_dir  # noqa: F401


@pytest.fixture
def env(sqlite_data_dir, tmp_path):  # noqa: F811
    return mamori_env(sqlite_data_dir, MAMORI_BACKUP_KEY=generate_backup_key(),
                      MAMORI_BACKUP_OFFSITE_DIR=str(tmp_path / "offsite"))


def _ok(*args, env, input=None):
    result = run_mamori("backup", *args, env=env, input=input, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _provider_actions(data_dir) -> list[str]:
    conn = sqlite3.connect(data_dir / "mamori.sqlite3")
    try:
        return [row[0] for row in conn.execute("SELECT action FROM audit_providerevent ORDER BY id")]
    finally:
        conn.close()


def test_create_list_verify_drill_and_a_corrupted_file(env, sqlite_data_dir, tmp_path):  # noqa: F811
    out = _ok("create", env=env)
    assert "Off-site copy checked" in out
    listing = json.loads(_ok("list", "--json", env=env))
    assert len(listing) == 1 and listing[0]["offsite"] == "copied" and listing[0]["engine"] == "sqlite"
    name = listing[0]["file"]
    assert f"OK {name}" in _ok("verify", env=env)
    assert "Restore drill passed" in _ok("drill", env=env)

    path = sqlite_data_dir / "backups" / name
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    bad = run_mamori("backup", "verify", env=env)
    assert bad.returncode == 1 and name in bad.stderr and "modified" in bad.stderr
    drill = run_mamori("backup", "drill", env=env)
    assert drill.returncode == 1 and "FAILED" in drill.stderr
    actions = _provider_actions(sqlite_data_dir)
    assert actions.count("backup.created") == 1 and "backup.verified" in actions
    assert actions[-1] == "backup.drill_finished"


def test_restore_never_replaces_the_live_database_silently(env, sqlite_data_dir, tmp_path):  # noqa: F811
    _ok("create", env=env)
    live = str(sqlite_data_dir / "mamori.sqlite3")
    assert run_mamori("tenant", "create", "later", "--name", "Later", "--admin-email", "a@later.example",
                      env=env).returncode == 0
    no_force = run_mamori("backup", "restore", "--latest", "--target", live, env=env)
    assert no_force.returncode == 2 and "live database" in no_force.stderr
    no_confirm = run_mamori("backup", "restore", "--latest", "--target", live, "--force", env=env, input="yes\n")
    assert no_confirm.returncode == 2 and "without confirmation" in no_confirm.stderr
    assert "later" in run_mamori("tenant", "list", env=env).stdout  # untouched

    _ok("restore", "--latest", "--target", live, "--force", "--yes", env=env)
    assert "later" not in run_mamori("tenant", "list", env=env).stdout  # back to the backup's state
    assert _provider_actions(sqlite_data_dir)[-1] == "backup.restored"

    assert run_mamori("backup", "restore", "--target", "x", env=env).returncode == 2  # neither NAME nor --latest
