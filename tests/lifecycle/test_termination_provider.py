"""Issue 6 item 4: the provider console and CLI — terminate, cancel, grace override, certificates."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from mamori.audit.events import Actor
from mamori.audit.models import ProviderEvent
from mamori.lifecycle.certificate import verify_document
from mamori.lifecycle.models import Termination, TerminationPolicy
from mamori.operations.actions import create_staff
from mamori.tenancy.context import use_tenant
from mamori.tenancy.models import Tenant

PASSWORD = "a long staff password 1"


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "files")}}}


def _staff_client(role="operator") -> Client:
    with use_tenant(None):
        staff = create_staff(actor=Actor.system("test"), email=f"{role}@provider.example", password=PASSWORD,
                             role=role)
    client = Client()
    assert client.post("/provider/login/", {"email": staff.email, "password": PASSWORD}).status_code == 302
    return client


def test_provider_terminates_cancels_and_sets_grace(tenant, admin, other_tenant):
    with use_tenant(None):
        client = _staff_client()
        assert client.get("/provider/").status_code == 200
        page = client.get("/provider/tenants/acme/termination/")
        assert page.status_code == 200
        bad = client.post("/provider/tenants/acme/termination/", {"do": "grace", "days": "-3"})
        assert bad.status_code == 422 and not TerminationPolicy.objects.exists()
        assert client.post("/provider/tenants/acme/termination/", {"do": "grace", "days": "60"}).status_code == 302
        assert TerminationPolicy.objects.get(tenant=tenant).grace_days == 60
        assert client.post("/provider/tenants/acme/termination/",
                           {"do": "terminate", "grace_days": "", "reason": "contract ended"}).status_code == 302
        tenant.refresh_from_db()
        assert tenant.status == Tenant.Status.TERMINATING
        assert Termination.objects.get(tenant=tenant).grace_days == 60
        assert 'id="ends-at"' in client.get("/provider/tenants/acme/termination/").content.decode()
        assert "acme" in client.get("/provider/terminations/").content.decode()
        assert client.post("/provider/tenants/acme/termination/", {"do": "cancel", "reason": "renewed"}).status_code == 302
        tenant.refresh_from_db()
        other_tenant.refresh_from_db()
        assert tenant.status == Tenant.Status.ACTIVE and other_tenant.status == Tenant.Status.ACTIVE
        assert client.get("/provider/tenants/nope/termination/").status_code == 404


def test_support_staff_is_refused(tenant):
    with use_tenant(None):
        client = _staff_client("support")
        response = client.post("/provider/tenants/acme/termination/", {"do": "terminate", "grace_days": "1"})
        assert response.status_code == 422
        tenant.refresh_from_db()
        assert tenant.status == Tenant.Status.ACTIVE


def test_anonymous_is_sent_to_provider_sign_in(db):
    for path in ("/provider/terminations/", "/provider/tenants/acme/termination/", "/provider/certificates/1/"):
        response = Client().get(path)
        assert response.status_code == 302 and "/provider/login/" in response["Location"]


def test_cli_full_flow_and_certificate_download(tenant, admin, capsys, tmp_path):
    with use_tenant(None):
        call_command("termination", "set-grace", "acme", "45")
        call_command("termination", "terminate", "acme", "--reason", "end")
        assert Termination.objects.get(tenant=tenant).grace_days == 45
        with pytest.raises(CommandError):
            call_command("termination", "purge", "acme")  # grace period not over
        call_command("termination", "purge", "acme", "--now", "--batch-size", "50")
        out = capsys.readouterr().out
        assert "purged" in out
        tenant.refresh_from_db()
        assert tenant.status == Tenant.Status.PURGED
        call_command("termination", "list", "--json")
        assert json.loads(capsys.readouterr().out)[0]["state"] == "purged"
        client = _staff_client()
        listing = client.get("/provider/terminations/").content.decode()
        cert_id = Termination.objects.get(tenant=tenant).certificate.pk
        assert f"/provider/certificates/{cert_id}/" in listing
        download = client.get(f"/provider/certificates/{cert_id}/")
        assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
        assert verify_document(download.content).ok
        assert ProviderEvent.objects.filter(action="tenant.purged", tenant_ref=tenant.pk).exists()


@pytest.mark.parametrize("args", [["terminate", "nope"], ["terminate", "acme", "--grace-days", "-1"],
                                  ["cancel", "acme"], ["set-grace", "acme", "soon"], ["purge", "acme"],
                                  ["purge", "acme", "--now", "--batch-size", "0"]])
def test_cli_bad_input(tenant, args):
    with use_tenant(None), pytest.raises(CommandError):
        call_command("termination", *args)
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE
