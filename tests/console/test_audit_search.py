"""Operation log search in the console: every filter, keyset pages, field errors, diff, my sign-ins."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from mamori.audit.models import AuditEvent
from tests.console.conftest import XSS, assert_escaped

BASE = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # 09:00 in Asia/Tokyo


def ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'href="/t/acme/audit/(\d+)/"', html)]


@pytest.fixture
def events(tenant, admin, editor):
    """600 events over 6 days: two actors, three actions, two networks."""
    rows = []
    for n in range(600):
        actor = admin if n % 2 else editor
        rows.append(AuditEvent(
            tenant=tenant, occurred_at=BASE + timedelta(minutes=15 * n) - timedelta(seconds=n % 3),
            action=("record.created", "record.updated", "label.deleted")[n % 3],
            actor_type="user", actor_id=str(actor.pk), actor_label=actor.email,
            target_type="records.record" if n % 3 != 2 else "records.label", target_id=str(n),
            target_label=f"Invoice {n}" if n % 5 else f"Contract {n}",
            ip=f"192.0.2.{n % 50}" if n % 4 else f"2001:db8::{n % 9 + 1}",
            before={"title": f"old {n}"}, after={"title": f"new {n}"},
        ))
    AuditEvent.objects.bulk_create(rows)
    return AuditEvent.objects.filter(occurred_at__gte=BASE)


def search(client, **params) -> tuple[int, str]:
    response = client.get(f"{client.tenant_prefix}/audit/", params)
    return response.status_code, response.content.decode()


def all_pages(client, **params) -> list[int]:
    seen: list[int] = []
    url = f"{client.tenant_prefix}/audit/"
    query = dict(params)
    for _ in range(100):
        html = client.get(url, query).content.decode()
        seen += ids(html)
        match = re.search(r'<a href="\?([^"]*)" rel="next">', html)
        if not match:
            return seen
        query = dict(pair.split("=", 1) for pair in match.group(1).replace("&amp;", "&").split("&"))
        from urllib.parse import unquote_plus

        query = {k: unquote_plus(v) for k, v in query.items()}
    raise AssertionError("pagination does not end")


def expected(qs) -> list[int]:
    return list(qs.order_by("-occurred_at", "-id").values_list("id", flat=True))


def test_actor_by_id_and_by_email_text(admin_client, events, admin, editor):
    assert all_pages(admin_client, actor=str(admin.pk)) == expected(events.filter(actor_id=str(admin.pk)))
    assert all_pages(admin_client, actor="editor@") == expected(
        AuditEvent.objects.filter(actor_label__icontains="editor@"))


def test_action_exact_and_prefix(admin_client, events):
    assert all_pages(admin_client, action="label.deleted") == expected(events.filter(action="label.deleted"))
    prefix = expected(AuditEvent.objects.filter(action__startswith="record."))
    assert all_pages(admin_client, action="record.") == prefix
    assert all_pages(admin_client, action="record.*") == prefix


def test_target_filters_and_free_text(admin_client, events):
    assert all_pages(admin_client, target_type="records.label", target_id="5") == expected(
        events.filter(target_type="records.label", target_id="5"))
    assert all_pages(admin_client, target="contract") == expected(events.filter(target_label__icontains="contract"))
    text = expected(AuditEvent.objects.filter(target_label__icontains="invoice 1"))
    assert all_pages(admin_client, text="Invoice 1") == text
    assert all_pages(admin_client, text="label.del") == expected(AuditEvent.objects.filter(action="label.deleted"))


def test_time_range_is_read_in_the_tenant_time_zone(admin_client, events):
    # 2026-03-02 09:00 to 12:00 in Tokyo is 00:00 to 03:00 UTC.
    got = all_pages(admin_client, since="2026-03-02T09:00", until="2026-03-02T12:00")
    start, end = datetime(2026, 3, 2, 0, tzinfo=UTC), datetime(2026, 3, 2, 3, tzinfo=UTC)
    assert got == expected(events.filter(occurred_at__gte=start, occurred_at__lt=end)) and got
    status, html = search(admin_client, since="2026-03-02T09:00")
    assert "+09:00" in html and 'value="2026-03-02T09:00"' in html


def test_ip_exact_and_cidr(admin_client, events):
    assert all_pages(admin_client, ip="192.0.2.7") == expected(events.filter(ip="192.0.2.7"))
    in_net = [e.pk for e in events if e.ip and e.ip.startswith("192.0.2.") and int(e.ip.rsplit(".", 1)[1]) < 8]
    got = all_pages(admin_client, ip="192.0.2.0/29")
    assert sorted(got) == sorted(in_net) and got
    v6 = all_pages(admin_client, ip="2001:db8::/120")
    assert set(v6) == {e.pk for e in events if e.ip and ":" in e.ip}


def test_combined_filters_page_through_every_match_once(admin_client, events, admin):
    params = {"actor": str(admin.pk), "action": "record.", "since": "2026-03-01T09:00", "until": "2026-03-06T09:00"}
    got = all_pages(admin_client, **params)
    want = expected(events.filter(actor_id=str(admin.pk), action__startswith="record.",
                                  occurred_at__lt=datetime(2026, 3, 6, tzinfo=UTC)))
    assert got == want and len(got) > 50  # more than one page


@pytest.mark.parametrize("params, field", [
    ({"since": "2026-03-05T00:00", "until": "2026-03-01T00:00"}, "until"),
    ({"since": "2026-03-05T00:00", "until": "2026-03-05T00:00"}, "until"),
    ({"ip": "192.0.2.0/33"}, "ip"),
    ({"ip": "not-an-ip"}, "ip"),
    ({"since": "2026-13-45"}, "since"),
    ({"until": "yesterday"}, "until"),
    ({"since": "0001-01-01T00:00"}, "since"),
    ({"text": "x" * 201}, "text"),
    ({"actor": "a" * 255}, "actor"),
    ({"action": "a" * 81}, "action"),
    ({"text": "nul\x00byte"}, "text"),
    ({"before": "garbage!"}, "before"),
])
def test_invalid_filters_are_field_errors_not_500(admin_client, events, params, field):
    status, html = search(admin_client, **params)
    assert status == 200
    assert 'class="error" role="alert"' in html or ('class="errors"' in html and field == "before")
    assert ids(html) == []


def test_detail_shows_escaped_field_diff(admin_client, tenant, admin):
    event = AuditEvent.objects.create(tenant=tenant, occurred_at=BASE, action="record.updated", actor_type="user",
                                      actor_label=admin.email, before={"title": XSS, "n": 1},
                                      after={"title": "safe", "n": 1, "tags": ["a"]})
    html = admin_client.get(f"{admin_client.tenant_prefix}/audit/{event.pk}/").content.decode()
    assert_escaped(html)
    rows = re.findall(r'<tr( class="changed")?><th scope="row" class="mono">(\w+)</th>', html)
    assert [(bool(changed), name) for changed, name in rows] == [(False, "n"), (True, "tags"), (True, "title")]
    assert "2026-03-01 09:00:00" in html and "+09:00" in html


def test_other_tenants_events_are_never_listed(outsider_client, events):
    html = outsider_client.get("/t/globex/audit/", {"text": "Invoice"}).content.decode()
    listed = {int(x) for x in re.findall(r'href="/t/globex/audit/(\d+)/"', html)}
    assert "Invoice 1" not in html and not listed & set(events.values_list("id", flat=True))
    assert outsider_client.get(f"/t/globex/audit/{events.first().pk}/").status_code == 404


# --- My sign-ins ------------------------------------------------------------------------------

def test_every_role_sees_only_their_own_sign_ins(tenant, viewer, admin, console_client):
    from django.test import Client

    Client().post("/t/acme/accounts/login/", {"login": viewer.email, "password": "wrong password"},
                  HTTP_USER_AGENT="Evil/1.0")
    Client().post("/t/acme/accounts/login/", {"login": admin.email, "password": "wrong password"})
    client = console_client(viewer)
    response = client.get("/t/acme/me/sign-ins/")
    html = response.content.decode()
    assert response.status_code == 200
    events = AuditEvent.objects.filter(action__in=["auth.login", "auth.login_failed"])
    mine = [e for e in events if e.actor_id == str(viewer.pk) or e.actor_label == viewer.email]
    assert len(mine) == 2 and html.count("<tr>") == 3  # header + success + failure
    assert "Evil/1.0" in html
    assert admin.email not in html.replace(f"{viewer.email}", "")
    nav = client.get("/t/acme/").content.decode()
    assert 'href="/t/acme/me/sign-ins/"' in nav


def test_my_sign_ins_bad_cursor_falls_back_to_first_page(tenant, viewer, console_client):
    client = console_client(viewer)
    assert client.get("/t/acme/me/sign-ins/", {"before": "%%%"}).status_code == 200
