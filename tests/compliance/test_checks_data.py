"""Checks of data location, inventory, removal, disposal and backups — each passing on the real
system and failing once the control is broken (6.1.1, 6.1.3, 8.1.1, CLD.8.1.5, 11.2.7, 12.3.1,
15.1.3, organisational rows)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from mamori.audit.events import Actor
from mamori.core.provider_profile import DEMO_PROFILE
from mamori.tenancy.context import tenant_context, use_tenant
from mamori.tenancy.models import Tenant
from tests.compliance.helpers import as_owner, run

pytestmark = pytest.mark.django_db


def _profile(tmp_path: Path, settings, text: str) -> None:
    path = tmp_path / "profile.toml"
    path.write_text(text, encoding="utf-8")
    settings.MAMORI_PROVIDER_PROFILE = str(path)


def _demo_without(section_header: str) -> str:
    """The demo profile without the block that starts at ``section_header`` (up to the next block)."""
    out, skip = [], False
    for line in DEMO_PROFILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            skip = line.strip() == section_header
        if not skip:
            out.append(line)
    return "\n".join(out) + "\n"


def test_responsibility_split_passes_with_values_and_follows_the_settings(settings):
    settings.MAMORI_TERMINATION_GRACE_DAYS = 60
    result = run("6.1.1")
    assert result.status == "pass" and "grace period 60 days" in result.summary
    assert result.evidence["provider"]["termination_grace_days"] == 60


def test_responsibility_split_fails_without_contacts(tmp_path, settings):
    _profile(tmp_path, settings, _demo_without("[contacts]"))
    result = run("6.1.1")
    assert result.status == "fail"
    assert result.evidence["missing"] == ["provider.security_email", "provider.support_email"]


def test_data_location_passes_with_the_demo_profile(tenant, other_tenant):
    result = run("6.1.3")
    assert result.status == "pass", result.summary
    assert result.evidence["tenant_regions"] == {"jp-east": 2}
    assert result.evidence["storage_targets"]["offsite-backups"] == "jp-west"


def test_data_location_fails_for_a_tenant_in_an_undeclared_region(tenant, other_tenant):
    Tenant.objects.filter(pk=other_tenant.pk).update(data_region="us-east-1")
    result = run("6.1.3")
    assert result.status == "fail" and "1 tenant(s) in undeclared region us-east-1" in result.summary


def test_data_location_fails_for_a_backup_target_outside_the_declared_regions(tmp_path, settings):
    text = DEMO_PROFILE.read_text(encoding="utf-8").replace(
        'name = "offsite-backups"\nkind = "offsite"\nregion = "jp-west"',
        'name = "offsite-backups"\nkind = "offsite"\nregion = "eu-central"')
    _profile(tmp_path, settings, text)
    result = run("6.1.3")
    assert result.status == "fail" and "storage target offsite-backups: region eu-central not declared" \
        in result.summary


def test_data_location_fails_when_offsite_is_configured_without_a_declared_target(tmp_path, settings):
    settings.BACKUP_OFFSITE_DIR = str(tmp_path / "offsite")
    text = DEMO_PROFILE.read_text(encoding="utf-8").replace('kind = "offsite"', 'kind = "offsite-copy"')
    _profile(tmp_path, settings, text)
    result = run("6.1.3")
    assert result.status == "fail" and "no storage target of kind offsite" in result.summary


def test_every_table_is_classified():
    result = run("8.1.1")
    assert result.status == "pass", result.summary
    assert "records_record" in result.evidence["tenant"] and "tenancy_tenant" in result.evidence["provider"]
    assert result.evidence["counts"]["unclassified"] == 0


def test_a_new_unclassified_table_fails_the_inventory(settings):
    as_owner("CREATE TABLE shadow_customer_copy (id integer PRIMARY KEY, body text)")
    result = run("8.1.1")
    assert result.status == "fail" and result.evidence["unclassified"] == ["shadow_customer_copy"]
    settings.MAMORI_PROVIDER_TABLES = ["shadow_customer_copy"]  # the provider declares it provider data
    assert run("8.1.1").status == "pass"


def test_sub_processors_pass_and_fail_without_them(tmp_path, settings):
    assert run("15.1.3").status == "pass"
    _profile(tmp_path, settings, DEMO_PROFILE.read_text(encoding="utf-8").split("[[subprocessors]]")[0])
    result = run("15.1.3")
    assert result.status == "fail" and "no sub-processors declared" in result.summary


@pytest.mark.parametrize("key, field", [("5.1.1", "policies.security_policy_url"), ("7.2.2", "statements.training"),
                                        ("18.1.1", "statements.law"),
                                        ("18.1.2", "statements.intellectual_property"),
                                        ("18.2.1", "statements.independent_review")])
def test_organisational_rows_quote_the_profile_or_name_what_is_missing(key, field, settings):
    result = run(key)
    assert result.status == "organisational" and result.evidence["missing"] == []
    assert result.evidence["texts"][field]["ja"] and result.evidence["texts"][field]["en"]
    settings.PRODUCTION = True  # production without a profile: nothing is invented
    settings.MAMORI_PROVIDER_PROFILE = ""
    empty = run(key)
    assert empty.status == "organisational" and field in empty.evidence["missing"] and empty.evidence["texts"] == {}
    assert field in empty.summary


# --- CLD.8.1.5 and 11.2.7: a real termination and purge ----------------------------------------

@pytest.fixture
def purged(tenant, admin, other_tenant, settings, tmp_path, django_capture_on_commit_callbacks):
    from mamori.lifecycle import actions_termination as acts
    from mamori.lifecycle.purge import purge_tenant
    from mamori.lifecycle.walk import tenant_storage_prefix
    from mamori.records.actions import create_label

    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "files")}}}
    with use_tenant(tenant):
        create_label(actor=Actor.for_user(admin), name="契約")
        acts.request_termination(actor=Actor.for_user(admin), confirm_slug=tenant.slug)
    default_storage.save(f"{tenant_storage_prefix(tenant.pk)}attachments/1/a.bin", ContentFile(b"x"))
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        purge_tenant(tenant, actor=Actor.system("test"), force=True)
    return tenant


def test_purge_check_passes_after_a_real_purge(purged):
    result = run("CLD.8.1.5")
    assert result.status == "pass", result.summary
    assert result.evidence["purged_tenants"] == 1 and result.evidence["rows_left"] == {}
    assert "grace period 30 days" in result.summary


def test_purge_check_fails_when_a_row_of_a_purged_tenant_remains(purged):
    from mamori.records.models import Label

    with use_tenant(None), tenant_context(purged):
        Label.objects.create(name="left behind")
    result = run("CLD.8.1.5")
    assert result.status == "fail" and result.evidence["rows_left"] == {f"{purged.slug}:records_label": 1}


def test_purge_check_fails_when_a_file_of_a_purged_tenant_remains(purged):
    from mamori.lifecycle.walk import tenant_storage_prefix

    default_storage.save(f"{tenant_storage_prefix(purged.pk)}exports/late.zip", ContentFile(b"x"))
    result = run("CLD.8.1.5")
    assert result.status == "fail" and result.evidence["tenants_with_files"] == [purged.slug]


def test_certificates_verify_and_a_tampered_one_fails(purged):
    from mamori.lifecycle.models import DeletionCertificate

    result = run("11.2.7")
    assert result.status == "pass" and result.evidence["checked"] == 1
    cert = DeletionCertificate.objects.get()
    document = json.loads(cert.document)
    document["certificate"]["rows_deleted"] = {"records.Label": 0}
    DeletionCertificate.objects.filter(pk=cert.pk).update(document=json.dumps(document))
    result = run("11.2.7")
    assert result.status == "fail" and "signature does not match" in result.summary


# --- 12.3.1: real backups and a real restore drill --------------------------------------------

@pytest.fixture
def backups_made(tenant, settings, tmp_path, monkeypatch):
    from mamori.lifecycle.backup_crypto import generate_backup_key
    from mamori.lifecycle.backup_jobs import run_backup
    from mamori.lifecycle.backup_restore import run_drill

    monkeypatch.setenv("MAMORI_BACKUP_KEY", generate_backup_key())
    monkeypatch.delenv("MAMORI_BACKUP_KEY_FILE", raising=False)
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_OFFSITE_DIR = ""
    with use_tenant(None):
        run_backup(actor=Actor.system("test"))
        drill = run_drill(actor=Actor.system("test"))
    assert drill.result == "passed", drill.error
    return drill


@pytest.mark.django_db(transaction=True)
def test_backup_check_passes_with_a_fresh_backup_and_a_passed_drill(backups_made):
    result = run("12.3.1")
    assert result.status == "pass", result.summary
    assert result.evidence["newest_age_hours"] < 1 and result.evidence["policy"]["keep_daily"] == 7


@pytest.mark.django_db(transaction=True)
def test_backup_check_fails_when_the_newest_backup_is_deleted(backups_made):
    from mamori.lifecycle.models import SystemBackup

    SystemBackup.objects.all().delete()
    result = run("12.3.1")
    assert result.status == "fail" and "no system backup" in result.summary


@pytest.mark.django_db(transaction=True)
def test_backup_check_fails_when_backup_or_drill_are_too_old(backups_made):
    from mamori.lifecycle.models import RestoreDrill, SystemBackup

    SystemBackup.objects.update(created_at=timezone.now() - timedelta(hours=30))
    RestoreDrill.objects.update(started_at=timezone.now() - timedelta(days=31))
    result = run("12.3.1")
    assert result.status == "fail"
    assert "newest backup 30.0 h old, policy 26 h" in result.summary
    assert "last passed restore drill 31.0 days old, policy 30 days" in result.summary
