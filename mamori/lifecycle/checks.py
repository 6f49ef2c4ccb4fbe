"""Deploy check for the master key (``mamori check --deploy``)."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def check_master_key(app_configs=None, **kwargs):
    from mamori.lifecycle.keys import MasterKeyError, get_key_provider, is_configured

    if settings.PRODUCTION and not is_configured():
        return [checks.Error(
            "No master key is configured; tenant data keys cannot be protected.",
            hint="Set MAMORI_MASTER_KEY_FILE to a file holding the base64 of 32 random bytes "
                 "(openssl rand -base64 32).", id="mamori.E120")]
    if is_configured():
        try:
            get_key_provider()
        except MasterKeyError as exc:
            return [checks.Error(str(exc), id="mamori.E121")]
    return []


@checks.register(checks.Tags.database)
def check_master_key_matches(app_configs=None, databases=None, **kwargs):
    """``mamori check --database default``: is the configured master key the one in use?"""
    from django.db import DatabaseError

    from mamori.lifecycle.keys import MasterKeyError, get_key_provider
    from mamori.lifecycle.models import MasterKeyMarker

    if not databases or "default" not in databases:
        return []
    try:
        provider = get_key_provider()
        marker = MasterKeyMarker.objects.filter(name="master").first()
    except MasterKeyError as exc:
        return [checks.Error(str(exc), id="mamori.E121")]
    except DatabaseError:
        return []  # not migrated yet
    if marker is not None and marker.kek_id != provider.key_id:
        return [checks.Error(
            f"Wrong master key: the data keys are wrapped with master key {marker.kek_id}, the configured one "
            f"({provider.source}) is {provider.key_id}.",
            hint="Configure the master key in use, or finish `mamori keys rotate-master`.", id="mamori.E122")]
    return []
