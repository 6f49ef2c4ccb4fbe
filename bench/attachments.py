"""Attachment encryption benchmark (issue 6, item 2): throughput and memory of upload and download.

    .venv/bin/python bench/attachments.py                  # or: bench/run --only attachments
    .venv/bin/python bench/attachments.py --sizes 1,25,200  # MiB

A worker process (Mamori's settings, a fresh SQLite database and file storage in a temporary
``MAMORI_DATA_DIR``, ``migrate``) creates one tenant, a workspace and a record, writes a file of
random bytes with a PDF signature for each ``--sizes`` value to disk, and measures, each the
median of 3 rounds:

1. **upload**: ``upload_attachment`` from the open file (type sniffing, the streamed
   segment encryption with the tenant's key, the write to the file storage, the row and its
   audit event);
2. **download**: ``download_attachment`` (the whole-file check: decrypt every segment
   without keeping it) and then reading every plaintext segment of the stream, as the
   response does;
3. for comparison, **AES-GCM only**: encrypting the same bytes in 64 KiB segments in memory.

Peak memory is measured in a separate round with ``tracemalloc`` (Python allocations during one
upload and one download): it must not grow with the file size (constant memory).

Writes the ``attachments`` key of ``bench/results.json`` and its section of ``bench/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def _worker(args) -> dict:
    import django

    django.setup()
    import tracemalloc

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from mamori.accounts.models import User
    from mamori.audit.events import Actor
    from mamori.records import actions
    from mamori.records import attachments as files
    from mamori.records.actions_attachments import download_attachment, upload_attachment
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import tenant_context

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    settings.MAMORI_ATTACHMENT_MAX_BYTES = max(sizes) * MIB
    tenant, _admin, _secret = create_tenant(actor=Actor.system("bench"), slug="bench", name="Bench",
                                            admin_email="owner@bench.example")
    scratch = Path(settings.DATA_DIR) / "scratch"
    scratch.mkdir()
    rows = []
    with tenant_context(tenant):
        admin = User.objects.get(email="owner@bench.example")
        actor = Actor.for_user(admin)
        ws = actions.create_workspace(actor=actor, name="Bench")
        record = actions.create_record(actor=actor, workspace_id=ws.pk, title="Bench")

        def upload(path: Path):
            with path.open("rb") as handle:
                return upload_attachment(actor=actor, record_id=record.pk, file=handle, filename=path.name,
                                         size=path.stat().st_size)

        def download(attachment) -> int:
            result = download_attachment(actor=actor, record_id=record.pk, attachment_id=attachment.pk)
            return sum(len(chunk) for chunk in result.chunks())

        for size_mib in sizes:
            path = scratch / f"bench-{size_mib}.pdf"
            with path.open("wb") as handle:
                handle.write(b"%PDF-1.7\n")
                remaining = size_mib * MIB - 9
                while remaining > 0:
                    chunk = os.urandom(min(remaining, 4 * MIB))
                    handle.write(chunk)
                    remaining -= len(chunk)
            up, down = [], []
            for _ in range(3):
                t0 = time.perf_counter()
                attachment = upload(path)
                up.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                assert download(attachment) == size_mib * MIB
                down.append(time.perf_counter() - t0)
            data = path.read_bytes()[:min(size_mib, 25) * MIB]
            aead, gcm = AESGCM(AESGCM.generate_key(bit_length=256)), []
            for _ in range(3):
                t0 = time.perf_counter()
                for i in range(0, len(data), files.SEGMENT_SIZE):
                    aead.encrypt(i.to_bytes(12, "big"), data[i:i + files.SEGMENT_SIZE], b"aad")
                gcm.append(time.perf_counter() - t0)
            del data
            tracemalloc.start()
            attachment = upload(path)
            _cur, peak_up = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            download(attachment)
            _cur, peak_down = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            up_s, down_s, gcm_s = statistics.median(up), statistics.median(down), statistics.median(gcm)
            rows.append({
                "size_mib": size_mib,
                "upload_s": round(up_s, 4), "upload_mib_s": round(size_mib / up_s, 1),
                "download_s": round(down_s, 4), "download_mib_s": round(size_mib / down_s, 1),
                "aes_gcm_only_mib_s": round(min(size_mib, 25) / gcm_s, 1),
                "peak_python_kib_upload": round(peak_up / 1024), "peak_python_kib_download": round(peak_down / 1024),
                "stored_bytes": files.encrypted_size(size_mib * MIB),
            })
            path.unlink()
    from django.db import connection

    return {
        "rows": rows,
        "segment_kib": files.SEGMENT_SIZE // 1024,
        "database": f"SQLite {connection.Database.sqlite_version}",
        "storage": "FileSystemStorage (local disk)",
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _markdown(r: dict) -> str:
    lines = "\n".join(
        f"| {row['size_mib']} | {row['upload_mib_s']:.0f} ({row['upload_s']:.2f} s) | "
        f"{row['download_mib_s']:.0f} ({row['download_s']:.2f} s) | {row['aes_gcm_only_mib_s']:.0f} | "
        f"{row['peak_python_kib_upload']:,} / {row['peak_python_kib_download']:,} |"
        for row in r["rows"])
    return f"""## Record attachments (`attachments`)

Upload and download of encrypted attachments through the actions ({r['segment_kib']} KiB AES-256-GCM
segments, key derived from the tenant's data key). Method: the docstring of `bench/attachments.py`.
Download includes the whole-file integrity check before the first byte is sent (every segment is
decrypted twice). Peak memory must not grow with the file size.

- date: {r['date']}; {r['cpus']} CPUs, Python {r['python']}, {r['database']}, {r['storage']}

| file (MiB) | upload MiB/s (time) | download MiB/s (time) | AES-GCM only MiB/s | peak Python memory KiB (upload / download) |
|---:|---:|---:|---:|---:|
{lines}
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,25,100", help="file sizes in MiB, comma-separated")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args, _rest = parser.parse_known_args(argv)
    if args.worker:
        print(json.dumps(_worker(args)))
        return 0
    with tempfile.TemporaryDirectory(prefix="mamori-bench-attachments-") as data_dir:
        env = {**os.environ, "MAMORI_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "mamori.settings",
               "MAMORI_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        env.pop("DATABASE_URL", None)
        proc = subprocess.run(  # noqa: S603 — our own interpreter and script
            [sys.executable, __file__, "--worker", "--sizes", args.sizes],
            env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        return proc.returncode
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    sys.path.insert(0, str(ROOT))
    from bench.report import save_json_section, save_markdown_section

    save_json_section("attachments", result)
    save_markdown_section("attachments", _markdown(result))
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
