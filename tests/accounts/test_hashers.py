"""Argon2id parameters: OWASP's minimum by default, old hashes upgraded at sign-in."""

from django.contrib.auth.hashers import check_password, identify_hasher, make_password

from mamori.accounts.hashers import OWASP_MINIMUM, MamoriArgon2PasswordHasher, weaker_than_owasp


def test_default_parameters_are_owasps_argon2id_minimum(settings):
    settings.PASSWORD_HASHERS = ["mamori.accounts.hashers.MamoriArgon2PasswordHasher"]
    encoded = make_password("correct horse battery staple")
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert check_password("correct horse battery staple", encoded)


def test_hashes_with_djangos_default_parameters_verify_and_are_upgraded(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    old = make_password("correct horse battery staple")
    settings.PASSWORD_HASHERS = ["mamori.accounts.hashers.MamoriArgon2PasswordHasher"]
    hasher = identify_hasher(old)
    assert isinstance(hasher, MamoriArgon2PasswordHasher)
    assert hasher.verify("correct horse battery staple", old)
    assert hasher.must_update(old)


def test_owasp_equivalents_pass_and_weaker_ones_fail():
    assert not weaker_than_owasp(OWASP_MINIMUM)
    assert not weaker_than_owasp({"memory_cost": 47104, "time_cost": 1, "parallelism": 1})
    assert not weaker_than_owasp({"memory_cost": 7168, "time_cost": 5, "parallelism": 1})
    assert weaker_than_owasp({"memory_cost": 8192, "time_cost": 2, "parallelism": 1})
    assert weaker_than_owasp({"memory_cost": 4096, "time_cost": 10, "parallelism": 1})
