"""Fixtures: provider staff of each role, signed-in clients, and an incident helper."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mamori.audit.events import Actor
from mamori.tenancy.context import use_tenant

STAFF_PASSWORD = "provider staff passphrase 9"


@pytest.fixture
def make_staff(db):
    from mamori.operations.actions import create_staff

    def _make(role: str, email: str | None = None):
        from mamori.operations.models import ProviderStaff

        email = email or f"{role}@provider.example"
        existing = ProviderStaff.objects.filter(email=email).first()
        if existing is not None:
            return existing
        with use_tenant(None):
            return create_staff(actor=Actor.system("test"), email=email,
                                password=STAFF_PASSWORD, role=role)

    return _make


@pytest.fixture
def officer(make_staff):
    return make_staff("security_officer")


@pytest.fixture
def operator(make_staff):
    return make_staff("operator")


@pytest.fixture
def support(make_staff):
    return make_staff("support")


@pytest.fixture
def staff_client():
    def _client(staff) -> Client:
        client = Client()
        response = client.post("/provider/login/", {"email": staff.email, "password": STAFF_PASSWORD})
        assert response.status_code == 302, response.content[:300]
        return client

    return _client


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def make_incident(officer):
    from mamori.incidents.actions import create_incident

    def _make(tenants=(), *, all_tenants=False, detected_ago=timedelta(minutes=10), **extra):
        now = timezone.now()
        fields = {"title_ja": "API の応答遅延", "title_en": "Slow API responses", "severity": "high",
                  "started_at": now - detected_ago - timedelta(minutes=5), "detected_at": now - detected_ago,
                  "components": ["api"], "all_tenants": all_tenants, "tenant_ids": [t.pk for t in tenants]}
        fields.update(extra)
        with use_tenant(None):
            return create_incident(staff=officer, **fields)

    return _make
