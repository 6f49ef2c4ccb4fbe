"""Settings → Security lists every security page of the tenant, for security managers only."""

from django.urls import reverse

from mamori.console.settings_pages import SECURITY_PAGES

PAGE = "/t/acme/settings/security/"


def test_security_manager_sees_every_security_page(admin, console_client):
    response = console_client(admin).get(PAGE)
    assert response.status_code == 200
    body = response.content.decode()
    for page in SECURITY_PAGES:
        assert f'href="/t/acme{reverse(page.url_name, urlconf="mamori.urls_tenant")}"' in body
        assert str(page.title) in body
    assert 'aria-current="page">' in body


def test_viewer_is_refused(viewer, console_client):
    assert console_client(viewer).get(PAGE).status_code == 403
