"""Console pages for organizational units and the help pages."""

from __future__ import annotations

import pytest

from mamori.access import actions
from mamori.access.models import OrgUnit, UnitAdminScope, UnitMembership
from mamori.access.roles import Role
from mamori.audit.events import Actor

P = "/t/acme"


@pytest.fixture
def sales(admin):
    acme = actions.create_unit(actor=Actor.for_user(admin), name="Acme")
    return actions.create_unit(actor=Actor.for_user(admin), name="Sales", parent_id=acme.pk, code="SALES")


@pytest.fixture
def boss(tenant, user_factory, sales):
    user = user_factory(tenant, "boss@acme.example", Role.UNIT_ADMIN)
    UnitAdminScope.objects.create(user=user, unit=sales)
    return user


def test_admin_creates_a_unit_and_a_sub_unit(admin, console_client):
    client = console_client(admin)
    assert client.get(f"{P}/units/").status_code == 200
    response = client.post(f"{P}/units/new/", {"name": "Acme", "code": "ACME", "parent": ""})
    assert response.status_code == 302
    acme = OrgUnit.objects.get(name="Acme")
    assert response["Location"].endswith(f"/units/{acme.pk}/")
    assert f'value="{acme.pk}" selected' in client.get(f"{P}/units/new/?parent={acme.pk}").content.decode()
    client.post(f"{P}/units/new/", {"name": "Sales", "parent": str(acme.pk)})
    html = client.get(f"{P}/units/").content.decode()
    assert "Acme" in html and "Sales" in html and "unit-depth-1" in html


def _english(client):
    client.post(f"{P}/i18n/setlang/", {"language": "en", "next": f"{P}/"})
    return client


def test_field_errors_are_shown_in_english_and_japanese(admin, console_client, sales):
    client = _english(console_client(admin))
    response = client.post(f"{P}/units/new/", {"name": "Sales", "parent": str(sales.parent_id), "code": "SALES"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "already exists at this place" in html and 'class="error"' in html
    response = client.post(f"{P}/units/new/", {"name": "Other", "parent": "", "code": "SALES"})
    assert "Another unit already uses this code" in response.content.decode()
    client.post(f"{P}/i18n/setlang/", {"language": "ja", "next": f"{P}/units/"})
    response = client.post(f"{P}/units/new/", {"name": "Sales", "parent": str(sales.parent_id)})
    assert "同じ場所に同じ名前の組織がすでにあります" in response.content.decode()


def test_move_refuses_a_cycle_with_a_field_error(admin, console_client, sales):
    client = console_client(admin)
    response = client.post(f"{P}/units/{sales.parent_id}/move/", {"parent": str(sales.pk)})
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    # The form does not even offer the unit itself or its sub-units.
    page = client.get(f"{P}/units/{sales.parent_id}/move/").content.decode()
    assert f'value="{sales.pk}"' not in page
    assert client.post(f"{P}/units/{sales.pk}/move/", {"parent": ""}).status_code == 302
    sales.refresh_from_db()
    assert sales.parent_id is None


def test_delete_refuses_with_a_clear_message(admin, console_client, sales):
    client = console_client(admin)
    response = client.post(f"{P}/units/{sales.parent_id}/delete/")
    assert response.status_code == 200
    assert "サブ組織" in response.content.decode()  # the tenant's default language
    assert client.post(f"{P}/units/{sales.pk}/delete/").status_code == 302
    assert not OrgUnit.objects.filter(pk=sales.pk).exists()


def test_members_and_unit_admins_from_the_unit_page(admin, console_client, sales, viewer, boss, editor):
    client = console_client(admin)
    assert client.post(f"{P}/units/{sales.pk}/members/add/", {"user_id": viewer.pk}).status_code == 302
    assert UnitMembership.objects.filter(unit=sales, user=viewer).exists()
    html = client.get(f"{P}/units/{sales.pk}/").content.decode()
    assert viewer.email in html and boss.email in html
    assert client.post(f"{P}/units/{sales.pk}/members/{viewer.pk}/remove/").status_code == 302
    assert not UnitMembership.objects.filter(unit=sales, user=viewer).exists()
    # Only users with the unit admin role are offered; anyone else is a field error.
    response = client.post(f"{P}/units/{sales.pk}/admins/add/", {"user_id": editor.pk})
    assert response.status_code == 422
    assert client.post(f"{P}/units/{sales.pk}/admins/{boss.pk}/remove/").status_code == 302
    assert not UnitAdminScope.objects.filter(user=boss).exists()


def test_unit_admin_sees_their_subtree_and_manages_members_only(console_client, boss, sales, tenant,
                                                                user_factory):
    seller = user_factory(tenant, "seller@acme.example", Role.EDITOR)
    UnitMembership.objects.create(unit=sales, user=seller)
    team = OrgUnit.objects.create(name="Team", parent=sales)
    client = console_client(boss)
    html = client.get(f"{P}/units/").content.decode()
    assert "Sales" in html and "Team" in html and ">Acme<" not in html
    assert client.get(f"{P}/units/{sales.parent_id}/").status_code == 404
    for path in ("units/new/", f"units/{sales.pk}/edit/", f"units/{sales.pk}/delete/", f"units/{sales.pk}/move/"):
        assert client.get(f"{P}/{path}").status_code == 403, path
    assert client.post(f"{P}/units/{team.pk}/members/add/", {"user_id": seller.pk}).status_code == 302
    assert UnitMembership.objects.filter(unit=team, user=seller).exists()
    assert client.post(f"{P}/units/{sales.pk}/admins/add/", {"user_id": boss.pk}).status_code == 403


@pytest.mark.parametrize("role", [Role.EDITOR, Role.REVIEWER, Role.VIEWER])
def test_other_roles_cannot_open_the_unit_pages(role, console_client, tenant, user_factory, sales):
    client = console_client(user_factory(tenant, f"{role}@acme.example", role))
    assert client.get(f"{P}/units/").status_code == 403
    assert client.get(f"{P}/units/{sales.pk}/").status_code == 403
    assert client.post(f"{P}/units/{sales.pk}/members/add/", {"user_id": 1}).status_code == 403


def test_help_index_and_roles_page(viewer, console_client):
    client = _english(console_client(viewer))
    index = client.get(f"{P}/help/").content.decode()
    assert f"{P}/help/roles/" in index
    html = client.get(f"{P}/help/roles/").content.decode()
    assert "Permission matrix" in html and "Unit admin" in html
    assert client.get(f"{P}/help/no-such-topic/").status_code == 404
    assert f'href="{P}/help/"' in client.get(f"{P}/").content.decode()  # in the navigation


def test_help_topics_table_is_well_formed():
    from django.template.loader import get_template

    from mamori.console.views.help import HELP_TOPICS

    slugs = [slug for slug, _title, _template in HELP_TOPICS]
    assert len(slugs) == len(set(slugs)) and "roles" in slugs
    for _slug, title, template in HELP_TOPICS:
        assert str(title)
        get_template(template)
