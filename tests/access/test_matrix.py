"""The permission matrix, cell by cell (9.2.2, 9.4.1).

For every role × every permission, a user of that role tries a real action or
console page guarded by the permission; it must succeed exactly when
``MATRIX`` grants the permission. ``EXERCISES`` maps each permission to how it is
tried; a permission without an entry fails ``test_every_permission_is_exercised``.
Each user is a member of the workspace and administers one unit (a unit admin
scope on a non-admin role has no effect), so the permission is the only thing
that differs between the cells.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied

from mamori.access.errors import NotFound, PermissionDenied
from mamori.access.roles import MATRIX, Perm, Role, role_has
from mamori.audit.events import Actor
from mamori.tenancy.context import apply_db_tenant


@dataclass
class Cell:
    """What one cell's exercise needs: the user of the role, a console client signed in as
    them (made on first use), and the tenant's sample data."""

    role: str
    user: Any
    admin: Any
    other: Any
    workspace: Any
    record: Any
    restricted: Any
    unit: Any
    tenant: Any
    _make_client: Callable
    _client: Any = None

    @property
    def actor(self) -> Actor:
        return Actor.for_user(self.user)

    def get(self, name: str, **kwargs) -> int:
        from django.urls import reverse

        if self._client is None:
            self._client = self._make_client(self.user)
        url = f"/t/{self.tenant.slug}" + reverse(f"console:{name}", urlconf="mamori.urls_tenant", kwargs=kwargs)
        status = self._client.get(url).status_code
        apply_db_tenant(self.tenant.pk)  # the request ended its tenant block (PostgreSQL RLS)
        return status


def _page(status: int) -> bool:
    """A console page: 200 is allowed; 403 (or 404 for a record one may not open) is refused."""
    assert status in (200, 403, 404), status
    return status == 200


def _records_action(action_name: str, /, **kwargs) -> Callable[[Cell], Any]:
    def run(c: Cell):
        from mamori.records import actions

        return getattr(actions, action_name)(actor=c.actor, **{k: v(c) if callable(v) else v for k, v in kwargs.items()})

    return run


def _create_user(role: str) -> Callable[[Cell], Any]:
    def run(c: Cell):
        from mamori.accounts.actions import create_user

        return create_user(actor=c.actor, email=f"new-{role}-{c.role}@acme.example", role=role,
                           unit_ids=[c.unit.pk])

    return run


def _create_unit(c: Cell):
    from mamori.access.actions import create_unit

    return create_unit(actor=c.actor, name=f"New unit by {c.role}", parent_id=c.unit.pk)


# Permission → how a user tries it. Actions return normally when allowed and raise
# PermissionDenied / NotFound when refused; pages answer 200 or 403/404.
EXERCISES: dict[str, Callable[[Cell], Any]] = {
    Perm.VIEW_RECORDS: lambda c: _page(c.get("record_detail", pk=c.record.pk)),
    Perm.EDIT_RECORDS: _records_action("update_record", record_id=lambda c: c.record.pk, title="Edited"),
    Perm.COMMENT_RECORDS: _records_action("comment_on_record", record_id=lambda c: c.record.pk, body="Noted."),
    Perm.APPROVE_RECORDS: _records_action("review_record", record_id=lambda c: c.record.pk, decision="approved"),
    Perm.VIEW_RESTRICTED: lambda c: _page(c.get("record_detail", pk=c.restricted.pk)),
    Perm.CREATE_WORKSPACE: _records_action("create_workspace", name=lambda c: f"New space {c.role}"),
    Perm.MANAGE_WORKSPACES: _records_action("add_workspace_member", workspace_id=lambda c: c.workspace.pk,
                                            user_id=lambda c: c.other.pk),
    Perm.MANAGE_LABELS: _records_action("create_label", name=lambda c: f"label {c.role}"),
    Perm.VIEW_USERS: lambda c: _page(c.get("users")),
    Perm.MANAGE_USERS: _create_user(Role.VIEWER),
    Perm.GRANT_ADMIN: _create_user(Role.UNIT_ADMIN),
    Perm.MANAGE_UNITS: _create_unit,
    Perm.MANAGE_SECURITY: lambda c: _page(c.get("password_policy")),
    Perm.VIEW_SIGNINS: lambda c: _page(c.get("signins")),
    Perm.VIEW_AUDIT: lambda c: _page(c.get("audit")),
    Perm.USE_API: lambda c: _page(c.get("token_create")),
}


def test_every_permission_is_exercised():
    assert set(EXERCISES) == set(Perm), sorted(set(Perm) ^ set(EXERCISES))


