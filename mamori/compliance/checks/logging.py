"""Event logging, operator logs, monitoring, protection of records and evidence (12.4.1, 12.4.3,
CLD.12.4.5, 18.1.3, 16.1.7)."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mamori.compliance.live import for_each_tenant, memo
from mamori.compliance.registry import CheckResult, control


@control("12.4.1", _("Every action writes a registered audit event"), section="event_logging", key="12.4.1")
def event_logging() -> CheckResult:
    from mamori.audit.models import AuditEvent, ProviderEvent
    from mamori.audit.registry import EVENT_TYPES
    from mamori.core.actions import ACTIONS

    categories: dict[str, int] = {}
    for event_type in EVENT_TYPES.values():
        categories[event_type.category] = categories.get(event_type.category, 0) + 1
    since = timezone.now() - timedelta(days=7)

    def inspect(tenant):
        names = set(AuditEvent.objects.values_list("action", flat=True).distinct())
        return names, AuditEvent.objects.filter(occurred_at__gte=since).count()

    used: set[str] = set()
    recent = 0
    for _tenant, (names, n) in for_each_tenant(inspect):
        used |= names
        recent += n
    used |= set(ProviderEvent.objects.values_list("action", flat=True).distinct())
    recent_provider = ProviderEvent.objects.filter(occurred_at__gte=since).count()
    unregistered = sorted(used - set(EVENT_TYPES))
    problems = []
    if unregistered:
        problems.append(gettext("stored events with unregistered names: %(unregistered)s")
                        % {"unregistered": ', '.join(unregistered[:20])})
    for category in ("operation", "signin", "provider"):
        if not categories.get(category):
            problems.append(gettext("no event type of category %(category)s") % {"category": category})
    evidence = {"event_types": len(EVENT_TYPES), "categories": categories, "actions": len(ACTIONS),
                "tenant_events_7d": recent, "provider_events_7d": recent_provider, "names_in_use": len(used),
                "unregistered": unregistered, "problems": problems}
    if problems:
        return CheckResult.failed(_("Event logging: %(p)s.") % {"p": "; ".join(problems)}, **evidence)
    return CheckResult.passed(
        _("%(types)d registered event types for %(actions)d actions; %(tenant)d tenant and %(provider)d provider "
          "events in the last 7 days, all registered.")
        % {"types": len(EVENT_TYPES), "actions": len(ACTIONS), "tenant": recent, "provider": recent_provider},
        **evidence)


@control("12.4.3", _("Provider staff actions recorded in the provider log"), section="operator_logs",
         key="12.4.3")
def operator_logs() -> CheckResult:
    from mamori.audit.models import ActorType, ProviderEvent
    from mamori.operations.models import ProviderStaff

    staff = list(ProviderStaff.objects.order_by("pk"))
    logged_in = {str(s.pk) for s in staff if s.last_login}
    with_login_event = set(ProviderEvent.objects.filter(action="provider.login", actor_id__in=logged_in)
                           .values_list("actor_id", flat=True).distinct())
    unlogged = sorted(s.email for s in staff if str(s.pk) in logged_in - with_login_event)
    since = timezone.now() - timedelta(days=90)
    staff_events = ProviderEvent.objects.filter(actor_type=ActorType.PROVIDER_STAFF, occurred_at__gte=since).count()
    evidence = {"staff": len(staff), "staff_signed_in": len(logged_in), "staff_events_90d": staff_events,
                "sign_ins_without_event": unlogged}
    if unlogged:
        return CheckResult.failed(_("%(n)d staff members signed in without a provider-log event: %(who)s.")
                                  % {"n": len(unlogged), "who": ", ".join(unlogged)}, **evidence)
    return CheckResult.passed(
        _("%(staff)d provider staff; every sign-in in the provider log; %(events)d staff events in 90 days.")
        % {"staff": len(staff), "events": staff_events}, **evidence)


@control("CLD.12.4.5", _("Tenant audit log searchable and webhooks signed"), section="monitoring",
         key="CLD.12.4.5")
def webhook_signing() -> CheckResult:
    from mamori.siem.delivery import SIGNATURE_HEADER, sign
    from mamori.siem.models import WebhookSubscription

    probe_secret, body = "compliance-probe", b'{"probe": true}'
    expected = "sha256=" + hmac.new(probe_secret.encode(), body, hashlib.sha256).hexdigest()
    signature_ok = sign(probe_secret, body) == expected and sign(probe_secret, body + b" ") != expected

    def inspect(tenant):
        rows = WebhookSubscription.objects.all()
        total = rows.count()
        without = sum(1 for value in rows.values_list("secret", flat=True).iterator() if not value)
        return total, without

    total = without = 0
    for _tenant, (n, bad) in for_each_tenant(inspect):
        total, without = total + n, without + bad
    evidence = {"algorithm": "HMAC-SHA256", "header": SIGNATURE_HEADER, "signature_verified": signature_ok,
                "subscriptions": total, "without_secret": without}
    if not signature_ok or without:
        return CheckResult.failed(_("Webhook signing: signature check %(ok)s, %(n)d subscriptions without a secret.")
                                  % {"ok": signature_ok, "n": without}, **evidence)
    return CheckResult.passed(
        _("Webhook deliveries signed with HMAC-SHA256 (%(header)s); %(n)d subscriptions, each with a secret.")
        % {"header": SIGNATURE_HEADER, "n": total}, **evidence)


def append_only_triggers() -> dict[str, bool]:
    from mamori.audit.purge import TRIGGER_NAME
    from mamori.tenancy.rls import APPEND_ONLY_TABLES

    found = {}
    with connection.cursor() as cursor:
        for table in APPEND_ONLY_TABLES:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                           "WHERE c.relname = %s AND t.tgname = %s AND t.tgenabled <> 'D')", [table, TRIGGER_NAME])
            found[table] = bool(cursor.fetchone()[0])
    return found


@control("18.1.3", _("Audit chains verify; log append-only"), section="records", key="18.1.3")
def audit_chain() -> CheckResult:
    from mamori.audit.verify import verify_provider_chain, verify_tenant_chain
    from mamori.compliance.live import tenants_across_tenants

    started = time.monotonic()
    reports = memo("audit_chains", lambda: [*(verify_tenant_chain(t) for t in tenants_across_tenants()),
                                            verify_provider_chain()])
    failed = [{"chain": r.chain, "label": r.label, "first_bad_seq": r.first_bad_seq, "reason": r.reason[:300]}
              for r in reports if not r.ok]
    events = sum(r.count for r in reports)
    highest = max((r.last_seq for r in reports), default=0)
    provider_seq = reports[-1].last_seq
    triggers = memo("append_only_triggers", append_only_triggers) if connection.vendor == "postgresql" else {}
    missing_triggers = sorted(t for t, ok in triggers.items() if not ok)
    evidence = {"chains": len(reports), "events": events, "highest_seq": highest, "provider_seq": provider_seq,
                "failed": failed[:20], "append_only_triggers": triggers or "not applicable (SQLite)",
                "seconds": round(time.monotonic() - started, 2)}
    if failed or missing_triggers:
        parts = [f"{f['label']}: {f['reason']}" for f in failed[:3]]
        if missing_triggers:
            parts.append(f"append-only trigger missing on {', '.join(missing_triggers)}")
        return CheckResult.failed(_("Audit log: %(n)d of %(total)d chains fail; %(detail)s.")
                                  % {"n": len(failed), "total": len(reports), "detail": "; ".join(parts)}, **evidence)
    return CheckResult.passed(
        _("%(chains)d audit chains verified (%(events)d events; provider chain to seq %(pseq)d, highest seq "
          "%(high)d)%(triggers)s.")
        % {"chains": len(reports), "events": events, "pseq": provider_seq, "high": highest,
           "triggers": _("; UPDATE/DELETE refused by trigger") if triggers else ""}, **evidence)


@control("16.1.7", _("Evidence packages available and verifiable offline"), section="evidence", key="16.1.7")
def evidence_export() -> CheckResult:
    import mamori.evidence
    from mamori.audit import signing
    from mamori.evidence.models import EvidenceExport

    script = Path(mamori.evidence.__file__).resolve().parent / "verify_evidence.py"
    problems = []
    if not script.is_file():
        problems.append(gettext("the standalone verifier verify_evidence.py is missing"))
    try:
        key_id = signing.key_id()
        public = bool(signing.public_key_pem())
    except Exception as exc:  # noqa: BLE001 — an unusable signing key is this control's failure
        key_id, public = None, False
        problems.append(gettext("signing key unavailable: %(exc)s") % {"exc": exc})

    def inspect(tenant):
        return dict(EvidenceExport.objects.order_by().values_list("status").annotate(n=Count("pk")))

    statuses: dict[str, int] = {}
    for _tenant, found in for_each_tenant(inspect):
        for status, n in found.items():
            statuses[status] = statuses.get(status, 0) + n
    evidence = {"verifier": script.name, "signing_key_id": key_id, "public_key": public,
                "exports_by_status": statuses, "problems": problems}
    if problems:
        return CheckResult.failed(_("Evidence export: %(p)s.") % {"p": "; ".join(problems)}, **evidence)
    return CheckResult.passed(
        _("Evidence packages (events, signed digests, public key %(kid)s, verify script, SHA-256 manifest) "
          "available to tenant admins; %(n)d packages produced.") % {"kid": key_id, "n": sum(statuses.values())},
        **evidence)
