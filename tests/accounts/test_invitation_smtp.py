"""End to end over real SMTP: an invitation leaves through Django's SMTP backend to an
aiosmtpd server on loopback; the link is parsed out of the received message and the
invitee registers and signs in with it."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client

from mamori.accounts import actions
from mamori.accounts.models import User
from mamori.audit.events import Actor
from mamori.tenancy.context import use_tenant
from tests.smtp_server import loopback_smtp, signal_handlers_kept

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def smtp_server(settings):
    with loopback_smtp(settings) as inbox:
        yield inbox


@pytest.fixture
def keep_signal_handlers():
    with signal_handlers_kept():
        yield


def test_invitation_mail_over_smtp_and_registration(make_tenant, user_factory, smtp_server, keep_signal_handlers):
    from mamori.access.roles import Role

    tenant = make_tenant("acme", "Acme 株式会社")
    admin = user_factory(tenant, "admin@acme.example", Role.TENANT_ADMIN)
    with use_tenant(tenant):
        # Autocommit (transaction=True test): the mail is queued when the action commits.
        actions.invite_user(actor=Actor.for_user(admin), email="smtp-invitee@acme.example", name="Sato")
    assert smtp_server.messages == []  # queued, not sent inside the action
    call_command("worker", "--batch", "--no-startup-delay", verbosity=0)  # what `mamori worker` runs

    [(recipients, message)] = smtp_server.messages
    assert recipients == ["smtp-invitee@acme.example"]
    assert "招待" in str(message["Subject"])  # the tenant's language (Japanese)
    body = message.get_body(preferencelist=("plain",)).get_content()
    path = re.search(r"https?://[^/\s]+(/t/acme/invitation/[A-Za-z0-9_-]+/)", body).group(1)

    client = Client()
    form = client.get(path)
    assert form.status_code == 200 and "password1" in form.context["form"].fields
    password = "a long smtp passphrase 2026"
    done = client.post(path, {"name": "Sato Hanako", "password1": password, "password2": password})
    assert done.status_code == 302 and done["Location"] == "/t/acme/"
    assert client.get("/t/acme/").status_code == 200  # signed in by the registration

    fresh = Client()
    signed_in = fresh.post("/t/acme/accounts/login/", {"login": "smtp-invitee@acme.example", "password": password})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/t/acme/"
    with use_tenant(tenant):
        user = User.objects.get(email="smtp-invitee@acme.example")
        assert user.name == "Sato Hanako" and not user.is_invited
    assert Client().post(path, {"password1": password, "password2": password}).status_code == 404  # used up
