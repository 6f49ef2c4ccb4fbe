"""/me, users, the operation log and the caller's tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mamori.accounts.models import ApiToken
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.records import actions


def test_me(acme):
    response = acme.editor_api.get("/me")
    assert response.status_code == 200
    assert response.json() == {
        "id": acme.editor.pk, "email": "editor@acme.example", "name": "editor", "role": "editor",
        "language": "ja",
        "tenant": {"slug": "acme", "name": "Acme 株式会社", "time_zone": "Asia/Tokyo", "language": "ja"},
    }


def test_users_list_needs_users_view(acme):
    response = acme.admin_api.get("/users")
    assert response.status_code == 200
    emails = [u["email"] for u in response.json()["items"]]
    assert emails == sorted(["admin@acme.example", "editor@acme.example", "viewer@acme.example",
                             "owner@acme.example"])
    assert "password" not in response.content.decode()
    assert acme.editor_api.get("/users").status_code == 403
    assert acme.viewer_api.get("/users").status_code == 403


def test_audit_events_newest_first_with_keyset_pages(acme):
    api = acme.admin_api
    first = api.get("/audit/events", params={"limit": 3})
    assert first.status_code == 200
    page1 = first.json()
    assert len(page1["items"]) == 3 and page1["next_before"]
    times = [e["occurred_at"] for e in page1["items"]]
    assert times == sorted(times, reverse=True)
    assert all(t.endswith("Z") for t in times)
    page2 = api.get("/audit/events", params={"limit": 3, "before": page1["next_before"]}).json()
    ids1 = [e["id"] for e in page1["items"]]
    ids2 = [e["id"] for e in page2["items"]]
    assert not set(ids1) & set(ids2)
    assert min(ids1) > max(ids2)
    everything = [e["id"] for e in api.get("/audit/events", params={"limit": 100}).json()["items"]]
    assert everything[:6] == ids1 + ids2
    assert everything == sorted(everything, reverse=True)
    assert len(everything) == AuditEvent.objects.count()


def test_audit_filters(acme):
    actions.create_label(actor=Actor.for_user(acme.admin), name="z")
    api = acme.admin_api
    created = api.get("/audit/events", params={"action": "label.created"}).json()["items"]
    assert {e["action"] for e in created} == {"label.created"} and len(created) == 2
    assert created[0]["action_label"]
    by_admin = api.get("/audit/events", params={"actor_id": str(acme.admin.pk)}).json()["items"]
    assert by_admin and {e["actor_id"] for e in by_admin} == {str(acme.admin.pk)}
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert api.get("/audit/events", params={"since": future}).json()["items"] == []
    assert len(api.get("/audit/events", params={"until": future}).json()["items"]) == AuditEvent.objects.count()


def test_audit_bad_cursor_is_a_field_error(acme):
    response = acme.admin_api.get("/audit/events", params={"before": "garbage!"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "before"


def test_audit_needs_audit_view(acme):
    assert acme.editor_api.get("/audit/events").status_code == 403
    assert acme.viewer_api.get("/audit/events").status_code == 403


def test_tokens_list_never_shows_the_secret(acme):
    response = acme.viewer_api.get("/tokens")
    assert response.status_code == 200
    [token] = response.json()["items"]
    row = ApiToken.objects.get(pk=token["id"])
    assert token["prefix"] == row.prefix and token["revoked_at"] is None
    assert row.secret_hash not in response.content.decode()
    assert "secret" not in "".join(token.keys())


def test_revoking_own_token_then_it_is_401(acme):
    response = acme.viewer_api.delete(f"/tokens/{acme.viewer_token_id}")
    assert response.status_code == 204
    assert ApiToken.objects.get(pk=acme.viewer_token_id).revoked_at is not None
    event = AuditEvent.objects.filter(action="api_token.revoked").latest("id")
    assert event.actor_type == "api_token" and event.actor_id == str(acme.viewer.pk)
    assert acme.viewer_api.get("/me").status_code == 401


def test_cannot_revoke_someone_elses_token_unless_admin(acme):
    assert acme.editor_api.delete(f"/tokens/{acme.viewer_token_id}").status_code == 404
    assert ApiToken.objects.get(pk=acme.viewer_token_id).revoked_at is None
    assert acme.admin_api.delete(f"/tokens/{acme.viewer_token_id}").status_code == 204
