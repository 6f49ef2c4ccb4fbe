"""Operation log search through the API: filters, keyset pages, 422 field errors, detail, own sign-ins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mamori.audit.models import AuditEvent
from tests.api.conftest import ApiClient

BASE = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
def events(acme):
    rows = []
    for n in range(450):
        actor = acme.admin if n % 2 else acme.editor
        rows.append(AuditEvent(
            tenant=acme.tenant, occurred_at=BASE + timedelta(minutes=10 * (n // 2)),  # pairs share a time
            action=("record.created", "record.updated", "label.deleted")[n % 3],
            actor_type="user", actor_id=str(actor.pk), actor_label=actor.email,
            target_type="records.record", target_id=str(n), target_label=f"Invoice {n}",
            ip=f"198.51.100.{n % 40}", before={"title": "a"}, after={"title": f"b{n}"},
        ))
    AuditEvent.objects.bulk_create(rows)
    return AuditEvent.objects.filter(target_label__startswith="Invoice ")


def walk(api, **params) -> list[int]:
    seen: list[int] = []
    cursor = ""
    for _ in range(100):
        query = {**params, "limit": 37, **({"before": cursor} if cursor else {})}
        response = api.get("/audit/events", params=query)
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [e["id"] for e in body["items"]]
        cursor = body["next_before"]
        if not cursor:
            return seen
    raise AssertionError("pagination does not end")


def expected(qs) -> list[int]:
    return list(qs.order_by("-occurred_at", "-id").values_list("id", flat=True))


def test_keyset_pages_cover_every_match_once_with_equal_times(acme, events):
    assert walk(acme.admin_api) == expected(AuditEvent.objects.all())


def test_filters(acme, events):
    api = acme.admin_api
    admin_id = str(acme.admin.pk)
    assert walk(api, actor=admin_id) == expected(AuditEvent.objects.filter(actor_id=admin_id))
    assert walk(api, actor="editor@acme") == expected(AuditEvent.objects.filter(actor_label__icontains="editor@acme"))
    assert walk(api, action="record.") == expected(AuditEvent.objects.filter(action__startswith="record."))
    assert walk(api, action="label.deleted") == expected(AuditEvent.objects.filter(action="label.deleted"))
    assert walk(api, target_type="records.record", target_id="17") == expected(events.filter(target_id="17"))
    assert walk(api, text="invoice 12") == expected(AuditEvent.objects.filter(target_label__icontains="invoice 12"))
    assert walk(api, ip="198.51.100.3") == expected(events.filter(ip="198.51.100.3"))
    net = walk(api, ip="198.51.100.0/30")
    assert sorted(net) == sorted(e.pk for e in events if int(e.ip.rsplit(".", 1)[1]) < 4)
    since, until = "2026-03-01T10:00:00%2B09:00", "2026-03-01T03:00:00Z"  # 01:00Z to 03:00Z (fixture only)
    got = walk(api, since=since, until=until)
    assert got == expected(events.filter(occurred_at__gte=BASE + timedelta(hours=1),
                                         occurred_at__lt=BASE + timedelta(hours=3))) and got
    combined = walk(api, actor=admin_id, action="record.", since="2026-03-01T00:00:00Z", until="2026-04-01T00:00:00Z")
    assert combined == expected(events.filter(actor_id=admin_id, action__startswith="record."))


def test_times_are_utc_and_detail_has_changes(acme, events):
    item = acme.admin_api.get("/audit/events", params={"limit": 1}).json()["items"][0]
    assert item["occurred_at"].endswith("Z")
    event = events.order_by("id").first()
    detail = acme.admin_api.get(f"/audit/events/{event.pk}").json()
    assert detail["changes"] == [{"field": "title", "before": "a", "after": "b0"}]
    assert detail["occurred_at"] == "2026-03-01T00:00:00Z"


@pytest.mark.parametrize("params, field", [
    ({"since": "2026-03-05T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until"),
    ({"ip": "198.51.100.0/40"}, "ip"),
    ({"ip": "300.1.1.1"}, "ip"),
    ({"since": "2026-02-30T00:00:00Z"}, "since"),
    ({"until": "tomorrow"}, "until"),
    ({"text": "x" * 201}, "text"),
    ({"target": "x" * 201}, "target"),
    ({"before": "garbage!"}, "before"),
    ({"limit": 1000}, "limit"),
])
def test_invalid_filters_are_422_with_field_names(acme, params, field):
    response = acme.admin_api.get("/audit/events", params=params)
    assert response.status_code == 422, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]]


def test_other_tenant_never_sees_acme_events(acme, events, outsider_api):
    items = outsider_api.get("/audit/events", params={"text": "Invoice", "limit": 100}).json()["items"]
    assert items == []
    assert outsider_api.get(f"/audit/events/{events.first().pk}").status_code == 404
    assert acme.viewer_api.get(f"/audit/events/{events.first().pk}").status_code in (403, 404)


def test_my_sign_ins_for_any_role(acme, api_token):
    from django.test import Client

    Client().post("/t/acme/accounts/login/", {"login": acme.viewer.email, "password": "nope"})
    Client().post("/t/acme/accounts/login/", {"login": acme.admin.email, "password": "nope"})
    body = acme.viewer_api.get("/audit/my-sign-ins").json()
    assert [e["action"] for e in body["items"]] == ["auth.login_failed"]
    assert body["items"][0]["actor_label"] == acme.viewer.email
    assert ApiClient(api_token(acme.viewer)).get("/audit/my-sign-ins", params={"before": "zz!"}).status_code == 422
