"""Per-tenant IP allowlist (issue 4, item 2): saving, enforcement on console and API, audit."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone, translation

from mamori.access import allowlist
from mamori.access.actions_allowlist import save_allowlist
from mamori.access.allowlist_models import IpAllowlistEntry, IpAllowlistSettings
from mamori.access.errors import PermissionDenied
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.tenancy.context import apply_db_tenant, current_tenant

P = "/t/acme"
OFFICE = "203.0.113.0/24"
INSIDE = "203.0.113.10"
OUTSIDE = "198.51.100.20"


def _restore():
    tenant = current_tenant()
    if tenant is not None:
        apply_db_tenant(tenant.pk)


def _enable(admin, entries=((OFFICE, "Tokyo office"),), *, enabled=True, current_ip=INSIDE):
    return save_allowlist(actor=Actor.for_user(admin), enabled=enabled, entries=list(entries),
                          current_ip=current_ip, confirm_lockout=False)


def _blocked_events():
    return list(AuditEvent.objects.filter(action="access.ip_blocked").order_by("id"))


# --- saving -----------------------------------------------------------------------------------

def test_save_normalises_and_audits_a_diff(admin):
    _enable(admin, [("203.0.113.7/32", "a"), ("2001:DB8::/32", "VPN")], current_ip="203.0.113.7")
    assert sorted(IpAllowlistEntry.objects.values_list("cidr", flat=True)) == ["2001:db8::/32", "203.0.113.7/32"]
    first = AuditEvent.objects.filter(action="security.ip_allowlist_updated").latest("id")
    assert first.after["enabled"] is True and first.before["enabled"] is False
    assert sorted(first.after["entries_added"]) == ["2001:db8::/32 (VPN)", "203.0.113.7/32 (a)"]
    version = IpAllowlistSettings.objects.get().version

    save_allowlist(actor=Actor.for_user(admin), enabled=True, current_ip="203.0.113.7",
                   entries=[("203.0.113.7", "a changed"), ("192.0.2.0/24", "")])
    second = AuditEvent.objects.filter(action="security.ip_allowlist_updated").latest("id")
    assert second.before["entries_removed"] == ["2001:db8::/32 (VPN)"]
    assert second.after["entries_added"] == ["192.0.2.0/24"]
    assert second.before["comments"] == {"203.0.113.7/32": "a"}
    assert second.after["comments"] == {"203.0.113.7/32": "a changed"}
    assert "enabled" not in second.after
    assert IpAllowlistSettings.objects.get().version != version


def test_unchanged_save_writes_nothing(admin):
    _enable(admin)
    count = AuditEvent.objects.count()
    _enable(admin)
    assert AuditEvent.objects.count() == count


def test_malformed_entries_give_errors_per_line_and_save_nothing(admin):
    _enable(admin)
    with pytest.raises(ValidationError) as exc, translation.override("en"):
        save_allowlist(actor=Actor.for_user(admin), enabled=True, current_ip=INSIDE, label="line",
                       positions=[1, 3, 4, 7],
                       entries=[(OFFICE, ""), ("300.0.0.1", ""), ("10.0.0.1/8", ""), ("203.0.113.0/24", "dup")])
    messages = exc.value.message_dict["entries"]
    assert len(messages) == 3
    assert messages[0].startswith("Line 3:") and "300.0.0.1" in messages[0]
    assert messages[1].startswith("Line 4:") and "10.0.0.0/8" in messages[1]
    assert messages[2].startswith("Line 7:") and "line 1" in messages[2]
    assert list(IpAllowlistEntry.objects.values_list("cidr", flat=True)) == [OFFICE]


def test_an_enforced_empty_list_cannot_be_saved(admin):
    with pytest.raises(ValidationError) as exc:
        save_allowlist(actor=Actor.for_user(admin), enabled=True, entries=[], current_ip=INSIDE,
                       confirm_lockout=True)
    assert "entries" in exc.value.message_dict
    # Disabled and empty is fine (nothing is enforced).
    save_allowlist(actor=Actor.for_user(admin), enabled=False, entries=[], current_ip=INSIDE)
    assert IpAllowlistSettings.objects.get().enabled is False


def test_locking_oneself_out_needs_confirmation(admin):
    with pytest.raises(ValidationError) as exc:
        save_allowlist(actor=Actor.for_user(admin), enabled=True, entries=[(OFFICE, "")], current_ip=OUTSIDE)
    assert OUTSIDE in exc.value.message_dict["confirm_lockout"][0]
    assert not IpAllowlistSettings.objects.exists()
    with pytest.raises(ValidationError):  # unknown own address: also confirm
        save_allowlist(actor=Actor.for_user(admin), enabled=True, entries=[(OFFICE, "")], current_ip=None)
    save_allowlist(actor=Actor.for_user(admin), enabled=True, entries=[(OFFICE, "")], current_ip=OUTSIDE,
                   confirm_lockout=True)
    event = AuditEvent.objects.filter(action="security.ip_allowlist_updated").latest("id")
    assert event.after["lockout_confirmed"] is True and event.after["admin_ip"] == OUTSIDE


def test_only_security_managers_may_save(editor):
    with pytest.raises(PermissionDenied):
        save_allowlist(actor=Actor.for_user(editor), enabled=False, entries=[(OFFICE, "")], current_ip=INSIDE)
    assert AuditEvent.objects.filter(action="access.denied").exists()


# --- console enforcement --------------------------------------------------------------------

def test_console_blocked_and_allowed(admin, console_client):
    client = console_client(admin)
    _enable(admin)
    allowed = client.get(f"{P}/", REMOTE_ADDR=INSIDE)
    _restore()
    assert allowed.status_code == 200
    blocked = client.get(f"{P}/", REMOTE_ADDR=OUTSIDE)
    _restore()
    assert blocked.status_code == 403
    html = blocked.content.decode()
    assert OUTSIDE in html and "Acme" in html
    assert blocked["Cache-Control"] == "no-store"
    event = _blocked_events()[-1]
    assert event.after["ip"] == OUTSIDE and event.after["surface"] == "console" and event.ip == OUTSIDE


def test_sign_in_page_is_covered_before_authentication(admin, tenant):
    _enable(admin)
    client = Client()
    assert client.get(f"{P}/accounts/login/", REMOTE_ADDR=INSIDE).status_code == 200
    _restore()
    response = client.post(f"{P}/accounts/login/", {"login": admin.email, "password": "correct horse battery staple"},
                           REMOTE_ADDR=OUTSIDE)
    _restore()
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="auth.login", occurred_at__gte=timezone.now() - timedelta(seconds=5),
                                         ip=OUTSIDE).exists()


def test_blocked_page_follows_the_language(admin):
    _enable(admin)
    ja = Client().get(f"{P}/accounts/login/", REMOTE_ADDR=OUTSIDE)  # tenant language: ja
    _restore()
    assert ja.status_code == 403 and 'lang="ja"' in ja.content.decode()
    en = Client(cookies=None)
    en.cookies["django_language"] = "en"
    response = en.get(f"{P}/accounts/login/", REMOTE_ADDR="198.51.100.21")
    _restore()
    assert 'lang="en"' in response.content.decode()
    assert "Access from this network is not allowed" in response.content.decode()


def test_other_tenants_and_health_and_static_are_unaffected(admin, outsider):
    _enable(admin)
    client = Client()
    assert client.get("/t/globex/accounts/login/", REMOTE_ADDR=OUTSIDE).status_code == 200
    _restore()
    assert client.get("/healthz", REMOTE_ADDR=OUTSIDE).status_code == 200
    _restore()
    assert client.get("/static/mamori/mamori.css", REMOTE_ADDR=OUTSIDE).status_code == 200
    _restore()


def test_disabled_list_allows_everyone(admin):
    _enable(admin, enabled=False)
    assert Client().get(f"{P}/accounts/login/", REMOTE_ADDR=OUTSIDE).status_code == 200
    _restore()


def test_ipv6_and_mapped_clients(admin):
    save_allowlist(actor=Actor.for_user(admin), enabled=True, current_ip=INSIDE,
                   entries=[(OFFICE, ""), ("2001:db8:42::/48", "")])
    client = Client()
    for address, status in (("2001:db8:42::1", 200), ("2001:db8:43::1", 403),
                            ("::ffff:203.0.113.77", 200), ("::ffff:198.51.100.1", 403)):
        assert client.get(f"{P}/accounts/login/", REMOTE_ADDR=address).status_code == status, address
        _restore()


def test_trusted_proxy_honoured_and_forged_header_ignored(admin, settings):
    _enable(admin)
    client = Client()
    # No trusted proxy configured: a forged header from the outside changes nothing.
    assert client.get(f"{P}/accounts/login/", REMOTE_ADDR=OUTSIDE,
                      HTTP_X_FORWARDED_FOR=INSIDE).status_code == 403
    _restore()
    settings.MAMORI_TRUSTED_PROXIES = ["10.9.0.0/16"]
    # Through the trusted proxy: the forwarded client address decides.
    assert client.get(f"{P}/accounts/login/", REMOTE_ADDR="10.9.0.2",
                      HTTP_X_FORWARDED_FOR=INSIDE).status_code == 200
    _restore()
    assert client.get(f"{P}/accounts/login/", REMOTE_ADDR="10.9.0.2",
                      HTTP_X_FORWARDED_FOR=f"{INSIDE}, {OUTSIDE}").status_code == 403  # forged left part
    _restore()
    # Still an untrusted peer: forging a listed address does not help.
    assert client.get(f"{P}/accounts/login/", REMOTE_ADDR=OUTSIDE,
                      HTTP_X_FORWARDED_FOR=INSIDE).status_code == 403
    _restore()
    # Garbage from the proxy: unknown address, refused (no 500).
    response = client.get(f"{P}/accounts/login/", REMOTE_ADDR="10.9.0.2", HTTP_X_FORWARDED_FOR="garbage")
    _restore()
    assert response.status_code == 403
    assert _blocked_events()[-1].after["ip"] is None


def test_refusals_are_deduplicated_per_address(admin):
    _enable(admin)
    client = Client()
    for _ in range(5):
        assert client.get(f"{P}/accounts/login/", REMOTE_ADDR=OUTSIDE).status_code == 403
        _restore()
    assert client.get(f"{P}/accounts/login/", REMOTE_ADDR="198.51.100.99").status_code == 403
    _restore()
    assert [e.after["ip"] for e in _blocked_events()] == [OUTSIDE, "198.51.100.99"]
    assert _blocked_events()[0].after["next_event_for_this_address_after_seconds"] == allowlist.BLOCK_EVENT_WINDOW


def test_a_change_takes_effect_at_once(admin):
    _enable(admin)
    client = Client()
    assert client.get(f"{P}/accounts/login/", REMOTE_ADDR=OUTSIDE).status_code == 403
    _restore()
    save_allowlist(actor=Actor.for_user(admin), enabled=True, current_ip=INSIDE,
                   entries=[(OFFICE, ""), (OUTSIDE, "home")])
    assert client.get(f"{P}/accounts/login/", REMOTE_ADDR=OUTSIDE).status_code == 200
    _restore()


def test_stale_cache_never_refuses_a_listed_address(admin, tenant):
    """Another worker's cached state may be old; a refusal is confirmed against the database."""
    _enable(admin)
    from django.core.cache import cache

    cache.set(allowlist._STATE_KEY.format(tenant.pk), (True, "stale-version"), 60)
    allowlist._COMPILED[tenant.pk] = ("stale-version", allowlist.CompiledAllowlist([]))
    assert Client().get(f"{P}/accounts/login/", REMOTE_ADDR=INSIDE).status_code == 200
    _restore()


