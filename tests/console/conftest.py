"""Console test data: a workspace, labels and records in tenant "acme", and XSS payloads."""

from __future__ import annotations

import pytest

from mamori.audit.events import Actor

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
XSS_ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"




def as_actor(user) -> Actor:
    return Actor.for_user(user)


@pytest.fixture
def workspace(tenant, admin, editor, viewer):
    from mamori.records import actions

    ws = actions.create_workspace(actor=as_actor(admin), name="Sales", description="Deals and leads")
    for member in (editor, viewer):
        actions.add_workspace_member(actor=as_actor(admin), workspace_id=ws.pk, user_id=member.pk)
    return ws


@pytest.fixture
def label(tenant, admin):
    from mamori.records import actions

    return actions.create_label(actor=as_actor(admin), name="urgent", colour="#cf222e")


@pytest.fixture
def record(workspace, label, admin):
    from mamori.records import actions

    return actions.create_record(
        actor=as_actor(admin), workspace_id=workspace.pk, title="Quarterly plan",
        body="First line\nSecond line", properties={"owner": "Sales", "priority": "high"},
        classification="internal", label_ids=[label.pk],
    )


@pytest.fixture
def restricted_record(workspace, admin):
    from mamori.records import actions

    return actions.create_record(actor=as_actor(admin), workspace_id=workspace.pk, title="Secret merger",
                                 classification="restricted")


@pytest.fixture
def xss_record(workspace, admin):
    """Payloads in every user-controlled field: title, body, label name, property key and value."""
    from mamori.records import actions

    evil_label = actions.create_label(actor=as_actor(admin), name=XSS[:60], colour="#1f6feb")
    return actions.create_record(
        actor=as_actor(admin), workspace_id=workspace.pk, title=XSS, body=XSS,
        properties={XSS[:64]: XSS}, label_ids=[evil_label.pk],
    )


@pytest.fixture
def admin_client(admin, console_client):
    return console_client(admin)


@pytest.fixture
def viewer_client(viewer, console_client):
    return console_client(viewer)


@pytest.fixture
def editor_client(editor, console_client):
    return console_client(editor)


@pytest.fixture
def outsider_client(outsider, console_client):
    """Tenant admin of "globex", signed in at /t/globex/."""
    return console_client(outsider)


def assert_escaped(html: str) -> None:
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;" in html
