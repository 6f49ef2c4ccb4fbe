"""Full tenant export (issue 6, item 3): round trip, every table, no secrets, files, faults."""

from __future__ import annotations

import base64
import csv
import errno
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.db import connection, transaction
from django.utils import timezone, translation

from mamori.access.errors import PermissionDenied
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.lifecycle import export as ex
from mamori.lifecycle import walk
from mamori.lifecycle.actions_export import (
    delete_expired_tenant_exports,
    delete_expired_tenant_exports_everywhere,
    request_tenant_export,
)
from mamori.lifecycle.models import TenantExport
from mamori.tenancy.context import tenant_context, use_tenant
from tests.lifecycle.export_helpers import (
    NASTY,
    expected_csv,
    expected_json,
    make_data,
    parse_csv,
    parse_jsonl,
    read_zip,
    run_export,
)


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "files")}}}
    settings.TENANT_EXPORT_WORK_DIR = str(tmp_path / "work")
    (tmp_path / "work").mkdir()


@pytest.fixture
def file_source():
    """Register a file source for the test (restoring the registry afterwards)."""
    saved = dict(walk._FILE_SOURCES)

    def _register(source: walk.FileSource) -> None:
        walk.register_file_source(source)

    yield _register
    walk._FILE_SOURCES.clear()
    walk._FILE_SOURCES.update(saved)


def _db_rows(table: walk.DataTable, tenant) -> list[tuple]:
    columns = walk.column_names(walk.exportable_fields(table.model))
    with tenant_context(tenant):
        return list(table.rows(tenant.pk).values_list(*columns))


# --- round trip ---------------------------------------------------------------------------------

@pytest.mark.parametrize("batch", [3, None])
def test_round_trip_csv_and_jsonl_equal_the_database(admin, outsider, batch):
    make_data(admin)
    with use_tenant(outsider.tenant):
        make_data(outsider)  # another tenant's rows must not appear
    export = run_export(admin, batch=batch)
    assert export.status == TenantExport.Status.COMPLETED, export.error
    archive = read_zip(export)
    assert ex.verify_archive(io.BytesIO(archive.fp.getvalue())) == []
    manifest = json.loads(archive.read("manifest.json"))["manifest"]
    assert manifest["format"] == "mamori-tenant-export/1"
    assert manifest["tenant"] == {"id": admin.tenant.pk, "slug": "acme", "name": admin.tenant.name}
    total = 0
    for table in ex.walk.exportable_tables():
        columns = walk.column_names(walk.exportable_fields(table.model))
        stem = ex.table_file_stem(table)
        raw_csv = archive.read(stem + ".csv")
        assert b"\r\n" in raw_csv and b"\n" not in raw_csv.replace(b"\r\n", b"").replace(b"line\nbreak", b"")
        rows = parse_csv(raw_csv)
        assert rows[0] == columns
        lines = parse_jsonl(archive.read(stem + ".jsonl"))
        db = _db_rows(table, admin.tenant)
        if table.label == "audit.AuditEvent":  # the export's own "completed" event came after it
            action = columns.index("action")
            assert [row[action] for row in db[len(lines):]] == ["tenant_export.completed"]
            db = db[:len(lines)]
        if table.label == "lifecycle.TenantExport":  # exported while it was running
            assert [line["status"] for line in lines] == ["running"] and len(rows) == 2
            total += 1
            continue
        assert len(rows) - 1 == len(lines) == len(db) == manifest["tables"][table.label]["rows"], table.label
        for cells, line, values in zip(rows[1:], lines, db, strict=True):
            assert [ex.unneutralise(c) for c in cells] == [expected_csv(v) for v in values], table.label
            assert line == {c: expected_json(v) for c, v in zip(columns, values, strict=True)}, table.label
            for cell in cells:  # nothing a spreadsheet would run
                assert not cell or cell[0] not in "=+-@\t\r" or cell.lstrip("-").replace(".", "").isdigit()
            if "tenant_id" in line:
                assert line["tenant_id"] == admin.tenant.pk
        total += len(db)
    assert total == export.rows_done == manifest["row_count"] > len(NASTY)
    titles = {line["title"] for line in parse_jsonl(archive.read("tables/records.record.jsonl"))}
    assert titles == {text.strip() for text in NASTY}