# --- API enforcement ------------------------------------------------------------------------

def test_api_blocked_with_a_problem_and_allowed(admin, api_token):
    raw = api_token(admin)
    _enable(admin)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    ok = client.get("/api/v1/me", REMOTE_ADDR=INSIDE)
    _restore()
    assert ok.status_code == 200
    refused = client.get("/api/v1/me", REMOTE_ADDR=OUTSIDE, HTTP_ACCEPT_LANGUAGE="en")
    _restore()
    assert refused.status_code == 403
    assert refused["Content-Type"].startswith("application/problem+json")
    body = json.loads(refused.content)
    assert body["status"] == 403 and OUTSIDE in body["detail"] and body["instance"] == "/api/v1/me"
    event = _blocked_events()[-1]
    assert event.after["surface"] == "api" and event.actor_type == "api_token"
    ja = client.get("/api/v1/me", REMOTE_ADDR="198.51.100.30", HTTP_ACCEPT_LANGUAGE="ja")
    _restore()
    assert json.loads(ja.content)["title"] != "Forbidden"


def test_api_without_a_valid_token_is_not_a_tenant_request(admin):
    _enable(admin)
    response = Client().get("/api/v1/me", REMOTE_ADDR=OUTSIDE)
    _restore()
    assert response.status_code == 401


