"""Data lifecycle journeys (issue 6) in Japanese and English. (Attachments: test_attachments.py.)

1. Full export and backups: a tenant admin starts a full export (password asked again), the
   immediate task backend builds it, the admin downloads the ZIP from the link; a provider
   operator takes a backup of the tenant in the provider console and the admin sees it on the
   tenant's backups page.
2. Termination: the admin terminates the contract (password asked again, identifier typed),
   the tenant is in its grace period; the provider cancels the termination in the provider
   console and the admin's page offers termination again.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from mamori.audit.events import Actor
from mamori.tenancy.context import use_tenant
from tests.e2e.journeys import (
    check_page,
    confirm_password,
    heading,
    make_staff,
    make_tenant,
    new_tab,
    shot_name,
    sign_in,
    staff_sign_in,
    tr,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def immediate(settings, tmp_path, monkeypatch):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "files")}}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    monkeypatch.delenv("MAMORI_MASTER_KEY", raising=False)  # the development master key
    monkeypatch.delenv("MAMORI_MASTER_KEY_FILE", raising=False)
    from mamori.lifecycle import keys

    keys.clear_cache()
    yield
    keys.clear_cache()


def test_full_export_download_and_backups(immediate, jpage, lang, live_server, screenshot):
    from mamori.records import actions

    page = jpage
    tenant, admin = make_tenant("datco", "データ株式会社", admin_email="admin@datco.example", lang=lang)
    with use_tenant(tenant):
        ws = actions.create_workspace(actor=Actor.for_user(admin), name="第一工場")
        actions.create_record(actor=Actor.for_user(admin), workspace_id=ws.pk, title="点検記録 1")
    staff = make_staff("ops@provider.example")
    base = f"{live_server.url}/t/datco"
    sign_in(page, base, "admin@datco.example")

    page.goto(f"{base}/settings/data/")
    heading(page, lang, "Data")
    page.get_by_role("link", name=tr(lang, "Export all data")).click()
    page.wait_for_url(f"{base}/settings/data/export/")
    heading(page, lang, "Export all data")
    page.locator("main form button[type=submit]").click()
    confirm_password(page)
    page.wait_for_url(f"{base}/settings/data/export/*/")
    heading(page, lang, "Data export")
    link = page.get_by_role("link", name=tr(lang, "Download ZIP"))
    assert link.is_visible()
    screenshot(shot_name("data-export-ready", lang))
    with page.expect_download() as info:
        link.click()
    with zipfile.ZipFile(io.BytesIO(open(info.value.path(), "rb").read())) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert any(name.startswith("tables/") for name in archive.namelist())
    assert manifest

    # The provider backs the tenant up; the admin sees the backup.
    ops = new_tab(page, live_server, lang)
    staff_sign_in(ops, live_server, staff.email)
    heading(ops, lang, "Tenants")
    ops.goto(f"{live_server.url}/provider/tenants/datco/backups/")
    heading(ops, lang, "Tenant backups")
    ops.get_by_role("button", name=tr(lang, "Back up now")).click()
    ops.wait_for_load_state()
    check_page(ops, lang)
    from tests.e2e.conftest import save_screenshot

    save_screenshot(ops, shot_name("data-provider-tenant-backups", lang))
    ops.context.close()

    page.goto(f"{base}/settings/data/backups/")
    heading(page, lang, "Backups of your data")
    assert page.locator("table tbody tr").count() == 1
    screenshot(shot_name("data-backups", lang))


def test_termination_with_reauthentication_cancelled_by_the_provider(jpage, lang, live_server, screenshot):
    page = jpage
    make_tenant("endco", "解約株式会社", admin_email="admin@endco.example", lang=lang)
    staff = make_staff("ops@provider.example")
    base = f"{live_server.url}/t/endco"
    sign_in(page, base, "admin@endco.example")

    page.goto(f"{base}/settings/data/termination/")
    confirm_password(page)  # the page itself needs a recent re-authentication
    heading(page, lang, "Terminate the contract")
    screenshot(shot_name("data-termination-form", lang))
    page.locator("#id_confirm_slug").fill("endco")
    page.get_by_role("button", name=tr(lang, "Terminate the contract")).click()
    confirm_password(page)
    page.wait_for_url(f"{base}/settings/data/termination/")
    status = page.locator("#termination-status")
    assert tr(lang, "The contract is being terminated") in status.inner_text()
    check_page(page, lang)
    screenshot(shot_name("data-termination-grace", lang))

    ops = new_tab(page, live_server, lang)
    staff_sign_in(ops, live_server, staff.email)
    ops.goto(f"{live_server.url}/provider/tenants/endco/termination/")
    heading(ops, lang, "Contract termination")
    assert tr(lang, "Termination under way") in ops.locator("main").inner_text()
    ops.get_by_role("button", name=tr(lang, "Cancel the termination")).click()
    ops.wait_for_load_state()
    check_page(ops, lang)
    assert tr(lang, "Termination under way") not in ops.locator("main").inner_text()
    ops.context.close()

    page.goto(f"{base}/settings/data/termination/")
    confirm_password(page)
    heading(page, lang, "Terminate the contract")
    assert page.locator("#termination-status").count() == 0
    assert page.get_by_role("button", name=tr(lang, "Terminate the contract")).is_visible()