@pytest.mark.parametrize("batch", [2, None])
def test_files_are_byte_identical_to_csv_writer_and_json_dumps(admin, batch):
    """The column-wise encoder writes exactly what ``csv.writer`` (default dialect, CRLF) and
    ``json.dumps`` (compact, not ASCII-escaped) would write for every row."""
    make_data(admin)
    with tenant_context(admin.tenant):  # NULLs, JSON scalars and lists, a one-character title
        from mamori.records.models import Record

        first = Record.objects.order_by("pk").first()
        Record.objects.filter(pk=first.pk).update(properties=["=1", {"b": 2, "a": None}], created_by=None,
                                                  title="")
        Record.objects.exclude(pk=first.pk).filter(pk__lte=first.pk + 2).update(properties="'text")
    export = run_export(admin, batch=batch)
    assert export.status == TenantExport.Status.COMPLETED, export.error
    _assert_files_equal_csv_writer_and_json_dumps(read_zip(export), admin.tenant)


def _assert_files_equal_csv_writer_and_json_dumps(archive, tenant) -> None:
    def cell(value) -> str:
        if value is None or isinstance(value, bool) or (isinstance(value, int | float)):
            return "" if value is None else expected_csv(value)
        return ex.neutralise(expected_csv(value))

    for table in ex.walk.exportable_tables():
        if table.label in ("audit.AuditEvent", "lifecycle.TenantExport"):
            continue  # changed by the export itself
        columns = walk.column_names(walk.exportable_fields(table.model))
        stem = ex.table_file_stem(table)
        db = _db_rows(table, tenant)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(columns)
        writer.writerows([cell(v) for v in values] for values in db)
        assert archive.read(stem + ".csv") == b"\xef\xbb\xbf" + out.getvalue().encode("utf-8"), table.label
        expected = "".join(json.dumps({c: expected_json(v) for c, v in zip(columns, values, strict=True)},
                                      ensure_ascii=False, separators=(",", ":")) + "\n" for values in db)
        assert archive.read(stem + ".jsonl") == expected.encode("utf-8"), table.label


def _awkward_times_and_nulls(admin) -> None:
    """Times with microseconds 0 and with trailing zeros (PostgreSQL's text drops them), a year
    before 1000, NULLs in a few rows of a nullable time and foreign key column."""
    from mamori.records.models import Record

    make_data(admin)
    with tenant_context(admin.tenant):
        pks = list(Record.objects.order_by("pk").values_list("pk", flat=True))
        stamps = [datetime(2026, 1, 2, 3, 4, 5, 0, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC),
                  datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=UTC), datetime(999, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
                  datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.get_fixed_timezone(540))]
        for pk, stamp in zip(pks, stamps, strict=False):
            Record.objects.filter(pk=pk).update(updated_at=stamp, reviewed_at=stamp)
        Record.objects.filter(pk=pks[-1]).update(created_by=None, reviewed_by=admin)


@pytest.mark.parametrize("batch", [2, None])
def test_awkward_times_and_sparse_nulls_are_written_exactly(admin, batch):
    _awkward_times_and_nulls(admin)
    export = run_export(admin, batch=batch)
    assert export.status == TenantExport.Status.COMPLETED, export.error
    archive = read_zip(export)
    _assert_files_equal_csv_writer_and_json_dumps(archive, admin.tenant)
    lines = parse_jsonl(archive.read("tables/records.record.jsonl"))
    assert {line["updated_at"] for line in lines} >= {"2026-01-02T03:04:05.000000Z", "2026-01-02T03:04:05.500000Z",
                                                       "999-12-31T23:59:59.000001Z", "2026-12-31T14:59:59.999999Z"}


