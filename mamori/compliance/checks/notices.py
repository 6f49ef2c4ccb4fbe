"""Change management (12.1.2) and vulnerability notices to tenants (12.6.1): read from the
notices the provider actually published (mamori.notices)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from mamori.compliance.registry import CheckResult, control


@control("12.1.2", _("Maintenance announced ahead with the configured lead time"), section="change_management")
def maintenance_lead_time() -> CheckResult:
    from mamori.notices.models import Notice
    from mamori.notices.queries import short_lead_maintenance
    from mamori.notices.validation import lead_time_days

    lead = lead_time_days()
    published = Notice.objects.filter(kind=Notice.Kind.MAINTENANCE, published_at__isnull=False)
    total = published.count()
    emergencies = published.filter(emergency=True).count()
    short = short_lead_maintenance()
    evidence = {"lead_days": lead, "maintenance_published": total, "emergencies": emergencies,
                "short_lead_non_emergency": len(short), "short_lead_ids": [n.pk for n in short][:20]}
    if lead < 1:
        return CheckResult.failed(_("The maintenance lead time is %(days)d days (MAMORI_MAINTENANCE_LEAD_DAYS); "
                                    "it must be at least 1.") % {"days": lead}, **evidence)
    if short:
        return CheckResult.failed(_("%(n)d published maintenance notices (not emergencies) were announced less "
                                    "than %(days)d days ahead.") % {"n": len(short), "days": lead}, **evidence)
    return CheckResult.passed(_("Lead time %(days)d days enforced; %(total)d maintenance notices published, "
                                "%(emergencies)d of them emergencies with a written reason, none announced late.")
                              % {"days": lead, "total": total, "emergencies": emergencies}, **evidence)


@control("12.6.1", _("Vulnerability notices reach the tenants"), section="vulnerabilities", key="12.6.1-notice")
def vulnerability_notices_delivered() -> CheckResult:
    from mamori.notices.models import Notice, NoticeDelivery

    notices = Notice.objects.filter(kind=Notice.Kind.VULNERABILITY, published_at__isnull=False)
    failed = (NoticeDelivery.objects.filter(notice__in=notices, channel=NoticeDelivery.Channel.MAIL,
                                            sent_at__isnull=True).exclude(error=""))
    sent = NoticeDelivery.objects.filter(notice__in=notices, channel=NoticeDelivery.Channel.MAIL,
                                         sent_at__isnull=False).count()
    evidence = {"vulnerability_notices": notices.count(), "mails_sent": sent, "mails_failed": failed.count(),
                "failed_notice_ids": sorted(set(failed.values_list("notice_id", flat=True)))[:20]}
    if evidence["mails_failed"]:
        return CheckResult.failed(_("%(n)d vulnerability notice mails to tenant contacts failed and were not "
                                    "sent since.") % {"n": evidence["mails_failed"]}, **evidence)
    return CheckResult.passed(_("Vulnerability notices are sent to tenants like maintenance notices: %(notices)d "
                                "published, %(sent)d mails delivered, none failed.")
                              % {"notices": evidence["vulnerability_notices"], "sent": sent}, **evidence)
