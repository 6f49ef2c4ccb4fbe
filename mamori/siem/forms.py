from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class SubscriptionForm(forms.Form):
    url = forms.CharField(label=_("Endpoint URL"), max_length=500,
                          help_text=_("https:// on a public address. Mamori POSTs signed JSON batches here."),
                          widget=forms.URLInput(attrs={"placeholder": "https://siem.example.com/mamori"}))
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    event_prefixes = forms.CharField(
        label=_("Events"), max_length=2000, required=False,
        help_text=_("Leave empty to send every event, or list event names or prefixes separated by "
                    "spaces or commas, e.g. auth. record."))

    @staticmethod
    def initial_for(subscription) -> dict:
        return {"url": subscription.url, "description": subscription.description,
                "event_prefixes": " ".join(subscription.event_prefixes or [])}
