"""Records pages: list with filters (and its htmx partial), detail, create, edit, delete."""

from __future__ import annotations

from mamori.access.roles import Role
from mamori.audit.models import AuditEvent
from mamori.records import actions
from mamori.records.models import Record
from tests.console.conftest import XSS, XSS_ESCAPED, as_actor, assert_escaped


def _list(client, query=""):
    return client.get(f"{client.tenant_prefix}/records/{query}")


def test_list_shows_visible_records(admin_client, record):
    response = _list(admin_client)
    assert response.status_code == 200
    assert "Quarterly plan" in response.content.decode()


def test_list_filters_by_text_label_and_workspace(admin_client, record, workspace, admin):
    other = actions.create_record(actor=as_actor(admin), workspace_id=workspace.pk, title="Holiday rota",
                                  body="nothing urgent")
    label_id = record.labels.get().pk
    assert "Holiday rota" not in _list(admin_client, "?q=quarterly").content.decode()
    assert "Quarterly plan" in _list(admin_client, "?q=quarterly").content.decode()
    html = _list(admin_client, f"?label={label_id}").content.decode()
    assert "Quarterly plan" in html and "Holiday rota" not in html
    second = actions.create_workspace(actor=as_actor(admin), name="Second")
    html = _list(admin_client, f"?workspace={second.pk}").content.decode()
    assert "Quarterly plan" not in html and other.title not in html


def test_bad_filter_values_do_not_break_the_page(admin_client, record):
    for query in ["?label=abc", "?workspace=999999999999", "?label=-1&page=zz", "?q=" + "x" * 5000]:
        assert _list(admin_client, query).status_code == 200, query


def test_htmx_search_returns_only_the_results(admin_client, record):
    response = admin_client.get(f"{admin_client.tenant_prefix}/records/?q=quarterly",
                                HTTP_HX_REQUEST="true", HTTP_HX_TARGET="record-results")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "Quarterly plan" in html
    assert "HX-Request" in response["Vary"]
    full = _list(admin_client, "?q=quarterly").content.decode()
    assert 'hx-get="/t/acme/records/"' in full and 'hx-target="#record-results"' in full
    assert '<button type="submit">' in full  # works without JavaScript too


def test_detail_shows_everything_in_the_tenant_time_zone(admin_client, record):
    html = admin_client.get(f"{admin_client.tenant_prefix}/records/{record.pk}/").content.decode()
    assert "<p>First line<br>Second line</p>" in html
    assert "<dt>owner</dt><dd>Sales</dd>" in html
    assert 'class="badge internal"' in html
    assert f'class="label-chip label-{record.labels.get().pk}"' in html
    assert "+09:00" in html  # Asia/Tokyo, the tenant's zone


def test_restricted_records_are_invisible_without_permission(viewer_client, admin_client, restricted_record):
    url = f"/records/{restricted_record.pk}/"
    assert viewer_client.get(viewer_client.tenant_prefix + url).status_code == 404
    assert "Secret merger" not in _list(viewer_client).content.decode()
    assert admin_client.get(admin_client.tenant_prefix + url).status_code == 200


def test_admin_creates_a_record(admin_client, workspace, label):
    response = admin_client.post(f"{admin_client.tenant_prefix}/records/new/", {
        "workspace": workspace.pk, "title": "New deal", "body": "text", "classification": "confidential",
        "labels": [label.pk], "properties": "owner: Sales\r\n\r\nurl: https://example.com/a:b\r\n",
    })
    record = Record.objects.get(title="New deal")
    assert response.status_code == 302
    assert response["Location"] == f"/t/acme/records/{record.pk}/"
    assert record.properties == {"owner": "Sales", "url": "https://example.com/a:b"}
    assert record.classification == "confidential"
    assert list(record.labels.all()) == [label]
    event = AuditEvent.objects.get(action="record.created", target_id=str(record.pk))
    assert event.after["title"] == "New deal"


def test_a_bad_property_line_is_a_field_error_and_nothing_is_lost(admin_client, workspace):
    response = admin_client.post(f"{admin_client.tenant_prefix}/records/new/", {
        "workspace": workspace.pk, "title": "Kept title", "body": "Kept body", "classification": "internal",
        "properties": "owner: Sales\nno colon here",
    })
    html = response.content.decode()
    assert response.status_code == 200
    assert "2行目" in html  # “Line 2 …” in the tenant language (ja)
    assert 'value="Kept title"' in html and "Kept body" in html and "no colon here" in html
    assert not Record.objects.filter(title="Kept title").exists()


