"""Mail over real SMTP (aiosmtpd on loopback): the tenant's contacts hear of a request, the
staff member of the decision."""

from __future__ import annotations

import pytest

from mamori.audit.events import Actor
from mamori.support import actions
from mamori.tenancy.context import use_tenant
from tests.smtp_server import loopback_smtp


@pytest.fixture
def smtp_inbox(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with loopback_smtp(settings) as inbox:
        yield inbox


def test_request_mails_the_contacts_and_the_decision_mails_the_staff(
        smtp_inbox, staff, tenant, admin, django_capture_on_commit_callbacks):
    tenant.notification_email = "it-desk@acme.example"
    tenant.save(update_fields=["notification_email"])
    with django_capture_on_commit_callbacks(execute=True), use_tenant(None):
        grant = actions.request_access(staff=staff, tenant=tenant, reason="Ticket 4711", scope="read_only", hours=4)
    to = sorted(r for rcpts, _m in smtp_inbox.messages for r in rcpts)
    assert "admin@acme.example" in to and "it-desk@acme.example" in to and staff.email not in to
    body = smtp_inbox.messages[0][1].get_body(("plain",)).get_content()
    assert "Ticket 4711" in body and "/t/acme/settings/security/support-access/" in body
    smtp_inbox.messages.clear()
    with django_capture_on_commit_callbacks(execute=True), use_tenant(tenant):
        actions.approve_request(actor=Actor.for_user(admin), tenant=tenant, grant_id=grant.pk, hours=2)
    assert [rcpts for rcpts, _m in smtp_inbox.messages] == [[staff.email]]
    assert "/provider/support/" in smtp_inbox.messages[0][1].get_body(("plain",)).get_content()
