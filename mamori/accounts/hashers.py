"""Argon2id with explicit, documented parameters.

Django's default Argon2 parameters (100 MiB, t=2, p=8) are stronger than needed
and, with eight lanes on a small host, make one sign-in cost about a quarter of a
CPU-second — which caps sign-ins at ~4/s per core and hands attackers a cheap way
to load the server. OWASP's Password Storage Cheat Sheet lists equivalent Argon2id
configurations; Mamori uses its first one by default (m=19 MiB, t=2, p=1) and lets
the provider choose stronger ones. Stored hashes with other parameters keep
working and are upgraded at the user's next sign-in (Django's ``must_update``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher

#: OWASP's minimum for Argon2id; settings may raise but the deploy check refuses lower values.
OWASP_MINIMUM = {"memory_cost": 19456, "time_cost": 2, "parallelism": 1}


class MamoriArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id with parameters from ``MAMORI_ARGON2`` (settings), OWASP's minimum by default."""

    algorithm = "argon2"  # same identifier as Django's, so existing hashes verify unchanged

    @property
    def memory_cost(self) -> int:  # KiB
        return settings.MAMORI_ARGON2["memory_cost"]

    @property
    def time_cost(self) -> int:
        return settings.MAMORI_ARGON2["time_cost"]

    @property
    def parallelism(self) -> int:
        return settings.MAMORI_ARGON2["parallelism"]


def weaker_than_owasp(params: dict) -> bool:
    """True when the configured parameters are below OWASP's Argon2id minimum.

    OWASP's equivalent configurations trade memory for passes (m·t roughly
    constant), so the product is compared, with the minimum memory and passes
    of the list as floors.
    """
    m, t = params["memory_cost"], params["time_cost"]
    return m < 7168 or t < 1 or m * t < OWASP_MINIMUM["memory_cost"] * OWASP_MINIMUM["time_cost"] * 0.92
