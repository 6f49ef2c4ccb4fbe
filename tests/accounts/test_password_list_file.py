"""MAMORI_PASSWORD_LIST_FILE: the provider's own list of common or breached passwords (ASVS 6.2.4)."""

from __future__ import annotations

import gzip

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from mamori.accounts.checks import check_password_list_file
from mamori.accounts.policy import _load_common_validator

LONG_COMMON = "correcthorsebatterystaple"


def _refused_as_common(password, user) -> bool:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return "password_too_common" in {e.code for e in exc.error_list}
    return False


@pytest.fixture(autouse=True)
def _fresh_cache():
    _load_common_validator.cache_clear()
    yield
    _load_common_validator.cache_clear()


@pytest.mark.parametrize("compressed", [False, True])
def test_the_providers_list_replaces_djangos(tenant, editor, settings, tmp_path, compressed):
    assert not _refused_as_common(LONG_COMMON, editor)  # not in Django's list
    path = tmp_path / ("list.txt.gz" if compressed else "list.txt")
    content = f"{LONG_COMMON}\nanother long passphrase\n"
    if compressed:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(content)
    else:
        path.write_text(content, encoding="utf-8")
    settings.MAMORI_PASSWORD_LIST_FILE = str(path)
    assert _refused_as_common(LONG_COMMON, editor)
    assert _refused_as_common("Another Long Passphrase", editor)  # compared in lower case
    assert not _refused_as_common("a rather unusual sentence", editor)
    assert check_password_list_file() == []


def test_an_unreadable_or_empty_list_fails_the_startup_check(settings, tmp_path):
    settings.MAMORI_PASSWORD_LIST_FILE = str(tmp_path / "missing.txt")
    assert [e.id for e in check_password_list_file()] == ["mamori.E131"]
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    settings.MAMORI_PASSWORD_LIST_FILE = str(empty)
    assert [e.id for e in check_password_list_file()] == ["mamori.E132"]


def test_without_the_setting_djangos_list_applies(tenant, editor, settings):
    settings.MAMORI_PASSWORD_LIST_FILE = ""
    assert _refused_as_common("password123456", editor)
    assert check_password_list_file() == []
