"""Evidence packages: generation, the standalone verifier (run as a separate process), tampering."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from mamori.audit import canonical
from mamori.audit.canonical import chain_name
from mamori.audit.digests import create_digest
from mamori.audit.events import Actor, record_event
from mamori.audit.models import AuditEvent
from mamori.evidence import actions
from mamori.evidence import verify_evidence as vx
from mamori.evidence.export import build_package
from mamori.evidence.models import EvidenceExport
from tests.evidence.factory import bulk_events

REPO = Path(__file__).resolve().parents[2]
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
NASTY = ["=HYPERLINK(\"http://evil\")", "+1+2", "-3", "@SUM(A1)", "\tTab", "\rCR", "日本語 テスト",
         "line\nbreak", "comma, \"quote\""]


def _write_nasty_events(actor):
    with transaction.atomic():
        for text in NASTY:
            record_event("record.created", actor=actor, target=("records.record", "1", text),
                         after={"title": text})


def _export(admin, *, days: int = 1) -> EvidenceExport:
    now = timezone.now()
    export = actions.request_export(actor=Actor.for_user(admin), since=now - timedelta(days=days),
                                    until=now + timedelta(seconds=1))
    build_package(export.pk, admin.tenant)
    export.refresh_from_db()
    assert export.status == EvidenceExport.Status.COMPLETED, export.error
    return export


def _extract(export, target: Path) -> Path:
    with default_storage.open(export.file_path, "rb") as handle:
        zipfile.ZipFile(io.BytesIO(handle.read())).extractall(target)
    return target


def run_verifier(location: Path, *extra: str) -> subprocess.CompletedProcess:
    """The verifier alone: a separate process, no Mamori on the path, no Django settings."""
    script = location / "verify_evidence.py" if location.is_dir() else REPO / "mamori/evidence/verify_evidence.py"
    return subprocess.run([PYTHON, "-I", str(script), str(location), *extra], cwd=location.parent,
                          capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": "/usr/bin:/bin"})


@pytest.fixture
def package(tenant, admin, tmp_path):
    _write_nasty_events(Actor.for_user(admin))
    create_digest(chain_name(tenant.pk))  # a signed digest inside the range
    _write_nasty_events(Actor.for_user(admin))
    export = _export(admin)
    return export, _extract(export, tmp_path / "package")


def test_round_trip_verifies_in_a_separate_process(package):
    export, folder = package
    assert sorted(p.name for p in folder.iterdir()) == sorted(["manifest.json", *vx.FILES])
    result = run_verifier(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK:" in result.stdout
    manifest = json.loads((folder / "manifest.json").read_text())["manifest"]
    assert manifest["event_count"] == export.event_count > 2 * len(NASTY)
    assert manifest["digest_count"] == export.digest_count >= 1
    assert (folder / "verify_evidence.py").read_bytes() == Path(vx.__file__).read_bytes()


def test_the_zip_itself_verifies(package, tmp_path):
    export, _folder = package
    zip_path = tmp_path / "download.zip"
    with default_storage.open(export.file_path, "rb") as handle:
        zip_path.write_bytes(handle.read())
    result = run_verifier(zip_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_published_key_option(package, tmp_path):
    _export_row, folder = package
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = tmp_path / "other.pem"
    other.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert run_verifier(folder, "--public-key", str(folder / "public_key.pem")).returncode == 0
    result = run_verifier(folder, "--public-key", str(other))
    assert result.returncode == 1 and "manifest.json" in result.stdout


def _lines(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()]


def _write_lines(folder: Path, records: list[dict]) -> None:
    (folder / "events.jsonl").write_bytes(b"".join(canonical.canonical_bytes(r) + b"\n" for r in records))


def test_changed_event_is_named(package):
    _export_row, folder = package
    records = _lines(folder)
    victim = records[3]
    victim["payload"]["actor_label"] = "somebody else"
    _write_lines(folder, records)
    result = run_verifier(folder)
    assert result.returncode == 1
    first = result.stdout.splitlines()[1]
    assert f"line 4 (seq {victim['payload']['seq']})" in first and "hash mismatch" in first, result.stdout


def test_deleted_and_swapped_events_are_named(package):
    _export_row, folder = package
    records = _lines(folder)
    seq = records[5]["payload"]["seq"]
    _write_lines(folder, records[:5] + records[6:])
    result = run_verifier(folder)
    assert result.returncode == 1 and f"expected seq {seq}" in result.stdout.splitlines()[1]
    records[5], records[6] = records[6], records[5]
    _write_lines(folder, records)
    result = run_verifier(folder)
    assert result.returncode == 1 and f"expected seq {seq}" in result.stdout.splitlines()[1]


def test_truncated_tail_is_named(package):
    _export_row, folder = package
    _write_lines(folder, _lines(folder)[:-2])
    result = run_verifier(folder)
    assert result.returncode == 1 and "truncated" in result.stdout


def test_rehashed_chain_is_caught_by_the_digest_and_the_manifest(package):
    """An attacker who rewrites an event and re-hashes the chain after it still fails."""
    _export_row, folder = package
    records = _lines(folder)
    records[0]["payload"]["target_label"] = "rewritten"
    prev = records[0]["payload"]["prev_hash"]
    for record in records:
        record["payload"]["prev_hash"] = prev
        record["hash"] = prev = canonical.event_hash(record["payload"])
    _write_lines(folder, records)
    result = run_verifier(folder)
    assert result.returncode == 1
    assert "signed digest" in result.stdout.splitlines()[1], result.stdout
    assert "events.jsonl: SHA-256 differs" in result.stdout


def test_changed_csv_cell_is_named(package):
    _export_row, folder = package
    raw = (folder / "events.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    rows[4][rows[0].index("actor_label")] = "forged"
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    (folder / "events.csv").write_text(out.getvalue(), encoding="utf-8-sig", newline="")
    result = run_verifier(folder)
    assert result.returncode == 1
    assert f"events.csv row 5 (seq {rows[4][0]}): column actor_label" in result.stdout.splitlines()[1]


def test_changed_manifest_is_refused(package):
    _export_row, folder = package
    signed = json.loads((folder / "manifest.json").read_text())
    signed["manifest"]["event_count"] -= 1
    (folder / "manifest.json").write_text(json.dumps(signed))
    result = run_verifier(folder)
    assert result.returncode == 1 and "manifest.json: the provider's signature" in result.stdout


def test_forged_digest_is_named(package):
    _export_row, folder = package
    evidence = json.loads((folder / "digests.json").read_text())
    evidence["digests"][0]["head_hash"] = "f" * 64
    (folder / "digests.json").write_text(json.dumps(evidence))
    result = run_verifier(folder)
    assert result.returncode == 1
    assert f"digest up to seq {evidence['digests'][0]['up_to_seq']}: signature" in result.stdout.splitlines()[1]


def test_unreadable_package_exits_2(tmp_path):
    result = run_verifier(tmp_path / "missing.zip")
    assert result.returncode == 2


def test_csv_is_excel_compatible_and_neutralises_formulas(package):
    _export_row, folder = package
    data = (folder / "events.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") >= len(_lines(folder)) + 1
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    labels = {row["target_label"] for row in rows}
    for text in NASTY:
        expected = "'" + text if text[0] in "=+-@\t\r" else text
        assert expected in labels
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


@pytest.mark.parametrize("cell,expected", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("plain", "plain"), ("", ""), ("a=b", "a=b"),
])
def test_neutralise(cell, expected):
    assert vx.neutralise(cell) == expected


def test_verifier_copies_the_canonical_form_exactly():
    assert vx.GENESIS_HASH == canonical.GENESIS_HASH and vx.CHAIN_FIELDS == canonical.CHAIN_FIELDS
    sample = {"b": [1, 2.5, None], "a": "日本\u2028", "t": vx.format_time(timezone.now())}
    assert vx.canonical_bytes(sample) == canonical.canonical_bytes(sample)
    assert vx.event_hash(sample) == canonical.event_hash(sample)
    assert vx.format_time(timezone.now().replace(microsecond=5)) == canonical.format_time(
        timezone.now().replace(microsecond=5))[:20] + "000005Z"


def test_range_export_starts_mid_chain(tenant, admin, tmp_path):
    old = timezone.now() - timedelta(days=40)
    bulk_events(tenant, 30, start=old, step=timedelta(days=1))
    now = timezone.now()
    export = actions.request_export(actor=Actor.for_user(admin), since=now - timedelta(days=20),
                                    until=now - timedelta(days=15))
    build_package(export.pk, tenant)
    export.refresh_from_db()
    assert export.event_count == 5 and export.first_seq > 1
    result = run_verifier(_extract(export, tmp_path / "range"))
    assert result.returncode == 0, result.stdout


def test_empty_range_gives_a_valid_package(tenant, admin, tmp_path):
    now = timezone.now()
    export = actions.request_export(actor=Actor.for_user(admin), since=now - timedelta(days=300),
                                    until=now - timedelta(days=200))
    build_package(export.pk, tenant)
    export.refresh_from_db()
    assert export.status == EvidenceExport.Status.COMPLETED and export.event_count == 0
    assert run_verifier(_extract(export, tmp_path / "empty")).returncode == 0


def test_export_events_are_recorded(package):
    export, _folder = package
    actions_written = set(AuditEvent.objects.filter(target_type="evidence.evidenceexport",
                                                    target_id=str(export.pk)).values_list("action", flat=True))
    assert actions_written == {"evidence.export_requested", "evidence.export_completed"}


@pytest.mark.parametrize("since_days,until_days,field", [
    (1, 3, "until"),        # since after until
    (400, 0, "until"),      # longer than 366 days
    (-2, -3, "since"),      # in the future
])
def test_invalid_ranges_are_field_errors(admin, since_days, until_days, field):
    now = timezone.now()
    with pytest.raises(ValidationError) as info:
        actions.request_export(actor=Actor.for_user(admin), since=now - timedelta(days=since_days),
                               until=now - timedelta(days=until_days))
    assert field in info.value.message_dict


def test_non_admins_may_not_export(editor, viewer):
    from mamori.access.errors import PermissionDenied

    now = timezone.now()
    for user in (editor, viewer):
        with pytest.raises(PermissionDenied):
            actions.request_export(actor=Actor.for_user(user), since=now - timedelta(days=1), until=now)
    assert not EvidenceExport.objects.exists()
    assert AuditEvent.objects.filter(action="access.denied").count() == 2


def _rss_high_water_kb() -> int | None:
    """Peak resident memory of this process (Linux), after resetting it; None elsewhere."""
    import re

    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # reset VmHWM to the current RSS
        with open("/proc/self/status") as handle:
            return int(re.search(r"VmHWM:\s+(\d+)", handle.read()).group(1))
    except (OSError, AttributeError):
        return None


def _hwm_kb() -> int:
    import re

    with open("/proc/self/status") as handle:
        return int(re.search(r"VmHWM:\s+(\d+)", handle.read()).group(1))


def test_export_of_50k_events_stays_under_50_mb(tenant, admin):
    """Resident memory grows by less than 50 MB while 50,000 events are exported (Linux RSS)."""
    bulk_events(tenant, 50_000, start=timezone.now() - timedelta(hours=2), step=timedelta(milliseconds=100))
    now = timezone.now()
    export = actions.request_export(actor=Actor.for_user(admin), since=now - timedelta(days=1), until=now)
    baseline = _rss_high_water_kb()
    if baseline is None:
        pytest.skip("needs /proc/self/clear_refs (Linux) to measure the peak")
    build_package(export.pk, tenant)
    grown = _hwm_kb() - baseline
    export.refresh_from_db()
    assert export.event_count >= 50_000
    assert grown < 50 * 1024, f"resident memory grew by {grown / 1024:.1f} MB"


def test_export_python_heap_does_not_grow_with_the_range(tenant, admin, monkeypatch):
    """tracemalloc peak: 3,000 events (six batches) need no more heap than 600 (one batch)."""
    import tracemalloc

    from mamori.evidence import export as export_module

    monkeypatch.setattr(export_module, "BATCH", 500)
    now = timezone.now()
    bulk_events(tenant, 3_000, start=now - timedelta(seconds=3_100), step=timedelta(seconds=1))
    peaks = []
    for seconds in (3_200, 650):
        export = actions.request_export(actor=Actor.for_user(admin), since=now - timedelta(seconds=seconds),
                                        until=now)
        tracemalloc.start()
        try:
            build_package(export.pk, tenant)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        export.refresh_from_db()
        assert export.event_count >= (3_000 if seconds > 3_000 else 500)
    assert max(peaks) < 20 * 1024 * 1024, peaks
    assert peaks[0] < peaks[1] * 1.5, f"peak grows with the range: {peaks}"


def test_fast_payloads_equal_payload_for(tenant, admin):
    from mamori.audit.chain import payload_for
    from mamori.evidence.export import payload_rows

    _write_nasty_events(Actor.for_user(admin))
    events = list(AuditEvent.objects.filter(seq__isnull=False).order_by("seq"))
    fast = list(payload_rows(AuditEvent.objects.filter(seq__isnull=False).order_by("seq"), chain_name(tenant.pk)))
    assert [(payload_for(e), e.hash) for e in events] == fast


def test_the_background_task_builds_the_package(tenant, admin):
    from mamori.evidence.tasks import generate_evidence_export

    now = timezone.now()
    export = actions.request_export(actor=Actor.for_user(admin), since=now - timedelta(days=1), until=now)
    assert generate_evidence_export.call(export_id=export.pk, tenant_id=tenant.pk) > 0
    export.refresh_from_db()
    assert export.is_downloadable and export.progress == 100
    # A second run (a retried task) leaves the finished package alone.
    generate_evidence_export.call(export_id=export.pk, tenant_id=tenant.pk)
    assert EvidenceExport.objects.get(pk=export.pk).file_path == export.file_path


def test_request_enqueues_the_task_on_commit(tenant, admin, settings, django_capture_on_commit_callbacks):
    from django_tasks import default_task_backend

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        export = actions.request_export(actor=Actor.for_user(admin), since=now - timedelta(days=1), until=now)
    [result] = default_task_backend.results
    assert result.task.name == "generate_evidence_export"
    assert result.kwargs == {"export_id": export.pk, "tenant_id": tenant.pk}
