"""Personal API tokens: list, create (shown once), revoke."""

from __future__ import annotations

from mamori.accounts.models import ApiToken
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent


def _create(client, name="ci", days=30):
    return client.post(f"{client.tenant_prefix}/tokens/new/", {"name": name, "expires_in_days": days})


def test_create_shows_the_token_once(admin_client, admin):
    response = _create(admin_client)
    html = response.content.decode()
    token = ApiToken.objects.get(user=admin, name="ci")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    start = html.index('id="raw-token"')
    raw = html[html.index('value="', start) + 7:]
    raw = raw[:raw.index('"')]
    assert raw.startswith(token.prefix) or token.prefix in raw
    assert AuditEvent.objects.filter(action="api_token.created", target_id=str(token.pk)).exists()
    listing = admin_client.get(f"{admin_client.tenant_prefix}/tokens/").content.decode()
    assert token.prefix in listing and raw not in listing
    assert raw not in AuditEvent.objects.get(action="api_token.created").after.values()


def test_expiry_must_be_between_1_and_366_days(admin_client, admin):
    for days in (0, 367, "x"):
        response = _create(admin_client, days=days)
        assert response.status_code == 200
        assert 'class="field has-error"' in response.content.decode()
    assert not ApiToken.objects.filter(user=admin).exists()
    assert 'value="90"' in admin_client.get(f"{admin_client.tenant_prefix}/tokens/new/").content.decode()


def test_list_shows_only_my_tokens(admin_client, admin, editor):
    from mamori.accounts.actions import create_api_token

    create_api_token(actor=Actor.for_user(editor), user=editor, name="editor's token")
    _create(admin_client, name="mine")
    html = admin_client.get(f"{admin_client.tenant_prefix}/tokens/").content.decode()
    assert "mine" in html and "editor&#x27;s token" not in html and "editor's token" not in html


def test_revoke_is_post_only_and_writes_an_event(admin_client, admin):
    _create(admin_client)
    token = ApiToken.objects.get(user=admin)
    url = f"{admin_client.tenant_prefix}/tokens/{token.pk}/revoke/"
    assert admin_client.get(url).status_code == 405
    assert admin_client.post(url).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="api_token.revoked", target_id=str(token.pk)).exists()


def test_cannot_revoke_someone_elses_token_from_the_console(editor_client, admin):
    from mamori.accounts.actions import create_api_token

    token, _ = create_api_token(actor=Actor.for_user(admin), user=admin, name="admin's")
    assert editor_client.post(f"{editor_client.tenant_prefix}/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_viewer_cannot_create_tokens(viewer_client, viewer):
    assert viewer_client.get(f"{viewer_client.tenant_prefix}/tokens/").status_code == 200
    assert viewer_client.get(f"{viewer_client.tenant_prefix}/tokens/new/").status_code == 403
    assert _create(viewer_client).status_code == 403
    assert not ApiToken.objects.filter(user=viewer).exists()


def test_other_tenant_token_ids_are_404_under_own_prefix(outsider_client, admin):
    from mamori.accounts.actions import create_api_token

    token, _ = create_api_token(actor=Actor.for_user(admin), user=admin, name="acme")
    assert outsider_client.post(f"{outsider_client.tenant_prefix}/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_token_names_are_escaped(admin_client):
    from tests.console.conftest import XSS, assert_escaped

    _create(admin_client, name=XSS[:100])
    assert_escaped(admin_client.get(f"{admin_client.tenant_prefix}/tokens/").content.decode())
