"""Evidence pages in the console and the API: permissions, progress, download, expiry, isolation."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.evidence import actions
from mamori.evidence.export import build_package
from mamori.evidence.models import EvidenceExport
from mamori.tenancy.context import apply_db_tenant, current_tenant, use_tenant
from tests.api.conftest import ApiClient


def _restore():
    tenant = current_tenant()
    if tenant is not None:
        apply_db_tenant(tenant.pk)


@pytest.fixture
def ready_export(tenant, admin):
    now = timezone.now()
    export = actions.request_export(actor=Actor.for_user(admin), since=now - timedelta(days=1), until=now)
    build_package(export.pk, tenant)
    export.refresh_from_db()
    assert export.is_downloadable
    return export


def _get(client, path, **extra):
    response = client.get(path, **extra)
    _restore()
    return response


def _post(client, path, data):
    response = client.post(path, data)
    _restore()
    return response


# --- Console -----------------------------------------------------------------------------------

def test_admin_requests_a_package_and_follows_it(admin, console_client):
    client = console_client(admin)
    page = _get(client, "/t/acme/evidence/")
    assert page.status_code == 200 and b'type="date"' in page.content
    today = timezone.localdate()
    response = _post(client, "/t/acme/evidence/new/", {"since": (today - timedelta(days=3)).isoformat(),
                                                        "until": today.isoformat()})
    export = EvidenceExport.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/evidence/{export.pk}/")
    assert AuditEvent.objects.filter(action="evidence.export_requested", target_id=str(export.pk)).exists()
    detail = _get(client, f"/t/acme/evidence/{export.pk}/")
    assert b'hx-trigger="every 2s"' in detail.content
    partial = _get(client, f"/t/acme/evidence/{export.pk}/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and b"<html" not in partial.content and b"every 2s" in partial.content
    build_package(export.pk, admin.tenant)
    done = _get(client, f"/t/acme/evidence/{export.pk}/", HTTP_HX_REQUEST="true")
    assert b"every 2s" not in done.content and f"/evidence/{export.pk}/download/".encode() in done.content


@pytest.mark.parametrize("since,until,field", [
    (5, 10, "until"), (400, 0, "until"), (-3, -5, "since"),
])
def test_invalid_ranges_are_shown_on_the_form(admin, console_client, since, until, field):
    client = console_client(admin)
    today = timezone.localdate()
    response = _post(client, "/t/acme/evidence/new/", {
        "since": (today - timedelta(days=since)).isoformat(), "until": (today - timedelta(days=until)).isoformat()})
    assert response.status_code == 200
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert not EvidenceExport.objects.exists()


def test_download_is_an_uncached_attachment_and_audited(ready_export, admin, console_client):
    client = console_client(admin)
    response = _get(client, f"/t/acme/evidence/{ready_export.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-cache" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert "verify_evidence.py" in archive.namelist()
    assert AuditEvent.objects.filter(action="evidence.export_downloaded", target_id=str(ready_export.pk)).exists()


def test_expired_or_unfinished_packages_are_404(ready_export, admin, console_client):
    client = console_client(admin)
    EvidenceExport.objects.filter(pk=ready_export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _get(client, f"/t/acme/evidence/{ready_export.pk}/download/").status_code == 404
    EvidenceExport.objects.filter(pk=ready_export.pk).update(expires_at=timezone.now() + timedelta(days=1),
                                                             status=EvidenceExport.Status.RUNNING)
    assert _get(client, f"/t/acme/evidence/{ready_export.pk}/download/").status_code == 404


def test_non_admins_get_403(ready_export, editor, viewer, console_client):
    for user in (editor, viewer):
        client = console_client(user)
        for path in ("/t/acme/evidence/", f"/t/acme/evidence/{ready_export.pk}/",
                     f"/t/acme/evidence/{ready_export.pk}/download/"):
            assert _get(client, path).status_code == 403, (user.email, path)
        assert _post(client, "/t/acme/evidence/new/", {}).status_code == 403


def test_other_tenant_admin_gets_404(ready_export, outsider, console_client):
    client = console_client(outsider)
    for path in (f"/t/globex/evidence/{ready_export.pk}/", f"/t/globex/evidence/{ready_export.pk}/download/"):
        assert _get(client, path).status_code == 404
    listing = _get(client, "/t/globex/evidence/")
    assert listing.status_code == 200 and f"/evidence/{ready_export.pk}/".encode() not in listing.content
    # Signed in at globex, the acme URLs send the outsider to acme's sign-in page.
    assert _get(client, f"/t/acme/evidence/{ready_export.pk}/download/").status_code == 302


# --- API ------------------------------------------------------------------------------------------

def test_api_request_status_and_download(admin, api_token, tenant):
    api = ApiClient(api_token(admin))
    now = timezone.now()
    response = api.post("/evidence/exports", {"since": (now - timedelta(days=2)).isoformat(),
                                              "until": now.isoformat()})
    assert response.status_code == 202, response.content
    export_id = response.json()["id"]
    assert response.json()["status"] == "pending"
    assert api.get(f"/evidence/exports/{export_id}/download").status_code == 404  # not ready yet
    with use_tenant(tenant):
        build_package(export_id, tenant)
    status = api.get(f"/evidence/exports/{export_id}").json()
    assert status["status"] == "completed" and status["downloadable"] and status["progress"] == 100
    download = api.get(f"/evidence/exports/{export_id}/download")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert download["Content-Disposition"].startswith("attachment;")
    assert "no-store" in download["Cache-Control"]


@pytest.mark.parametrize("body,field", [
    ({"since": "2026-01-10T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
    ({"since": "2024-01-01T00:00:00Z", "until": "2025-06-01T00:00:00Z"}, "until"),
    ({"since": "2999-01-01T00:00:00Z", "until": "2999-01-02T00:00:00Z"}, "since"),
])
def test_api_invalid_ranges_are_field_errors(admin, api_token, body, field):
    response = ApiClient(api_token(admin)).post("/evidence/exports", body)
    assert response.status_code == 422
    assert field in response.content.decode()
    assert not EvidenceExport.objects.exists()


def test_api_non_admins_403_and_other_tenant_404(ready_export, viewer, editor, outsider, api_token):
    for user in (viewer, editor):
        api = ApiClient(api_token(user))
        assert api.get(f"/evidence/exports/{ready_export.pk}").status_code == 403
        assert api.get(f"/evidence/exports/{ready_export.pk}/download").status_code == 403
        now = timezone.now().isoformat()
        assert api.post("/evidence/exports", {"since": now, "until": now}).status_code == 403
    globex = ApiClient(api_token(outsider))
    assert globex.get(f"/evidence/exports/{ready_export.pk}").status_code == 404
    assert globex.get(f"/evidence/exports/{ready_export.pk}/download").status_code == 404