def test_action_validation_errors_land_on_the_field(admin_client, workspace):
    too_long_value = "x" * 1001
    response = admin_client.post(f"{admin_client.tenant_prefix}/records/new/", {
        "workspace": workspace.pk, "title": "T", "classification": "internal",
        "properties": f"k: {too_long_value}",
    })
    assert response.status_code == 200
    assert 'class="field has-error"' in response.content.decode()
    assert not Record.objects.filter(title="T").exists()


def test_viewer_gets_403_on_every_write(viewer_client, record):
    prefix = viewer_client.tenant_prefix
    for path in ["/records/new/", f"/records/{record.pk}/edit/", f"/records/{record.pk}/delete/"]:
        assert viewer_client.get(prefix + path).status_code == 403, path
        assert viewer_client.post(prefix + path, {"title": "hacked"}).status_code == 403, path
    assert Record.objects.get(pk=record.pk).title == "Quarterly plan"
    assert AuditEvent.objects.filter(action="access.denied").count() == 6


def test_other_tenant_ids_are_404_under_own_prefix(outsider_client, record):
    prefix = outsider_client.tenant_prefix
    for path in ["/", "/edit/", "/delete/"]:
        assert outsider_client.get(f"{prefix}/records/{record.pk}{path}").status_code == 404, path
    assert outsider_client.post(f"{prefix}/records/{record.pk}/delete/").status_code == 404
    assert Record.objects.filter(pk=record.pk).exists()


def test_huge_ids_are_404(admin_client):
    assert admin_client.get(f"{admin_client.tenant_prefix}/records/99999999999999999999999/").status_code == 404
    assert admin_client.get(f"{admin_client.tenant_prefix}/records/999999999999999999/").status_code == 404


def test_edit_saves_and_writes_an_event(admin_client, record):
    response = admin_client.post(f"{admin_client.tenant_prefix}/records/{record.pk}/edit/", {
        "title": "Quarterly plan v2", "body": "First line\nSecond line", "classification": "internal",
        "labels": [], "properties": "owner: Sales\npriority: high",
    })
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.title == "Quarterly plan v2"
    assert not record.labels.exists()
    event = AuditEvent.objects.get(action="record.updated", target_id=str(record.pk))
    assert event.after == {"title": "Quarterly plan v2", "labels": []}


def test_edit_keeps_properties_the_text_form_cannot_show(admin_client, record, admin):
    actions.update_record(actor=as_actor(admin), record_id=record.pk, properties={"address": "1 Main St\nTokyo"})
    form = admin_client.get(f"{admin_client.tenant_prefix}/records/{record.pk}/edit/").content.decode()
    assert "address: 1 Main St" in form
    admin_client.post(f"{admin_client.tenant_prefix}/records/{record.pk}/edit/", {
        "title": "Renamed", "body": record.body, "classification": "internal",
        "properties": "address: 1 Main St\r\nTokyo",  # what the browser sends back unchanged
    })
    record.refresh_from_db()
    assert record.title == "Renamed"
    assert record.properties == {"address": "1 Main St\nTokyo"}


def test_delete_confirms_then_deletes_on_post(admin_client, record):
    url = f"{admin_client.tenant_prefix}/records/{record.pk}/delete/"
    assert admin_client.get(url).status_code == 200
    assert Record.objects.filter(pk=record.pk).exists()
    response = admin_client.post(url)
    assert response.status_code == 302 and response["Location"] == "/t/acme/records/"
    assert not Record.objects.filter(pk=record.pk).exists()
    assert AuditEvent.objects.filter(action="record.deleted", target_id=str(record.pk)).exists()


def test_unit_admin_cannot_choose_restricted(console_client, user_factory, tenant, workspace, admin):
    unit_admin = user_factory(tenant, "unit@acme.example", Role.UNIT_ADMIN)
    actions.add_workspace_member(actor=as_actor(admin), workspace_id=workspace.pk, user_id=unit_admin.pk)
    client = console_client(unit_admin)
    form = client.get(f"{client.tenant_prefix}/records/new/").content.decode()
    assert 'value="restricted"' not in form
    response = client.post(f"{client.tenant_prefix}/records/new/", {
        "workspace": workspace.pk, "title": "Hidden", "classification": "restricted"})
    assert response.status_code == 200
    assert not Record.objects.filter(title="Hidden").exists()


def test_payloads_are_escaped_in_list_and_detail(admin_client, xss_record):
    for url in ["/records/", f"/records/{xss_record.pk}/", f"/records/{xss_record.pk}/edit/",
                f"/workspaces/{xss_record.workspace_id}/"]:
        html = admin_client.get(admin_client.tenant_prefix + url).content.decode()
        assert_escaped(html)
    detail = admin_client.get(f"{admin_client.tenant_prefix}/records/{xss_record.pk}/").content.decode()
    assert detail.count(XSS_ESCAPED) >= 3  # title, body, property value (and label, key prefixes)
    assert XSS not in detail
