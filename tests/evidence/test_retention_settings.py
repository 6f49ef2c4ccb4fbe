"""Retention overrides from the console and the API, and deletion of expired packages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.evidence import actions, retention
from mamori.evidence.export import build_package
from mamori.evidence.models import EvidenceExport, RetentionOverride
from mamori.tenancy.context import apply_db_tenant, current_tenant, use_tenant
from tests.api.conftest import ApiClient


def _restore():
    tenant = current_tenant()
    if tenant is not None:
        apply_db_tenant(tenant.pk)


@pytest.fixture
def bounded(settings):
    settings.AUDIT_RETENTION_BOUNDS = {**settings.AUDIT_RETENTION_BOUNDS, "operation": (90, 3650)}


# --- Console ------------------------------------------------------------------------------------

def test_admin_sees_and_changes_retention(admin, console_client, bounded):
    client = console_client(admin)
    page = client.get("/t/acme/settings/retention/")
    _restore()
    assert page.status_code == 200
    assert b'id="id_operation_days"' in page.content and b'id="id_signin_days"' in page.content
    response = client.post("/t/acme/settings/retention/", {"category": "operation", "days": "400"})
    _restore()
    assert response.status_code == 302
    assert RetentionOverride.objects.get(category="operation").days == 400
    assert retention.tenant_policy()["operation"] == 400
    event = AuditEvent.objects.filter(action="audit.retention_changed").latest("id")
    assert event.after == {"category": "operation", "days": 400}


def test_out_of_bounds_value_is_a_field_error_and_nothing_changes(admin, console_client, bounded):
    client = console_client(admin)
    response = client.post("/t/acme/settings/retention/", {"category": "operation", "days": "30"})
    _restore()
    assert response.status_code == 422
    assert b'class="error"' in response.content and b"90" in response.content
    assert not RetentionOverride.objects.exists()


def test_empty_value_returns_to_the_provider_default(admin, console_client):
    actions.set_retention(actor=Actor.for_user(admin), category="api", days=200)
    client = console_client(admin)
    response = client.post("/t/acme/settings/retention/", {"category": "api", "days": ""})
    _restore()
    assert response.status_code == 302
    assert not RetentionOverride.objects.filter(category="api").exists()


def test_unknown_category_changes_nothing(admin, console_client):
    response = console_client(admin).post("/t/acme/settings/retention/", {"category": "provider", "days": "1"})
    _restore()
    assert response.status_code == 422
    assert not RetentionOverride.objects.exists()


def test_non_admins_cannot_change_it(editor, viewer, console_client):
    for user in (editor, viewer):
        response = console_client(user).post("/t/acme/settings/retention/", {"category": "api", "days": "120"})
        _restore()
        assert response.status_code == 403
    assert not RetentionOverride.objects.exists()


# --- API ----------------------------------------------------------------------------------------

def test_api_reads_and_sets_retention(admin, api_token, bounded):
    api = ApiClient(api_token(admin))
    response = api.get("/api/v1/evidence/retention")
    assert response.status_code == 200
    rows = {row["category"]: row for row in response.json()}
    assert set(rows) == set(retention.TENANT_CATEGORIES)
    assert rows["operation"]["min_days"] == 90 and rows["operation"]["override"] is None
    response = api.put("/api/v1/evidence/retention", {"category": "operation", "days": 500})
    assert response.status_code == 200
    assert {r["category"]: r for r in response.json()}["operation"]["days"] == 500
    response = api.put("/api/v1/evidence/retention", {"category": "operation", "days": 10})
    assert response.status_code == 422 and "days" in str(response.json())
    response = api.put("/api/v1/evidence/retention", {"category": "nope", "days": 100})
    assert response.status_code == 422
    response = api.put("/api/v1/evidence/retention", {"category": "operation", "days": None})
    assert response.status_code == 200
    with use_tenant(admin.tenant):
        assert not RetentionOverride.objects.exists()


def test_api_retention_is_for_tenant_admins(viewer, api_token):
    api = ApiClient(api_token(viewer))
    assert api.get("/api/v1/evidence/retention").status_code == 403
    assert api.put("/api/v1/evidence/retention", {"category": "api", "days": 100}).status_code == 403


# --- Expired packages ---------------------------------------------------------------------------

def test_expired_package_files_are_deleted(tenant, admin, other_tenant, django_capture_on_commit_callbacks):
    now = timezone.now()
    export = actions.request_export(actor=Actor.for_user(admin), since=now - timedelta(days=1), until=now)
    build_package(export.pk, tenant)
    export.refresh_from_db()
    path = export.file_path
    assert path and default_storage.exists(path)
    with django_capture_on_commit_callbacks(execute=True):
        assert actions.delete_expired_exports(actor=Actor.system("test"), now=now) == 0
    assert default_storage.exists(path)
    with django_capture_on_commit_callbacks(execute=True):
        deleted = actions.delete_expired_exports(actor=Actor.system("test"),
                                                 now=export.expires_at + timedelta(seconds=1))
    assert deleted == 1
    assert not default_storage.exists(path)
    export = EvidenceExport.objects.get(pk=export.pk)
    assert export.file_path == "" and not export.is_downloadable
    assert AuditEvent.objects.filter(action="evidence.export_expired", target_id=str(export.pk)).exists()


def test_the_daily_job_visits_every_tenant(make_tenant, django_capture_on_commit_callbacks):
    from mamori.evidence.tasks import purge_expired_audit_events

    tenants = [make_tenant("alpha"), make_tenant("beta")]
    paths = []
    for tenant in tenants:
        with use_tenant(tenant):
            export = EvidenceExport.objects.create(since=timezone.now() - timedelta(days=2),
                                                   until=timezone.now() - timedelta(days=1),
                                                   status=EvidenceExport.Status.COMPLETED,
                                                   expires_at=timezone.now() - timedelta(minutes=1),
                                                   file_path=default_storage.save(f"{tenant.slug}.zip",
                                                                                  _content()))
            paths.append(export.file_path)
    with django_capture_on_commit_callbacks(execute=True):
        purge_expired_audit_events.call()
    assert not any(default_storage.exists(path) for path in paths)
    for tenant in tenants:
        with use_tenant(tenant):
            assert AuditEvent.objects.filter(action="evidence.export_expired").count() == 1


def _content():
    from django.core.files.base import ContentFile

    return ContentFile(b"PK")
