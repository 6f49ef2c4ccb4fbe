"""Bench-only settings for ``bench/audit_chain.py``: Mamori's settings plus django-auditlog.

django-auditlog is the peer the audited write is compared with. It is a
development dependency (requirements-dev.in) and never part of the product:
only the benchmark worker loads these settings and registers ``Record`` with
auditlog for its peer rounds. Never used outside ``bench/``.
"""

from mamori.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "auditlog"]  # noqa: F405