@pytest.mark.django_db(transaction=True)
def test_export_outside_a_transaction_reads_ahead_on_its_own_connection(admin, monkeypatch):
    """In a worker (no transaction around ``build_export``), PostgreSQL batches are read by a second
    thread with its own connection (as the application role, under RLS): same files."""
    _awkward_times_and_nulls(admin)
    threaded = []
    real_init = ex._Reader.__init__

    def init(self):
        real_init(self)
        threaded.append(self._pool is not None)

    monkeypatch.setattr(ex._Reader, "__init__", init)
    export = run_export(admin, batch=3)
    assert threaded == [connection.vendor == "postgresql"]
    assert export.status == TenantExport.Status.COMPLETED, export.error
    _assert_files_equal_csv_writer_and_json_dumps(read_zip(export), admin.tenant)


def test_column_helpers_match_csv_writer_and_the_row_encoders():
    rows = [["a,b", 'q"x', "p\x1fq,r", "", "\r\n", "plain"], ['"', ",", "\n"]]
    for cells in rows:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerow(cells)
        assert ",".join(ex._csv_column(list(cells))) + "\r\n" == out.getvalue()
    texts = ["2026-01-02 03:04:05+00", "2026-01-02 03:04:05.5+00", "2026-01-02 03:04:05.123456+00"]
    assert ex._pg_time_texts(texts) == ["2026-01-02T03:04:05.000000Z", "2026-01-02T03:04:05.500000Z",
                                        "2026-01-02T03:04:05.123456Z"]
    assert ex._pg_time_texts(["0999-01-02 03:04:05+00"]) is None and ex._pg_time_texts([None]) is None
    assert ex._pg_time_json("0999-01-02 03:04:05+00") == "999-01-02T03:04:05.000000Z"
    assert ex._pg_time_json("2026-01-02 12:04:05.25+09") == "2026-01-02T03:04:05.250000Z"
    assert ex._sqlite_time_texts(["2026-01-02 03:04:05.000001"]) == ["2026-01-02T03:04:05.000001Z"]
    assert ex._sqlite_time_texts(["2026-01-02 03:04:05"]) is None
    assert ex._sqlite_time_texts(["0999-01-02 03:04:05.000001"]) is None
    assert ex._sqlite_time_texts(["2026-01-02 03:04:05.00000x"]) is None


def test_csv_neutralises_formulas_like_the_evidence_export():
    from mamori.evidence import verify_evidence as vx

    for text in NASTY:
        if text[0] != "'":  # the export also escapes a leading quote, so the prefix is reversible
            assert ex.neutralise(text) == vx.csv_cell(text)
        assert ex.unneutralise(ex.neutralise(text)) == text
    assert ex.csv_value(-3) == "-3" and ex.csv_value(True) == "true" and ex.csv_value(None) == ""
    assert ex.csv_value({"a": "=1"}) == '{"a":"=1"}' and ex.csv_value(["=1"]) == '["=1"]'
    assert ex.csv_value("-1 OR 1") == "'-1 OR 1" and ex.csv_value(-1.5) == "-1.5"


def test_every_data_table_is_in_the_export(admin):
    """The walk picks up every tenant model (a provider's new one too), so the export has
    every table of data_tables() except the pure key tables."""
    export = run_export(admin)
    archive = read_zip(export)
    manifest = json.loads(archive.read("manifest.json"))["manifest"]
    expected = {t.label for t in walk.data_tables()} - walk.SECRET_TABLES
    assert set(manifest["tables"]) == expected
    assert {"records.Record", "accounts.User", "lifecycle.TenantExport", "audit.AuditEvent"} <= expected
    for label in expected:
        stem = manifest["tables"][label]["csv"].removesuffix(".csv")
        assert stem + ".csv" in archive.namelist() and stem + ".jsonl" in archive.namelist()
    assert export.table_count == len(expected)


