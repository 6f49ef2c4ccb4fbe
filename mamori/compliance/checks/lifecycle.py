"""Removal of assets, deletion certificates and backups (CLD.8.1.5, 11.2.7, 12.3.1)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mamori.compliance.live import memo
from mamori.compliance.registry import CheckResult, control

#: A passed restore drill must be at most this old.
DRILL_MAX_AGE_DAYS = 30
#: The newest system backup may be at most this old (a daily backup plus a margin for its run time).
BACKUP_MAX_AGE_HOURS = 26


def _storage_has_files(prefix: str) -> bool:
    try:
        dirs, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError, OSError):
        return False
    return bool(files) or any(_storage_has_files(f"{prefix}{d}/") for d in dirs)


@control("CLD.8.1.5", _("Purge leaves no rows, files or keys of purged tenants"), section="asset_removal",
         key="CLD.8.1.5")
def purge_complete() -> CheckResult:
    from mamori.lifecycle.models import TenantDataKey, Termination
    from mamori.lifecycle.termination import default_grace_days
    from mamori.lifecycle.walk import data_tables, tenant_storage_prefix
    from mamori.tenancy.context import tenant_context
    from mamori.tenancy.models import Tenant

    purged_ids = sorted(set(Termination.objects.filter(state=Termination.State.PURGED)
                            .values_list("tenant_id", flat=True)))
    tables = data_tables()

    def scan() -> tuple[dict[str, int], int, list[str]]:
        left: dict[str, int] = {}
        keys_alive = 0
        tenants_with_files = []
        for tenant in Tenant.objects.filter(pk__in=purged_ids).order_by("pk"):
            with tenant_context(tenant):
                for table in tables:
                    if table.model is TenantDataKey:
                        keys_alive += (table.rows(tenant.pk).exclude(state=TenantDataKey.State.DESTROYED).count()
                                       + table.rows(tenant.pk).exclude(wrapped_key="").count())
                        continue
                    n = table.rows(tenant.pk).count()
                    if n:
                        left[f"{tenant.slug}:{table.db_table}"] = n
            if _storage_has_files(tenant_storage_prefix(tenant.pk)):
                tenants_with_files.append(tenant.slug)
        return left, keys_alive, tenants_with_files

    left, keys_alive, tenants_with_files = memo("purged_tenants", scan)
    grace = default_grace_days()
    evidence = {"purged_tenants": len(purged_ids), "tables_checked": len(tables), "rows_left": left,
                "live_data_keys": keys_alive, "tenants_with_files": tenants_with_files, "grace_days": grace}
    if left or keys_alive or tenants_with_files:
        return CheckResult.failed(
            _("Purged tenants still hold data: %(rows)d rows in %(tables)d tables, %(keys)d live data keys, "
              "files of %(files)d tenants.") % {"rows": sum(left.values()), "tables": len(left), "keys": keys_alive,
                                                "files": len(tenants_with_files)}, **evidence)
    return CheckResult.passed(
        _("%(n)d purged tenants: 0 rows left in %(tables)d tenant tables, data keys destroyed, no files; "
          "grace period %(grace)d days.") % {"n": len(purged_ids), "tables": len(tables), "grace": grace},
        **evidence)


@control("11.2.7", _("Deletion certificates verify"), section="disposal", key="11.2.7")
def certificates_verify() -> CheckResult:
    from mamori.lifecycle.certificate import verify_document
    from mamori.lifecycle.models import DeletionCertificate

    checked = 0
    bad = []
    for cert in DeletionCertificate.objects.order_by("pk").iterator():
        checked += 1
        result = verify_document(cert.document)
        if not result.ok:
            bad.append({"certificate_id": cert.certificate_id, "tenant": cert.tenant_slug, "reason": result.message})
    if bad:
        return CheckResult.failed(_("%(bad)d of %(n)d deletion certificates do not verify: %(first)s")
                                  % {"bad": len(bad), "n": checked, "first": bad[0]["reason"]},
                                  checked=checked, failed=bad[:50])
    return CheckResult.passed(_("%(n)d deletion certificates verified (Ed25519 signature by the provider key).")
                              % {"n": checked}, checked=checked, failed=[])


@control("12.3.1", _("System backups fresh, restore drill passed"), section="backup", key="12.3.1")
def backups() -> CheckResult:
    from mamori.lifecycle.backup_queries import backup_status, policy

    now = timezone.now()
    status = backup_status(now)
    rules = policy()
    problems = []
    newest_age_h = None
    if status.newest is None:
        problems.append(gettext("no system backup"))
    else:
        newest_age_h = round((now - status.newest.created_at).total_seconds() / 3600, 1)
        if status.newest.created_at < now - timedelta(hours=BACKUP_MAX_AGE_HOURS):
            problems.append(gettext("newest backup %(age)s h old, policy %(max)s h")
                            % {"age": newest_age_h, "max": BACKUP_MAX_AGE_HOURS})
        if status.newest.verify_ok is False:
            problems.append(gettext("newest backup failed verification"))
    drill = status.last_passed_drill
    drill_age_d = round((now - drill.started_at).total_seconds() / 86400, 1) if drill else None
    if drill is None:
        problems.append(gettext("no restore drill passed"))
    elif drill.started_at < now - timedelta(days=DRILL_MAX_AGE_DAYS):
        problems.append(gettext("last passed restore drill %(age)s days old, policy %(max)s days")
                        % {"age": drill_age_d, "max": DRILL_MAX_AGE_DAYS})
    if status.last_drill is not None and status.last_drill.result == "failed":
        problems.append(gettext("the latest restore drill failed (%(date)s)")
                        % {"date": format(status.last_drill.started_at, "%Y-%m-%d")})
    if rules["keep_daily"] < 1:
        problems.append(gettext("generation policy keeps no daily backup"))
    evidence = {
        "newest_backup": status.newest.file_name if status.newest else None,
        "newest_backup_at": status.newest.created_at.isoformat() if status.newest else None,
        "newest_age_hours": newest_age_h, "max_age_hours": BACKUP_MAX_AGE_HOURS,
        "last_passed_drill_at": drill.started_at.isoformat() if drill else None, "drill_age_days": drill_age_d,
        "drill_max_age_days": DRILL_MAX_AGE_DAYS, "policy": rules,
        "offsite_state": status.newest.offsite_state if status.newest else None, "problems": problems,
    }
    if problems:
        return CheckResult.failed(_("Backups: %(p)s.") % {"p": "; ".join(problems)}, **evidence)
    return CheckResult.passed(
        _("Newest backup %(age)s h old (policy %(max)d h); last restore drill passed %(drill)s; generations "
          "%(daily)d daily × %(weekly)d weekly, off-site %(offsite)s.")
        % {"age": newest_age_h, "max": BACKUP_MAX_AGE_HOURS, "drill": f"{drill.started_at:%Y-%m-%d %H:%M} UTC",
           "daily": rules["keep_daily"], "weekly": rules["keep_weekly"],
           "offsite": _("yes") if settings.BACKUP_OFFSITE_DIR else _("no")}, **evidence)
