"""Responsibility split, data location, asset inventory and labels (6.1.1, CLD.6.3.1, 6.1.3,
8.1.1, 8.2.2, 15.1.3)."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mamori.compliance.live import database_tables, tenants_across_tenants
from mamori.compliance.registry import CheckResult, control
from mamori.core import provider_profile as profile

# Provider tables (no customer data) by name, with why they are provider-side. A table that is
# neither here, nor in a provider app below, nor a tenant table (mamori.lifecycle.walk) fails 8.1.1.
PROVIDER_TABLES: dict[str, str] = {
    "tenancy_tenant": "the customer contracts (name, slug, region, status)",
    "audit_providerevent": "the provider log",
    "audit_chainhead": "newest sequence number and hash of each audit chain",
    "audit_auditdigest": "signed digests of the audit chains",
    "evidence_auditcheckpoint": "signed retention checkpoints of the audit chains",
    "lifecycle_masterkeymarker": "which master key wraps the data keys",
    "lifecycle_systembackup": "system backup metadata (file names, sizes, hashes)",
    "lifecycle_restoredrill": "restore drill results",
    "lifecycle_tenantbackup": "per-tenant backup metadata (the files themselves are encrypted per tenant)",
    "lifecycle_termination": "contract terminations and purge progress",
    "lifecycle_terminationpolicy": "provider grace period per tenant",
    "lifecycle_deletioncertificate": "signed deletion certificates (no customer data)",
    "socialaccount_socialapp": "allauth's app table; Mamori keeps SSO settings in sso_ssoconnection (tenant)",
    "auth_group": "Django's groups (unused: roles live in the permission matrix)",
    "auth_group_permissions": "Django's groups (unused)",
    "auth_permission": "Django's permission catalogue",
    "django_content_type": "Django's model catalogue",
    "django_session": "signed-in sessions (provider staff and users; keyed by a random id)",
    "django_migrations": "applied schema migrations",
    "django_tasks_database_dbtaskresult": "background job queue",
    "sqlite_sequence": "SQLite's autoincrement counters",
}
# Apps that are provider duties as a whole (docs/decisions/0008-provider-duties-as-apps.md):
# their tables are provider tables unless a model derives from TenantModel (then tenant).
PROVIDER_APPS = ("operations", "monitoring", "incidents", "notices", "support", "compliance")


def _tenant_tables() -> dict[str, str]:
    from mamori.lifecycle.walk import data_tables

    return {t.db_table: t.label for t in data_tables()}


def _provider_app_tables() -> dict[str, str]:
    tables: dict[str, str] = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label in PROVIDER_APPS:
            tables[model._meta.db_table] = model._meta.label
    return tables


def classify_tables() -> dict[str, list[str]]:
    """Every table of the database catalog as ``tenant``, ``provider`` or ``unclassified``."""
    tenant = _tenant_tables()
    provider_apps = _provider_app_tables()
    extra = set(settings.MAMORI_PROVIDER_TABLES or [])
    result: dict[str, list[str]] = {"tenant": [], "provider": [], "unclassified": []}
    for table in database_tables():
        if table in tenant:
            result["tenant"].append(table)
        elif table in PROVIDER_TABLES or table in provider_apps or table in extra:
            result["provider"].append(table)
        else:
            result["unclassified"].append(table)
    return result


@control("6.1.1", _("Responsibility split published from the configuration"), section="responsibility",
         key="6.1.1")
def responsibility_split() -> CheckResult:
    from mamori.lifecycle.termination import default_grace_days

    provider = {
        "backup_keep_daily": settings.BACKUP_KEEP_DAILY,
        "backup_keep_weekly": settings.BACKUP_KEEP_WEEKLY,
        "offsite_copy": bool(settings.BACKUP_OFFSITE_DIR),
        "tenant_backup_keep_days": settings.MAMORI_TENANT_BACKUP_KEEP_DAYS,
        "termination_grace_days": default_grace_days(),
        "company": profile.text("company.name", "en") or None,
        "support_email": profile.value("contacts.support_email"),
        "security_email": profile.value("contacts.security_email"),
    }
    customer = {
        "tenant_export_expiry_days": settings.TENANT_EXPORT_EXPIRY_DAYS,
        "evidence_export_expiry_days": settings.EVIDENCE_EXPORT_EXPIRY_DAYS,
        "password_policy_per_tenant": True,
        "mfa_policy_per_tenant": apps.is_installed("mamori.multifactor"),
    }
    missing = sorted([f"provider.{k}" for k, v in provider.items() if v in (None, "")]
                     + [f"customer.{k}" for k, v in customer.items() if v in (None, "")])
    if missing:
        return CheckResult.failed(_("Responsibility split incomplete: %(missing)s not set.")
                                  % {"missing": ", ".join(missing)}, provider=provider, customer=customer,
                                  missing=missing)
    return CheckResult.passed(
        _("Responsibility split generated from the configuration: backups %(daily)d daily / %(weekly)d weekly "
          "generations by the provider, grace period %(grace)d days, customer keeps its own copies by "
          "export.") % {"daily": provider["backup_keep_daily"], "weekly": provider["backup_keep_weekly"],
                        "grace": provider["termination_grace_days"]},
        provider=provider, customer=customer)


@control("CLD.6.3.1", _("Shared roles: provider and customer duties"), section="responsibility",
         key="CLD.6.3.1")
def shared_roles() -> CheckResult:
    from mamori.access.roles import MATRIX, Role

    customer_roles = [str(r.value) for r in Role if r in MATRIX]
    from mamori.operations.models import ProviderStaff

    staff_roles = [str(r.value) for r in ProviderStaff.StaffRole]
    staff = ProviderStaff.objects.filter(is_active=True).count()
    if not customer_roles or Role.TENANT_ADMIN not in MATRIX:
        return CheckResult.failed(_("No tenant admin role in the permission matrix."),
                                  customer_roles=customer_roles, staff_roles=staff_roles)
    return CheckResult.passed(
        _("Customer roles %(customer)s; provider staff roles %(staff)s; %(n)d provider staff accounts.")
        % {"customer": ", ".join(customer_roles), "staff": ", ".join(staff_roles), "n": staff},
        customer_roles=customer_roles, staff_roles=staff_roles, provider_staff=staff)


@control("6.1.3", _("Data location: every storage target and tenant in a declared region"),
         section="data_location", key="6.1.3")
def data_location() -> CheckResult:
    declared = [str(r.get("id", "")) for r in profile.regions() if r.get("id")]
    targets = profile.storage_targets()
    problems: list[str] = []
    if not declared:
        problems.append(gettext("no regions declared in the provider profile"))
    target_regions = {}
    for target in targets:
        name, region = str(target.get("name", "?")), str(target.get("region", "") or "")
        target_regions[name] = region
        if not region:
            problems.append(gettext("storage target %(name)s: no region") % {"name": name})
        elif region not in declared:
            problems.append(gettext("storage target %(name)s: region %(region)s not declared")
                            % {"name": name, "region": region})
    kinds = {str(t.get("kind", "")): str(t.get("region", "") or "") for t in targets}
    for kind in ("database", "files", "backups"):
        if kind not in kinds:
            problems.append(gettext("no storage target of kind %(kind)s") % {"kind": kind})
    if settings.BACKUP_OFFSITE_DIR and "offsite" not in kinds:
        problems.append(gettext("off-site backups are configured (MAMORI_BACKUP_OFFSITE_DIR) but no storage target "
                                "of kind offsite declares their region"))
    default_region = settings.DEFAULT_DATA_REGION
    if declared and default_region not in declared:
        problems.append(gettext("MAMORI_DATA_REGION %(default_region)s not declared")
                        % {"default_region": default_region})
    tenant_regions: dict[str, int] = {}
    for tenant in tenants_across_tenants():
        tenant_regions[tenant.data_region or ""] = tenant_regions.get(tenant.data_region or "", 0) + 1
    unknown = {r: n for r, n in tenant_regions.items() if r not in declared}
    for region, n in sorted(unknown.items()):
        problems.append(gettext("%(n)s tenant(s) in undeclared region %(region)s")
                        % {"n": n, "region": region or '(none)'})
    evidence = {"declared_regions": declared, "storage_targets": target_regions,
                "default_region": default_region, "tenant_regions": tenant_regions, "problems": problems}
    if problems:
        return CheckResult.failed(_("Data location: %(problems)s.") % {"problems": "; ".join(problems)}, **evidence)
    return CheckResult.passed(
        _("Regions declared: %(regions)s; %(targets)d storage targets all in declared regions "
          "(%(pairs)s); %(tenants)d tenants in declared regions.")
        % {"regions": ", ".join(declared), "targets": len(targets),
           "pairs": ", ".join(f"{k}={v}" for k, v in target_regions.items()),
           "tenants": sum(tenant_regions.values())}, **evidence)


@control("8.1.1", _("Every table classified as tenant or provider data"), section="asset_inventory",
         key="8.1.1")
def asset_inventory() -> CheckResult:
    tables = classify_tables()
    counts = {k: len(v) for k, v in tables.items()}
    if tables["unclassified"]:
        return CheckResult.failed(
            _("%(n)d unclassified table(s): %(tables)s (tenant data must derive from TenantModel; provider "
              "tables are listed in mamori/compliance/checks/assets.py or MAMORI_PROVIDER_TABLES).")
            % {"n": counts["unclassified"], "tables": ", ".join(tables["unclassified"])},
            counts=counts, unclassified=tables["unclassified"], tenant=tables["tenant"])
    return CheckResult.passed(
        _("All %(total)d tables classified: %(tenant)d tenant, %(provider)d provider.")
        % {"total": sum(counts.values()), "tenant": counts["tenant"], "provider": counts["provider"]},
        counts=counts, tenant=tables["tenant"], provider=tables["provider"])


@control("8.2.2", _("Labels and classification levels available"), section="labelling", key="8.2.2")
def labelling() -> CheckResult:
    from mamori.access.roles import MATRIX, Perm
    from mamori.records.models import Classification, Label, Record
    from mamori.tenancy.models import TenantModel

    levels = [str(c.value) for c in Classification]
    has_field = any(f.name == "classification" for f in Record._meta.concrete_fields)
    restricted_roles = [str(role) for role, perms in MATRIX.items() if Perm.VIEW_RESTRICTED not in perms]
    evidence = {"classification_levels": levels, "record_has_classification": has_field,
                "labels_tenant_scoped": issubclass(Label, TenantModel),
                "roles_without_restricted_access": restricted_roles}
    if len(levels) < 2 or not has_field or not issubclass(Label, TenantModel):
        return CheckResult.failed(_("Labels or classification levels are missing."), **evidence)
    return CheckResult.passed(
        _("Tenant-defined labels; classification levels %(levels)s; restricted records hidden from %(roles)s.")
        % {"levels": ", ".join(levels), "roles": ", ".join(restricted_roles) or "-"}, **evidence)


@control("15.1.3", _("Sub-processors declared with purpose and region"), section="supply_chain",
         key="15.1.3")
def supply_chain() -> CheckResult:
    declared = {str(r.get("id", "")) for r in profile.regions()}
    items = profile.subprocessors()
    problems = []
    names = []
    for item in items:
        name = str(item.get("name", "") or "")
        names.append(name or "?")
        if not name:
            problems.append(gettext("a sub-processor without a name"))
        if not item.get("purpose"):
            problems.append(gettext("%(name)s: no purpose") % {"name": name or '?'})
        if str(item.get("region", "")) not in declared:
            problems.append(gettext("%(name)s: region %(region)s not declared")
                            % {"name": name or '?', "region": item.get('region', '') or '(none)'})
    if not items:
        problems.append(gettext("no sub-processors declared in the provider profile"))
    if problems:
        return CheckResult.failed(_("Sub-processors: %(p)s.") % {"p": "; ".join(problems)},
                                  subprocessors=names, problems=problems)
    return CheckResult.passed(_("%(n)d sub-processors declared: %(names)s.") % {"n": len(items),
                              "names": ", ".join(names)}, subprocessors=names)
