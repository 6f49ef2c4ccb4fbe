"""Logging, evidence and development checks: pass on the real system, fail once broken
(12.4.1, 12.4.3, CLD.12.4.5, 18.1.3, 16.1.7, 14.1.1, 14.2.1, CLD.12.1.5, 8.2.2, CLD.6.3.1)."""

from __future__ import annotations

import os

import pytest
from django.db import connection
from django.utils import timezone

from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.tenancy.context import tenant_context, use_tenant
from tests.compliance.helpers import as_owner, run

pytestmark = pytest.mark.django_db
PG = "postgres" in os.environ.get("DATABASE_URL", "")


def test_event_logging_passes_and_fails_for_an_unregistered_event_name(tenant, admin, monkeypatch):
    from mamori.audit import registry

    result = run("12.4.1")
    assert result.status == "pass" and result.evidence["tenant_events_7d"] >= 1
    assert result.evidence["event_types"] == len(registry.EVENT_TYPES)
    monkeypatch.delitem(registry.EVENT_TYPES, "tenant.created")  # stored events now name nothing registered
    result = run("12.4.1")
    assert result.status == "fail" and "tenant.created" in result.summary


@pytest.fixture
def staff(db):
    from mamori.operations.actions import create_staff, staff_sign_in

    with use_tenant(None):
        member = create_staff(actor=Actor.system("test"), email="ops@provider.example",
                              password="provider staff passphrase 9")
        staff_sign_in(email="ops@provider.example", password="provider staff passphrase 9")
    member.refresh_from_db()
    return member


def test_operator_logs_pass_when_every_sign_in_is_logged(staff):
    result = run("12.4.3")
    assert result.status == "pass" and result.evidence["staff_signed_in"] == 1
    assert result.evidence["staff_events_90d"] >= 1


def test_operator_logs_fail_for_a_sign_in_without_event(staff):
    from mamori.operations.models import ProviderStaff

    ProviderStaff.objects.create(email="ghost@provider.example", password="!", last_login=timezone.now())
    result = run("12.4.3")
    assert result.status == "fail" and result.evidence["sign_ins_without_event"] == ["ghost@provider.example"]


def test_webhooks_signed_and_a_subscription_without_secret_fails(tenant, admin, settings):
    from mamori.siem.actions import create_subscription
    from mamori.siem.models import WebhookSubscription

    settings.MAMORI_WEBHOOK_ALLOW_HTTP_LOOPBACK = True
    with use_tenant(tenant):
        subscription, _secret = create_subscription(actor=Actor.for_user(admin), url="http://127.0.0.1:9/hook")
    result = run("CLD.12.4.5")
    assert result.status == "pass" and result.evidence["subscriptions"] == 1
    assert result.evidence["signature_verified"] is True
    as_owner("UPDATE siem_webhooksubscription SET secret = '' WHERE id = %s", [subscription.pk])
    with use_tenant(None), tenant_context(tenant):
        assert WebhookSubscription.objects.filter(pk=subscription.pk).exists()
    result = run("CLD.12.4.5")
    assert result.status == "fail" and result.evidence["without_secret"] == 1


def test_audit_chains_verify(tenant, admin, other_tenant):
    result = run("18.1.3")
    assert result.status == "pass", result.summary
    assert result.evidence["chains"] == 3 and "verified" in result.summary
    assert f"provider chain to seq {result.evidence['provider_seq']}" in result.summary
    if PG:
        assert result.evidence["append_only_triggers"] == {"audit_auditevent": True, "audit_providerevent": True}


