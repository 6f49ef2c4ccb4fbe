"""Tenants page: status, region and usage counts (users, records, storage bytes) — never content."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from mamori.audit.events import Actor
from mamori.lifecycle.walk import tenant_storage_prefix
from mamori.operations import queries
from mamori.tenancy.context import use_tenant


@pytest.fixture(autouse=True)
def _storage(storage):
    """Files of this test in a directory of its own (tests/conftest.py)."""


def _records(admin, n: int, title: str):
    from mamori.records.actions import create_record, create_workspace

    workspace = create_workspace(actor=Actor.for_user(admin), name=f"{title} workspace")
    for i in range(n):
        create_record(actor=Actor.for_user(admin), workspace_id=workspace.pk, title=f"{title} {i}")


def test_usage_is_counted_per_tenant_in_its_own_context(tenant, admin, editor, viewer, other_tenant):
    _records(admin, 3, "Confidential merger plan")
    default_storage.save(f"{tenant_storage_prefix(tenant.pk)}attachments/a.bin", ContentFile(b"x" * 1500))
    default_storage.save(f"{tenant_storage_prefix(tenant.pk)}exports/deep/b.bin", ContentFile(b"y" * 500))
    default_storage.save(f"{tenant_storage_prefix(other_tenant.pk)}c.bin", ContentFile(b"z" * 7))
    with use_tenant(None):
        usage = queries.tenant_usage(tenant)
        other = queries.tenant_usage(other_tenant)
    assert (usage.users, usage.records, usage.storage_bytes, usage.storage_files) == (4, 3, 2000, 2)  # the owner make_tenant created + 3
    assert (other.users, other.records, other.storage_bytes, other.storage_files) == (1, 0, 7, 1)


def test_tenants_page_shows_counts_and_no_content(tenant, admin, staff_login):
    _records(admin, 2, "Confidential merger plan")
    default_storage.save(f"{tenant_storage_prefix(tenant.pk)}a.bin", ContentFile(b"x" * 2048))
    with use_tenant(None):
        html = staff_login("support").get("/provider/").content.decode()
    row = html.split('<td class="mono">acme</td>')[1].split("</tr>")[0]
    assert "Active" in row and "jp-east" in row
    assert '<td class="mono" data-usage="users">2 (2)</td>' in row
    assert '<td class="mono" data-usage="records">2</td>' in row
    assert 'title="2048 B, 1"' in row and "2.0" in row  # 2.0 KB
    assert "Confidential merger plan" not in html and admin.email not in html
