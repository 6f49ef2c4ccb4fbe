"""Labels pages and the per-tenant label stylesheet."""

from __future__ import annotations

from mamori.audit.models import AuditEvent
from mamori.records import actions
from mamori.records.models import Label
from tests.console.conftest import XSS, as_actor, assert_escaped


def test_everyone_sees_the_list_only_admins_manage(admin_client, viewer_client, label):
    admin_html = admin_client.get(f"{admin_client.tenant_prefix}/labels/").content.decode()
    viewer_html = viewer_client.get(f"{viewer_client.tenant_prefix}/labels/").content.decode()
    assert "urgent" in admin_html and "urgent" in viewer_html
    assert f"/labels/{label.pk}/edit/" in admin_html
    assert f"/labels/{label.pk}/edit/" not in viewer_html and "/labels/new/" not in viewer_html


def test_admin_creates_edits_and_deletes(admin_client):
    prefix = admin_client.tenant_prefix
    assert admin_client.post(f"{prefix}/labels/new/", {"name": "blocked", "colour": "#1A7F37"}).status_code == 302
    label = Label.objects.get(name="blocked")
    assert label.colour == "#1a7f37"
    assert AuditEvent.objects.filter(action="label.created", target_id=str(label.pk)).exists()
    assert admin_client.post(f"{prefix}/labels/{label.pk}/edit/",
                             {"name": "blocked!", "colour": "#000000"}).status_code == 302
    assert AuditEvent.objects.get(action="label.updated").after == {"name": "blocked!", "colour": "#000000"}
    assert admin_client.get(f"{prefix}/labels/{label.pk}/delete/").status_code == 200
    assert admin_client.post(f"{prefix}/labels/{label.pk}/delete/").status_code == 302
    assert not Label.objects.filter(pk=label.pk).exists()
    assert AuditEvent.objects.filter(action="label.deleted", target_id=str(label.pk)).exists()


def test_bad_colour_and_duplicate_name_are_field_errors(admin_client, label):
    prefix = admin_client.tenant_prefix
    response = admin_client.post(f"{prefix}/labels/new/", {"name": "urgent", "colour": "#cf222e"})
    assert response.status_code == 200 and 'class="field has-error"' in response.content.decode()
    response = admin_client.post(f"{prefix}/labels/new/", {"name": "red", "colour": "red;}body{x"})
    assert response.status_code == 200 and 'class="field has-error"' in response.content.decode()
    assert Label.objects.count() == 1


def test_editor_and_viewer_get_403_on_writes(editor_client, viewer_client, label):
    for client in (editor_client, viewer_client):
        prefix = client.tenant_prefix
        for path in ["/labels/new/", f"/labels/{label.pk}/edit/", f"/labels/{label.pk}/delete/"]:
            assert client.get(prefix + path).status_code == 403, path
            assert client.post(prefix + path, {"name": "x", "colour": "#000000"}).status_code == 403, path
    assert Label.objects.get(pk=label.pk).name == "urgent"


def test_other_tenant_ids_are_404_under_own_prefix(outsider_client, label):
    prefix = outsider_client.tenant_prefix
    assert outsider_client.get(f"{prefix}/labels/{label.pk}/edit/").status_code == 404
    assert outsider_client.post(f"{prefix}/labels/{label.pk}/delete/").status_code == 404
    assert Label.objects.filter(pk=label.pk).exists()


def test_stylesheet_holds_the_tenant_colours(admin_client, outsider_client, label):
    response = admin_client.get(f"{admin_client.tenant_prefix}/labels.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert "max-age=300" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert f".label-{label.pk}{{background:#cf222e;" in response.content.decode()
    theirs = outsider_client.get(f"{outsider_client.tenant_prefix}/labels.css").content.decode()
    assert f".label-{label.pk}{{" not in theirs


def test_pages_link_a_versioned_stylesheet_that_changes_with_colours(admin_client, admin, label):
    def link():
        html = admin_client.get(f"{admin_client.tenant_prefix}/labels/").content.decode()
        start = html.index('href="/t/acme/labels.css?v=')
        return html[start:html.index('"', start + 6)]

    first = link()
    actions.update_label(actor=as_actor(admin), label_id=label.pk, name="urgent", colour="#000000")
    assert link() != first


def test_label_names_are_escaped(admin_client, viewer_client, admin, workspace):
    actions.create_label(actor=as_actor(admin), name=XSS[:60], colour="#1f6feb")
    for client in (admin_client, viewer_client):
        assert_escaped(client.get(f"{client.tenant_prefix}/labels/").content.decode())
        assert_escaped(client.get(f"{client.tenant_prefix}/records/").content.decode())  # filter checkboxes