def test_no_secret_appears_anywhere_in_the_zip(admin, editor, api_token, settings, console_client):
    from mamori.lifecycle.keys import encrypt_for_tenant
    from mamori.lifecycle.models import TenantDataKey
    from mamori.siem.actions import create_subscription

    settings.SIEM_ALLOW_PRIVATE_TARGETS = True
    api_token(admin)
    session_key = console_client(editor).session.session_key  # a live session (allauth usersessions)
    with tenant_context(admin.tenant):
        encrypt_for_tenant(admin.tenant.pk, b"x", purpose="test")
        _sub, hook_secret = create_subscription(actor=Actor.for_user(admin), url="https://1.1.1.1/mamori-hook")
    make_data(admin)
    secrets: set[str] = {hook_secret, session_key}
    with tenant_context(admin.tenant), connection.cursor() as cursor:
        for table in walk.data_tables():
            if table.label == "audit.AuditEvent":
                continue  # its prev_hash is the previous event's public chain hash, not a secret
            for field in table.model._meta.concrete_fields:
                if walk.is_secret_field(table.model, field):
                    if field.name in ("id", "tenant", "user") or field.is_relation:
                        continue
                    cursor.execute(f'SELECT "{field.column}" FROM "{table.db_table}"')  # noqa: S608 - model metadata
                    secrets.update(str(v) for (v,) in cursor.fetchall() if v not in (None, "") and len(str(v)) >= 8)
        # the plaintext DEK (never stored) must not appear either
        from mamori.lifecycle import keys

        for row in TenantDataKey.objects.all():
            dek = keys.get_key_provider().unwrap(row.wrapped_key, aad=keys.wrap_aad(row.tenant_id, row.version))
            secrets.update({dek.hex(), base64.b64encode(dek).decode(), base64.urlsafe_b64encode(dek).decode()})
    assert any(s.startswith(("pbkdf2", "argon2", "md5", "bcrypt")) for s in secrets), "a password hash is checked"
    assert len(secrets) >= 6
    from allauth.usersessions.models import UserSession

    assert UserSession.objects.filter(session_key=session_key).exists()
    export = run_export(admin)
    archive = read_zip(export)
    for name in archive.namelist():
        content = archive.read(name).decode("utf-8", "replace")
        for secret in secrets:
            assert secret not in content, f"a secret ({secret[:6]}…) leaked into {name}"
    assert not any(n.startswith("tables/lifecycle.tenantdatakey") or "passwordhistory" in n for n in archive.namelist())


# --- files ---------------------------------------------------------------------------------------

def test_files_of_every_source_are_included_decrypted(admin, file_source):
    from mamori.lifecycle.keys import DecryptionError

    def _broken():
        raise DecryptionError("tampered")

    payload = bytes(range(256)) * 9000  # > 2 MiB: copied in chunks

    def files(tenant_id):
        assert tenant_id == admin.tenant.pk
        return [
            walk.TenantFile("attachments/1/report.pdf", "records.Attachment", 1, len(payload),
                            lambda: io.BytesIO(payload)),
            walk.TenantFile("../../etc/passwd", "records.Attachment", 2, 3, lambda: io.BytesIO(b"abc")),
            walk.TenantFile("attachments/1/report.pdf", "records.Attachment", 3, 1, lambda: io.BytesIO(b"z")),
            walk.TenantFile("attachments/4/bad.txt", "records.Attachment", 4, 1, _broken),
        ]

    file_source(walk.FileSource("test-files", files))
    export = run_export(admin)
    assert export.status == TenantExport.Status.COMPLETED and export.file_count == 3 and export.unreadable_files == 1
    archive = read_zip(export)
    assert archive.read("files/attachments/1/report.pdf") == payload
    assert archive.read("files/etc/passwd") == b"abc"
    assert archive.read("files/attachments/1/report-3.pdf") == b"z"
    assert not any(".." in n or n.startswith("/") for n in archive.namelist())
    manifest = json.loads(archive.read("manifest.json"))["manifest"]
    assert manifest["file_sources"]["test-files"] == 3
    assert manifest["unreadable_files"] == [{"name": "files/attachments/4/bad.txt", "owner": "records.Attachment",
                                             "owner_pk": 4, "error": "DecryptionError"}]
    assert manifest["files"]["files/attachments/1/report.pdf"]["size"] == len(payload)
    assert ex.verify_archive(io.BytesIO(archive.fp.getvalue())) == []


