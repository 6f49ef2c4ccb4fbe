"""The password policy page of the console, and the expiry at sign-in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mamori.accounts.actions_policy import update_password_policy
from mamori.accounts.models import PasswordPolicy, User
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from tests.conftest import PASSWORD

PAGE = "/t/acme/settings/password-policy/"
FORM = {
    "min_length": "12", "max_length": "128", "allowed_symbols": "", "class_rule": "none", "min_classes": "3",
    "expiry_days": "0", "history_count": "0", "refuse_common": "on", "refuse_similar": "on",
}


@pytest.fixture
def admin_client(admin, console_client):
    return console_client(admin)


def test_admin_sees_the_form_with_presets_and_no_notes_for_the_defaults(admin_client):
    response = admin_client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="min_length"' in html and 'value="12"' in html
    for slug in ("recommended", "four_classes", "three_classes_expiry"):
        assert f'value="{slug}"' in html
    assert 'class="asvs-note"' not in html


def test_a_preset_fills_the_form_and_shows_the_asvs_notes_without_saving(admin_client):
    response = admin_client.get(PAGE + "?preset=three_classes_expiry")
    html = response.content.decode()
    assert 'value="16"' in html and 'value="90"' in html
    assert html.count('class="asvs-note"') == 5  # min, max, symbols, classes, expiry
    assert "6.2.10" in html
    assert not PasswordPolicy.objects.exists()


def test_save_goes_through_the_action(admin_client, admin):
    data = {**FORM, "min_length": "10", "max_length": "31", "allowed_symbols": "!#$%&*+-=?@_",
            "class_rule": "each", "required_classes": ["lower", "upper", "digit", "symbol"]}
    response = admin_client.post(PAGE, data)
    assert response.status_code == 302
    row = PasswordPolicy.objects.get()
    assert (row.min_length, row.max_length, row.class_rule, row.required_classes) == (
        10, 31, "each", ["lower", "upper", "digit", "symbol"])
    event = AuditEvent.objects.filter(action="security.password_policy_updated").get()
    assert event.after["max_length"] == 31 and event.before["max_length"] == 128
    page = admin_client.get(PAGE).content.decode()
    assert page.count('class="asvs-note"') == 4


@pytest.mark.parametrize("language, text", [("en", "The minimum length must be between 8 and 128."),
                                            ("ja", "最小文字数")])
def test_invalid_settings_show_field_errors(admin_client, language, text):
    admin_client.post("/i18n/setlang/", {"language": language})
    response = admin_client.post(PAGE, {**FORM, "min_length": "4", "history_count": "99"},
                                 HTTP_ACCEPT_LANGUAGE=language)
    html = response.content.decode()
    assert response.status_code == 200
    assert text in html
    assert html.count('class="error"') == 2
    assert not PasswordPolicy.objects.exists()


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_non_admins_get_403(request, role, console_client):
    user = request.getfixturevalue(role)
    client = console_client(user)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, FORM).status_code == 403
    assert not PasswordPolicy.objects.exists()
    assert AuditEvent.objects.filter(action="access.denied").count() == 2


def test_nav_links_the_page_for_admins_only(admin_client, viewer, console_client):
    assert 'href="/t/acme/settings/security/"' in admin_client.get("/t/acme/").content.decode()
    assert "settings/security" not in console_client(viewer).get("/t/acme/").content.decode()


@pytest.mark.parametrize("language, text", [("en", "What the policy does"), ("ja", "ポリシーの働き")])
def test_help_page_describes_the_policy(admin_client, language, text):
    admin_client.post("/i18n/setlang/", {"language": language})
    response = admin_client.get("/t/acme/help/password-policy/")
    assert response.status_code == 200
    html = response.content.decode()
    assert text in html and "6.2.5" in html and "!#$%&amp;*+-=?@_" in html
    assert "password-policy" in admin_client.get("/t/acme/help/").content.decode()


# --- Expiry forces a change at sign-in -------------------------------------------------------

def _age_password(user, days: int) -> None:
    User.objects.filter(pk=user.pk).update(password_changed_at=timezone.now() - timedelta(days=days))


def test_expired_password_must_be_changed_before_anything_else(tenant, admin, viewer, console_client):
    update_password_policy(actor=Actor.for_user(admin), expiry_days=30)
    _age_password(viewer, 31)
    client = console_client(viewer)
    response = client.get("/t/acme/records/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"].endswith("/account/set-password/")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "expired" in page.content.decode() or "期限" in page.content.decode()
    # The current password is refused on the forced change.
    same = client.post("/t/acme/account/set-password/", {"password1": PASSWORD, "password2": PASSWORD})
    assert same.status_code == 200
    new = "a fresh spring meadow 7"
    done = client.post("/t/acme/account/set-password/", {"password1": new, "password2": new})
    assert done.status_code == 302
    assert client.get("/t/acme/records/").status_code == 200


def test_password_within_expiry_is_not_interrupted(tenant, admin, viewer, console_client):
    update_password_policy(actor=Actor.for_user(admin), expiry_days=30)
    _age_password(viewer, 29)
    assert console_client(viewer).get("/t/acme/records/").status_code == 200


def test_no_expiry_by_default(tenant, viewer, console_client):
    _age_password(viewer, 5000)
    assert console_client(viewer).get("/t/acme/records/").status_code == 200


def test_expiry_of_one_tenant_does_not_touch_another(tenant, admin, outsider, console_client):
    from mamori.tenancy.context import use_tenant

    update_password_policy(actor=Actor.for_user(admin), expiry_days=30)
    with use_tenant(outsider.tenant):
        _age_password(outsider, 400)
    client = Client()
    client.post("/t/globex/accounts/login/", {"login": outsider.email, "password": PASSWORD})
    assert client.get("/t/globex/records/").status_code == 200
