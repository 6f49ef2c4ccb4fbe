"""Provider console forms for notices and the tenant console form for the notification address."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.monitoring.components import component_choices
from mamori.notices.models import Notice
from mamori.notices.validation import MAX_BODY, MAX_REASON, MAX_TITLE, NoticeData
from mamori.tenancy.models import Tenant

ZONES = [("Asia/Tokyo", _("Japan time (Asia/Tokyo)")), ("UTC", _("UTC"))]
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class NoticeForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Notice.Kind.choices)
    title_ja = forms.CharField(label=_("Title (Japanese)"), max_length=MAX_TITLE, required=False)
    title_en = forms.CharField(label=_("Title (English)"), max_length=MAX_TITLE, required=False)
    body_ja = forms.CharField(label=_("Text (Japanese)"), max_length=MAX_BODY, required=False,
                              widget=forms.Textarea(attrs={"rows": 6}))
    body_en = forms.CharField(label=_("Text (English)"), max_length=MAX_BODY, required=False,
                              widget=forms.Textarea(attrs={"rows": 6}))
    zone = forms.ChoiceField(label=_("Times are in"), choices=ZONES, initial="Asia/Tokyo")
    starts_at = forms.DateTimeField(label=_("Starts"), required=False, widget=DATETIME_INPUT,
                                    input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
    ends_at = forms.DateTimeField(label=_("Ends"), required=False, widget=DATETIME_INPUT,
                                  input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
    impact = forms.ChoiceField(label=_("Impact"), choices=Notice.Impact.choices)
    components = forms.MultipleChoiceField(label=_("Affected components"), required=False,
                                           choices=component_choices, widget=forms.CheckboxSelectMultiple)
    audience = forms.ChoiceField(label=_("Audience"), choices=Notice.Audience.choices, widget=forms.RadioSelect,
                                 initial=Notice.Audience.ALL)
    tenants = forms.ModelMultipleChoiceField(label=_("Tenants (when chosen)"), required=False,
                                             queryset=Tenant.objects.none(), widget=forms.CheckboxSelectMultiple)
    emergency = forms.BooleanField(label=_("Emergency (less than the lead time)"), required=False)
    emergency_reason = forms.CharField(label=_("Reason for the emergency"), max_length=MAX_REASON, required=False,
                                       widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenants"].queryset = Tenant.objects.filter(status__in=Tenant.OPEN_STATUSES).order_by("slug")
        self.fields["tenants"].label_from_instance = lambda t: f"{t.name} ({t.slug})"

    def _aware(self, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        zone = zoneinfo.ZoneInfo(self.cleaned_data.get("zone") or "Asia/Tokyo")
        naive = timezone.make_naive(value, timezone.get_current_timezone()) if timezone.is_aware(value) else value
        return timezone.make_aware(naive, zone)

    def notice_data(self) -> NoticeData:
        data = self.cleaned_data
        return NoticeData(
            kind=data["kind"], title_ja=data["title_ja"], title_en=data["title_en"], body_ja=data["body_ja"],
            body_en=data["body_en"], starts_at=self._aware(data.get("starts_at")),
            ends_at=self._aware(data.get("ends_at")), impact=data["impact"],
            components=list(data.get("components") or []), audience=data["audience"],
            tenant_ids=[t.pk for t in data.get("tenants") or []], emergency=data.get("emergency", False),
            emergency_reason=data.get("emergency_reason", ""))

    @classmethod
    def initial_for(cls, notice: Notice) -> dict:
        zone = zoneinfo.ZoneInfo("Asia/Tokyo")

        def local(value):  # the wall time in Japan, shown as is by the datetime-local input
            return timezone.make_naive(value, zone) if value else None

        return {"kind": notice.kind, "title_ja": notice.title_ja, "title_en": notice.title_en,
                "body_ja": notice.body_ja, "body_en": notice.body_en, "zone": "Asia/Tokyo",
                "starts_at": local(notice.starts_at), "ends_at": local(notice.ends_at), "impact": notice.impact,
                "components": list(notice.components or []), "audience": notice.audience,
                "tenants": list(notice.tenants.all()), "emergency": notice.emergency,
                "emergency_reason": notice.emergency_reason}


class CancelNoticeForm(forms.Form):
    reason = forms.CharField(label=_("Reason (kept in the provider log)"), max_length=MAX_REASON,
                             required=False, widget=forms.Textarea(attrs={"rows": 2}))


class NotificationEmailForm(forms.Form):
    notification_email = forms.EmailField(label=_("Notification address"), max_length=254, required=False,
                                          help_text=_("A shared mailbox (for example your IT desk) that receives "
                                                      "every notice from the provider besides the tenant admins. "
                                                      "Leave empty to remove it."))
