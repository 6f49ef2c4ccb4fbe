"""Bench-only settings: the same models, database and server, none of Mamori's layers.

Everything comes from ``mamori.settings`` (same apps, same ``DATABASES``, same
production profile as the Mamori server in the benchmark), except the middleware
and the URLconf. The middleware is plain Django's (what ``startproject`` gives),
so there is no request-id context, no security-header middleware of Mamori's, no
``TenantMiddleware`` (hence no per-request transaction, no ``SET LOCAL ROLE`` /
``set_config`` for RLS, no token parsing or hashing), no language or
password-change middleware. ``bench.bare_views`` answers the same three API
calls with the same record queries and no audit event.

Never used outside ``bench/``.
"""

import os

from mamori.settings import *  # noqa: F403

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "bench.bare_urls"
# Mamori's apps import allauth's models, so allauth stays installed; its account app insists
# on its middleware, which the baseline leaves out (bench/bare_apps.py skips that check).
INSTALLED_APPS = [  # noqa: F405
    "bench.bare_apps.AccountConfig" if app == "allauth.account" else app for app in INSTALLED_APPS  # noqa: F405
]

# The seeded tenant and user, passed by bench/api_bench.py (the bare views do not
# authenticate: resolving who is calling is one of the layers being measured).
BENCH_TENANT_ID = int(os.environ.get("BENCH_TENANT_ID", "0"))
BENCH_USER_ID = int(os.environ.get("BENCH_USER_ID", "0"))
