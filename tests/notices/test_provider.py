"""Provider console pages for notices: who may do what, the form's errors on their fields,
publishing from the console and the delivery status per tenant."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mamori.access.errors import PermissionDenied
from mamori.audit.models import ProviderEvent
from mamori.notices import actions
from mamori.notices.models import Notice
from mamori.tenancy.context import use_tenant
from tests.notices.conftest import maintenance

pytestmark = pytest.mark.django_db


def _form(days: float = 10, **overrides) -> dict:
    start = timezone.localtime(timezone.now() + timedelta(days=days), timezone=__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    data = {"kind": "maintenance", "title_ja": "ストレージの移行", "title_en": "Storage migration",
            "body_ja": "ファイルストレージを移行します。", "body_en": "We migrate the file storage.",
            "zone": "Asia/Tokyo", "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"), "impact": "outage",
            "components": ["storage"], "audience": "all", "emergency_reason": ""}
    data.update(overrides)
    return data


def test_anonymous_goes_to_the_staff_sign_in(db):
    for path in ("/provider/notices/", "/provider/notices/new/"):
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/provider/login/")


def test_operator_drafts_and_publishes_from_the_console(operator, provider_client, tenant, admin,
                                                        django_capture_on_commit_callbacks):
    client = provider_client(operator)
    response = client.post("/provider/notices/new/", _form())
    assert response.status_code == 302, response.content.decode()[:2000]
    notice = Notice.objects.get()
    assert notice.state == "draft" and notice.created_by == operator and notice.components == ["storage"]
    # The form's times are Japan time, stored in UTC.
    assert timezone.localtime(notice.starts_at, timezone=__import__("zoneinfo").ZoneInfo("Asia/Tokyo")).strftime(
        "%Y-%m-%dT%H:%M") == _form()["starts_at"]
    detail = client.get(f"/provider/notices/{notice.pk}/")
    assert detail.status_code == 200 and b"Storage migration" in detail.content
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert client.post(f"/provider/notices/{notice.pk}/publish/").status_code == 302
    assert len(callbacks) == 1  # the mail task, queued after commit
    notice.refresh_from_db()
    assert notice.state == "published"
    page = client.get(f"/provider/notices/{notice.pk}/").content.decode()
    assert 'id="deliveries"' in page and tenant.slug in page  # the console delivery per tenant
    edit = client.get(f"/provider/notices/{notice.pk}/edit/")
    assert edit.status_code == 200 and edit.context["form"].initial["starts_at"].strftime("%Y-%m-%dT%H:%M") == \
        _form()["starts_at"]


def test_form_errors_are_shown_on_their_fields(operator, provider_client):
    client = provider_client(operator)
    client.cookies["django_language"] = "en"
    response = client.post("/provider/notices/new/", _form(days=2, components=[]))
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "at least 7 days ahead" in errors["starts_at"][0] and "component" in errors["components"][0]
    html = response.content.decode()
    assert "ストレージの移行" in html  # nothing typed is lost
    response = client.post("/provider/notices/new/", _form(days=1, emergency="on", emergency_reason="short"))
    assert response.status_code == 422 and "at least 20 characters" in response.context["form"].errors["emergency_reason"][0]
    assert client.post("/provider/notices/new/", _form(starts_at="not a date")).status_code == 422
    assert not Notice.objects.exists()


def test_publish_errors_are_listed(operator, provider_client, settings):
    with use_tenant(None):
        draft = actions.create_notice(staff=operator, data=maintenance(title_en="", body_en=""))
    client = provider_client(operator)
    client.cookies["django_language"] = "en"
    response = client.post(f"/provider/notices/{draft.pk}/publish/")
    assert response.status_code == 422 and b'id="publish-errors"' in response.content
    assert b"Title (English)" in response.content
    assert Notice.objects.get(pk=draft.pk).state == "draft"


def test_support_staff_may_read_but_not_write(support_staff, operator, provider_client, make_notice):
    notice = make_notice(publish=True)
    client = provider_client(support_staff)
    assert client.get("/provider/notices/").status_code == 200
    assert client.get(f"/provider/notices/{notice.pk}/").status_code == 200
    assert b"New notice" not in client.get("/provider/notices/").content
    for path in ("/provider/notices/new/", f"/provider/notices/{notice.pk}/edit/"):
        assert client.get(path).status_code == 403
        assert client.post(path, _form()).status_code == 403
    assert client.post(f"/provider/notices/{notice.pk}/cancel/").status_code == 403
    assert client.post(f"/provider/notices/{notice.pk}/publish/").status_code == 403
    assert Notice.objects.get(pk=notice.pk).state == "published" and Notice.objects.count() == 1
    with use_tenant(None), pytest.raises(PermissionDenied):
        actions.create_notice(staff=support_staff, data=maintenance())  # the action checks too


def test_security_officer_may_publish_and_cancel(officer, provider_client, make_notice):
    client = provider_client(officer)
    assert client.post("/provider/notices/new/", _form()).status_code == 302
    notice = Notice.objects.get()
    assert client.post(f"/provider/notices/{notice.pk}/publish/").status_code == 302
    assert client.post(f"/provider/notices/{notice.pk}/cancel/", {"reason": "Moved to next month"}).status_code == 302
    notice.refresh_from_db()
    assert notice.state == "cancelled" and notice.cancel_reason == "Moved to next month"
    events = list(ProviderEvent.objects.filter(action__startswith="notice.").order_by("id")
                  .values_list("action", "actor_label"))
    assert events[:3] == [("notice.created", officer.email), ("notice.published", officer.email),
                          ("notice.cancelled", officer.email)]


def test_inactive_staff_cannot_publish(operator, make_notice):
    from mamori.operations.models import ProviderStaff

    draft = make_notice()
    ProviderStaff.objects.filter(pk=operator.pk).update(is_active=False)
    operator.refresh_from_db()
    with use_tenant(None), pytest.raises(PermissionDenied):
        actions.publish_notice(staff=operator, notice_id=draft.pk)


def test_unknown_notice_is_404(operator, provider_client):
    client = provider_client(operator)
    assert client.get("/provider/notices/999999/").status_code == 404
    assert client.post("/provider/notices/999999/publish/").status_code == 404


def test_list_filters_by_state_and_escapes(operator, provider_client, make_notice):
    make_notice(title_en="<script>alert(1)</script>")
    client = provider_client(operator)
    client.cookies["django_language"] = "en"
    html = client.get("/provider/notices/?state=draft").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "alert" not in client.get("/provider/notices/?state=published").content.decode()


def test_status_page_notices_contract(make_notice, other_tenant):
    from mamori.notices.queries import status_page_notices

    public = make_notice(publish=True, components=["api"])
    make_notice(publish=True, audience="chosen", tenant_ids=[other_tenant.pk], components=["mail"])
    make_notice(components=["worker"])  # a draft
    [item] = status_page_notices()
    assert item["id"] == public.pk and item["components"] == ["api"] and item["impact"] == "degraded"
    assert set(item) == {"id", "kind", "title", "body", "starts_at", "ends_at", "components", "impact",
                         "emergency", "published_at", "updated_at", "url"}
    assert status_page_notices(now=public.ends_at) == []


def test_failed_mails_can_be_sent_again_from_the_console(operator, support_staff, provider_client, make_notice,
                                                         tenant, admin, settings, django_capture_on_commit_callbacks,
                                                         run_tasks):
    from django.core import mail

    from mamori.notices.models import NoticeDelivery

    settings.EMAIL_BACKEND = "tests.notices.test_delivery.FailingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        notice = make_notice(publish=True)
    run_tasks()
    assert NoticeDelivery.objects.filter(notice=notice, channel="mail", sent_at__isnull=True).count() == 2
    client = provider_client(operator)
    client.cookies["django_language"] = "en"
    assert b"Send the 2 failed mails again" in client.get(f"/provider/notices/{notice.pk}/").content
    assert provider_client(support_staff).post(f"/provider/notices/{notice.pk}/retry/").status_code == 403
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/provider/notices/{notice.pk}/retry/").status_code == 302
    run_tasks()
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@acme.example", "owner@acme.example"]
    assert not NoticeDelivery.objects.filter(notice=notice, channel="mail", sent_at__isnull=True).exists()
    assert ProviderEvent.objects.get(action="notice.delivery_retried").after["mails"] == 2
    response = client.post(f"/provider/notices/{notice.pk}/retry/", follow=True)
    assert b"No failed mails to send again." in response.content
