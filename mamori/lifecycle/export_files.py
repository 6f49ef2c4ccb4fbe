"""The files of a tenant (every registered ``FileSource``) copied into the export ZIP.

Split out of ``export.py``: each file is decrypted to a work file in 1 MiB chunks (hashed on
the way, ``_Sink``) and added under ``files/<source>/…`` with a safe, unique name; a file that
cannot be read is listed in the manifest instead of failing the export.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

from mamori.lifecycle import walk
from mamori.lifecycle.export_io import CHUNK, _Sink
from mamori.tenancy.context import tenant_context


def safe_archive_name(name: str) -> str:
    """A relative path inside the ZIP: no absolute paths, no ``..``, forward slashes only."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    cleaned = "/".join("".join(ch for ch in p if ch >= " " and ch != "\x7f") for p in parts)
    return cleaned or "file"


def _unique_name(name: str, taken: dict, owner_pk: int) -> str:
    """``name``, or ``name`` with ``-<owner pk>`` (then ``-<owner pk>-<n>``) before the extension."""
    stem, dot, ext = name.rpartition(".")
    if not dot or "/" in ext:
        stem, ext = name, ""
    candidate, n = name, 0
    while candidate in taken:
        suffix = f"-{owner_pk}" + (f"-{n}" if n else "")
        candidate = f"{stem}{suffix}.{ext}" if ext else f"{stem}{suffix}"
        n += 1
    return candidate


class _Unreadable(Exception):
    pass


def _copy_file(tenant, tenant_file: walk.TenantFile, target: Path) -> dict:
    """Decrypt one tenant file into ``target``; reading errors raise ``_Unreadable``, writing
    errors (disk full) propagate."""
    with tenant_context(tenant):
        try:
            stream = tenant_file.open()
        except Exception as exc:  # noqa: BLE001 — any failure to open/decrypt one file
            raise _Unreadable(exc) from exc
        try:
            with target.open("wb") as out:
                sink = _Sink(out)
                while True:
                    try:
                        chunk = stream.read(CHUNK)
                    except Exception as exc:  # noqa: BLE001
                        raise _Unreadable(exc) from exc
                    if not chunk:
                        break
                    sink.write(chunk)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
    return sink.entry()


def _write_files(archive: zipfile.ZipFile, workdir: Path, tenant, entries: dict,
                 on_file: Callable[[], None]) -> tuple[dict, list[dict]]:
    sources: dict[str, int] = {}
    unreadable: list[dict] = []
    target = workdir / "file.bin"
    for source in walk.file_sources():
        with tenant_context(tenant):
            files = list(source.files(tenant.pk))
        sources[source.name] = 0
        for tenant_file in files:
            name = _unique_name("files/" + safe_archive_name(tenant_file.archive_name), entries,
                                tenant_file.owner_pk)
            try:
                entry = _copy_file(tenant, tenant_file, target)
            except _Unreadable as exc:
                cause = exc.__cause__
                unreadable.append({"name": name, "owner": tenant_file.owner_label, "owner_pk": tenant_file.owner_pk,
                                   "error": type(cause).__name__ if cause else "error"})
                target.unlink(missing_ok=True)
                continue
            archive.write(target, arcname=name)
            entries[name] = entry
            target.unlink()
            sources[source.name] += 1
            on_file()
    return sources, unreadable