def test_tampering_with_an_audit_event_fails_the_chain(tenant, admin):
    with use_tenant(None), tenant_context(tenant):
        event = AuditEvent.objects.order_by("seq").first()
    if PG:  # the append-only trigger refuses the UPDATE: an attacker with the owner role disables it first
        as_owner("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred foreign-key checks pending on the table
        as_owner("ALTER TABLE audit_auditevent DISABLE TRIGGER mamori_audit_append_only")
    as_owner("UPDATE audit_auditevent SET actor_label = 'someone else' WHERE id = %s", [event.pk])
    result = run("18.1.3")
    assert result.status == "fail"
    assert result.evidence["failed"][0]["label"] == tenant.slug and result.evidence["failed"][0]["first_bad_seq"] == 1
    if PG:
        assert "append-only trigger missing on audit_auditevent" in result.summary


@pytest.mark.postgres
def test_append_only_trigger_dropped_fails(tenant):
    as_owner("SET CONSTRAINTS ALL IMMEDIATE")
    as_owner("DROP TRIGGER mamori_audit_append_only ON audit_providerevent")
    result = run("18.1.3")
    assert result.status == "fail" and "append-only trigger missing on audit_providerevent" in result.summary


@pytest.mark.postgres
def test_update_of_an_audit_event_is_refused_on_postgresql(tenant):
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():
        as_owner("UPDATE audit_auditevent SET actor_label = 'x'")
    assert connection.vendor == "postgresql"


def test_evidence_export_available_and_fails_without_a_signing_key(monkeypatch, tmp_path):
    result = run("16.1.7")
    assert result.status == "pass" and result.evidence["verifier"] == "verify_evidence.py"
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key", encoding="ascii")
    monkeypatch.setenv("MAMORI_SIGNING_KEY_FILE", str(bad))
    result = run("16.1.7")
    assert result.status == "fail" and "signing key unavailable" in result.summary


def test_help_pages_pass_and_fail_for_a_missing_template(monkeypatch):
    from mamori.console.views import help as help_views

    result = run("CLD.12.1.5")
    assert result.status == "pass" and "roles" in result.evidence["topics"]
    monkeypatch.setattr(help_views, "HELP_TOPICS", [*help_views.HELP_TOPICS, ("ghost", "Ghost", "console/help/x.html")])
    result = run("CLD.12.1.5")
    assert result.status == "fail" and result.evidence["missing_templates"] == ["ghost"]


def _checkout(tmp_path, ci_text: str, fuzz: bool = True):
    (tmp_path / "mamori").mkdir()
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "run").write_text(ci_text, encoding="utf-8")
    (tmp_path / "tests" / "fuzz").mkdir(parents=True)
    (tmp_path / "tests" / "test_a.py").write_text("", encoding="utf-8")
    if fuzz:
        (tmp_path / "tests" / "fuzz" / "test_api.py").write_text("", encoding="utf-8")
    return tmp_path / "mamori"


def test_secure_development_passes_with_a_complete_ci(tmp_path, settings):
    settings.BASE_DIR = _checkout(tmp_path, "ruff check .\npython -m pytest\nmamori security audit\n")
    result = run("14.2.1")
    assert result.status == "pass", result.summary
    assert result.evidence["test_files"] == 2


def test_secure_development_fails_without_dependency_audit_and_fuzzing(tmp_path, settings):
    settings.BASE_DIR = _checkout(tmp_path, "ruff check .\npython -m pytest\nnpm ci --no-audit\n", fuzz=False)
    result = run("14.2.1")
    assert result.status == "fail" and "dependency_audit, fuzzing" in result.summary


def test_secure_development_not_applicable_outside_a_checkout(tmp_path, settings):
    (tmp_path / "mamori").mkdir()
    settings.BASE_DIR = tmp_path / "mamori"
    assert run("14.2.1").status == "not_applicable"


def test_whitepaper_check_names_sections_without_a_control(monkeypatch):
    from mamori.compliance import registry

    before = run("14.1.1")
    assert before.evidence["generator"] is True
    item = registry._controls.pop("8.2.2")
    try:
        result = run("14.1.1")
    finally:
        registry._controls["8.2.2"] = item
    assert result.status == "fail" and "labelling" in result.evidence["sections_without_check"]
    assert "labelling" not in before.evidence["sections_without_check"]


def test_labels_and_shared_roles():
    assert run("8.2.2").status == "pass"
    result = run("CLD.6.3.1")
    assert result.status == "pass" and "tenant_admin" in result.evidence["customer_roles"]
