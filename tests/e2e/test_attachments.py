"""Record attachments in a real browser (issue 6, item 2), in Japanese and in English: an editor attaches a file on the
record's page, sees a refused type as a form error, downloads the file (saved, not shown, with
the exact Japanese name and bytes) and deletes it."""

from __future__ import annotations

import pytest

from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.tenancy.context import use_tenant
from tests.e2e.journeys import check_page, shot_name, tr

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def setup(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "files")}}}
    from mamori.accounts.models import User
    from mamori.records import actions
    from mamori.tenancy.actions import create_tenant

    with use_tenant(None):
        tenant, _admin, _secret = create_tenant(actor=Actor.system("e2e"), slug="fileco", name="添付株式会社",
                                                admin_email="owner@fileco.example")
    with use_tenant(tenant):
        editor = User(tenant=tenant, email="editor@fileco.example", name="Editor", role=Role.EDITOR, language="en")
        editor.set_password(PASSWORD)
        editor.save()
        ws = actions.create_workspace(actor=Actor.for_user(editor), name="Plant 1")
        record = actions.create_record(actor=Actor.for_user(editor), workspace_id=ws.pk, title="Inspection")
    return tenant, record


def test_editor_attaches_downloads_and_deletes_a_file(setup, jpage, lang, live_server, tmp_path, screenshot):
    (_tenant, record), page = setup, jpage
    base = f"{live_server.url}/t/fileco"
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill("editor@fileco.example")
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name=tr(lang, "Sign in")).click()
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/records/{record.pk}/")
    check_page(page, lang)
    # A program disguised by its name: refused by its content, shown on the form.
    page.locator("#id_file").set_input_files(files=[{"name": "report.pdf", "mimeType": "application/pdf",
                                                     "buffer": b"MZ\x90\x00" + b"\x00" * 500}])
    page.get_by_role("button", name=tr(lang, "Upload")).click()
    page.wait_for_load_state()
    refused = tr(lang, "This type of file is not accepted (the type is read from the content, not the name). "
                       "Accepted types: %(types)s.").split("%(types)s")[0]
    assert refused in page.locator("main").inner_text()

    page.locator("#id_file").set_input_files(files=[{"name": "検査報告書.pdf", "mimeType": "application/pdf",
                                                     "buffer": PDF}])
    page.get_by_role("button", name=tr(lang, "Upload")).click()
    page.wait_for_load_state()
    assert page.get_by_text(tr(lang, "File attached.")).is_visible()
    link = page.get_by_role("link", name="検査報告書.pdf")
    assert link.is_visible()
    screenshot(shot_name("record-attachments", lang))

    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "検査報告書.pdf"
    saved = tmp_path / "downloaded.pdf"
    download.save_as(str(saved))
    assert saved.read_bytes() == PDF

    page.get_by_role("link", name=tr(lang, "Delete")).last.click()
    check_page(page, lang)
    page.get_by_role("button", name=tr(lang, "Delete")).click()
    page.wait_for_load_state()
    assert page.get_by_text(tr(lang, "Attachment deleted.")).is_visible()
    assert page.get_by_text(tr(lang, "No attachments.")).is_visible()