def test_api_get_and_put(admin, api_token):
    raw = api_token(admin)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    got = client.get("/api/v1/security/ip-allowlist", REMOTE_ADDR=INSIDE)
    _restore()
    assert got.status_code == 200
    assert json.loads(got.content) | {} == {"enabled": False, "entries": [], "your_ip": INSIDE,
                                            "your_ip_listed": False, "override": None, "updated_at": None}

    def put(payload, addr=INSIDE):
        response = client.put("/api/v1/security/ip-allowlist", data=json.dumps(payload),
                              content_type="application/json", REMOTE_ADDR=addr, HTTP_ACCEPT_LANGUAGE="en")
        _restore()
        return response

    bad = put({"enabled": True, "entries": [{"cidr": OFFICE}, {"cidr": "nope"}, {"cidr": "10.0.0.1/8"}]})
    assert bad.status_code == 422
    fields = [e["field"] for e in json.loads(bad.content)["errors"]]
    assert fields == ["entries.1.cidr", "entries.2.cidr"]
    assert not IpAllowlistEntry.objects.exists()

    lockout = put({"enabled": True, "entries": [{"cidr": OFFICE}]}, addr=OUTSIDE)
    assert lockout.status_code == 422
    assert json.loads(lockout.content)["errors"][0]["field"] == "confirm_lockout"

    saved = put({"enabled": True, "entries": [{"cidr": OFFICE, "comment": "Tokyo"}, {"cidr": "2001:DB8::/32"}]})
    assert saved.status_code == 200, saved.content
    body = json.loads(saved.content)
    assert body["enabled"] and body["your_ip_listed"]
    assert [e["cidr"] for e in body["entries"]] == [OFFICE, "2001:db8::/32"]

    # Garbage bodies: 422, never 500.
    for payload in ({"enabled": "x", "entries": []}, {"entries": "1.2.3.4"}, {"enabled": True, "entries": [{"cidr": "\x00"}]},
                    {"enabled": True, "entries": [{"cidr": 5}]}, [1, 2]):
        assert put(payload).status_code == 422, payload


