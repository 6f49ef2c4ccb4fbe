"""Sign-in and sign-out pages (allauth with Mamori's templates) and the language switch."""

from __future__ import annotations

from django.test import Client

from mamori.audit.models import AuditEvent
from tests.conftest import PASSWORD


def test_sign_in_page_is_simple_and_accessible(tenant):
    response = Client().get("/t/acme/accounts/login/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_login">' in html and '<label for="id_password">' in html
    assert 'autocomplete="current-password"' in html
    assert "/accounts/signup/" not in html  # sign-up is closed
    assert 'href="/t/acme/accounts/password/reset/"' in html
    assert "Acme 株式会社" in html


def test_wrong_password_shows_an_error_and_keeps_the_address(admin):
    response = Client().post("/t/acme/accounts/login/", {"login": admin.email, "password": "wrong"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'role="alert"' in html
    assert f'value="{admin.email}"' in html


def test_sign_in_follows_next_within_the_tenant(admin):
    response = Client().post("/t/acme/accounts/login/?next=/t/acme/records/",
                             {"login": admin.email, "password": PASSWORD, "next": "/t/acme/records/"})
    assert response.status_code == 302 and response["Location"] == "/t/acme/records/"


def test_sign_out_asks_on_get_and_signs_out_on_post(admin_client, admin):
    page = admin_client.get("/t/acme/accounts/logout/")
    assert page.status_code == 200
    assert '<form method="post" action="/t/acme/accounts/logout/"' in page.content.decode()
    response = admin_client.post("/t/acme/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/t/acme/accounts/login/"
    assert AuditEvent.objects.filter(action="auth.logout", actor_id=str(admin.pk)).exists()
    assert admin_client.get("/t/acme/").status_code == 302


def test_every_console_page_has_a_sign_out_form(admin_client):
    html = admin_client.get("/t/acme/").content.decode()
    assert '<form method="post" action="/t/acme/accounts/logout/">' in html


def test_language_switch_inside_the_tenant(admin_client):
    html = admin_client.get("/t/acme/").content.decode()
    assert '<form action="/t/acme/i18n/setlang/" method="post"' in html
    assert 'lang="ja"' in html  # the tenant's default language
    response = admin_client.post("/t/acme/i18n/setlang/", {"language": "en", "next": "/t/acme/records/"})
    assert response.status_code == 302 and response["Location"] == "/t/acme/records/"
    html = admin_client.get("/t/acme/records/").content.decode()
    assert '<html lang="en">' in html and ">Records</h1>" in html
    admin_client.post("/t/acme/i18n/setlang/", {"language": "ja", "next": "/t/acme/records/"})
    html = admin_client.get("/t/acme/records/").content.decode()
    assert '<html lang="ja">' in html and ">レコード</h1>" in html


def test_language_switch_refuses_foreign_next(admin_client):
    response = admin_client.post("/t/acme/i18n/setlang/", {"language": "en", "next": "https://evil.example/"})
    assert response.status_code == 302 and "evil.example" not in response["Location"]
