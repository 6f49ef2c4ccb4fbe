"""Database engines for system backups: consistent snapshots, restores and scratch databases.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies the live database in one
step into a private temporary file while writers continue (WAL), so the copy is one
consistent state. PostgreSQL: a ``REPEATABLE READ`` transaction exports its snapshot; the
row counts and the migration state are read in that transaction and ``pg_dump
--format=custom --snapshot=…`` dumps exactly that state. The password goes to the child
processes in ``PGPASSWORD`` (never on a command line, never logged).

Row counts read all rows (``row_security = off``): the database user that runs backups must
own the tables and bypass row-level security (the PostgreSQL superuser or a role with
``BYPASSRLS``); pg_dump needs the same.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_LIBPQ_OPTIONS = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
                  "sslkey": "PGSSLKEY", "connect_timeout": "PGCONNECT_TIMEOUT",
                  "application_name": "PGAPPNAME", "target_session_attrs": "PGTARGETSESSIONATTRS"}
READ_BYTES = 1024 * 1024


class EngineError(RuntimeError):
    """A database tool failed (its message never contains the password)."""


def live_settings() -> dict[str, Any]:
    return connections["default"].settings_dict


def engine_of(settings_dict: dict[str, Any] | None = None) -> str:
    engine = (settings_dict or live_settings())["ENGINE"]
    if engine.endswith("sqlite3"):
        return "sqlite"
    if "postgresql" in engine:
        return "postgresql"
    raise EngineError(f"System backups support SQLite and PostgreSQL, not {engine}.")


def valid_identifier(name: str) -> bool:
    return bool(_IDENT.match(name or ""))


def quote_ident(name: str) -> str:
    if not valid_identifier(name):
        raise EngineError(f"{name!r} is not a plain database name (letters, digits, underscore).")
    return f'"{name}"'


# --- SQLite -------------------------------------------------------------------------------


def sqlite_counts(conn: sqlite3.Connection) -> tuple[dict[str, int], list[str]]:
    """Rows per table and the applied migrations (``app.name``) of an open SQLite database."""
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    counts = {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}  # noqa: S608
    migrations = []
    if "django_migrations" in counts:
        migrations = [f"{app}.{name}" for app, name in
                      conn.execute("SELECT app, name FROM django_migrations ORDER BY app, name")]
    return counts, migrations


def sqlite_snapshot(target: Path) -> tuple[dict[str, int], list[str]]:
    """Copy the live SQLite database into ``target`` (a new file) in one consistent step."""
    live = connections["default"]
    live.ensure_connection()
    with live.wrap_database_errors:
        dest = sqlite3.connect(str(target))
        try:
            live.connection.backup(dest, pages=-1)
            dest.commit()
            result = sqlite_counts(dest)
            check = dest.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            dest.close()
    if check != "ok":
        raise EngineError(f"the snapshot fails SQLite's quick_check: {check}")
    return result


def sqlite_check_file(path: Path) -> tuple[dict[str, int], list[str]]:
    """Open a restored SQLite file, check its integrity and count its rows."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise EngineError(f"the restored database fails SQLite's integrity_check: {check}")
        return sqlite_counts(conn)
    finally:
        conn.close()


def sqlite_copy_into_live(source: Path) -> None:
    """Replace the live SQLite database's content with ``source`` (backup API, WAL-safe)."""
    live = connections["default"]
    live.close()
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dest = sqlite3.connect(str(live.settings_dict["NAME"]), timeout=30)
        try:
            src.backup(dest, pages=-1)
        finally:
            dest.close()
    finally:
        src.close()


# --- PostgreSQL ---------------------------------------------------------------------------


def pg_params(settings_dict: dict[str, Any], dbname: str | None = None) -> dict[str, Any]:
    params = {"dbname": dbname or settings_dict["NAME"], "user": settings_dict.get("USER") or None,
              "password": settings_dict.get("PASSWORD") or None, "host": settings_dict.get("HOST") or None,
              "port": str(settings_dict["PORT"]) if settings_dict.get("PORT") else None}
    options = settings_dict.get("OPTIONS") or {}
    params.update({k: v for k, v in options.items() if k in _LIBPQ_OPTIONS})
    return {k: v for k, v in params.items() if v is not None}


