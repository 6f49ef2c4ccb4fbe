"""Forms of the provider console's incident pages and of the public security report form.

Times are entered and shown in Japan time (Asia/Tokyo): the views run inside
``timezone.override(TOKYO)``.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from mamori.incidents import policy as pol
from mamori.incidents.actions import MAX_TEXT, MAX_TITLE
from mamori.incidents.actions_reports import LIMITS
from mamori.incidents.models import Incident, SecurityReport
from mamori.monitoring.components import component_choices

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def tenant_choices() -> list[tuple[int, str]]:
    from mamori.tenancy.actions import list_tenants_across_tenants
    from mamori.tenancy.models import Tenant

    return [(t.pk, f"{t.slug} — {t.name}")
            for t in list_tenants_across_tenants().exclude(status=Tenant.Status.PURGED).order_by("slug")]


class IncidentForm(forms.Form):
    title_ja = forms.CharField(label=_("Title (Japanese)"), max_length=MAX_TITLE)
    title_en = forms.CharField(label=_("Title (English)"), max_length=MAX_TITLE)
    severity = forms.ChoiceField(label=_("Severity"), choices=Incident.Severity.choices)
    state = forms.ChoiceField(label=_("State"), choices=Incident.State.choices)
    started_at = forms.DateTimeField(label=_("Started at (JST)"), widget=DATETIME_WIDGET)
    detected_at = forms.DateTimeField(label=_("Detected at (JST)"), widget=DATETIME_WIDGET,
                                      help_text=_("The notification deadlines count from this time."))
    components = forms.MultipleChoiceField(label=_("Affected components"), required=False,
                                           widget=forms.CheckboxSelectMultiple)
    all_tenants = forms.BooleanField(label=_("All tenants are affected"), required=False)
    tenant_ids = forms.TypedMultipleChoiceField(label=_("Affected tenants"), required=False, coerce=int,
                                                widget=forms.SelectMultiple(attrs={"size": 8}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["components"].choices = component_choices()
        self.fields["tenant_ids"].choices = tenant_choices()


class TimelineForm(forms.Form):
    text_ja = forms.CharField(label=_("Text (Japanese)"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 3}))
    text_en = forms.CharField(label=_("Text (English)"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 3}))
    public = forms.BooleanField(label=_("Public (shown to the affected tenants and on the status page)"),
                                required=False)


class NotifyForm(forms.Form):
    text_ja = forms.CharField(label=_("Notice (Japanese)"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 5}))
    text_en = forms.CharField(label=_("Notice (English)"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 5}))


class PolicyForm(forms.Form):
    tenant = forms.TypedChoiceField(label=_("Tenant"), coerce=int)
    preset = forms.ChoiceField(label=_("Notification policy"), required=False, choices=[
        ("", _("Provider default")), (pol.BUSINESS_6H, _("6 hours in business hours (business_6h)")),
        (pol.WITHIN_24H, _("Within 24 hours (within_24h)")),
        (pol.ONE_BUSINESS_DAY, _("Within one business day (one_business_day)")),
        (pol.CUSTOM, _("Custom"))])
    hours = forms.IntegerField(label=_("Hours (custom)"), required=False, min_value=1, max_value=pol.MAX_CUSTOM_HOURS)
    business_hours = forms.BooleanField(label=_("Count business hours only (custom)"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].choices = tenant_choices()


class SecurityReportForm(forms.Form):
    name = forms.CharField(label=_("Your name (optional)"), max_length=LIMITS["name"], required=False)
    email = forms.EmailField(label=_("Your e-mail address (optional, for our reply)"), max_length=LIMITS["email"],
                             required=False)
    subject = forms.CharField(label=_("Subject"), max_length=LIMITS["subject"])
    body = forms.CharField(label=_("What happened?"), max_length=LIMITS["body"],
                           widget=forms.Textarea(attrs={"rows": 10}),
                           help_text=_("Describe what you observed, where and when. Plain text; HTML is shown as typed."))
    # Honeypot: hidden from people (the ``hidden`` wrapper), filled in by naive bots.
    website = forms.CharField(label=_("Leave this field empty"), required=False, max_length=200,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))


class TriageForm(forms.Form):
    state = forms.ChoiceField(label=_("State"), choices=SecurityReport.State.choices)
    assignee_id = forms.TypedChoiceField(label=_("Assignee"), coerce=int, required=False, empty_value=None)
    notes = forms.CharField(label=_("Notes (not in the audit log)"), required=False, max_length=LIMITS["notes"],
                            widget=forms.Textarea(attrs={"rows": 5}))

    def __init__(self, *args, **kwargs):
        from mamori.operations.models import ProviderStaff

        super().__init__(*args, **kwargs)
        self.fields["assignee_id"].choices = [("", "—")] + [
            (s.pk, s.email) for s in ProviderStaff.objects.filter(is_active=True).order_by("email")]
