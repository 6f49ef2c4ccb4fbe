"""Mail is queued on commit and sent by the worker into the local outbox."""

from __future__ import annotations

import signal

import pytest
from django.core.management import call_command
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from mamori.core.tasks import enqueue_mail_on_commit, send_mail_task
from mamori.operations.models import OutboxMessage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _outbox(settings):
    """Django's test setup swaps in the locmem backend; use Mamori's default outbox again."""
    settings.EMAIL_BACKEND = "mamori.operations.mail.OutboxEmailBackend"


@pytest.fixture
def keep_signal_handlers():
    """db_worker installs SIGINT/SIGTERM handlers; put pytest's back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def _mail(**overrides):
    kwargs = {"subject": "Hello", "body": "Plain body", "to": ["user@acme.example"], "html": "<p>Hi</p>"}
    kwargs.update(overrides)
    return kwargs


def test_rolled_back_transaction_queues_nothing():
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            enqueue_mail_on_commit(**_mail())
            raise RuntimeError("the action failed")
    assert DBTaskResult.objects.count() == 0


def test_rolled_back_savepoint_drops_only_its_mail():
    with transaction.atomic():
        enqueue_mail_on_commit(**_mail(subject="kept"))
        try:
            with transaction.atomic():
                enqueue_mail_on_commit(**_mail(subject="dropped"))
                raise RuntimeError
        except RuntimeError:
            pass
        assert DBTaskResult.objects.count() == 0  # nothing before the commit
    queued = list(DBTaskResult.objects.all())
    assert [t.args_kwargs["kwargs"]["subject"] for t in queued] == ["kept"]


def test_committed_mail_is_queued_then_sent_by_the_worker(keep_signal_handlers):
    with transaction.atomic():
        enqueue_mail_on_commit(**_mail())
    task = DBTaskResult.objects.get()
    assert task.status == "READY" and task.task_path == "mamori.core.tasks.send_mail_task"
    assert OutboxMessage.objects.count() == 0

    call_command("worker", "--batch", "--no-startup-delay", verbosity=0)

    task.refresh_from_db()
    assert task.status == "SUCCESSFUL", task.traceback
    message = OutboxMessage.objects.get()
    assert message.subject == "Hello" and message.to == "user@acme.example"
    assert message.body == "Plain body" and message.html_body == "<p>Hi</p>"


def test_enqueue_outside_a_transaction_queues_at_once():
    enqueue_mail_on_commit(**_mail())
    assert DBTaskResult.objects.count() == 1


def test_needs_a_recipient():
    with pytest.raises(ValueError):
        enqueue_mail_on_commit(**_mail(to=[]))


def test_task_sends_directly():
    assert send_mail_task.call(**_mail(html="")) == 1
    assert OutboxMessage.objects.get().html_body == ""


def test_worker_rejects_a_negative_interval():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("worker", "--interval", "-1")
