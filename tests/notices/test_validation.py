"""The rules of a maintenance notice (12.1.2): a table of bad input, each refused with a
field-level message in the user's language, and the cases that must pass."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from mamori.audit.models import ProviderEvent
from mamori.notices import actions
from mamori.notices.models import Notice
from mamori.tenancy.context import use_tenant
from tests.notices.conftest import future, maintenance

pytestmark = pytest.mark.django_db

REASON = "Critical security fix for the database engine (CVE-2026-0001)"


def _days(start: float, hours: float = 2):
    now = timezone.now()
    return {"starts_at": now + timedelta(days=start), "ends_at": now + timedelta(days=start, hours=hours)}


START = future()[0]
CASES = [
    ("past start", _days(-1), "starts_at", "future"),
    ("start now", {"starts_at": timezone.now(), "ends_at": timezone.now() + timedelta(hours=1)}, "starts_at", "future"),
    ("short lead", _days(3), "starts_at", "at least 7 days ahead"),
    ("just under the lead", _days(7 - 1 / 24), "starts_at", "at least 7 days ahead"),
    ("emergency without reason", {**_days(1), "emergency": True}, "emergency_reason", "written reason"),
    ("emergency with a short reason", {**_days(1), "emergency": True, "emergency_reason": "db broken"},
     "emergency_reason", "at least 20 characters"),
    ("end before start", {"starts_at": START, "ends_at": START - timedelta(hours=1)}, "ends_at", "after the start"),
    ("end equals start", {"starts_at": START, "ends_at": START}, "ends_at", "after the start"),
    ("window too long", {**_days(10, hours=24 * 20)}, "ends_at", "at most 14 days"),
    ("no start", {"starts_at": None}, "starts_at", "needs a start"),
    ("no components", {"components": []}, "components", "at least one affected component"),
    ("unknown component", {"components": ["database", "mainframe"]}, "components", "mainframe"),
    ("chosen audience without tenants", {"audience": "chosen", "tenant_ids": []}, "tenants", "at least one tenant"),
    ("chosen tenant that does not exist", {"audience": "chosen", "tenant_ids": [999999]}, "tenants", "does not exist"),
    ("no title at all", {"title_ja": "", "title_en": ""}, "title_ja", "title"),
    ("title too long", {"title_en": "x" * 201}, "title_en", "200"),
    ("unknown kind", {"kind": "party"}, "kind", "kind"),
    ("time without a zone", {"starts_at": START.replace(tzinfo=None)}, "starts_at", "time zone"),
]


@pytest.mark.parametrize(("name", "overrides", "field", "text"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_on_its_field(name, overrides, field, text, operator, settings):
    settings.MAMORI_MAINTENANCE_LEAD_DAYS = 7
    before = ProviderEvent.objects.count()
    with use_tenant(None), translation.override("en"), pytest.raises(ValidationError) as caught:
        actions.create_notice(staff=operator, data=maintenance(**overrides))
    errors = caught.value.message_dict
    assert field in errors, errors
    assert text in " ".join(errors[field]), errors[field]
    assert Notice.objects.count() == 0 and ProviderEvent.objects.count() == before  # nothing saved, nothing logged


def test_messages_are_japanese_for_japanese_staff(operator):
    with use_tenant(None), translation.override("ja"), pytest.raises(ValidationError) as caught:
        actions.create_notice(staff=operator, data=maintenance(**_days(2), components=[]))
    errors = caught.value.message_dict
    assert "日前" in errors["starts_at"][0] and "緊急" in errors["starts_at"][0]
    assert "コンポーネント" in errors["components"][0]


# Built when the test runs, not when the module is collected: a long (parallel) run must not
# slide "the lead time and a bit" under the lead time.
GOOD = [
    ("exactly the lead time and a bit",
     lambda: {**_days(7, hours=1), "starts_at": timezone.now() + timedelta(days=7, minutes=5)}),
    ("emergency with a reason", lambda: {**_days(0.1), "emergency": True, "emergency_reason": REASON}),
    ("change notice without a window",
     lambda: {"kind": "change", "starts_at": None, "ends_at": None, "components": []}),
    ("vulnerability soon (no lead time for vulnerabilities)", lambda: {"kind": "vulnerability", **_days(1)}),
    ("release notes (no window kept)", lambda: {"kind": "release", "components": []}),
]


@pytest.mark.parametrize(("name", "make_overrides"), GOOD, ids=[g[0] for g in GOOD])
def test_good_input_is_accepted(name, make_overrides, operator, settings):
    settings.MAMORI_MAINTENANCE_LEAD_DAYS = 7
    overrides = make_overrides()
    with use_tenant(None):
        notice = actions.create_notice(staff=operator, data=maintenance(**overrides))
        published = actions.publish_notice(staff=operator, notice_id=notice.pk)
    assert published.state == "published" and published.published_at is not None
    if overrides.get("kind") == "release":
        assert published.starts_at is None


def test_lead_time_follows_the_setting(operator, settings):
    settings.MAMORI_MAINTENANCE_LEAD_DAYS = 2
    with use_tenant(None):
        actions.create_notice(staff=operator, data=maintenance(**_days(3)))
    settings.MAMORI_MAINTENANCE_LEAD_DAYS = 4
    with use_tenant(None), pytest.raises(ValidationError):
        actions.create_notice(staff=operator, data=maintenance(**_days(3)))


def test_overlapping_windows_on_the_same_component_are_refused(make_notice, operator, make_tenant):
    first = make_notice(publish=True, components=["database", "api"])
    start = first.starts_at + timedelta(hours=1)
    overlap = {"starts_at": start, "ends_at": start + timedelta(hours=3)}
    with use_tenant(None), translation.override("en"), pytest.raises(ValidationError) as caught:
        actions.create_notice(staff=operator, data=maintenance(**overlap, components=["api"]))
    message = caught.value.message_dict["starts_at"][0]
    assert f"#{first.pk}" in message and "overlaps" in message
    with use_tenant(None):
        # Another component, or a window that starts as the first ends, is fine.
        actions.create_notice(staff=operator, data=maintenance(**overlap, components=["mail"]))
        actions.create_notice(staff=operator, data=maintenance(
            starts_at=first.ends_at, ends_at=first.ends_at + timedelta(hours=1)))


def test_overlap_between_disjoint_chosen_audiences_is_allowed(make_notice, operator, make_tenant):
    a, b = make_tenant("alpha"), make_tenant("beta")
    first = make_notice(publish=True, audience="chosen", tenant_ids=[a.pk])
    same = {"starts_at": first.starts_at, "ends_at": first.ends_at}
    with use_tenant(None):
        actions.create_notice(staff=operator, data=maintenance(**same, audience="chosen", tenant_ids=[b.pk]))
        with pytest.raises(ValidationError):
            actions.create_notice(staff=operator, data=maintenance(**same, audience="chosen", tenant_ids=[a.pk, b.pk]))
        with pytest.raises(ValidationError):
            actions.create_notice(staff=operator, data=maintenance(**same))  # all tenants include alpha


def test_publishing_checks_again(operator, settings):
    """A draft saved in time, published once the lead time has run out, is refused; a draft
    needs both languages only when published."""
    settings.MAMORI_MAINTENANCE_LEAD_DAYS = 7
    with use_tenant(None):
        draft = actions.create_notice(staff=operator, data=maintenance(title_en="", body_en=""))
        with translation.override("en"), pytest.raises(ValidationError) as caught:
            actions.publish_notice(staff=operator, notice_id=draft.pk)
        assert {"title_en", "body_en"} <= set(caught.value.message_dict)
        actions.update_notice(staff=operator, notice_id=draft.pk, data=maintenance())
        later = timezone.now() + timedelta(days=5)
        with pytest.raises(ValidationError) as caught:
            actions.publish_notice(staff=operator, notice_id=draft.pk, now=later)
        assert "starts_at" in caught.value.message_dict
        assert Notice.objects.get(pk=draft.pk).state == "draft"


def test_editing_the_text_of_a_published_notice_keeps_its_window(make_notice, operator, settings):
    notice = make_notice(publish=True)
    settings.MAMORI_MAINTENANCE_LEAD_DAYS = 30  # the window no longer meets the (new) lead time …
    with use_tenant(None):
        data = maintenance(starts_at=notice.starts_at, ends_at=notice.ends_at, body_en="Now with details.")
        actions.update_notice(staff=operator, notice_id=notice.pk, data=data)  # … but the text may change
        moved = maintenance(starts_at=notice.starts_at + timedelta(hours=1), ends_at=notice.ends_at + timedelta(hours=1))
        with pytest.raises(ValidationError):
            actions.update_notice(staff=operator, notice_id=notice.pk, data=moved)  # a new window is checked


def test_cancelled_and_published_notices_cannot_be_published_or_edited_again(make_notice, operator):
    notice = make_notice(publish=True)
    with use_tenant(None):
        with pytest.raises(ValidationError):
            actions.publish_notice(staff=operator, notice_id=notice.pk)
        actions.cancel_notice(staff=operator, notice_id=notice.pk, reason="Postponed")
        with pytest.raises(ValidationError):
            actions.update_notice(staff=operator, notice_id=notice.pk, data=maintenance())
        with pytest.raises(ValidationError):
            actions.cancel_notice(staff=operator, notice_id=notice.pk)