def test_every_role_has_a_row_and_only_known_permissions():
    assert set(MATRIX) == set(Role)
    for role, perms in MATRIX.items():
        assert perms <= set(Perm), role


def test_matrix_invariants():
    """Properties the issue and the delegated-admin design rely on."""
    assert MATRIX[Role.TENANT_ADMIN] == frozenset(Perm)
    for role in Role:
        if role != Role.TENANT_ADMIN:
            for perm in (Perm.GRANT_ADMIN, Perm.MANAGE_UNITS, Perm.MANAGE_SECURITY, Perm.VIEW_AUDIT):
                assert not role_has(role, perm), (role, perm)
    assert not role_has(Role.REVIEWER, Perm.EDIT_RECORDS)
    assert role_has(Role.REVIEWER, Perm.APPROVE_RECORDS) and role_has(Role.REVIEWER, Perm.COMMENT_RECORDS)
    assert not role_has(Role.EDITOR, Perm.APPROVE_RECORDS)
    assert MATRIX[Role.VIEWER] == frozenset({Perm.VIEW_RECORDS})
    # Every role with a permission beyond reading records is one a user can be given.
    assert all(role in Role.values for role in MATRIX)


@pytest.fixture
def cell_factory(tenant, admin, user_factory, console_client):
    from mamori.access.models import OrgUnit, UnitAdminScope, UnitMembership
    from mamori.records import actions

    by_admin = Actor.for_user(admin)
    workspace = actions.create_workspace(actor=by_admin, name="Matrix space")
    record = actions.create_record(actor=by_admin, workspace_id=workspace.pk, title="Plan")
    restricted = actions.create_record(actor=by_admin, workspace_id=workspace.pk, title="Merger",
                                       classification="restricted")
    unit = OrgUnit.objects.create(name="Matrix unit")
    other = user_factory(tenant, "other@acme.example", Role.VIEWER)
    UnitMembership.objects.create(unit=unit, user=other)

    def make(role: str) -> Cell:
        user = admin if role == Role.TENANT_ADMIN else user_factory(tenant, f"{role}@acme.example", role)
        if role != Role.TENANT_ADMIN:
            actions.add_workspace_member(actor=by_admin, workspace_id=workspace.pk, user_id=user.pk)
            UnitAdminScope.objects.create(unit=unit, user=user)
        return Cell(role=role, user=user, admin=admin, other=other, workspace=workspace, record=record,
                    restricted=restricted, unit=unit, tenant=tenant, _make_client=console_client)

    return make


CELLS = list(itertools.product(list(Role), list(Perm)))


@pytest.mark.parametrize(("role", "perm"), CELLS, ids=[f"{r.value}-{p.value}" for r, p in CELLS])
def test_cell(role, perm, cell_factory):
    cell = cell_factory(role)
    expected = role_has(role, perm)
    try:
        outcome = EXERCISES[perm](cell)
    except (PermissionDenied, NotFound, DjangoPermissionDenied):
        allowed = False
    else:
        allowed = outcome if isinstance(outcome, bool) else True
    assert allowed is expected, f"{role} {'may' if expected else 'may not'} {perm} according to MATRIX"


def test_refused_actions_leave_an_access_denied_event(cell_factory):
    """A refusal in a cell is itself audited (issue: every rejection of a privileged action)."""
    from mamori.audit.models import AuditEvent

    cell = cell_factory(Role.REVIEWER)
    with pytest.raises(PermissionDenied):
        EXERCISES[Perm.EDIT_RECORDS](cell)
    event = AuditEvent.objects.filter(action="access.denied").order_by("-id").first()
    assert event is not None and event.after["permission"] == Perm.EDIT_RECORDS
    assert event.actor_id == str(cell.user.pk)


def test_help_page_renders_the_matrix_from_code(admin, console_client, tenant):
    """The console help shows each cell as in MATRIX (✓ or —), one row per permission."""
    import re

    from mamori.console.views.help import matrix_rows

    rows = matrix_rows()
    assert [row["perm"] for row in rows] == list(Perm)
    for row in rows:
        assert row["cells"] == [role_has(role, row["perm"]) for role in Role]
    html = console_client(admin).get(f"/t/{tenant.slug}/help/roles/").content.decode()
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    table_rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    assert len(table_rows) == len(Perm)
    for row, perm in zip(table_rows, Perm, strict=True):
        assert perm.value in row
        marks = re.findall(r'<span aria-hidden="true">(✓|—)</span>', row)
        assert marks == ["✓" if role_has(role, perm) else "—" for role in Role], perm
