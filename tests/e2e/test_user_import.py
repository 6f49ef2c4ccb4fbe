"""CSV bulk user import in a real browser (issue 3, item 3), in Japanese and in English.

A tenant admin uploads a Shift_JIS CSV as Excel in Japan writes it; the preview shows the
one bad row with its line, column and message, and offers no apply button. The admin fixes
the row, uploads again, applies, and sees the result. The created user's invitation mail
goes to the local outbox; the invitee opens the link from it and registers.
"""

from __future__ import annotations

import re

import pytest

from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.tenancy.context import use_tenant
from tests.e2e.conftest import save_screenshot
from tests.e2e.journeys import check_page, heading, new_tab, shot_name, tr

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "correct horse battery staple"
INVITEE_PASSWORD = "a long passphrase for the invitee 2026"
HEADER = "メールアドレス,氏名,ロール,組織,言語,操作\r\n"
GOOD_ROWS = ("sato@import.example,佐藤 花子,編集者,営業部/東京,en,\r\n"
             "tanaka@import.example,田中 一郎,viewer,SALES,ja,\r\n")


@pytest.fixture
def setup(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.EMAIL_BACKEND = "mamori.operations.mail.OutboxEmailBackend"
    from mamori.access.models import OrgUnit
    from mamori.accounts.models import User
    from mamori.tenancy.actions import create_tenant

    with use_tenant(None):
        tenant, _admin, _secret = create_tenant(actor=Actor.system("e2e"), slug="imp", name="インポート株式会社",
                                                admin_email="owner@import.example")
    with use_tenant(tenant):
        admin = User(tenant=tenant, email="admin@import.example", name="Admin", role=Role.TENANT_ADMIN,
                     language="en")
        admin.set_password(ADMIN_PASSWORD)
        admin.save()
        sales = OrgUnit.objects.create(name="営業部", code="SALES")
        OrgUnit.objects.create(name="東京", parent=sales)
    return tenant


def _upload(page, base, data: bytes, lang: str) -> None:
    page.goto(f"{base}/users/import/")
    page.locator("input[name=file]").set_input_files(
        files=[{"name": "users-sjis.csv", "mimeType": "text/csv", "buffer": data}])
    page.get_by_role("button", name=tr(lang, "Check the file")).click()
    page.wait_for_load_state()
    check_page(page, lang)


def test_admin_imports_a_shift_jis_csv_and_the_invitee_registers(setup, jpage, lang, live_server, screenshot):
    tenant, page = setup, jpage
    base = f"{live_server.url}/t/imp"
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill("admin@import.example")
    page.locator("#id_password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name=tr(lang, "Sign in")).click()
    page.wait_for_url(f"{base}/")

    # 1. One bad row: an address without a domain, on line 3.
    bad = (HEADER + "sato@import.example,佐藤 花子,編集者,営業部/東京,en,\r\n"
           "tanaka@,田中 一郎,viewer,SALES,ja,\r\n").encode("cp932")
    _upload(page, base, bad, lang)
    table = page.locator("table.import-preview")
    error_row = table.locator("tr.row-error")
    assert error_row.count() == 1
    assert error_row.locator("td").first.inner_text() == "3"
    assert tr(lang, '"%(value)s" is not a valid e-mail address.', value="tanaka@") in error_row.inner_text()
    assert page.get_by_text("cp932").is_visible()
    assert page.get_by_role("button", name=tr(lang, "Apply the import")).count() == 0
    screenshot(shot_name("user-import-preview-error", lang))

    # 2. Fixed file: preview without errors, then apply.
    _upload(page, base, (HEADER + GOOD_ROWS).encode("cp932"), lang)
    assert table.locator("tr.row-error").count() == 0
    assert table.get_by_text("佐藤 花子").is_visible()
    screenshot(shot_name("user-import-preview", lang))
    page.get_by_role("button", name=tr(lang, "Apply the import")).click()
    # Applying changes users: the password is asked again first (re-authentication),
    # then the import is applied without uploading anything twice.
    page.wait_for_url(re.compile(r".*/accounts/reauthenticate/.*"))
    check_page(page, lang)
    screenshot(shot_name("reauthenticate", lang))
    page.locator("#id_password").fill(ADMIN_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{base}/users/import/")
    assert page.get_by_role("heading", name=tr(lang, "Result of the import")).is_visible()
    assert page.locator("dl.props dd").first.inner_text() == "2"
    screenshot(shot_name("user-import-result", lang))

    # 3. The invitation mail in the local outbox; the invitee registers with its link.
    from mamori.operations.models import OutboxMessage
    from tests.accounts.lifecycle_fixtures import deliver

    with use_tenant(None):
        assert deliver() >= 2
        message = OutboxMessage.objects.filter(to="sato@import.example").order_by("-id").first()
    assert message is not None
    path = re.search(r"https?://\S+?(/t/imp/invitation/[A-Za-z0-9_-]+/)", message.body).group(1)
    other = new_tab(page, live_server, lang)
    other.goto(f"{live_server.url}{path}")
    heading(other, lang, "Complete your registration")
    other.locator("#id_password1").fill(INVITEE_PASSWORD)
    other.locator("#id_password2").fill(INVITEE_PASSWORD)
    other.get_by_role("button", name=tr(lang, "Register")).click()
    other.wait_for_url(f"{base}/")
    heading(other, lang, "Dashboard")
    save_screenshot(other, shot_name("user-import-invitee-registered", lang))
    other.context.close()

    from mamori.accounts.models import User

    with use_tenant(tenant):
        sato = User.objects.get(email="sato@import.example")
        assert not sato.is_invited and sato.role == Role.EDITOR and sato.has_usable_password()