def test_tampered_or_re_signed_archive_fails_verification(admin, tmp_path):
    import zipfile

    make_data(admin)
    export = run_export(admin)
    original = read_zip(export)
    tampered = io.BytesIO()
    with zipfile.ZipFile(tampered, "w") as out:
        for info in original.infolist():
            data = original.read(info.filename)
            if info.filename == "tables/records.record.csv":
                data = data.replace(b"plain", b"PLAIN")
            out.writestr(info.filename, data)
    assert ex.verify_archive(tampered) == ["tables/records.record.csv: SHA-256 or size differs from the manifest"]
    document = json.loads(original.read("manifest.json"))
    document["manifest"]["row_count"] += 1
    forged = io.BytesIO()
    with zipfile.ZipFile(forged, "w") as out:
        for info in original.infolist():
            out.writestr(info.filename, json.dumps(document) if info.filename == "manifest.json"
                         else original.read(info.filename))
    assert "the manifest signature does not verify" in ex.verify_archive(forged)


# --- permissions, concurrency, faults --------------------------------------------------------------

def test_only_tenant_admins_may_export(admin, editor, viewer):
    from mamori.access.roles import Role

    unit_admin = viewer
    unit_admin.role = Role.UNIT_ADMIN
    unit_admin.save(update_fields=["role"])
    for user in (editor, unit_admin):
        with pytest.raises(PermissionDenied):
            request_tenant_export(actor=Actor.for_user(user), enqueue=False)
    assert not TenantExport.objects.exists()
    assert AuditEvent.objects.filter(action="access.denied").count() == 2
    with pytest.raises(PermissionDenied):  # "provider" needs the system actor (the CLI)
        request_tenant_export(actor=Actor.for_user(admin), provider=True, enqueue=False)


def test_a_second_export_while_one_runs_is_refused(admin):
    first = request_tenant_export(actor=Actor.for_user(admin), enqueue=False)
    with pytest.raises(ValidationError) as refused:
        request_tenant_export(actor=Actor.for_user(admin), enqueue=False)
    assert "実行中" in str(refused.value.message_dict["__all__"])  # the tenant's language (ja)
    assert TenantExport.objects.count() == 1
    # the database refuses a second one too, even without the check
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017,PT011 - IntegrityError
        TenantExport.objects.create(status=TenantExport.Status.RUNNING)
    ex.build_export(first.pk, admin.tenant)
    assert request_tenant_export(actor=Actor.for_user(admin), enqueue=False).pk != first.pk


def test_an_export_whose_worker_died_stops_blocking_after_the_stale_limit(admin, settings):
    stuck = request_tenant_export(actor=Actor.for_user(admin), enqueue=False)
    long_ago = timezone.now() - timezone.timedelta(hours=settings.TENANT_EXPORT_STALE_HOURS + 1)
    TenantExport.objects.filter(pk=stuck.pk).update(status="running", created_at=long_ago, started_at=long_ago)
    fresh = request_tenant_export(actor=Actor.for_user(admin), enqueue=False)
    stuck.refresh_from_db()
    assert stuck.status == TenantExport.Status.FAILED and stuck.error.startswith("interrupted")
    assert stuck.error_message and fresh.status == TenantExport.Status.PENDING
    assert AuditEvent.objects.filter(action="tenant_export.failed", target_id=str(stuck.pk)).exists()


class FullDiskStorage(FileSystemStorage):
    """A real file-system storage whose disk fills up half-way through saving a file."""

    def _save(self, name, content):
        full_path = Path(self.path(name))
        full_path.parent.mkdir(parents=True, exist_ok=True)
        with full_path.open("wb") as handle:
            handle.write(content.read(1000))
        raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_while_storing_marks_failed_and_removes_partial_files(admin, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "tests.lifecycle.test_export.FullDiskStorage",
        "OPTIONS": {"location": str(tmp_path / "full")}}}
    make_data(admin)
    export = run_export(admin)
    assert export.status == TenantExport.Status.FAILED
    assert export.error.startswith("disk full")
    with translation.override("en"):
        assert "not enough storage space" in export.error_message
    assert export.file_path == "" and not export.is_downloadable
    leftovers = [p for p in (tmp_path / "full").rglob("*") if p.is_file()]
    assert leftovers == []
    assert list((tmp_path / "work").iterdir()) == []
    event = AuditEvent.objects.get(action="tenant_export.failed", target_id=str(export.pk))
    assert event.after["error"].startswith("disk full")
    # a new export can be started after the failure
    assert request_tenant_export(actor=Actor.for_user(admin), enqueue=False).status == "pending"