def test_api_requires_the_security_permission(editor, api_token):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_token(editor)}")
    assert client.get("/api/v1/security/ip-allowlist").status_code == 403
    _restore()
    response = client.put("/api/v1/security/ip-allowlist", data=json.dumps({"enabled": False, "entries": []}),
                          content_type="application/json")
    _restore()
    assert response.status_code == 403


# --- console page --------------------------------------------------------------------------

def test_console_page_saves_with_line_errors_and_confirmation(admin, console_client):
    client = console_client(admin)
    url = f"{P}/settings/security/ip-allowlist/"
    page = client.get(url, REMOTE_ADDR=INSIDE, HTTP_ACCEPT_LANGUAGE="en")
    _restore()
    assert page.status_code == 200 and INSIDE in page.content.decode()

    bad = client.post(url, {"enabled": "on", "entries": f"{OFFICE} Tokyo\n\n999.1.1.1 bad\n"}, REMOTE_ADDR=INSIDE)
    _restore()
    assert bad.status_code == 200
    html = bad.content.decode()
    assert "entries-errors" in html and "999.1.1.1" in html
    assert not IpAllowlistEntry.objects.exists()

    # Not including the admin's own address: the page asks for confirmation.
    ask = client.post(url, {"enabled": "on", "entries": "192.0.2.0/24 other"}, REMOTE_ADDR=INSIDE)
    _restore()
    assert ask.status_code == 200 and 'id="lockout-confirmation"' in ask.content.decode()
    assert not IpAllowlistSettings.objects.exists()

    ok = client.post(url, {"enabled": "on", "entries": f"{OFFICE} Tokyo\n2001:db8::/32 VPN"}, REMOTE_ADDR=INSIDE)
    _restore()
    assert ok.status_code == 302
    assert IpAllowlistSettings.objects.get().enabled
    assert dict(IpAllowlistEntry.objects.values_list("cidr", "comment")) == {OFFICE: "Tokyo", "2001:db8::/32": "VPN"}

    confirmed = client.post(url, {"enabled": "on", "entries": "192.0.2.0/24 other", "confirm_lockout": "on"},
                            REMOTE_ADDR=INSIDE)
    _restore()
    assert confirmed.status_code == 302
    assert client.get(url, REMOTE_ADDR=INSIDE).status_code == 403  # as promised
    _restore()


