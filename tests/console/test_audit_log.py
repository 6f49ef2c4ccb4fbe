"""Operation log: newest first, keyset pagination, filters, event detail."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from mamori.audit.models import AuditEvent
from mamori.audit.queries import PAGE_SIZE as AUDIT_PAGE_SIZE
from mamori.records import actions
from tests.console.conftest import XSS, as_actor, assert_escaped


def _ids_on_page(html: str) -> list[int]:
    import re

    return [int(x) for x in re.findall(r'href="/t/acme/audit/(\d+)/"', html)]


def test_admin_sees_newest_first_with_tenant_offset(admin_client, record):
    response = admin_client.get(f"{admin_client.tenant_prefix}/audit/")
    html = response.content.decode()
    assert response.status_code == 200
    ids = _ids_on_page(html)
    expected = list(AuditEvent.objects.order_by("-occurred_at", "-id").values_list("id", flat=True))
    assert ids == expected
    assert "+09:00" in html
    assert "Record created" in html or "レコードを作成" in html


def test_keyset_pagination_walks_every_event_once(admin_client, admin):
    now = timezone.now()
    for n in range(AUDIT_PAGE_SIZE + 7):
        AuditEvent.objects.create(occurred_at=now - timedelta(seconds=n // 3), action="record.updated",
                                  actor_type="user", actor_label=admin.email, target_label=f"r{n}")
    seen: list[int] = []
    url = f"{admin_client.tenant_prefix}/audit/"
    while url:
        html = admin_client.get(url).content.decode()
        seen += _ids_on_page(html)
        marker = 'rel="next"'
        if marker in html:
            start = html.rindex('href="', 0, html.index(marker)) + 6
            url = admin_client.tenant_prefix + "/audit/" + html[start:html.index('"', start)].replace("&amp;", "&")
        else:
            url = None
    expected = list(AuditEvent.objects.order_by("-occurred_at", "-id").values_list("id", flat=True))
    assert seen == expected


def test_filters_by_action_and_actor(admin_client, record, editor):
    prefix = admin_client.tenant_prefix
    html = admin_client.get(f"{prefix}/audit/?action=record.created").content.decode()
    ids = _ids_on_page(html)
    assert ids and set(AuditEvent.objects.filter(pk__in=ids).values_list("action", flat=True)) == {"record.created"}
    html = admin_client.get(f"{prefix}/audit/?actor=editor@").content.decode()
    assert set(AuditEvent.objects.filter(pk__in=_ids_on_page(html)).values_list("actor_label", flat=True)) <= {
        editor.email}
    assert admin_client.get(f"{prefix}/audit/?action=nope&before=abc").status_code == 200


def test_event_detail_pretty_prints_escaped_json(admin_client, admin, workspace):
    record = actions.create_record(actor=as_actor(admin), workspace_id=workspace.pk, title=XSS,
                                   properties={"k": XSS})
    event = AuditEvent.objects.get(action="record.created", target_id=str(record.pk))
    response = admin_client.get(f"{admin_client.tenant_prefix}/audit/{event.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<table class="diff">' in html and '<th scope="row" class="mono">title</th>' in html
    assert_escaped(html)
    assert_escaped(admin_client.get(f"{admin_client.tenant_prefix}/audit/").content.decode())


def test_roles_without_audit_view_get_403(editor_client, viewer_client, record):
    event = AuditEvent.objects.first()
    for client in (editor_client, viewer_client):
        assert client.get(f"{client.tenant_prefix}/audit/").status_code == 403
        assert client.get(f"{client.tenant_prefix}/audit/{event.pk}/").status_code == 403


def test_other_tenant_event_ids_are_404_under_own_prefix(outsider_client, record):
    event = AuditEvent.objects.filter(action="record.created").get()
    assert outsider_client.get(f"{outsider_client.tenant_prefix}/audit/{event.pk}/").status_code == 404
    html = outsider_client.get(f"{outsider_client.tenant_prefix}/audit/").content.decode()
    assert "Quarterly plan" not in html
