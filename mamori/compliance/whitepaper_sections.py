"""The whitepaper's prose, section by section, built from :class:`~whitepaper_facts.Facts`.

Every sentence is a translatable string (English msgid, Japanese in the catalogue, written
in the です・ます style of the source whitepapers); every number and name is a placeholder
filled from the facts. Provider statements come from the provider profile, and an empty
field becomes a :class:`~whitepaper_model.Missing` marker rather than invented text.
Call these functions inside ``translation.override(lang)``.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.utils.translation import gettext as _

from mamori.compliance.whitepaper_facts import Facts
from mamori.compliance.whitepaper_model import Bullets, Missing, Paragraph, Table

Blocks = list


# --- helpers ------------------------------------------------------------------------------

def profile_text(facts: Facts, dotted: str, lang: str) -> str:
    return facts.text(dotted, lang) or Missing(dotted)


def company(facts: Facts, lang: str) -> str:
    return profile_text(facts, "company.name", lang)


def join_list(items: list[str]) -> str:
    return _(", ").join(items)


def days_text(days: int) -> str:
    """A retention in days; 0 means "for the life of the contract"."""
    if days <= 0:
        return _("for the life of the contract")
    return _("%(days)d days") % {"days": days}


def format_time(value, facts: Facts) -> str:
    zone = zoneinfo.ZoneInfo(facts.time_zone)
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def public_url(path: str) -> str:
    return f"{settings.BASE_URL}{path}"


def organisational_note() -> Paragraph:
    return Paragraph(_("This is an organisational control that software cannot verify; the text above is our own "
                       "statement from the provider profile."), kind="note")


# --- introduction ---------------------------------------------------------------------------

def intro(facts: Facts, lang: str) -> list[tuple[str, Blocks]]:
    name = company(facts, lang)
    return [
        (_("Purpose of this document"), [Paragraph(
            _("This document explains to customers who use or are considering the cloud service provided by "
              "%(company)s (\"we\", \"the Service\") how we protect information in the Service and how "
              "responsibilities are shared between us and our customers.") % {"company": name})]),
        (_("Scope"), [Paragraph(_("This document applies to the Service only."))]),
        (_("Terms and clause numbers"), [Paragraph(
            _("This document describes our measures for the requirements of ISO/IEC 27017:2015 "
              "(JIP-ISMS517-1.0) that call for information to be disclosed to customers. The numbers in "
              "brackets after each heading are the clause numbers of ISO/IEC 27002:2013 and ISO/IEC "
              "27017:2015, and the sections follow their order."))]),
        (_("How this document is produced"), [
            Paragraph(_("Every value in this document (password rules, retention periods, the grace period, "
                        "backup generations, notice periods, notification deadlines, storage locations, "
                        "algorithms and sub-processors) is generated from the live configuration of the "
                        "Service. At the end of each section we show the latest result of the automated "
                        "control checks for that section and when they ran.")),
            Paragraph(_("Generated: %(time)s") % {"time": format_time(facts.generated_at, facts)}),
        ]),
    ]


# --- the sections ---------------------------------------------------------------------------

def policies(facts: Facts, lang: str) -> Blocks:
    links = [
        (_("Information security policy"), "policies.security_policy_url"),
        (_("Privacy policy"), "policies.privacy_policy_url"),
        (_("Terms of service"), "policies.terms_url"),
    ]
    items = []
    for label, dotted in links:
        url = facts.value(dotted)
        if url:
            items.append(_("%(label)s: %(value)s") % {"label": label, "value": url})
        elif dotted == "policies.security_policy_url":
            items.append(_("%(label)s: %(value)s") % {"label": label, "value": Missing(dotted)})
    return [Paragraph(_("We operate the Service in accordance with the following information security policies.")),
            Bullets(items)]


def responsibility_table(facts: Facts, lang: str) -> Table:
    f = facts.features
    functions = [_("invitation by e-mail")]
    if f["csv_import"]:
        functions.append(_("bulk registration from CSV files"))
    functions.append(_("multi-factor authentication"))
    if f["sso"]:
        functions.append(_("single sign-on (OpenID Connect, SAML 2.0)"))
    if f["scim"]:
        functions.append(_("SCIM 2.0 provisioning"))
    if f["ip_allowlist"]:
        functions.append(_("IP address restriction"))

    backup_ours = _("System backups (%(daily)d daily and %(weekly)d weekly generations) and per-tenant backups "
                    "kept for %(keep)d days; restoring when needed") % {
        "daily": facts.backup_keep_daily, "weekly": facts.backup_keep_weekly,
        "keep": facts.tenant_backup_keep_days}
    if f["tenant_export"]:
        backup_customer = _("Keeping its own copies of data it needs beyond our backup retention: tenant "
                            "administrators can download a full export of the tenant's data at any time "
                            "(Settings → Data).")
    else:
        backup_customer = _("Keeping its own copies of data it needs beyond our backup retention; the Service "
                            "offers no full export, so copies must be taken from its screens.")
    if f["tenant_backups_view"]:
        backup_customer += " " + _("Tenant administrators can see the list of the tenant's backups; a restore "
                                   "is made by us on request.")
    duties = [_("Reviewing its own audit log")]
    if f["evidence"]:
        duties.append(_("downloading evidence packages when it needs proof"))
    if f["siem"]:
        duties.append(_("forwarding the log to its own SIEM when it must keep it longer than our retention"))
    logs_customer = _("; ").join(duties)
    rows = [
        [_("Platform"),
         _("Security of the servers, network, middleware and application that run the Service, including "
           "security updates"),
         _("Security of the devices and networks used to reach the Service")],
        [_("Accounts and access"),
         _("Providing the functions to manage users, roles and authentication: %(functions)s") % {
             "functions": join_list(functions)},
         _("Registering and removing users, granting roles and administrator rights, and requiring "
           "multi-factor authentication according to its own rules")],
        [_("Passwords"),
         _("Storing passwords only as Argon2id hashes and enforcing the tenant's password policy"),
         _("Keeping passwords and authenticators secret, and choosing the tenant's password policy")],
        [_("Customer data"),
         _("Protecting stored data against leakage, tampering, loss and destruction; separating tenants"),
         _("The content of the data it registers, and deciding who may see it (roles, workspaces, labels)")],
        [_("Backups"), backup_ours, backup_customer],
        [_("Logs"),
         _("Recording tamper-evident audit logs and keeping them for the retention periods in 12.4.1"),
         logs_customer],
        [_("End of contract"),
         _("Deleting all customer data %(days)d days after the contract ends and issuing a signed deletion "
           "certificate") % {"days": facts.termination_grace_days},
         _("Exporting the data it needs before the grace period ends")],
        [_("Incidents and maintenance"),
         _("Notifying affected customers of incidents as described in 16.1.1, and announcing maintenance "
           "%(days)d days in advance") % {"days": facts.maintenance_lead_days},
         _("Keeping its notification address up to date, and reporting suspected security events to us")],
    ]
    return Table([_("Area"), _("Our responsibility"), _("Customer's responsibility")], rows,
                 caption=_("Responsibility split between us and the customer"))


def responsibility(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("Security of the Service follows a shared responsibility model: we and our customers each "
                        "take charge of defined areas. The split is shown in the table below.")),
            responsibility_table(facts, lang),
            Paragraph(_("Where the terms of service differ from this document, the terms of service prevail."))]


def storage_kind(kind: str) -> str:
    labels = {"database": _("Database"), "files": _("Stored files"), "backups": _("Backups"),
              "offsite": _("Off-site backups")}
    return labels.get(kind, kind)


def region_label(facts: Facts, region_id: str, lang: str) -> str:
    for region in facts.regions:
        if region.get("id") == region_id:
            name = region.get("name")
            if isinstance(name, dict):
                name = name.get(lang) or name.get("en") or name.get("ja")
            location = region.get("location")
            if isinstance(location, dict):
                location = location.get(lang) or location.get("en") or location.get("ja")
            return f"{name or region_id} ({location})" if location else str(name or region_id)
    return Missing(f"regions.{region_id}")


def _pick(value, lang: str) -> str:
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("en") or value.get("ja") or "")
    return str(value or "")


def data_location(facts: Facts, lang: str) -> Blocks:
    blocks: Blocks = [Paragraph(_("Customer data is stored in the following regions."))]
    if facts.regions:
        blocks.append(Table([_("Region"), _("Region name"), _("Location")],
                            [[str(r.get("id", "")), _pick(r.get("name"), lang), _pick(r.get("location"), lang)]
                             for r in facts.regions]))
    else:
        blocks.append(Paragraph(Missing("regions")))
    if facts.storage_targets:
        blocks.append(Table([_("Storage"), _("Kind"), _("Region")],
                            [[str(t.get("name", "")), storage_kind(str(t.get("kind", ""))),
                              region_label(facts, str(t.get("region", "")), lang)] for t in facts.storage_targets],
                            caption=_("Where each kind of data is stored")))
    else:
        blocks.append(Paragraph(Missing("storage_targets")))
    blocks.append(Paragraph(_("Our address: %(address)s") % {"address": profile_text(facts, "company.address", lang)}))
    blocks.append(Paragraph(_("We are the point of contact for the authorities, including requests for disclosure "
                              "based on law.")))
    return blocks


def training(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(profile_text(facts, "statements.training", lang)), organisational_note()]


def asset_inventory(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("Customer data (cloud service customer data) is stored only in tables identified per "
                        "tenant, clearly separated from the information we use to run the Service (monitoring "
                        "results, incidents, our staff). Every table is classified as customer data or as our "
                        "operational data, and an automated check verifies the classification."))]


def asset_removal(facts: Facts, lang: str) -> Blocks:
    blocks: Blocks = [Paragraph(
        _("When the contract for the Service ends, a grace period of %(days)d days starts on the day after the "
          "end of the contract. During the grace period only the customer's administrators can sign in, "
          "read-only, to export the data.") % {"days": facts.termination_grace_days})]
    if facts.termination_reminder_days:
        blocks.append(Paragraph(_("We remind the registered contacts by e-mail %(days)s days before the grace "
                                  "period ends.") % {"days": join_list([str(d) for d in facts.termination_reminder_days])}))
    blocks.append(Paragraph(
        _("When the grace period ends, all of the customer's data (database rows, files and per-tenant backups) "
          "is deleted automatically and the customer's own data encryption key is destroyed, so that encrypted "
          "data left in system backups can no longer be decrypted either. Deleted data cannot be restored, "
          "even by us.")))
    if facts.features["tenant_export"]:
        blocks.append(Paragraph(_("Before the contract ends, please download a full export of your data (Settings "
                                  "→ Data) if you need it.")))
    return blocks


def labelling(facts: Facts, lang: str) -> Blocks:
    items = []
    if facts.features["units"]:
        items.append(_("Organisational units (a tree) to group users"))
    items.append(_("Workspaces (projects) that hold records"))
    if facts.features["labels"]:
        items.append(_("Labels (tags) with a colour and an optional classification level, on records and "
                       "attachments; filtering and export by label; a classification can restrict who may "
                       "open a record"))
    return [Paragraph(_("Customers can group and classify their users and data with the following functions.")),
            Bullets(items)]


def registration(facts: Facts, lang: str) -> Blocks:
    items = [_("Invitation by e-mail (a single-use link valid for %(hours)d hours)") % {"hours": facts.invitation_hours},
             _("Registration with an initial password, which must be changed at the first sign-in")]
    if facts.features["csv_import"]:
        items.append(_("Bulk registration, update and suspension from CSV files (UTF-8, UTF-8 with BOM and "
                       "Shift_JIS)"))
    if facts.features["scim"]:
        items.append(_("Automatic provisioning from the customer's identity management system with SCIM 2.0"))
    return [Paragraph(_("The customer's administrators can register, change, suspend and delete users themselves "
                        "at any time, in the following ways.")),
            Bullets(items),
            Paragraph(_("Only a tenant administrator can delete or demote an administrator, and the last tenant "
                        "administrator cannot be removed. Deleting a user ends their sessions and revokes their "
                        "API tokens at once."))]


def access_provisioning(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("The Service has the roles tenant administrator, unit administrator (manages only the "
                        "assigned organisational units and those below them), editor, reviewer and viewer. "
                        "Workspace membership further separates the data users can reach inside a tenant. The "
                        "permissions of each role are listed in the console's help."))]


def privileged_access(facts: Facts, lang: str) -> Blocks:
    methods = []
    for kind in facts.mfa_types:
        if kind == "totp":
            methods.append(_("One-time passwords from an authenticator app (TOTP, %(digits)d digits, renewed every "
                             "%(period)d seconds)") % {"digits": facts.totp_digits, "period": facts.totp_period})
        elif kind == "webauthn":
            methods.append(_("Security keys and passkeys (WebAuthn)"))
        elif kind == "recovery_codes":
            methods.append(_("Recovery codes (%(count)d, each usable once)") % {"count": facts.recovery_codes})
    blocks: Blocks = [Paragraph(_("In addition to the password, the following second factors are available.")),
                      Bullets(methods),
                      Paragraph(_("The customer's administrators can require multi-factor authentication for "
                                  "administrators or for everyone."))]
    if facts.features["sso"]:
        blocks.append(Paragraph(_("Single sign-on with OpenID Connect and SAML 2.0 can be set up per tenant.")))
    if facts.features["ip_allowlist"]:
        blocks.append(Paragraph(_("Access to the console, the API and SCIM can be restricted per tenant to "
                                  "source IP addresses (IPv4/IPv6 CIDR).")))
    blocks.append(Paragraph(
        _("After %(account)d failed sign-in attempts in a row for one account, or %(ip)d from one source address, "
          "each further attempt must wait, and the wait doubles with every failure up to %(minutes)d minutes.")
        % {"account": facts.throttle_account_failures, "ip": facts.throttle_ip_failures,
           "minutes": facts.throttle_max_delay_seconds // 60}))
    blocks.append(Paragraph(
        _("A session ends after %(idle)d minutes without activity or %(hours)d hours after sign-in (defaults; the "
          "customer's administrators can change them).")
        % {"idle": facts.session_idle_minutes, "hours": facts.session_absolute_hours}))
    return blocks


def secret_authentication(facts: Facts, lang: str) -> Blocks:
    p = facts.password
    rules = [_("%(min)d to %(max)d characters") % {"min": p.min_length, "max": p.max_length}]
    if p.class_rule == "at_least":
        rules.append(_("At least %(count)d of the four character classes") % {"count": p.min_classes})
    elif p.class_rule == "each":
        rules.append(_("One of each required character class"))
    else:
        rules.append(_("No composition rule"))
    rules.append(_("Passwords expire after %(days)d days.") % {"days": p.expiry_days} if p.expiry_days
                 else _("No expiry"))
    if p.refuse_common:
        rules.append(_("Commonly used passwords are refused"))
    if p.refuse_similar:
        rules.append(_("Passwords similar to the e-mail address or name are refused"))
    if p.history_count:
        rules.append(_("The last %(count)d passwords cannot be reused") % {"count": p.history_count})
    a = facts.argon2
    return [
        Paragraph(_("Passwords are stored only as Argon2id hashes (memory %(memory)d KiB, %(time)d iterations, "
                    "parallelism %(parallelism)d), never in a form from which they could be recovered.")
                  % {"memory": a["memory_cost"], "time": a["time_cost"], "parallelism": a["parallelism"]}),
        Paragraph(_("The default password policy (following NIST SP 800-63B and OWASP ASVS 5.0) is:")),
        Bullets(rules),
        Paragraph(_("The customer's administrators can change, per tenant, the minimum length (at least %(floor)d), "
                    "the maximum length (up to %(ceiling)d), the allowed symbols, the required character classes, "
                    "the expiry (up to %(expiry)d days) and the history (up to %(history)d passwords).")
                  % {"floor": p.floor, "ceiling": p.ceiling, "expiry": p.expiry_max_days, "history": p.history_max}),
        Paragraph(_("New users set their own password through the invitation link sent to their e-mail address. "
                    "Users can reset a forgotten password themselves; the reset screen never reveals whether an "
                    "address is registered. Changing or resetting a password ends the user's other sessions.")),
    ]


def access_restriction(facts: Facts, lang: str) -> Blocks:
    blocks: Blocks = [Paragraph(_("Every screen, API endpoint and export checks the role's permissions and the "
                                  "workspace membership. Data of other tenants is treated as non-existent and "
                                  "cannot be retrieved."))]
    if facts.features["ip_allowlist"]:
        blocks.append(Paragraph(_("Access can also be limited to the customer's own source IP addresses (see "
                                  "9.2.3).")))
    return blocks


def utility_programs(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("The Service has no utility program that bypasses normal authentication. Our staff can reach "
                        "customer data only through support access approved by the customer's administrator (at "
                        "most %(hours)d hours, see 15.1.2). Management commands that touch a customer's data are "
                        "recorded in that customer's audit log.") % {"hours": facts.support_access_max_hours})]


def segregation(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("Each customer's tenant is logically separated from the other tenants. Every row of "
                        "customer data carries the tenant's identifier and the application cannot run a query "
                        "on a tenant table without a tenant. On PostgreSQL, row-level security is enabled and "
                        "forced on every tenant table. Files and backups are stored in each tenant's own area and "
                        "encrypted with the tenant's own data key."))]


def hardening(facts: Facts, lang: str) -> Blocks:
    if facts.hsts_seconds:
        hsts = _("%(days)d days") % {"days": facts.hsts_seconds // 86400}
    else:
        hsts = _("not enabled in this configuration")
    blocks: Blocks = [Paragraph(
        _("In production the Service enforces HTTPS only, HSTS (%(hsts)s), secure cookies, a content security "
          "policy and frame denial, with debugging disabled. The settings are verified before start-up by "
          "\"mamori check --deploy\".") % {"hsts": hsts})]
    statement = facts.text("statements.hardening", lang)
    if statement:
        blocks.append(Paragraph(statement))
    return blocks


def algorithm_purpose(purpose: str) -> str:
    labels = {
        "encryption": _("Encryption of stored data (attachments, backups, TOTP secrets, SSO and webhook secrets)"),
        "key_derivation": _("Deriving keys from each tenant's data key"),
        "signature": _("Signatures on audit log digests and deletion certificates"),
        "hash": _("Audit log hash chain and file integrity"),
        "password_hash": _("Password storage (parameters in 9.2.4)"),
        "transport": _("Communication between the customer's devices and the Service"),
    }
    return labels.get(purpose, purpose)


def cryptography(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("The Service uses the following cryptographic algorithms.")),
            Table([_("Algorithm"), _("Use")], [[name, algorithm_purpose(purpose)] for name, purpose in facts.algorithms]),
            Paragraph(_("Keys are managed by envelope encryption: our master key wraps one data key per tenant. Both "
                        "the master key and the tenant keys can be rotated."))]


def disposal(facts: Facts, lang: str) -> Blocks:
    blocks: Blocks = [Paragraph(
        _("Customer data is disposed of as described in CLD.8.1.5: the data is deleted and the tenant's data key "
          "destroyed (crypto-shredding). We then issue a signed deletion certificate stating the rows deleted per "
          "table, the files deleted, the fingerprint of the destroyed key and the start and end times, and send it "
          "to the customer's contacts."))]
    statement = facts.text("statements.physical_security", lang)
    if statement:
        blocks.append(Paragraph(statement))
    return blocks


def change_management(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("Maintenance that interrupts the Service is announced at least %(days)d days in advance, "
                        "except in an emergency, whose reason is recorded. Announcements appear at the top of every "
                        "customer's console, are sent by e-mail to the registered contacts, and are listed on the "
                        "status page and in an iCalendar feed. Release notes are published as well.")
                      % {"days": facts.maintenance_lead_days})]


def capacity(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("We collect and monitor metrics in Prometheus format, such as requests, response times, "
                        "queued jobs, storage used per tenant and sign-in failures, so that the Service keeps "
                        "enough capacity."))]


def operations_manuals(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("The console has help pages (in Japanese and English) describing every administrative task.")),
            Paragraph(_("Questions about using the Service: %(contact)s")
                      % {"contact": profile_text(facts, "contacts.support_email", lang)})]


def backup(facts: Facts, lang: str) -> Blocks:
    blocks: Blocks = [Paragraph(
        _("The whole system is backed up, encrypted, every day at %(time)s UTC; %(daily)d daily and %(weekly)d "
          "weekly generations are kept.") % {"time": facts.backup_time_utc, "daily": facts.backup_keep_daily,
                                              "weekly": facts.backup_keep_weekly})]
    if facts.drill_enabled:
        blocks.append(Paragraph(_("A restore drill restores the newest backup into a scratch database every %(days)d "
                                  "days, verifies it and records the result.") % {"days": facts.drill_every_days}))
    else:
        blocks.append(Paragraph(_("Scheduled restore drills are disabled in this configuration.")))
    if facts.offsite_configured:
        targets = [t for t in facts.storage_targets if t.get("kind") == "offsite"]
        where = join_list([f"{t.get('name')} ({region_label(facts, str(t.get('region', '')), lang)})"
                           for t in targets]) if targets else Missing("storage_targets (offsite)")
        blocks.append(Paragraph(_("Each backup is also copied to an off-site target: %(target)s.") % {"target": where}))
    else:
        blocks.append(Paragraph(_("No off-site copy of the backups is configured.")))
    blocks.append(Paragraph(
        _("In addition, each tenant's data is backed up separately, encrypted with the tenant's key, every day and "
          "kept for %(days)d days. A per-tenant backup lets us restore one customer's data without affecting "
          "other customers.") % {"days": facts.tenant_backup_keep_days}))
    return blocks


RETENTION_CATEGORIES = ("operation", "signin", "api", "provider")


def retention_label(category: str) -> str:
    labels = {"operation": _("Operation log"), "signin": _("Sign-in history"), "api": _("API access log"),
              "provider": _("Our operations log")}
    return labels.get(category, category)


def retention_bounds(facts: Facts, category: str) -> str:
    if category not in facts.audit_retention_bounds:
        return _("Set by us")
    minimum, maximum = facts.audit_retention_bounds[category]
    if maximum:
        return _("%(min)d to %(max)d days") % {"min": minimum, "max": maximum}
    return _("%(min)d days or more, or for the life of the contract") % {"min": minimum}


def event_logging(facts: Facts, lang: str) -> Blocks:
    rows = [[retention_label(c), days_text(facts.audit_retention_days.get(c, 0)), retention_bounds(facts, c)]
            for c in RETENTION_CATEGORIES if c in facts.audit_retention_days]
    return [Paragraph(_("Every creation, change and deletion of data, every authentication event and every "
                        "administrative action is recorded as an audit event: who (user, our staff under support "
                        "access, SCIM, a system job), when (UTC, to the microsecond), from where (IP address, user "
                        "agent), what (action, target, values before and after, without secrets) and the request "
                        "ID.")),
            Table([_("Log"), _("Kept"), _("Range the customer can set")], rows, caption=_("Audit log retention"))]


def operator_logs(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("Actions of our staff are recorded in our operations log, and also in the customer's audit "
                        "log when they concern the customer's tenant. Retention of our operations log: %(kept)s.")
                      % {"kept": days_text(facts.audit_retention_days.get("provider", 0))})]


def clock(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("Server clocks are synchronised with NTP, and the offset against %(servers)s is measured "
                        "regularly; an offset above %(ms)d ms raises an alert. Times are stored in UTC, shown in "
                        "the customer's time zone (default %(zone)s) and exported in ISO 8601 with the offset.")
                      % {"servers": join_list(list(facts.ntp_servers)) or Missing("MAMORI_NTP_SERVERS"),
                         "ms": facts.clock_max_offset_ms, "zone": facts.time_zone})]


def monitoring(facts: Facts, lang: str) -> Blocks:
    blocks: Blocks = []
    if facts.features["audit_search"]:
        blocks.append(Paragraph(_("The customer's administrators can search their audit log by actor, action, target, "
                                  "period and text.")))
    if facts.features["siem"]:
        blocks.append(Paragraph(_("The audit log can be forwarded to the customer's SIEM through signed webhooks.")))
    blocks.append(Paragraph(_("We monitor the Service ourselves and publish the uptime of the last 90 days measured by "
                              "our probes on the public status page.")))
    return blocks


def vulnerabilities(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("The libraries used by the Service are checked regularly against known vulnerabilities; the "
                        "automated check fails when the last audit is older than %(days)d days. Vulnerabilities "
                        "that require action by customers are announced in the same way as maintenance.")
                      % {"days": facts.vulnerability_audit_max_age_days})]


def network_segregation(facts: Facts, lang: str) -> Blocks:
    blocks: Blocks = [Paragraph(_("API tokens, SCIM tokens, webhooks and sessions are each bound to one tenant; a "
                                  "token of one tenant is refused on every URL of another tenant."))]
    statement = facts.text("statements.network_segregation", lang)
    if statement:
        blocks.append(Paragraph(statement))
    return blocks


def security_requirements(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("This document is generated from the live configuration of the Service and the results of "
                        "its automated control checks, in Japanese and English, as HTML, Markdown and PDF. The "
                        "current version is published at %(url)s.") % {"url": public_url("/security/whitepaper")})]


def development(facts: Facts, lang: str) -> Blocks:
    blocks: Blocks = [Paragraph(_("Every change is checked by automated tests, static analysis, a dependency "
                                  "vulnerability audit and API fuzzing before release."))]
    statement = facts.text("statements.secure_development", lang)
    if statement:
        blocks.append(Paragraph(statement))
    return blocks


def suppliers(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("Our staff never access customer data without the customer's prior approval. When access is "
                        "needed for support or to resolve a failure, we request it stating the reason, the scope "
                        "(read-only or read-write) and the duration (at most %(hours)d hours), and access only once "
                        "the customer's administrator approves. Access ends by itself when it expires and the "
                        "customer can revoke it at any time. Everything done during the access is recorded in the "
                        "customer's audit log.") % {"hours": facts.support_access_max_hours})]


def supply_chain(facts: Facts, lang: str) -> Blocks:
    if not facts.subprocessors:
        return [Paragraph(_("We use the services of the following sub-processors to provide the Service.")),
                Paragraph(Missing("subprocessors"))]
    rows = [[str(s.get("name", "")), _pick(s.get("purpose"), lang),
             region_label(facts, str(s.get("region", "")), lang) if s.get("region") else Missing("subprocessors.region")]
            for s in facts.subprocessors]
    return [Paragraph(_("We use the services of the following sub-processors to provide the Service.")),
            Table([_("Sub-processor"), _("Purpose"), _("Region")], rows)]


def incidents(facts: Facts, lang: str) -> Blocks:
    rule = facts.incident_policy_description or Missing(
        f"MAMORI_INCIDENT_NOTIFICATION_POLICY ({facts.incident_policy})")
    return [Paragraph(_("When we detect an information security incident within our responsibility that affects "
                        "customers, we send the first notice to the affected customers by the following deadline. "
                        "Notifications are sent by e-mail to the registered contacts and shown in the console, and "
                        "every delivery is recorded.")),
            Bullets([rule]),
            Paragraph(_("Contact for incidents: %(email)s")
                      % {"email": profile_text(facts, "contacts.security_email", lang)})]


def event_reporting(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("Customers can report information security events through the public report form or to "
                        "%(email)s. The form accepts up to %(count)d reports per hour from one source address. Our "
                        "contacts are also published in /.well-known/security.txt (RFC 9116).")
                      % {"email": profile_text(facts, "contacts.security_email", lang),
                         "count": facts.security_reports_per_hour})]


def evidence(facts: Facts, lang: str) -> Blocks:
    blocks: Blocks = []
    if facts.features["evidence"]:
        blocks.append(Paragraph(_("The customer's administrators can download an evidence package with the audit "
                                  "events, signed digests, the public key, a verification script and a manifest "
                                  "with SHA-256 checksums, and verify it offline.")))
    blocks.append(Paragraph(_("When we disclose information because the law requires it, the disclosure is recorded "
                              "as an audit event.")))
    return blocks


def law(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(profile_text(facts, "statements.law", lang)),
            Paragraph(profile_text(facts, "statements.jurisdiction", lang)),
            organisational_note()]


def intellectual_property(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(profile_text(facts, "statements.intellectual_property", lang)), organisational_note()]


def records(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("The audit log is append-only (on PostgreSQL the database refuses updates and deletions) and "
                        "tamper-evident: a hash chain per tenant and signed periodic digests reveal any change. "
                        "Retention periods are listed in 12.4.1."))]


def crypto_regulation(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("The Service uses only standard, published algorithms (%(algorithms)s) from widely used "
                        "libraries, and no proprietary cryptography.")
                      % {"algorithms": join_list([name for name, _purpose in facts.algorithms])})]


def independent_review(facts: Facts, lang: str) -> Blocks:
    blocks: Blocks = [Paragraph(profile_text(facts, "statements.independent_review", lang))]
    certifications = facts.value("statements.certifications")
    if certifications:
        blocks.append(Paragraph(_("Certifications:")))
        blocks.append(Bullets([_pick(item, lang) for item in certifications]))
    blocks.append(Paragraph(_("The results of the automated control checks can be exported for auditors.")))
    blocks.append(organisational_note())
    return blocks


def status(facts: Facts, lang: str) -> Blocks:
    return [Paragraph(_("The state of the Service, current incidents and planned maintenance are published on the "
                        "status page (%(url)s). Uptime is measured by our own probes.")
                      % {"url": public_url("/status")})]


BUILDERS: dict[str, Callable[[Facts, str], Blocks]] = {
    "policies": policies, "responsibility": responsibility, "data_location": data_location,
    "training": training, "asset_inventory": asset_inventory, "asset_removal": asset_removal,
    "labelling": labelling, "registration": registration, "access_provisioning": access_provisioning,
    "privileged_access": privileged_access, "secret_authentication": secret_authentication,
    "access_restriction": access_restriction, "utility_programs": utility_programs, "segregation": segregation,
    "hardening": hardening, "cryptography": cryptography, "disposal": disposal,
    "change_management": change_management, "capacity": capacity, "operations_manuals": operations_manuals,
    "backup": backup, "event_logging": event_logging, "operator_logs": operator_logs, "clock": clock,
    "monitoring": monitoring, "vulnerabilities": vulnerabilities, "network_segregation": network_segregation,
    "security_requirements": security_requirements, "development": development, "suppliers": suppliers,
    "supply_chain": supply_chain, "incidents": incidents, "event_reporting": event_reporting,
    "evidence": evidence, "law": law, "intellectual_property": intellectual_property, "records": records,
    "crypto_regulation": crypto_regulation, "independent_review": independent_review, "status": status,
}