def test_console_page_is_listed_and_needs_the_permission(admin, editor, console_client):
    html = console_client(admin).get(f"{P}/settings/security/").content.decode()
    _restore()
    assert "/settings/security/ip-allowlist/" in html
    assert console_client(editor).get(f"{P}/settings/security/ip-allowlist/").status_code == 403
    _restore()


def test_console_save_needs_reauthentication(admin, console_client):
    client = console_client(admin, reauthenticated=False)
    response = client.post(f"{P}/settings/security/ip-allowlist/", {"enabled": "", "entries": OFFICE})
    _restore()
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    assert not IpAllowlistEntry.objects.exists()


def test_garbage_input_never_gives_a_500(admin, console_client, settings):
    client = console_client(admin)
    _enable(admin)
    # A peer address that is no address (e.g. a misconfigured server): unknown, refused.
    response = Client().get(f"{P}/accounts/login/", REMOTE_ADDR="not-an-address")
    _restore()
    assert response.status_code == 403
    settings.MAMORI_TRUSTED_PROXIES = ["127.0.0.1"]
    for header in ("\x00", "1" * 5000, "[[[", "::ffff:", ",,,,", "203.0.113.10, ☃"):
        response = Client().get(f"{P}/accounts/login/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=header)
        _restore()
        assert response.status_code == 403, header
    settings.MAMORI_TRUSTED_PROXIES = []
    url = f"{P}/settings/security/ip-allowlist/"
    for text in ("\x00", "x" * 300_000, "１９２.０.２.１", "203.0.113.0/24 " + "c" * 500, "::/0\n::/0",
                 "203.0.113.0/24\r\n\t\v", "2001:db8::/32%eth0"):
        response = client.post(url, {"enabled": "on", "entries": text}, REMOTE_ADDR=INSIDE)
        _restore()
        assert response.status_code in (200, 302, 413), (text[:20], response.status_code)
