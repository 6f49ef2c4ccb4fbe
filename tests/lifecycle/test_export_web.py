"""Full tenant export from the console, the API and the CLI: permissions, re-authentication,
progress, download (audited), expiry, the refusal of a second export, tenant isolation."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent, ProviderEvent
from mamori.lifecycle import export as ex
from mamori.lifecycle.actions_export import request_tenant_export
from mamori.lifecycle.models import TenantExport
from mamori.tenancy.context import apply_db_tenant, current_tenant, use_tenant
from tests.api.conftest import ApiClient
from tests.lifecycle.export_helpers import make_data, run_export


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "files")}}}


def _restore():
    tenant = current_tenant()
    if tenant is not None:
        apply_db_tenant(tenant.pk)


def _get(client, path, **extra):
    response = client.get(path, **extra)
    _restore()
    return response


def _post(client, path, data=None):
    response = client.post(path, data or {})
    _restore()
    return response


# --- Console -------------------------------------------------------------------------------------

def test_admin_starts_an_export_follows_progress_and_downloads(admin, console_client):
    make_data(admin)
    client = console_client(admin)
    page = _get(client, "/t/acme/settings/data/export/")
    assert page.status_code == 200 and b"/settings/data/export/" in page.content
    response = _post(client, "/t/acme/settings/data/export/")
    export = TenantExport.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/settings/data/export/{export.pk}/")
    detail = _get(client, f"/t/acme/settings/data/export/{export.pk}/")
    assert detail.status_code == 200 and b'hx-trigger="every 2s"' in detail.content
    assert detail["Cache-Control"].startswith("max-age=0") or "no-cache" in detail["Cache-Control"]
    partial = _get(client, f"/t/acme/settings/data/export/{export.pk}/", HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b"every 2s" in partial.content
    # a second export while this one waits is refused with a message
    again = _post(client, "/t/acme/settings/data/export/")
    assert again.status_code == 302 and TenantExport.objects.count() == 1
    listing = _get(client, "/t/acme/settings/data/export/")
    assert b"already running" in listing.content or "実行中".encode() in listing.content
    ex.build_export(export.pk, admin.tenant)
    done = _get(client, f"/t/acme/settings/data/export/{export.pk}/", HTTP_HX_REQUEST="true")
    link = f"/settings/data/export/{export.pk}/download/".encode()
    assert b"every 2s" not in done.content and link in done.content and b"100%" in done.content
    download = _get(client, f"/t/acme/settings/data/export/{export.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert "attachment" in download["Content-Disposition"]
    body = b"".join(download.streaming_content)
    assert ex.verify_archive(io.BytesIO(body)) == []
    event = AuditEvent.objects.get(action="tenant_export.downloaded", target_id=str(export.pk))
    assert event.actor_id == str(admin.pk)


def test_starting_needs_a_recent_reauthentication(admin, console_client):
    client = console_client(admin, reauthenticated=False)
    response = _post(client, "/t/acme/settings/data/export/")
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    assert not TenantExport.objects.exists()


@pytest.mark.parametrize("who", ["editor", "viewer"])
def test_non_admins_cannot_see_start_or_download(who, request, admin, console_client):
    user = request.getfixturevalue(who)
    export = run_export(admin)
    client = console_client(user)
    for path in ("/t/acme/settings/data/export/", f"/t/acme/settings/data/export/{export.pk}/",
                 f"/t/acme/settings/data/export/{export.pk}/download/"):
        assert _get(client, path).status_code == 403, path
    assert _post(client, "/t/acme/settings/data/export/").status_code == 403
    assert TenantExport.objects.count() == 1
    assert not AuditEvent.objects.filter(action="tenant_export.downloaded").exists()


def test_failed_export_shows_a_clear_message(admin, console_client):
    export = request_tenant_export(actor=Actor.for_user(admin), enqueue=False)
    TenantExport.objects.filter(pk=export.pk).update(status="failed", error="disk full: No space left on device")
    page = _get(console_client(admin), f"/t/acme/settings/data/export/{export.pk}/")
    assert b'role="alert"' in page.content and b"every 2s" not in page.content
    assert b"storage space" in page.content or "容量".encode() in page.content


def test_expired_export_cannot_be_downloaded(admin, console_client):
    from django.utils import timezone

    export = run_export(admin)
    TenantExport.objects.filter(pk=export.pk).update(expires_at=timezone.now())
    client = console_client(admin)
    assert _get(client, f"/t/acme/settings/data/export/{export.pk}/download/").status_code == 404
    assert not AuditEvent.objects.filter(action="tenant_export.downloaded").exists()


def test_other_tenants_export_is_404(admin, outsider, console_client):
    with use_tenant(outsider.tenant):
        theirs = request_tenant_export(actor=Actor.for_user(outsider), enqueue=False)
        ex.build_export(theirs.pk, outsider.tenant)
    client = console_client(admin)
    assert _get(client, f"/t/acme/settings/data/export/{theirs.pk}/").status_code == 404
    assert _get(client, f"/t/acme/settings/data/export/{theirs.pk}/download/").status_code == 404


# --- API -----------------------------------------------------------------------------------------

def test_api_start_status_download(admin, editor, api_token):
    api = ApiClient(api_token(admin))
    started = api.post("/data/exports")
    assert started.status_code == 202, started.content
    body = started.json()
    assert body["status"] == "pending" and body["downloadable"] is False
    busy = api.post("/data/exports")
    assert busy.status_code == 409 and busy["Content-Type"].startswith("application/problem+json")
    assert "already running" in busy.json()["detail"] or "実行中" in busy.json()["detail"]
    assert api.get(f"/data/exports/{body['id']}/download").status_code == 404  # not ready yet
    ex.build_export(body["id"], admin.tenant)
    status = api.get(f"/data/exports/{body['id']}").json()
    assert status["status"] == "completed" and status["progress"] == 100 and status["downloadable"]
    assert status["rows_done"] > 0 and len(status["sha256"]) == 64
    assert [e["id"] for e in api.get("/data/exports").json()] == [body["id"]]
    download = api.get(f"/data/exports/{body['id']}/download")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert "no-cache" in download["Cache-Control"] or "max-age=0" in download["Cache-Control"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert json.loads(archive.read("manifest.json"))["manifest"]["tenant"]["slug"] == "acme"
    assert AuditEvent.objects.filter(action="tenant_export.downloaded", target_id=str(body["id"]),
                                     actor_type="api_token").exists()
    other = ApiClient(api_token(editor))
    assert other.post("/data/exports").status_code == 403
    assert other.get(f"/data/exports/{body['id']}").status_code == 403
    assert other.get(f"/data/exports/{body['id']}/download").status_code == 403


def test_api_other_tenant_gets_404(admin, outsider, api_token):
    export = run_export(admin)
    api = ApiClient(api_token(outsider))
    assert api.get(f"/data/exports/{export.pk}").status_code == 404
    assert api.get(f"/data/exports/{export.pk}/download").status_code == 404
    assert api.get("/data/exports/99999999999999999999").status_code in (404, 422)


# --- CLI -----------------------------------------------------------------------------------------

def test_cli_exports_to_a_file_audited_as_provider_action(admin, tmp_path):
    make_data(admin)
    target = tmp_path / "acme.zip"
    out = io.StringIO()
    with use_tenant(None):
        call_command("tenant", "export", "acme", "--output", str(target), "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["status"] == "completed" and result["output"] == str(target)
    assert ex.verify_archive(target) == []
    assert list(tmp_path.glob(".*partial")) == []
    export = TenantExport.objects.get(pk=result["export_id"])
    assert export.requested_by_label.startswith("cli")
    assert ProviderEvent.objects.filter(action="tenant_export.requested_by_provider", tenant_ref=admin.tenant.pk).exists()
    assert ProviderEvent.objects.filter(action="tenant_export.downloaded_by_provider").exists()
    tenant_log = set(AuditEvent.objects.filter(target_id=str(export.pk)).values_list("action", flat=True))
    assert {"tenant_export.requested", "tenant_export.completed", "tenant_export.downloaded"} <= tenant_log


def test_cli_bad_input(admin, tmp_path):
    existing = tmp_path / "there.zip"
    existing.write_bytes(b"keep me")
    with use_tenant(None):
        with pytest.raises(CommandError) as unknown:
            call_command("tenant", "export", "nope")
        assert unknown.value.returncode == 2
        with pytest.raises(CommandError) as exists:
            call_command("tenant", "export", "acme", "--output", str(existing))
        assert exists.value.returncode == 2 and existing.read_bytes() == b"keep me"
    assert not TenantExport.objects.exists()


def test_cli_refuses_while_an_export_runs(admin):
    request_tenant_export(actor=Actor.for_user(admin), enqueue=False)
    with use_tenant(None), pytest.raises(CommandError) as busy:
        call_command("tenant", "export", "acme")
    assert busy.value.returncode == 2 and "already running" in str(busy.value) or "実行中" in str(busy.value)


def test_export_works_during_the_termination_grace_period(admin, console_client, api_token):
    from mamori.tenancy.models import Tenant

    raw = api_token(admin)
    Tenant.objects.filter(pk=admin.tenant.pk).update(status=Tenant.Status.TERMINATING)
    client = console_client(admin)
    response = _post(client, "/t/acme/settings/data/export/")
    export = TenantExport.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/settings/data/export/{export.pk}/")
    ex.build_export(export.pk, admin.tenant)
    assert _get(client, f"/t/acme/settings/data/export/{export.pk}/download/").status_code == 200
    api = ApiClient(raw)
    assert api.get(f"/data/exports/{export.pk}/download").status_code == 200
