"""Attachments through the console and the API: status codes, headers, form errors, problems."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.records import attachments as files
from mamori.records.actions_attachments import upload_attachment
from mamori.records.models import Attachment
from tests.records.conftest import PDF, PNG, big_bytes, stored_files

pytestmark = pytest.mark.usefixtures("storage")  # pages and problems in the tenant's language (ja)


def console_url(name, **kwargs):
    return "/t/acme" + reverse(f"console:{name}", urlconf="mamori.urls_tenant", kwargs=kwargs)


def attach(user, record, data=PDF, name="見積書.pdf"):
    import io

    return upload_attachment(actor=Actor.for_user(user), record_id=record.pk, file=io.BytesIO(data),
                             filename=name, size=len(data))


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


# --- console -----------------------------------------------------------------------------------

def test_console_upload_list_download_delete(editor, att_record, console_client, storage):
    client = console_client(editor)
    response = client.post(console_url("record_attachment_upload", pk=att_record.pk),
                           {"file": SimpleUploadedFile("../見積\u202e書.pdf", PDF, content_type="image/png")})
    assert response.status_code == 302 and response["Location"].endswith("#attachments-h")
    attachment = Attachment.objects.get()
    assert attachment.filename == "見積書.pdf" and attachment.content_type == "application/pdf"
    page = client.get(console_url("record_detail", pk=att_record.pk)).content.decode()
    assert "見積書.pdf" in page and 'enctype="multipart/form-data"' in page
    download = client.get(console_url("record_attachment_download", pk=att_record.pk, attachment_id=attachment.pk))
    assert download.status_code == 200 and body(download) == PDF
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"] == (
        "attachment; filename=\"___.pdf\"; filename*=UTF-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8.pdf")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Cache-Control"] == "private, no-store"
    assert download["Content-Length"] == str(len(PDF))
    delete_url = console_url("record_attachment_delete", pk=att_record.pk, attachment_id=attachment.pk)
    assert "見積書.pdf" in client.get(delete_url).content.decode()
    assert client.post(delete_url).status_code == 302
    assert not Attachment.objects.exists()
    assert AuditEvent.objects.filter(action__startswith="attachment.").count() == 3


def test_console_upload_errors_are_form_errors(editor, att_record, console_client, settings, storage):
    client = console_client(editor)
    url = console_url("record_attachment_upload", pk=att_record.pk)
    settings.MAMORI_ATTACHMENT_MAX_BYTES = 4096
    too_big = client.post(url, {"file": SimpleUploadedFile("big.pdf", big_bytes(200_000))})
    assert too_big.status_code == 413
    assert "上限 4 KB（4096 バイト）" in too_big.content.decode()
    cases = {
        "empty": SimpleUploadedFile("empty.pdf", b""),
        "type": SimpleUploadedFile("tool.pdf", b"MZ\x90\x00\x03" + b"\x00" * 300),
    }
    for case, upload in cases.items():
        response = client.post(url, {"file": upload})
        assert response.status_code == 422, case
        assert 'class="error" role="alert"' in response.content.decode(), case
    missing = client.post(url, {})
    assert missing.status_code == 422 and "アップロードするファイルを選択" in missing.content.decode()
    assert not Attachment.objects.exists() and stored_files(storage) == []


def test_oversized_console_upload_stops_at_the_limit(editor, att_record, console_client, settings, tmp_path):
    """The upload handler stops reading the file into memory or a temporary file at the limit."""

    settings.MAMORI_ATTACHMENT_MAX_BYTES = 100_000
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    (tmp_path / "upload-tmp").mkdir()
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10_000
    client = console_client(editor)
    response = client.post(console_url("record_attachment_upload", pk=att_record.pk),
                           {"file": SimpleUploadedFile("big.pdf", big_bytes(3_000_000))})
    assert response.status_code == 413
    request = response.wsgi_request
    assert request._attachment_limit_handler.exceeded  # stopped at the limit, the rest discarded
    assert "file" not in request.FILES
    assert list((tmp_path / "upload-tmp").iterdir()) == []


def test_console_tampered_download_is_409(editor, att_record, console_client, storage):
    attachment = attach(editor, att_record)
    path = storage / attachment.storage_name
    path.write_bytes(path.read_bytes()[:-1])
    response = console_client(editor).get(
        console_url("record_attachment_download", pk=att_record.pk, attachment_id=attachment.pk))
    assert response.status_code == 409
    assert "添付ファイルを開けません" in response.content.decode()


def test_console_viewer_downloads_but_cannot_change(editor, viewer, att_record, console_client):
    attachment = attach(editor, att_record)
    client = console_client(viewer)
    page = client.get(console_url("record_detail", pk=att_record.pk)).content.decode()
    assert "見積書.pdf" in page and "record_attachment_upload" not in page and "/attachments/\"" not in page
    assert client.get(console_url("record_attachment_download", pk=att_record.pk,
                                  attachment_id=attachment.pk)).status_code == 200
    assert client.post(console_url("record_attachment_upload", pk=att_record.pk),
                       {"file": SimpleUploadedFile("a.pdf", PDF)}).status_code == 403
    assert client.post(console_url("record_attachment_delete", pk=att_record.pk,
                                   attachment_id=attachment.pk)).status_code == 403


def test_console_attachment_of_invisible_record_is_404(tenant, editor, user_factory, att_record, console_client):
    from mamori.access.roles import Role

    attachment = attach(editor, att_record)
    stranger = user_factory(tenant, "stranger@acme.example", Role.EDITOR)
    client = console_client(stranger)
    assert client.get(console_url("record_attachment_download", pk=att_record.pk,
                                  attachment_id=attachment.pk)).status_code == 404
    assert client.post(console_url("record_attachment_upload", pk=att_record.pk),
                       {"file": SimpleUploadedFile("a.pdf", PDF)}).status_code == 404


def test_console_limit_settings(admin, editor, console_client, settings):
    settings.MAMORI_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
    client = console_client(admin)
    url = console_url("security_attachments")
    assert "10 MB" in client.get(url).content.decode()
    too_high = client.post(url, {"max_mb": "11"})
    assert too_high.status_code == 422 and "下げることだけ" in too_high.content.decode()
    assert client.post(url, {"max_mb": "2.5"}).status_code == 302
    from mamori.records.queries import attachment_limit

    assert attachment_limit() == int(2.5 * 1024 * 1024)
    assert client.post(url, {"max_mb": ""}).status_code == 302
    assert attachment_limit() == 10 * 1024 * 1024
    assert console_client(editor).get(url).status_code == 403


# --- API ---------------------------------------------------------------------------------------

@pytest.fixture
def editor_api(editor, api_token, api_client):
    return api_client(api_token(editor))


def api_url(record, suffix=""):
    return f"/api/v1/records/{record.pk}/attachments{suffix}"


def test_api_upload_list_get_download_delete(editor_api, att_record):
    response = editor_api.post(api_url(att_record), {"file": SimpleUploadedFile("図面.png", PNG)})
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["filename"] == "図面.png" and data["content_type"] == "image/png" and data["size"] == len(PNG)
    listed = editor_api.get(api_url(att_record)).json()
    assert [item["id"] for item in listed["items"]] == [data["id"]]
    assert editor_api.get(api_url(att_record, f"/{data['id']}")).json()["filename"] == "図面.png"
    download = editor_api.get(api_url(att_record, f"/{data['id']}/content"))
    assert download.status_code == 200 and body(download) == PNG
    assert download["Content-Type"] == "image/png" and download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Cache-Control"] == "private, no-store"
    assert editor_api.delete(api_url(att_record, f"/{data['id']}")).status_code == 204
    assert editor_api.get(api_url(att_record, f"/{data['id']}")).status_code == 404


def test_api_bad_input(editor_api, att_record, settings, storage):
    settings.MAMORI_ATTACHMENT_MAX_BYTES = 2048
    too_big = editor_api.post(api_url(att_record), {"file": SimpleUploadedFile("a.pdf", big_bytes(500_000))})
    assert too_big.status_code == 413
    assert too_big.wsgi_request._attachment_limit_handler.exceeded  # stopped reading at the limit
    problem = too_big.json()
    assert too_big["Content-Type"].startswith("application/problem+json")
    assert "2048 バイト" in problem["detail"] and problem["errors"][0]["field"] == "file"
    for upload in (SimpleUploadedFile("e.pdf", b""), SimpleUploadedFile("x.pdf", b"\x7fELF" + b"\x00" * 99)):
        response = editor_api.post(api_url(att_record), {"file": upload})
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "file"
    missing = editor_api.post(api_url(att_record), {"other": "x"})
    assert missing.status_code == 422 and "multipart" in missing.json()["errors"][0]["message"]
    json_body = editor_api.post(api_url(att_record), data={"file": "x"}, content_type="application/json")
    assert json_body.status_code == 422
    assert stored_files(storage) == [] and not Attachment.objects.exists()


def test_api_tampered_download_is_409_problem(editor, editor_api, att_record, storage):
    attachment = attach(editor, att_record)
    path = storage / attachment.storage_name
    raw = bytearray(path.read_bytes())
    raw[files.HEADER.size + 3] ^= 0xFF
    path.write_bytes(bytes(raw))
    response = editor_api.get(api_url(att_record, f"/{attachment.pk}/content"))
    assert response.status_code == 409
    assert response["Content-Type"].startswith("application/problem+json")
    assert "改ざん" in response.json()["detail"]


def test_api_limits(admin, editor_api, api_token, api_client, settings):
    settings.MAMORI_ATTACHMENT_MAX_BYTES = 1_000_000
    admin_api = api_client(api_token(admin))
    assert editor_api.get("/api/v1/security/attachments").json()["effective_max_bytes"] == 1_000_000
    assert editor_api.put("/api/v1/security/attachments", {"tenant_max_bytes": 10},
                          content_type="application/json").status_code == 403
    too_high = admin_api.put("/api/v1/security/attachments", {"tenant_max_bytes": 1_000_001},
                             content_type="application/json")
    assert too_high.status_code == 422 and too_high.json()["errors"][0]["field"] == "tenant_max_bytes"
    ok = admin_api.put("/api/v1/security/attachments", {"tenant_max_bytes": 5000}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["effective_max_bytes"] == 5000


def test_api_other_tenant_and_non_member_get_404(editor, att_record, outsider, api_token, api_client,
                                                 user_factory, tenant):
    from mamori.access.roles import Role

    attachment = attach(editor, att_record)
    stranger = user_factory(tenant, "stranger@acme.example", Role.EDITOR)
    for client in (api_client(api_token(outsider)), api_client(api_token(stranger))):
        assert client.get(api_url(att_record, f"/{attachment.pk}/content")).status_code == 404
        assert client.get(api_url(att_record)).status_code == 404
        assert client.post(api_url(att_record), {"file": SimpleUploadedFile("a.pdf", PDF)}).status_code == 404
        assert client.delete(api_url(att_record, f"/{attachment.pk}")).status_code == 404


# --- provider console --------------------------------------------------------------------------

def test_provider_sets_a_tenants_limit(tenant, settings):
    from django.test import Client

    from mamori.operations.actions import create_staff
    from mamori.records.queries import attachment_limits
    from mamori.tenancy.context import tenant_context, use_tenant

    settings.MAMORI_ATTACHMENT_MAX_BYTES = 25 * 1024 * 1024
    client = Client()
    with use_tenant(None):
        staff = create_staff(actor=Actor.system("test"), email="ops@provider.example",
                             password="a long staff password 1")
        assert client.post("/provider/login/", {"email": staff.email,
                                                "password": "a long staff password 1"}).status_code == 302
        url = f"/provider/tenants/{tenant.slug}/attachment-limit/"
        assert f'href="{url}"' in client.get("/provider/").content.decode()
        assert client.get(url).status_code == 200
        assert client.post(url, {"max_mb": "-1"}).status_code == 422
        assert client.post(url, {"max_mb": "100"}).status_code == 302
        assert 'id="attachment-ceiling">100 MB' in client.get(url).content.decode()
        assert client.get("/provider/tenants/nope/attachment-limit/").status_code == 404
        assert Client().get(url).status_code == 302  # staff only
        with tenant_context(tenant):
            assert attachment_limits()["effective"] == 100 * 1024 * 1024
            event = AuditEvent.objects.filter(action="attachment.limit_changed").get()
            assert event.after["provider_max_bytes"] == 100 * 1024 * 1024 and event.actor_label == staff.email
        from mamori.audit.models import ProviderEvent

        assert ProviderEvent.objects.filter(action="attachment.provider_limit_changed").count() == 1


def test_console_upload_checks_csrf(editor, att_record, console_client):
    """The upload view is exempt from the middleware's check only to put the size handler first;
    it checks the CSRF token itself."""
    client = console_client(editor)
    client.handler.enforce_csrf_checks = True
    url = console_url("record_attachment_upload", pk=att_record.pk)
    assert client.post(url, {"file": SimpleUploadedFile("a.pdf", PDF)}).status_code == 403
    assert not Attachment.objects.exists()
    page = client.get(console_url("record_detail", pk=att_record.pk))
    token = page.context["csrf_token"] if page.context else client.cookies["csrftoken"].value
    response = client.post(url, {"file": SimpleUploadedFile("a.pdf", PDF), "csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302 and Attachment.objects.count() == 1


def test_api_large_upload_round_trip(editor_api, att_record):
    data = big_bytes(3 * 1024 * 1024 + 123)  # above the 1 MiB body limit for JSON, below the file limit
    response = editor_api.post(api_url(att_record), {"file": SimpleUploadedFile("big.pdf", data)})
    assert response.status_code == 201, response.content[:300]
    download = editor_api.get(api_url(att_record, f"/{response.json()['id']}/content"))
    assert body(download) == data
