"""Forms of the support access pages (the actions validate again and own the rules)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from mamori.support.models import SupportAccessRequest


class AccessRequestForm(forms.Form):
    tenant = forms.ChoiceField(label=_("Tenant"))
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("The tenant's admins read this before they decide."))
    scope = forms.ChoiceField(label=_("Scope"), choices=SupportAccessRequest.Scope.choices,
                              initial=SupportAccessRequest.Scope.READ_ONLY, widget=forms.RadioSelect)
    hours = forms.IntegerField(label=_("Duration (hours)"), min_value=1)

    def __init__(self, *args, tenants=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].choices = [("", "—")] + [(t.slug, f"{t.name} ({t.slug})") for t in tenants]
        limit = settings.MAMORI_SUPPORT_ACCESS_MAX_HOURS
        self.fields["hours"] = forms.IntegerField(label=_("Duration (hours)"), min_value=1, max_value=limit,
                                                  initial=min(4, limit),
                                                  help_text=_("At most %(max)d hours.") % {"max": limit})

class DecisionForm(forms.Form):
    hours = forms.IntegerField(label=_("Hours"), min_value=1, required=False)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class ShortenForm(forms.Form):
    hours = forms.IntegerField(label=_("Hours from now"), min_value=1)
