"""Fixtures of the notices tests: provider staff of each role, a signed-in provider client,
a notice factory and a task runner that runs the queued mail tasks in order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mamori.audit.events import Actor
from mamori.notices.validation import NoticeData
from mamori.tenancy.context import use_tenant

STAFF_PASSWORD = "provider staff passphrase 9"  # noqa: S105 (a test password)


def _make_staff(email: str, role: str):
    from mamori.operations.actions import create_staff

    with use_tenant(None):
        return create_staff(actor=Actor.system("test"), email=email, password=STAFF_PASSWORD, role=role)


@pytest.fixture
def operator(db):
    return _make_staff("ops@provider.example", "operator")


@pytest.fixture
def officer(db):
    return _make_staff("sec@provider.example", "security_officer")


@pytest.fixture
def support_staff(db):
    return _make_staff("support@provider.example", "support")


@pytest.fixture
def provider_client():
    """A client signed in to the provider console as ``staff`` (the session the sign-in page
    sets up after the password and second factor)."""
    from mamori.operations.middleware import PROVIDER_SESSION_KEY

    def _client(staff) -> Client:
        client = Client()
        session = client.session
        session[PROVIDER_SESSION_KEY] = staff.pk
        for key, value in _extra_session(staff).items():
            session[key] = value
        session.save()
        return client

    return _client


def _extra_session(staff) -> dict:
    """The second-factor mark the provider console's sign-in sets after the TOTP step."""
    from mamori.operations import middleware

    key = getattr(middleware, "PROVIDER_MFA_KEY", None)
    return {key: True} if key else {}


def future(days: float = 10, hours: float = 2):
    return timezone.now() + timedelta(days=days), timezone.now() + timedelta(days=days, hours=hours)


def maintenance(**overrides) -> NoticeData:
    starts, ends = future()
    data = NoticeData(kind="maintenance", title_ja="データベースの定期メンテナンス", title_en="Scheduled database maintenance",
                      body_ja="データベースを更新します。", body_en="We upgrade the database.", starts_at=starts,
                      ends_at=ends, impact="degraded", components=["database"])
    for key, value in overrides.items():
        setattr(data, key, value)
    return data


@pytest.fixture
def make_notice(operator):
    """Create (and optionally publish) a notice as the operator, outside any tenant."""
    from mamori.notices import actions

    def _make(publish: bool = False, **overrides):
        with use_tenant(None):
            notice = actions.create_notice(staff=operator, data=maintenance(**overrides))
            if publish:
                notice = actions.publish_notice(staff=operator, notice_id=notice.pk)
        return notice

    return _make


@pytest.fixture
def run_tasks():
    """Run every queued django_tasks_db task by calling its function, oldest first."""
    from django.utils.module_loading import import_string
    from django_tasks_db.models import DBTaskResult

    def _run(max_runs: int = 100) -> list:
        results = []
        for _ in range(max_runs):
            row = DBTaskResult.objects.filter(status="READY").order_by("enqueued_at", "id").first()
            if row is None:
                return results
            DBTaskResult.objects.filter(pk=row.pk).update(status="SUCCESSFUL")
            task = import_string(row.task_path)
            with use_tenant(None):
                results.append(task.func(*row.args_kwargs["args"], **row.args_kwargs["kwargs"]))
        raise AssertionError("tasks keep queueing more tasks")

    return _run
