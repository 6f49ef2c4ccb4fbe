"""Embedded default mail: the local outbox keeps every message, the server log announces it, and
one-time links in the body reach the log only in the development profile."""

from __future__ import annotations

import logging

import pytest
from django.core.management import call_command
from django.db import transaction

from mamori.core.tasks import enqueue_mail_on_commit, send_mail_task
from mamori.operations.models import OutboxMessage

pytestmark = pytest.mark.django_db(transaction=True)
SECRET_LINK = "https://mamori.example/t/acme/welcome/s3cr3t-one-time-token/"


@pytest.fixture(autouse=True)
def _outbox(settings):
    settings.EMAIL_BACKEND = "mamori.operations.mail.OutboxEmailBackend"


def _send():
    return send_mail_task.call(subject="Invitation", body=f"Open {SECRET_LINK} to register.",
                               to=["new@acme.example"])


def _mail_log(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "mamori.mail")


def test_development_prints_the_whole_mail(settings, caplog):
    settings.PROFILE = "development"
    with caplog.at_level(logging.INFO, logger="mamori.mail"):
        assert _send() == 1
    message = OutboxMessage.objects.get()
    log = _mail_log(caplog)
    assert f"outbox #{message.pk}" in log and "new@acme.example" in log and "Invitation" in log
    assert SECRET_LINK in log


def test_production_never_prints_the_body(settings, caplog):
    settings.PROFILE = "production"
    with caplog.at_level(logging.INFO, logger="mamori.mail"):
        _send()
    message = OutboxMessage.objects.get()
    log = _mail_log(caplog)
    assert f"outbox #{message.pk}" in log and "new@acme.example" in log
    assert "s3cr3t" not in log and "provider console" in log
    assert SECRET_LINK in message.body  # the outbox itself keeps it, for audited reading


def test_setting_overrides_the_profile(settings, caplog):
    settings.PROFILE = "production"
    settings.OUTBOX_LOG_BODY = True
    with caplog.at_level(logging.INFO, logger="mamori.mail"):
        _send()
    assert SECRET_LINK in _mail_log(caplog)


def test_end_to_end_from_commit_through_the_worker_to_the_provider_console(settings, caplog, keep_signals):
    from django.test import Client

    from mamori.audit.events import Actor
    from mamori.operations.actions import create_staff
    from mamori.tenancy.context import use_tenant

    settings.PROFILE = "development"
    with transaction.atomic():
        enqueue_mail_on_commit(subject="Reset", body=f"Use {SECRET_LINK}", to=["user@acme.example"])
    with caplog.at_level(logging.INFO, logger="mamori.mail"):
        call_command("worker", "--batch", "--no-startup-delay", verbosity=0)
    message = OutboxMessage.objects.get()
    assert SECRET_LINK in _mail_log(caplog)
    with use_tenant(None):
        create_staff(actor=Actor.system("test"), email="ops@provider.example", password="a long staff password 1")
    client = Client()
    client.post("/provider/login/", {"email": "ops@provider.example", "password": "a long staff password 1"})
    detail = client.get(f"/provider/outbox/{message.pk}/")
    assert detail.status_code == 200 and SECRET_LINK in detail.content.decode()


@pytest.fixture
def keep_signals():
    import signal

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
