"""The per-tenant password policy (9.2.4): every rule, presets, the policy's own checks,
history and current-password reuse on every path, expiry, the audited action."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from django.utils.translation import override

from mamori.access.errors import PermissionDenied
from mamori.access.roles import Role
from mamori.accounts import actions
from mamori.accounts.actions_policy import update_password_policy
from mamori.accounts.models import PasswordHistory, PasswordPolicy, User
from mamori.accounts.policy import (
    DEFAULT,
    PRESETS,
    Policy,
    TenantPasswordPolicyValidator,
    asvs_notes,
    clean_policy,
    password_expired,
    policy_errors,
    policy_for_tenant,
    preset,
)
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.tenancy.context import use_tenant

GOOD = "quiet meadow lantern 42"


def codes(password, user=None, policy=None) -> set[str]:
    return {e.code for e in policy_errors(password, user, policy)}


def messages(password, user=None, policy=None) -> list[str]:
    return [m for e in policy_errors(password, user, policy) for m in e.messages]


def set_policy(admin, **fields):
    return update_password_policy(actor=Actor.for_user(admin), **fields)


# --- The validator is the only one, and it is what Django's API runs -----------------------

def test_settings_use_only_the_tenant_policy_validator():
    validators = password_validation.get_default_password_validators()
    assert [type(v) for v in validators] == [TenantPasswordPolicyValidator]


def test_defaults_without_a_row(tenant):
    assert not PasswordPolicy.objects.exists()
    assert policy_for_tenant(tenant) == DEFAULT
    assert (DEFAULT.min_length, DEFAULT.max_length, DEFAULT.class_rule, DEFAULT.expiry_days,
            DEFAULT.history_count, DEFAULT.refuse_common, DEFAULT.refuse_similar) == (
        12, 128, "none", 0, 0, True, True)
    assert asvs_notes(DEFAULT) == {}


# --- Length ----------------------------------------------------------------------------------

@pytest.mark.parametrize("password, ok", [
    ("a" * 11, False), ("plum kettle9", True), ("x" * 128, True), ("x" * 129, False),
])
def test_default_length_bounds(tenant, password, ok):
    assert (not {"password_too_short", "password_too_long"} & codes(password)) is ok


def test_length_counts_characters_not_bytes(tenant):
    japanese = "春の小川はさらさら行くよ" * 10  # 120 characters, 360 bytes in UTF-8
    assert len(japanese) == 120
    assert codes(japanese) == set()
    assert "password_too_long" in codes(japanese + "岸のすみれやれんげの花に")


def test_min_and_max_from_the_policy(tenant):
    policy = Policy(min_length=10, max_length=16)
    assert "password_too_short" in codes("abcdefgh1", policy=policy)
    assert codes("rain on tin 7", policy=policy) == set()
    assert "password_too_long" in codes("rain on a tin roof 7", policy=policy)


# --- Allowed symbols ------------------------------------------------------------------------

def test_symbol_set_refuses_other_characters_and_lists_the_allowed_ones(tenant):
    policy = Policy(allowed_symbols="!#$%&*+-=?@_")
    assert codes("Plumkettle9!#", policy=policy) == set()
    for bad in ("Plumkettle9~x", "Plum kettle9!", "Plumkettle9!あ", "Plumkéttle9!"):
        assert "password_character_not_allowed" in codes(bad, policy=policy), bad
    with override("en"):
        [message] = messages("Plumkettle9~x", policy=policy)
    assert "! # $ % & * + - = ? @ _" in message


def test_without_a_symbol_set_any_character_is_allowed(tenant):
    assert codes("やまのうえのおおきなき 🌲", policy=DEFAULT) == set()


# --- Character classes ----------------------------------------------------------------------

def test_at_least_n_of_four_classes(tenant):
    policy = Policy(class_rule="at_least", min_classes=3)
    assert "password_too_few_classes" in codes("plumkettlesong", policy=policy)      # 1 class
    assert "password_too_few_classes" in codes("plumkettlesong42", policy=policy)    # 2 classes
    assert codes("Plumkettlesong42", policy=policy) == set()                          # 3 classes
    assert codes("plumkettle song42", policy=policy) == set()                         # space counts as a symbol
    assert codes("Plum-kettle-42", policy=Policy(class_rule="at_least", min_classes=4)) == set()


def test_each_of_the_chosen_classes(tenant):
    policy = Policy(class_rule="each", required_classes=("upper", "digit"))
    with override("en"):
        [message] = messages("plumkettlesong", policy=policy)
    assert "upper-case letters" in message and "digits" in message and "lower-case" not in message
    assert codes("Plumkettlesong", policy=policy) == {"password_missing_class"}
    assert codes("Plumkettlesong4", policy=policy) == set()


def test_no_composition_rule_by_default(tenant):
    assert codes("plumkettlesong", policy=DEFAULT) == set()


# --- Common and similar ---------------------------------------------------------------------

def test_common_passwords_refused_unless_turned_off(tenant):
    assert "password_too_common" in codes("qwerty123456")
    assert "password_too_common" not in codes("qwerty123456", policy=Policy(refuse_common=False))


def test_similarity_to_email_local_part_full_email_and_name(tenant):
    user = User(tenant=tenant, email="hanako.yamada@acme.example", name="Hanako Yamada")
    assert "password_too_similar" in codes("hanako.yamada", user)            # the local part
    assert "password_too_similar" in codes("hanako.yamada@acme.exampl", user)  # the whole address
    assert "password_too_similar" in codes("hanakoyamada1", user)            # the name
    assert "password_too_similar" not in codes("hanako.yamada", user, Policy(refuse_similar=False))
    assert codes(GOOD, user) == set()


# --- The validator through Django's API -------------------------------------------------------

def test_validate_password_raises_every_broken_rule_at_once(tenant, admin):
    set_policy(admin, min_length=10, max_length=31, allowed_symbols="!#", class_rule="each",
               required_classes=["lower", "upper", "digit", "symbol"])
    with pytest.raises(ValidationError) as caught:
        password_validation.validate_password("short~", admin)
    found = {e.code for e in caught.value.error_list}
    assert {"password_too_short", "password_character_not_allowed", "password_missing_class"} <= found


def test_help_text_describes_the_active_policy(tenant, admin):
    with override("en"):
        assert "12 to 128 characters" in password_validation.password_validators_help_texts()[0]
        set_policy(admin, **preset("three_classes_expiry").policy.as_dict())
        text = password_validation.password_validators_help_texts()[0]
    assert "8 to 16 characters" in text and "at least 3" in text and "90 days" in text


def test_provider_side_validation_without_a_tenant_uses_the_defaults(db):
    with use_tenant(None):
        with pytest.raises(ValidationError):
            password_validation.validate_password("short")
        password_validation.validate_password(GOOD)


# --- Presets and notes ----------------------------------------------------------------------

def test_presets_are_valid_policies_with_the_seed_rules():
    for p in PRESETS:
        assert clean_policy(p.policy.as_dict()) == p.policy, p.slug
    four = preset("four_classes").policy
    assert (four.min_length, four.max_length, four.allowed_symbols, four.class_rule, four.required_classes) == (
        10, 31, "!#$%&*+-=?@_", "each", ("lower", "upper", "digit", "symbol"))
    three = preset("three_classes_expiry").policy
    assert (three.min_length, three.max_length, three.class_rule, three.min_classes, three.expiry_days) == (
        8, 16, "at_least", 3, 90)
    assert preset("recommended").policy == DEFAULT


def test_notes_name_each_departure_from_asvs():
    assert set(asvs_notes(preset("four_classes").policy)) == {"min_length", "max_length", "allowed_symbols",
                                                               "class_rule"}
    assert set(asvs_notes(preset("three_classes_expiry").policy)) == {
        "min_length", "max_length", "allowed_symbols", "class_rule", "expiry_days"}
    assert set(asvs_notes(Policy(refuse_common=False, refuse_similar=False))) == {"refuse_common",
                                                                                   "refuse_similar"}
    with override("en"):
        assert "6.2.10" in asvs_notes(Policy(expiry_days=90))["expiry_days"]
    with override("ja"):
        assert "定期" in asvs_notes(Policy(expiry_days=90))["expiry_days"]


# --- The policy's own validation ------------------------------------------------------------

VALID = DEFAULT.as_dict()


@pytest.mark.parametrize("changes, field", [
    ({"min_length": 7}, "min_length"),
    ({"min_length": 129}, "min_length"),
    ({"min_length": "twelve"}, "min_length"),
    ({"max_length": 129}, "max_length"),
    ({"min_length": 20, "max_length": 19}, "max_length"),
    ({"allowed_symbols": "!あ"}, "allowed_symbols"),
    ({"allowed_symbols": "!a"}, "allowed_symbols"),
    ({"allowed_symbols": "!\t"}, "allowed_symbols"),
    ({"class_rule": "some"}, "class_rule"),
    ({"class_rule": "at_least", "min_classes": 0}, "min_classes"),
    ({"class_rule": "at_least", "min_classes": 5}, "min_classes"),
    ({"class_rule": "each", "required_classes": []}, "required_classes"),
    ({"class_rule": "each", "required_classes": ["lower", "emoji"]}, "required_classes"),
    ({"required_classes": "lower"}, "required_classes"),
    ({"expiry_days": -1}, "expiry_days"),
    ({"expiry_days": 3651}, "expiry_days"),
    ({"history_count": -1}, "history_count"),
    ({"history_count": 25}, "history_count"),
    ({"refuse_common": "yes"}, "refuse_common"),
])
def test_invalid_policies_give_field_errors(changes, field):
    with pytest.raises(ValidationError) as caught:
        clean_policy({**VALID, **changes})
    assert field in caught.value.message_dict, caught.value.message_dict


def test_policy_errors_are_translated():
    for language, expected in (("en", "minimum length"), ("ja", "最小")):
        with override(language), pytest.raises(ValidationError) as caught:
            clean_policy({**VALID, "min_length": 4})
        assert expected in caught.value.message_dict["min_length"][0]


def test_symbol_list_is_normalised():
    assert clean_policy({**VALID, "allowed_symbols": "!! # #"}).allowed_symbols == "!#"


def test_bounds_are_accepted():
    clean_policy({**VALID, "min_length": 8, "max_length": 8, "expiry_days": 3650, "history_count": 24,
                  "class_rule": "at_least", "min_classes": 4, "allowed_symbols": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"})


def test_unknown_settings_refused():
    with pytest.raises(ValidationError):
        clean_policy({**VALID, "colour": "red"})


# --- The audited action ----------------------------------------------------------------------

def test_update_writes_the_row_and_an_event_with_the_diff(tenant, admin):
    set_policy(admin, min_length=14, expiry_days=0)
    row = PasswordPolicy.objects.get()
    assert row.min_length == 14
    event = AuditEvent.objects.filter(action="security.password_policy_updated").latest("id")
    assert event.before == {"min_length": 12} and event.after == {"min_length": 14}
    assert event.actor_id == str(admin.pk)


def test_update_refused_for_non_admins_and_recorded(tenant, editor):
    from mamori.accounts.models import User as U

    for role in (Role.EDITOR, Role.UNIT_ADMIN, Role.REVIEWER, Role.VIEWER):
        U.objects.filter(pk=editor.pk).update(role=role)
        editor.refresh_from_db()
        with pytest.raises(PermissionDenied):
            set_policy(editor, min_length=20)
    assert not PasswordPolicy.objects.exists()
    assert AuditEvent.objects.filter(action="access.denied").count() == 4


def test_invalid_update_changes_nothing(tenant, admin):
    with pytest.raises(ValidationError) as caught:
        set_policy(admin, min_length=4, history_count=99)
    assert set(caught.value.message_dict) == {"min_length", "history_count"}
    assert not PasswordPolicy.objects.exists()
    assert not AuditEvent.objects.filter(action="security.password_policy_updated").exists()


def test_other_tenant_is_unaffected(tenant, admin, other_tenant, outsider):
    set_policy(admin, **preset("four_classes").policy.as_dict())
    with use_tenant(other_tenant):
        assert policy_for_tenant(other_tenant) == DEFAULT
        password_validation.validate_password("plain long passphrase here", outsider)
    with pytest.raises(ValidationError):
        password_validation.validate_password("plain long passphrase here", admin)


# --- Current password and history, on every path ---------------------------------------------

def change(user, password, actor_user=None):
    actions.set_password(actor=Actor.for_user(actor_user or user), user=user, password=password)
    user.refresh_from_db()


def test_current_password_is_always_refused(tenant, viewer):
    from tests.conftest import PASSWORD

    with pytest.raises(ValidationError) as caught:
        change(viewer, PASSWORD)
    assert "password" in caught.value.message_dict
    assert not PasswordHistory.objects.exists()  # history is off by default


def test_history_refuses_the_last_n_and_keeps_only_n(tenant, admin, viewer):
    set_policy(admin, history_count=3)
    passwords = [f"quiet meadow lantern {n}x" for n in range(5)]
    for p in passwords:
        change(viewer, p)
    assert PasswordHistory.objects.filter(user=viewer).count() == 3
    for recent in passwords[-3:]:
        with pytest.raises(ValidationError) as caught:
            change(viewer, recent)
        assert caught.value.message_dict["password"]
    change(viewer, passwords[1])  # fourth from last: allowed again
    assert viewer.check_password(passwords[1])


def test_history_message_names_the_count(tenant, admin, viewer):
    set_policy(admin, history_count=2)
    change(viewer, "quiet meadow lantern A")
    change(viewer, "quiet meadow lantern B")
    with override("en"), pytest.raises(ValidationError) as caught:
        change(viewer, "quiet meadow lantern A")
    assert "last 2 passwords" in caught.value.message_dict["password"][0]


def test_history_works_with_argon2(tenant, admin, viewer, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    set_policy(admin, history_count=2)
    change(viewer, "quiet meadow lantern A")
    change(viewer, "quiet meadow lantern B")
    assert PasswordHistory.objects.filter(user=viewer).first().password.startswith("argon2")
    with pytest.raises(ValidationError):
        change(viewer, "quiet meadow lantern A")


def test_turning_history_off_forgets_stored_hashes(tenant, admin, viewer):
    set_policy(admin, history_count=5)
    change(viewer, "quiet meadow lantern A")
    assert PasswordHistory.objects.exists()
    set_policy(admin, history_count=0)
    assert not PasswordHistory.objects.exists()


def test_initial_password_enters_the_history(tenant, admin):
    set_policy(admin, history_count=3)
    user = actions.create_user(actor=Actor.for_user(admin), email="new@acme.example", password=GOOD)
    assert PasswordHistory.objects.filter(user=user).count() == 1
    with pytest.raises(ValidationError):
        change(user, GOOD)


def test_create_user_applies_the_policy(tenant, admin):
    set_policy(admin, **preset("four_classes").policy.as_dict())
    with pytest.raises(ValidationError) as caught:
        actions.create_user(actor=Actor.for_user(admin), email="new@acme.example", password=GOOD)
    assert "password" in caught.value.message_dict
    actions.create_user(actor=Actor.for_user(admin), email="new@acme.example", password="Kettle-Plum-42")


def _reset_link(client, email, mailoutbox) -> str:
    client.post("/t/acme/accounts/password/reset/", {"email": email})
    path = re.search(r"(/t/acme/accounts/password/reset/key/\S+/)", mailoutbox[-1].body).group(1)
    page = client.get(path, follow=True)
    return page.redirect_chain[-1][0] if page.redirect_chain else path


def test_reset_from_a_link_applies_the_policy_and_history(tenant, admin, viewer, mailoutbox):
    set_policy(admin, history_count=3, **{k: v for k, v in preset("four_classes").policy.as_dict().items()
                                         if k != "history_count"})
    change(viewer, "Kettle-Plum-41")
    client = Client()
    action_url = _reset_link(client, viewer.email, mailoutbox)
    weak = client.post(action_url, {"password1": GOOD, "password2": GOOD})
    assert weak.status_code == 200  # form shown again with the policy's errors
    reused = client.post(action_url, {"password1": "Kettle-Plum-41", "password2": "Kettle-Plum-41"})
    assert reused.status_code == 200
    viewer.refresh_from_db()
    assert viewer.check_password("Kettle-Plum-41")
    done = client.post(action_url, {"password1": "Kettle-Plum-43", "password2": "Kettle-Plum-43"})
    assert done.status_code == 302
    viewer.refresh_from_db()
    assert viewer.check_password("Kettle-Plum-43")
    assert PasswordHistory.objects.filter(user=viewer).count() == 2


# --- Expiry ---------------------------------------------------------------------------------

def test_password_expired(tenant, viewer):
    policy = Policy(expiry_days=90)
    now = timezone.now()
    viewer.password_changed_at = now - timedelta(days=89)
    assert not password_expired(viewer, policy, now=now)
    viewer.password_changed_at = now - timedelta(days=91)
    assert password_expired(viewer, policy, now=now)
    assert not password_expired(viewer, DEFAULT, now=now)
    viewer.password_changed_at = None
    viewer.date_joined = now - timedelta(days=100)
    assert password_expired(viewer, policy, now=now)
    viewer.set_unusable_password()
    assert not password_expired(viewer, policy, now=now)


def test_invitation_acceptance_applies_the_policy(tenant, admin, mailoutbox, django_capture_on_commit_callbacks):
    from tests.accounts.lifecycle_fixtures import deliver

    set_policy(admin, **preset("four_classes").policy.as_dict())
    with django_capture_on_commit_callbacks(execute=True):
        actions.invite_user(actor=Actor.for_user(admin), email="new@acme.example")
    deliver()
    secret = re.search(r"/t/acme/invitation/([A-Za-z0-9_-]+)/", mailoutbox[-1].body).group(1)
    with pytest.raises(ValidationError) as caught:
        actions.accept_invitation(secret=secret, password=GOOD)
    assert "password" in caught.value.message_dict
    user = actions.accept_invitation(secret=secret, password="Kettle-Plum-42")
    assert user.check_password("Kettle-Plum-42")
