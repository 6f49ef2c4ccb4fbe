"""CSV user import/export through the console pages and the API."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from mamori.access.models import OrgUnit, UnitAdminScope, UnitMembership
from mamori.access.roles import Role
from mamori.accounts.models import Invitation, User
from mamori.audit.models import AuditEvent
from mamori.tenancy.context import apply_db_tenant, current_tenant

HEADER = "email,name,role,units,language,action\r\n"


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def unit(tenant):
    return OrgUnit.objects.create(name="営業部", code="SALES")


def csv_bytes(*rows: str, encoding: str = "utf-8") -> bytes:
    return (HEADER + "".join(r + "\r\n" for r in rows)).encode(encoding)


def _restore():
    tenant = current_tenant()
    if tenant is not None:
        apply_db_tenant(tenant.pk)


# --- Console ---------------------------------------------------------------------------------------

def _upload(client, data: bytes, name: str = "users.csv"):
    response = client.post(f"{client.tenant_prefix}/users/import/",
                           {"file": SimpleUploadedFile(name, data, content_type="text/csv")})
    _restore()
    return response


def english(client):
    client.cookies["django_language"] = "en"
    return client


def test_upload_preview_apply_result(admin, editor, unit, console_client):
    client = english(console_client(admin))
    page = client.get(f"{client.tenant_prefix}/users/import/")
    assert page.status_code == 200 and b"users/import/sample.csv" in page.content
    data = csv_bytes("new@acme.example,新人,editor,SALES,ja,", "editor@acme.example,Ed,,,,")
    preview = _upload(client, data)
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "new@acme.example" in html and "Create and invite" in html and "Apply the import" in html
    assert not User.objects.filter(email="new@acme.example").exists()
    token = html.split('name="token" value="')[1].split('"')[0]
    applied = client.post(f"{client.tenant_prefix}/users/import/apply/", {"token": token})
    _restore()
    assert applied.status_code == 302 and applied["Location"].endswith("/users/import/")
    new = User.objects.get(email="new@acme.example")
    assert new.is_invited and Invitation.objects.filter(user=new).exists()
    assert User.objects.get(pk=editor.pk).name == "Ed"
    result = client.get(applied["Location"]).content.decode()
    assert "Result of the import" in result
    # The stashed upload is gone: the same token cannot apply twice.
    again = client.post(f"{client.tenant_prefix}/users/import/apply/", {"token": token})
    _restore()
    assert again.status_code == 302
    assert AuditEvent.objects.filter(action="users.imported").count() == 1


def test_shift_jis_upload_with_a_bad_row_shows_the_error_and_no_apply_button(admin, unit, console_client):
    client = english(console_client(admin))
    data = ("メールアドレス,氏名,ロール,組織\r\n"
            "ok@acme.example,山田,閲覧者,営業部\r\n"
            "bad-address,鈴木,閲覧者,営業部\r\n").encode("cp932")
    html = _upload(client, data).content.decode()
    assert "cp932" in html and "row-error" in html
    assert "&quot;bad-address&quot; is not a valid e-mail address." in html
    assert "Apply the import" not in html and 'name="token"' not in html
    assert not User.objects.filter(email="ok@acme.example").exists()


def test_preview_in_japanese(admin, console_client):
    client = console_client(admin)
    client.cookies["django_language"] = "ja"
    html = _upload(client, csv_bytes("bad,,,,,")).content.decode()
    assert "有効なメールアドレスではありません" in html


def test_tampered_expired_or_foreign_token_applies_nothing(admin, tenant, user_factory, console_client):
    client = console_client(admin)
    html = _upload(client, csv_bytes("x@acme.example,,,,,")).content.decode()
    token = html.split('name="token" value="')[1].split('"')[0]
    other_admin = user_factory(tenant, "second@acme.example", Role.TENANT_ADMIN)
    other = console_client(other_admin)
    for who, value in ((other, token), (client, token[:-2] + "xx"), (client, "")):
        response = who.post(f"{who.tenant_prefix}/users/import/apply/", {"token": value})
        _restore()
        assert response.status_code == 302
    assert not User.objects.filter(email="x@acme.example").exists()


def test_export_and_sample_downloads(admin, editor, console_client):
    User.objects.filter(pk=editor.pk).update(name="=cmd|' /C calc'!A0")
    client = console_client(admin)
    response = client.get(f"{client.tenant_prefix}/users/export.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert "'=cmd|' /C calc'!A0" in response.content.decode("utf-8-sig")
    sjis = client.get(f"{client.tenant_prefix}/users/export.csv?encoding=cp932&header=ja")
    assert sjis.content.decode("cp932").startswith("メールアドレス,")
    sample = client.get(f"{client.tenant_prefix}/users/import/sample.csv")
    assert sample.status_code == 200 and sample.content.startswith(b"\xef\xbb\xbfemail,name,role,units")
    help_page = client.get(f"{client.tenant_prefix}/help/user-csv/")
    assert help_page.status_code == 200 and "メールアドレス" in help_page.content.decode()


def test_unit_admin_exports_only_their_users(tenant, unit, user_factory, console_client, editor):
    boss = user_factory(tenant, "boss@acme.example", Role.UNIT_ADMIN)
    UnitAdminScope.objects.create(user=boss, unit=unit)
    member = user_factory(tenant, "member@acme.example", Role.VIEWER)
    UnitMembership.objects.create(user=member, unit=unit)
    client = console_client(boss)
    text = client.get(f"{client.tenant_prefix}/users/export.csv").content.decode("utf-8-sig")
    assert "member@acme.example" in text and editor.email not in text and "boss@" not in text


def test_viewer_and_editor_get_403(viewer, editor, console_client):
    for user in (viewer, editor):
        client = console_client(user)
        for path in ("users/import/", "users/export.csv", "users/import/sample.csv"):
            assert client.get(f"{client.tenant_prefix}/{path}").status_code == 403


# --- API -------------------------------------------------------------------------------------------

@pytest.fixture
def api(api_token):
    def _api(user):
        client = Client(HTTP_AUTHORIZATION=f"Bearer {api_token(user)}", HTTP_ACCEPT_LANGUAGE="en")

        def call(method: str, path: str, **kwargs):
            response = getattr(client, method)(f"/api/v1{path}", **kwargs)
            _restore()
            return response

        return call

    return _api


def test_api_preview_with_text_csv_body(admin, editor, unit, api):
    call = api(admin)
    response = call("post", "/users/import/preview", data=csv_bytes("new@acme.example,N,,SALES,,",
                                                                     "bad,,,,,"), content_type="text/csv")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False and body["counts"]["create"] == 1 and body["counts"]["error"] == 1
    assert body["rows"][1]["errors"] == [{"line": 3, "column": "email", "code": "invalid_email",
                                          "message": "\"bad\" is not a valid e-mail address."}]
    assert not User.objects.filter(email="new@acme.example").exists()


def test_api_apply_multipart_and_rejection(admin, unit, api):
    call = api(admin)
    bad = call("post", "/users/import", data={"file": SimpleUploadedFile(
        "u.csv", csv_bytes("a@acme.example,,,,,", "a@acme.example,,,,,"))})
    assert bad.status_code == 422 and bad["Content-Type"].startswith("application/problem+json")
    problem = bad.json()
    assert problem["errors"][0]["line"] == 3 and problem["errors"][0]["code"] == "duplicate_in_file"
    assert not User.objects.filter(email="a@acme.example").exists()
    good = call("post", "/users/import", data=csv_bytes("a@acme.example,A,,SALES,,"), content_type="text/csv")
    assert good.status_code == 200 and good.json() == {"created": 1, "updated": 0, "deactivated": 0,
                                                       "unchanged": 0}
    assert User.objects.get(email="a@acme.example").is_invited


def test_api_accepts_files_beyond_the_json_limit_and_refuses_beyond_5_mb(admin, api, settings):
    call = api(admin)
    rows = [f"user{i}@acme.example,{'長い名前' * 30}" for i in range(3000)]
    data = ("email,name\r\n" + "\r\n".join(rows)).encode()
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < len(data) < 5 * 1024 * 1024
    response = call("post", "/users/import/preview", data=data, content_type="text/csv")
    assert response.status_code == 200 and response.json()["counts"]["create"] == 3000
    huge = call("post", "/users/import/preview", data=b"email\r\n" + b"x" * (5 * 1024 * 1024 + 10),
                content_type="text/csv")
    assert huge.status_code == 413 and huge["Content-Type"].startswith("application/problem+json")


def test_api_export(admin, editor, api):
    response = api(admin)("get", "/users/export.csv")
    assert response.status_code == 200 and response.content.startswith(b"\xef\xbb\xbfemail,")
    assert editor.email in response.content.decode("utf-8-sig")
    assert api(admin)("get", "/users/export.csv?encoding=latin1").status_code == 422


def test_api_viewer_is_refused_and_the_refusal_is_audited(viewer, api):
    call = api(viewer)
    for method, path in (("post", "/users/import/preview"), ("post", "/users/import"),
                         ("get", "/users/export.csv")):
        kwargs = {"data": csv_bytes("x@acme.example,,,,,"), "content_type": "text/csv"} if method == "post" else {}
        assert call(method, path, **kwargs).status_code == 403
    denied = AuditEvent.objects.filter(action="access.denied").values_list("after", flat=True)
    assert {json.dumps(a, sort_keys=True) for a in denied} >= {
        json.dumps({"permission": "users.manage", "view": "api:preview_user_import"}, sort_keys=True)}
    assert not User.objects.filter(email="x@acme.example").exists()
