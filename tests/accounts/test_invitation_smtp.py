"""End to end over real SMTP: an invitation leaves through Django's SMTP backend to an
aiosmtpd server on loopback; the link is parsed out of the received message and the
invitee registers and signs in with it."""

from __future__ import annotations

import email
import re
import signal
import socket
from email import policy

import pytest
from django.core.management import call_command
from django.test import Client

from mamori.accounts import actions
from mamori.accounts.models import User
from mamori.audit.events import Actor
from mamori.tenancy.context import use_tenant

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")

pytestmark = pytest.mark.django_db(transaction=True)


class Inbox:
    """aiosmtpd handler: keeps every received message (envelope and parsed)."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 — aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    inbox = Inbox()
    controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def keep_signal_handlers():
    """The worker installs SIGINT/SIGTERM handlers; put pytest's back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


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
