"""Subscriptions: URL rules (SSRF), audited actions, console pages and API, tenant isolation."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from mamori.access.errors import PermissionDenied
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.siem import actions, delivery
from mamori.siem.models import WebhookSubscription
from tests.api.conftest import ApiClient
from tests.console.conftest import XSS, assert_escaped


@pytest.fixture
def loopback_ok(settings):
    settings.MAMORI_WEBHOOK_ALLOW_HTTP_LOOPBACK = True


@pytest.fixture
def subscription(tenant, admin, loopback_ok):
    sub, _secret = actions.create_subscription(actor=Actor.for_user(admin), url="http://127.0.0.1:9/hook",
                                               description="Splunk")
    return sub


@pytest.mark.parametrize("url", [
    "http://siem.example.com/hook",          # not https
    "https://127.0.0.1/hook",                # loopback
    "https://localhost/hook",
    "https://[::1]/hook",
    "https://10.1.2.3/hook",                 # private
    "https://192.168.0.10/hook",
    "https://172.16.5.4/hook",
    "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
    "https://[fe80::1]/hook",
    "https://[::ffff:10.0.0.1]/hook",        # IPv4-mapped private
    "https://0.0.0.0/hook",
    "https://user:pw@8.8.8.8/hook",      # credentials in the URL
    "ftp://8.8.8.8/hook",
    "https:///nohost",
    "https://[::1/hook",
])
def test_unsafe_urls_are_refused(url, settings):
    settings.MAMORI_WEBHOOK_ALLOW_HTTP_LOOPBACK = False
    with pytest.raises(delivery.UnsafeURL):
        delivery.resolve_target(url)


def test_loopback_setting_allows_only_loopback_over_http(settings):
    settings.MAMORI_WEBHOOK_ALLOW_HTTP_LOOPBACK = True
    assert delivery.resolve_target("http://127.0.0.1:8080/x").address == "127.0.0.1"
    assert delivery.resolve_target("http://localhost:8080/x").address in ("127.0.0.1", "::1")
    for url in ("http://10.0.0.1/x", "https://10.0.0.1/x", "http://8.8.8.8/x"):
        with pytest.raises(delivery.UnsafeURL):
            delivery.resolve_target(url)


def test_public_https_address_is_accepted(settings):
    settings.MAMORI_WEBHOOK_ALLOW_HTTP_LOOPBACK = False
    target = delivery.resolve_target("https://8.8.8.8:8443/mamori?x=1")
    assert (target.host, target.port, target.path) == ("8.8.8.8", 8443, "/mamori?x=1")


def test_create_shows_secret_once_and_records_event(tenant, admin, loopback_ok):
    sub, secret = actions.create_subscription(actor=Actor.for_user(admin), url="http://127.0.0.1:9/h",
                                              event_prefixes="record. auth.*, record.")
    assert len(bytes.fromhex(secret)) == 32 and sub.secret == secret
    assert sub.event_prefixes == ["record.", "auth."]
    event = AuditEvent.objects.get(action="siem.subscription_created")
    assert event.target_id == str(sub.pk) and secret not in str(event.after)
    assert sub.last_acknowledged_seq == (event.seq or 1) - 1  # delivery starts with its own event


def test_actions_write_their_events(tenant, admin, subscription):
    by = Actor.for_user(admin)
    actions.update_subscription(actor=by, subscription_id=subscription.pk, description="QRadar")
    actions.disable_subscription(actor=by, subscription_id=subscription.pk)
    actions.enable_subscription(actor=by, subscription_id=subscription.pk)
    actions.send_test_event(actor=by, subscription_id=subscription.pk)
    actions.delete_subscription(actor=by, subscription_id=subscription.pk)
    names = list(AuditEvent.objects.filter(action__startswith="siem.").order_by("id").values_list("action", flat=True))
    assert names == ["siem.subscription_created", "siem.subscription_updated", "siem.subscription_disabled",
                     "siem.subscription_enabled", "siem.test_sent", "siem.subscription_deleted"]
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize("kwargs, field", [
    ({"url": "http://siem.example/x"}, "url"),
    ({"url": ""}, "url"),
    ({"url": "https://" + "a" * 500 + ".example/"}, "url"),
    ({"url": "http://127.0.0.1:9/h", "description": "x" * 201}, "description"),
    ({"url": "http://127.0.0.1:9/h", "event_prefixes": ["Record!"]}, "event_prefixes"),
    ({"url": "http://127.0.0.1:9/h", "event_prefixes": [f"p{i}." for i in range(21)]}, "event_prefixes"),
])
def test_invalid_input_is_a_field_error(tenant, admin, loopback_ok, kwargs, field):
    with pytest.raises(ValidationError) as info:
        actions.create_subscription(actor=Actor.for_user(admin), **kwargs)
    assert field in info.value.message_dict


def test_only_audit_viewers_manage_subscriptions(tenant, editor, viewer, subscription):
    for user in (editor, viewer):
        with pytest.raises(PermissionDenied):
            actions.create_subscription(actor=Actor.for_user(user), url="http://127.0.0.1:9/h")
        with pytest.raises(PermissionDenied):
            actions.delete_subscription(actor=Actor.for_user(user), subscription_id=subscription.pk)
    assert AuditEvent.objects.filter(action="access.denied").count() == 4


# --- Console ---------------------------------------------------------------------------------

def test_console_create_shows_secret_once(tenant, admin, console_client, loopback_ok):
    client = console_client(admin)
    prefix = client.tenant_prefix
    response = client.post(f"{prefix}/settings/siem/new/", {"url": "http://127.0.0.1:9/hook",
                                                            "description": XSS, "event_prefixes": "record."})
    assert response.status_code == 200
    sub = WebhookSubscription.objects.get()
    html = response.content.decode()
    assert sub.secret in html and "no-store" in response.get("Cache-Control", "") + "no-store"
    detail = client.get(f"{prefix}/settings/siem/{sub.pk}/").content.decode()
    assert sub.secret not in detail and "127.0.0.1:9/hook" in detail
    assert_escaped(detail)
    assert_escaped(client.get(f"{prefix}/settings/siem/").content.decode())


def test_console_refuses_private_url_with_field_error(tenant, admin, console_client, settings):
    settings.MAMORI_WEBHOOK_ALLOW_HTTP_LOOPBACK = False
    client = console_client(admin)
    response = client.post(f"{client.tenant_prefix}/settings/siem/new/", {"url": "https://169.254.169.254/"})
    assert response.status_code == 200
    assert 'class="field has-error"' in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_console_disable_enable_test_delete(tenant, admin, console_client, subscription):
    client = console_client(admin)
    base = f"{client.tenant_prefix}/settings/siem/{subscription.pk}"
    assert client.post(f"{base}/disable/").status_code == 302
    subscription.refresh_from_db()
    assert not subscription.active
    assert "Enable" in client.get(f"{base}/").content.decode() or "有効" in client.get(f"{base}/").content.decode()
    assert client.post(f"{base}/enable/").status_code == 302
    subscription.refresh_from_db()
    assert subscription.active
    assert client.post(f"{base}/test/").status_code == 302
    assert client.post(f"{base}/delete/").status_code == 302
    assert not WebhookSubscription.objects.exists()


def test_console_other_tenant_admin_gets_404(tenant, subscription, outsider, console_client):
    client = console_client(outsider)
    for suffix in ("", "test/", "disable/", "enable/", "delete/"):
        url = f"/t/globex/settings/siem/{subscription.pk}/{suffix}"
        assert client.post(url).status_code == 404
    assert WebhookSubscription.objects.get().active


# --- API ------------------------------------------------------------------------------------

@pytest.fixture
def admin_api(admin, api_token):
    return ApiClient(api_token(admin))


def test_api_create_returns_secret_once(tenant, admin_api, loopback_ok):
    response = admin_api.post("/siem/subscriptions", {"url": "http://127.0.0.1:9/h", "event_prefixes": ["auth."]})
    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["secret"]) == 64 and body["event_prefixes"] == ["auth."]
    listed = admin_api.get("/siem/subscriptions").json()["items"]
    assert [s["id"] for s in listed] == [body["id"]] and "secret" not in listed[0]
    assert "secret" not in admin_api.get(f"/siem/subscriptions/{body['id']}").json()


def test_api_invalid_url_is_422_with_field(tenant, admin_api, settings):
    settings.MAMORI_WEBHOOK_ALLOW_HTTP_LOOPBACK = False
    response = admin_api.post("/siem/subscriptions", {"url": "https://10.0.0.1/hook"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["url"]


def test_api_manage_and_delivery_log(tenant, admin_api, subscription):
    base = f"/siem/subscriptions/{subscription.pk}"
    assert admin_api.patch(base, {"description": "Sentinel"}).json()["description"] == "Sentinel"
    assert admin_api.post(f"{base}/disable").json()["active"] is False
    assert admin_api.post(f"{base}/enable").json()["active"] is True
    assert admin_api.post(f"{base}/test").status_code == 202
    assert admin_api.get(f"{base}/deliveries").json() == {"items": []}
    assert admin_api.delete(base).status_code == 204
    assert admin_api.get(base).status_code == 404


def test_api_other_tenant_gets_404_and_viewer_403(tenant, subscription, outsider, viewer, api_token):
    outsider_api = ApiClient(api_token(outsider))
    base = f"/siem/subscriptions/{subscription.pk}"
    assert outsider_api.get(base).status_code == 404
    assert outsider_api.delete(base).status_code == 404
    assert outsider_api.post(f"{base}/disable").status_code == 404
    assert outsider_api.get("/siem/subscriptions").json() == {"items": []}
    assert ApiClient(api_token(viewer)).get("/siem/subscriptions").status_code == 403
    assert WebhookSubscription.objects.get().active