def test_disk_full_while_writing_the_zip_removes_the_work_files(admin, settings, tmp_path, monkeypatch):
    """The file system fills up while a table is written (the work directory's writes fail)."""
    make_data(admin)
    real_write = ex._Sink.write
    calls = {"n": 0}

    def write(self, data):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, data)

    monkeypatch.setattr(ex._Sink, "write", write)
    export = run_export(admin)
    assert export.status == TenantExport.Status.FAILED and export.error.startswith("disk full")
    assert list((tmp_path / "work").iterdir()) == []
    assert not (tmp_path / "files").exists() or not any(p.is_file() for p in (tmp_path / "files").rglob("*"))


def test_zip_is_stored_under_the_tenant_prefix_and_expires(admin, outsider, django_capture_on_commit_callbacks):
    from django.core.files.storage import default_storage

    export = run_export(admin)
    assert export.file_path.startswith(f"tenants/{admin.tenant.pk}/exports/")
    assert default_storage.exists(export.file_path) and export.is_downloadable
    assert abs((export.expires_at - export.completed_at).days - 7) <= 0
    with use_tenant(outsider.tenant):
        other = request_tenant_export(actor=Actor.for_user(outsider), enqueue=False)
        ex.build_export(other.pk, outsider.tenant)
    with tenant_context(admin.tenant), transaction.atomic():
        assert delete_expired_tenant_exports(actor=Actor.system("test"), now=timezone.now()) == 0
    with use_tenant(outsider.tenant):
        other.refresh_from_db()
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        removed = delete_expired_tenant_exports_everywhere(now=max(export.expires_at, other.expires_at))
    assert removed == 2
    export.refresh_from_db()
    assert export.file_path == "" and not export.is_downloadable
    assert not any(p.is_file() for p in Path(default_storage.location).rglob("*.zip"))
    assert AuditEvent.objects.filter(action="tenant_export.expired", target_id=str(export.pk)).exists()


def test_request_enqueues_the_background_task(admin, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    with django_capture_on_commit_callbacks(execute=True):
        export = request_tenant_export(actor=Actor.for_user(admin))
    task = DBTaskResult.objects.get()
    assert task.task_path.endswith("generate_tenant_export")
    assert task.args_kwargs["kwargs"] == {"export_id": export.pk, "tenant_id": admin.tenant.pk}
    assert AuditEvent.objects.filter(action="tenant_export.requested", target_id=str(export.pk)).exists()


def test_the_task_builds_the_export(admin):
    from mamori.lifecycle.tasks import generate_tenant_export

    make_data(admin)
    export = request_tenant_export(actor=Actor.for_user(admin), enqueue=False)
    rows = generate_tenant_export.call(export_id=export.pk, tenant_id=admin.tenant.pk)
    export.refresh_from_db()
    assert export.status == "completed" and rows == export.rows_done > 0 and export.progress == 100


def test_the_cleanup_is_scheduled_daily():
    from mamori.core.schedule import registered_jobs
    from mamori.lifecycle.tasks import delete_expired_tenant_exports_task

    job = registered_jobs()["lifecycle.tenant_exports.cleanup"]
    assert job.every == timezone.timedelta(days=1) and job.task is delete_expired_tenant_exports_task


def test_failure_while_counting_rows_marks_the_export_failed(admin, monkeypatch):
    """An error before the first table is written (counting the rows, creating the work
    directory) ends the export as failed instead of leaving it "running" until it goes stale."""
    make_data(admin)
    monkeypatch.setattr(ex.walk, "exportable_tables", lambda: [_BrokenTable()])
    export = run_export(admin)
    assert export.status == TenantExport.Status.FAILED
    assert "RuntimeError" in export.error or "catalog unreadable" in export.error


class _BrokenTable:
    label = "records.Record"

    def rows(self, tenant_id):
        raise RuntimeError("catalog unreadable")
