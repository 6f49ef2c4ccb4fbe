"""The tenant's banned words (ASVS 5.0 V6.1.2 / V6.2.11): company, product and service names."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import translation

from mamori.accounts.actions_policy import update_password_policy
from mamori.accounts.models import PasswordPolicy
from mamori.accounts.policy import (
    BANNED_WORDS_MAX,
    DEFAULT,
    clean_policy,
    help_texts,
    policy_for_tenant,
)
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from tests.api.conftest import ApiClient

PAGE = "/t/acme/settings/password-policy/"
URL = "/api/v1/security/password-policy"
FORM = {
    "min_length": "12", "max_length": "128", "allowed_symbols": "", "class_rule": "none", "min_classes": "3",
    "expiry_days": "0", "history_count": "0", "refuse_common": "on", "refuse_similar": "on",
}


def _codes(password, user) -> set[str]:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return {e.code for e in exc.error_list}
    return set()


def test_words_are_stored_normalised_without_duplicates(tenant, admin):
    policy = update_password_policy(actor=Actor.for_user(admin), banned_words=["Acme", " ＡＣＭＥ ", "Rocket-Mail", ""])
    assert policy.banned_words == ("acme", "rocket-mail")
    assert PasswordPolicy.objects.get().banned_words == ["acme", "rocket-mail"]
    event = AuditEvent.objects.filter(action="security.password_policy_updated").get()
    assert event.before["banned_words"] == [] and event.after["banned_words"] == ["acme", "rocket-mail"]


@pytest.mark.parametrize("password", ["acme-is-where-i-work", "MyACMEpassword2026", "ｒｏｃｋｅｔ-ｍａｉｌ forever"])
def test_a_password_containing_a_banned_word_is_refused(tenant, admin, editor, password):
    update_password_policy(actor=Actor.for_user(admin), banned_words=["ACME", "rocket-mail"])
    assert "password_banned_word" in _codes(password, editor)


def test_other_passwords_and_other_tenants_are_not_affected(tenant, admin, editor, outsider):
    update_password_policy(actor=Actor.for_user(admin), banned_words=["acme"])
    assert "password_banned_word" not in _codes("correct horse battery staple", editor)
    # Another tenant's policy does not know acme's words.
    from mamori.tenancy.context import use_tenant

    with use_tenant(outsider.tenant):
        assert "password_banned_word" not in _codes("acme acme acme acme", outsider)


def test_the_message_names_the_word_in_the_users_language(tenant, admin, editor):
    update_password_policy(actor=Actor.for_user(admin), banned_words=["acme"])
    for language, expected in (("en", "does not allow this word"), ("ja", "パスワードに使えない語")):
        with translation.override(language), pytest.raises(ValidationError) as info:
            validate_password("Acme rules the world", editor)
        message = " ".join(info.value.messages)
        assert "acme" in message and expected in message
    with translation.override("en"):
        assert any("banned" in text for text in help_texts(policy_for_tenant()))
    assert not any("banned" in text for text in help_texts(DEFAULT))


@pytest.mark.parametrize("words, fragment", [
    (["ab"], "at least 3"),
    (["x" * 65], "at most 64"),
    ([f"word{i:03d}" for i in range(BANNED_WORDS_MAX + 1)], "at most 100"),
    ("acme", "list of words"),
    ([1, 2], "list of words"),
])
def test_invalid_word_lists_get_a_field_error(words, fragment):
    with translation.override("en"), pytest.raises(ValidationError) as info:
        clean_policy({**DEFAULT.as_dict(), "banned_words": words})
    assert fragment in info.value.message_dict["banned_words"][0]


def test_console_form_saves_one_word_per_line_and_presets_keep_them(admin, console_client):
    client = console_client(admin)
    response = client.post(PAGE, {**FORM, "banned_words": "Acme\r\n\r\nRocketMail\n"})
    assert response.status_code == 302
    assert PasswordPolicy.objects.get().banned_words == ["acme", "rocketmail"]
    page = client.get(PAGE + "?preset=four_classes").content.decode()
    assert "acme\nrocketmail</textarea>" in page
    bad = client.post(PAGE, {**FORM, "banned_words": "ok-word\nab"})  # the admin's language: Japanese
    assert bad.status_code == 200 and "3 文字以上" in bad.content.decode()
    assert PasswordPolicy.objects.get().banned_words == ["acme", "rocketmail"]  # nothing half-written


def test_api_put_sets_keeps_and_validates_the_list(admin, api_token):
    api = ApiClient(api_token(admin))
    body = {k: v for k, v in DEFAULT.as_dict().items() if k != "banned_words"}
    response = api.request("PUT", URL, {**body, "banned_words": ["Acme"]})
    assert response.status_code == 200, response.content
    assert response.json()["banned_words"] == ["acme"]
    # A client that does not send the list keeps it.
    response = api.request("PUT", URL, {**body, "expiry_days": 0})
    assert response.status_code == 200 and response.json()["banned_words"] == ["acme"]
    response = api.request("PUT", URL, {**body, "banned_words": ["no"]}, HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(errors) == {"banned_words"} and "3" in errors["banned_words"]
    assert api.get(URL).json()["banned_words"] == ["acme"]