def pg_env(settings_dict: dict[str, Any], dbname: str | None = None) -> dict[str, str]:
    """Environment for pg_dump/pg_restore: the connection in PG* variables, the password in PGPASSWORD."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    params = pg_params(settings_dict, dbname)
    mapping = {"dbname": "PGDATABASE", "user": "PGUSER", "password": "PGPASSWORD", "host": "PGHOST",
               "port": "PGPORT", **_LIBPQ_OPTIONS}
    for key, value in params.items():
        env[mapping[key]] = str(value)
    return env


def pg_connect(settings_dict: dict[str, Any], dbname: str | None = None, *, autocommit: bool = False):
    import psycopg

    return psycopg.connect(**pg_params(settings_dict, dbname), autocommit=autocommit)


def pg_counts(cursor) -> tuple[dict[str, int], list[str]]:
    cursor.execute("SET LOCAL row_security = off")
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    names = [row[0] for row in cursor.fetchall()]
    counts = {}
    for name in names:
        cursor.execute(f"SELECT count(*) FROM {quote_ident(name)}")  # noqa: S608 (catalogue names, quoted)
        counts[name] = cursor.fetchone()[0]
    migrations = []
    if "django_migrations" in counts:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        migrations = [f"{app}.{name}" for app, name in cursor.fetchall()]
    return counts, migrations


def _tool(name: str) -> str:
    configured = getattr(settings, "BACKUP_" + name.upper(), "") or name
    found = shutil.which(configured)
    if not found:
        raise EngineError(f"{configured} is not installed (needed for PostgreSQL backups; set MAMORI_{name.upper()}).")
    return found


def _stderr_text(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text[-2000:]


@contextmanager
def pg_dump_stream() -> Iterator[tuple[Callable[[int], bytes], dict[str, int], list[str]]]:
    """Yield ``(read, counts, migrations)``: ``read`` returns the pg_dump custom-format bytes of
    the snapshot in which ``counts`` and ``migrations`` were read."""
    sd = live_settings()
    conn = pg_connect(sd)
    proc = None
    try:
        with conn.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            counts, migrations = pg_counts(cursor)
        command = [_tool("pg_dump"), "--format=custom", "--no-password", f"--snapshot={snapshot}"]
        proc = subprocess.Popen(command, env=pg_env(sd), stdout=subprocess.PIPE,  # noqa: S603
                                stderr=subprocess.PIPE)
        # stderr is read after stdout ends; pg_dump writes little to it.
        yield proc.stdout.read, counts, migrations
        proc.stdout.close()
        stderr = proc.stderr.read()
        if proc.wait() != 0:
            raise EngineError(f"pg_dump failed: {_stderr_text(stderr)}")
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc is not None:
            for stream in (proc.stdout, proc.stderr):
                if stream and not stream.closed:
                    stream.close()
        conn.rollback()
        conn.close()


def pg_database_exists(dbname: str) -> bool:
    with pg_connect(live_settings(), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone() is not None


def pg_database_has_tables(dbname: str) -> bool:
    with pg_connect(live_settings(), dbname, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_tables WHERE schemaname = 'public' LIMIT 1").fetchone() is not None


def pg_create_database(dbname: str) -> None:
    with pg_connect(live_settings(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {quote_ident(dbname)} TEMPLATE template0")


def pg_drop_database(dbname: str) -> None:
    if dbname == live_settings()["NAME"]:
        raise EngineError("refusing to drop the live database")
    with pg_connect(live_settings(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(dbname)} WITH (FORCE)")


def pg_restore_into(dbname: str, feed: Callable[[Callable[[bytes], object]], object], *, clean: bool) -> None:
    """Run pg_restore into ``dbname`` in one transaction; ``feed(write)`` writes the dump to its stdin."""
    sd = live_settings()
    command = [_tool("pg_restore"), "--no-password", "--no-owner", "--single-transaction", "--exit-on-error",
               f"--dbname={dbname}"]
    if clean:
        command += ["--clean", "--if-exists"]
    stderr_path = Path(settings.BACKUP_DIR) / f".pg_restore-{os.getpid()}.log"
    stderr_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(stderr_path, "w+b") as errors:
        proc = subprocess.Popen(command, env=pg_env(sd, dbname), stdin=subprocess.PIPE,  # noqa: S603
                                stdout=subprocess.DEVNULL, stderr=errors)
        try:
            try:
                feed(proc.stdin.write)
            except BrokenPipeError:
                pass  # pg_restore stopped early: its exit status and stderr say why
            finally:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
            status = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            errors.seek(0)
            message = _stderr_text(errors.read())
        stderr_path.unlink(missing_ok=True)
    if status != 0:
        raise EngineError(f"pg_restore failed: {message}")


def pg_target_counts(dbname: str) -> tuple[dict[str, int], list[str]]:
    with pg_connect(live_settings(), dbname) as conn, conn.cursor() as cursor:
        result = pg_counts(cursor)
        conn.rollback()
        return result


# --- running Django against another database -------------------------------------------------


def settings_for(target: str) -> dict[str, Any]:
    """The live database settings pointed at another SQLite file or PostgreSQL database."""
    sd = dict(live_settings())
    sd["NAME"] = str(target)
    sd["TEST"] = dict(sd.get("TEST") or {})
    sd["CONN_MAX_AGE"] = 0
    return sd


@contextmanager
def use_database(target: str) -> Iterator[None]:
    """Inside the block, this thread's default database is ``target`` (a drill's scratch copy)."""
    from django.db.utils import load_backend

    sd = settings_for(target)
    old = connections["default"]
    wrapper = load_backend(sd["ENGINE"]).DatabaseWrapper(sd, "default")
    connections["default"] = wrapper
    try:
        yield
    finally:
        try:
            wrapper.close()
        finally:
            connections["default"] = old
