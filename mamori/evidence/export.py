"""Building an evidence package (16.1.7), streaming with constant memory.

The package is a ZIP holding:

* ``events.jsonl`` — one line per event: canonical JSON ``{"hash": …, "payload": …}``
  where ``payload`` is exactly what the hash covers (``mamori.audit.chain.payload_for``);
* ``events.csv`` — the same events for spreadsheets: UTF-8 with BOM, CRLF, and
  every cell that a spreadsheet would read as a formula prefixed with ``'``;
* ``digests.json`` — the signed digests inside the range and the chain's signed
  retention checkpoints;
* ``public_key.pem`` — the provider's Ed25519 public key, followed by every retired
  key that signed a digest or checkpoint in the package (one PEM block each);
* ``verify_evidence.py`` — the standalone verifier;
* ``manifest.json`` — SHA-256 and size of every other file, the chain, the time
  range and sequence span, signed with the provider's key.

The time range selects the first and last sequence number of events that
occurred in ``[since, until)``; the package holds every event between them, so
the chain inside it is continuous even if two events' clocks crossed. Events are
read in batches by sequence number (one short transaction each, so the progress
is visible to the console) and written to temporary files; the ZIP is assembled
from those files in chunks and handed to the default storage.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import secrets
import shutil
import tempfile
import zipfile
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import Max, Min
from django.utils import timezone

from mamori.audit.canonical import canonical_bytes, chain_name, format_time
from mamori.evidence import verify_evidence as vx
from mamori.evidence.retention import checkpoint_dict
from mamori.tenancy.context import tenant_context

logger = logging.getLogger(__name__)
BATCH = 2000
VERIFIER_SOURCE = Path(vx.__file__)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _set_progress(export_id: int, tenant, **fields) -> None:
    from mamori.evidence.models import EvidenceExport

    with tenant_context(tenant):
        EvidenceExport.objects.filter(pk=export_id).update(**fields)


def _digest_dict(digest) -> dict:
    return {"chain": digest.chain, "up_to_seq": digest.up_to_seq, "head_hash": digest.head_hash,
            "event_count": digest.event_count, "created_at": format_time(digest.created_at),
            "key_id": digest.key_id, "signature": digest.signature}


_COLUMNS = ("seq", "occurred_at", "action", "actor_type", "actor_id", "actor_label", "target_type",
            "target_id", "target_label", "before", "after", "ip", "user_agent", "request_id",
            "prev_hash", "hash")


def payload_rows(queryset, chain: str):
    """``(payload, hash)`` per row without building model instances (fast path).

    Gives exactly ``mamori.audit.chain.payload_for(event)`` (a test holds them equal).
    """
    for row in queryset.values_list(*_COLUMNS):
        payload = dict(zip(_COLUMNS, row, strict=True))
        stored = payload.pop("hash")
        payload["chain"] = chain
        payload["occurred_at"] = format_time(payload["occurred_at"])
        ip = payload["ip"]
        payload["ip"] = str(ip) if ip not in (None, "") else None
        yield payload, stored


def write_events(tenant, first_seq: int, last_seq: int, jsonl_path: Path, csv_path: Path, *,
                 on_batch=None, batch: int | None = None) -> int:
    """Write events ``first_seq..last_seq`` of the tenant's chain to the two files; returns the count.

    Reads one batch per short transaction (keyset on ``seq``), so memory stays constant.
    """
    from mamori.audit.models import AuditEvent

    chain = chain_name(tenant.pk)
    batch = batch or BATCH
    written = 0
    with jsonl_path.open("wb") as jsonl, csv_path.open("w", encoding="utf-8-sig", newline="") as raw_csv:
        writer = csv.writer(raw_csv, lineterminator="\r\n")
        writer.writerow(vx.CSV_COLUMNS)
        cursor = first_seq
        while cursor <= last_seq:
            with tenant_context(tenant):
                rows = list(payload_rows(AuditEvent.objects.filter(seq__gte=cursor, seq__lte=last_seq)
                                         .order_by("seq")[:batch], chain))
            if not rows:
                break
            for payload, stored in rows:
                jsonl.write(canonical_bytes({"hash": stored, "payload": payload}) + b"\n")
                writer.writerow(vx.csv_row(payload, stored))
            written += len(rows)
            cursor = rows[-1][0]["seq"] + 1
            del rows
            if on_batch is not None:
                on_batch(written)
    return written


def package_public_keys(digests: list[dict], checkpoints: list[dict]) -> str:
    """``public_key.pem``: the provider's current key (it signs the manifest) first, then every
    retired key that signed one of the package's digests or checkpoints. A key id the provider
    does not know is left out; the verifier then names it ("signed by an unknown key")."""
    from mamori.audit import signing

    known = signing.known_public_keys()
    wanted = [signing.key_id()] + [item["key_id"] for item in (*digests, *checkpoints)]
    pems: dict[str, str] = {}
    for kid in wanted:
        if kid not in pems and kid in known:
            pems[kid] = known[kid]
        elif kid not in known:
            logger.warning("evidence package: no public key for signing key id %s", kid)
    return "".join(pem if pem.endswith("\n") else pem + "\n" for pem in pems.values())


def build_package(export_id: int, tenant) -> None:
    """Generate the package of one ``EvidenceExport`` and mark it completed (or failed)."""
    from mamori.audit import signing
    from mamori.audit.models import AuditDigest, AuditEvent
    from mamori.evidence.actions import finish_export
    from mamori.evidence.models import AuditCheckpoint, EvidenceExport

    with tenant_context(tenant):
        export = EvidenceExport.objects.select_for_update().filter(pk=export_id).first()
        if export is None or export.status != EvidenceExport.Status.PENDING:
            return  # already taken by another worker, or gone
        EvidenceExport.objects.filter(pk=export_id).update(status=EvidenceExport.Status.RUNNING, progress=1)
        span = AuditEvent.objects.filter(occurred_at__gte=export.since, occurred_at__lt=export.until,
                                         seq__isnull=False).aggregate(first=Min("seq"), last=Max("seq"))
    chain = chain_name(tenant.pk)
    first, last = span["first"], span["last"]
    expected = (last - first + 1) if first is not None else 0
    workdir = Path(tempfile.mkdtemp(prefix="mamori-evidence-"))
    try:
        def progress(done: int) -> None:
            _set_progress(export_id, tenant, progress=min(95, 1 + done * 94 // max(expected, 1)),
                          event_count=done)

        count = 0
        if first is not None:
            count = write_events(tenant, first, last, workdir / "events.jsonl", workdir / "events.csv",
                                 on_batch=progress)
        else:
            write_events(tenant, 1, 0, workdir / "events.jsonl", workdir / "events.csv")
        with tenant_context(tenant):
            digests = [_digest_dict(d) for d in AuditDigest.objects.filter(
                chain=chain, up_to_seq__gte=first or 0, up_to_seq__lte=last or 0).order_by("up_to_seq")]
            checkpoints = [checkpoint_dict(c) for c in
                           AuditCheckpoint.objects.filter(chain=chain).order_by("purged_through_seq")]
        (workdir / "digests.json").write_text(json.dumps(
            {"chain": chain, "digests": digests, "checkpoints": checkpoints}, indent=2, ensure_ascii=False),
            encoding="utf-8")
        (workdir / "public_key.pem").write_text(package_public_keys(digests, checkpoints), encoding="ascii")
        shutil.copyfile(VERIFIER_SOURCE, workdir / "verify_evidence.py")
        manifest = {
            "format": vx.FORMAT, "chain": chain, "tenant": tenant.slug,
            "since": format_time(export.since), "until": format_time(export.until),
            "first_seq": first, "last_seq": last if count else None, "event_count": count,
            "digest_count": len(digests), "checkpoint_count": len(checkpoints),
            "created_at": format_time(timezone.now()), "export_id": export_id,
            "files": {name: {"sha256": _sha256(workdir / name), "size": (workdir / name).stat().st_size}
                      for name in vx.FILES},
        }
        key_id, signature = signing.sign(vx.manifest_message(manifest))
        (workdir / "manifest.json").write_text(json.dumps(
            {"manifest": manifest, "key_id": key_id, "signature": signature}, indent=2, ensure_ascii=False),
            encoding="utf-8")
        _set_progress(export_id, tenant, progress=97)
        zip_path = workdir / "package.zip"
        with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for name in ("manifest.json", *vx.FILES):
                archive.write(workdir / name, arcname=name)
        name = f"evidence/{tenant.pk}/{export_id}-{secrets.token_hex(16)}.zip"
        with zip_path.open("rb") as handle:
            stored = default_storage.save(name, File(handle, name=name))
        with tenant_context(tenant):
            finish_export(export_id=export_id, ok=True, file_path=stored, file_size=zip_path.stat().st_size,
                          sha256=_sha256(zip_path), event_count=count, first_seq=first,
                          last_seq=last if count else None, digest_count=len(digests))
    except Exception as exc:
        logger.exception("evidence export %s failed", export_id)
        with tenant_context(tenant):
            finish_export(export_id=export_id, ok=False, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
