"""Provider console log page: sequence numbers, the last verification result and the public key."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client

from mamori.audit import signing
from mamori.audit.events import Actor
from mamori.audit.models import ProviderEvent
from mamori.operations.actions import create_staff
from mamori.tenancy.context import use_tenant
from tests.audit.test_tamper import as_owner_without_trigger

PASSWORD = "provider staff passphrase 9"


@pytest.fixture
def staff_client(db) -> Client:
    with use_tenant(None):
        staff = create_staff(actor=Actor.system("test"), email="ops@provider.example", password=PASSWORD)
    client = Client()
    assert client.post("/provider/login/", {"email": staff.email, "password": PASSWORD}).status_code == 302
    return client


def test_log_shows_sequence_numbers_badge_and_public_key(staff_client):
    html = staff_client.get("/provider/log/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Chain not verified yet" in html
    call_command("audit", "verify")
    html = staff_client.get("/provider/log/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Chains verified" in html and signing.key_id() in html and "BEGIN PUBLIC KEY" in html
    login = ProviderEvent.objects.get(action="provider.login")
    assert f'title="{login.hash}">{login.seq}</td>' in html


def test_log_shows_a_failed_verification(staff_client):
    from mamori.audit.events import record_provider_event

    record_provider_event("provider.login", actor=Actor.system("x"))
    with transaction.atomic(), as_owner_without_trigger() as cursor:
        cursor.execute("UPDATE audit_providerevent SET actor_label = 'forged' WHERE seq = 1")
    with pytest.raises(CommandError):
        call_command("audit", "verify", "--provider")
    html = staff_client.get("/provider/log/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Chain verification FAILED" in html and "first bad sequence number 1" in html
