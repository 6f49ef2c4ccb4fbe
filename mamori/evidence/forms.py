"""Console form for requesting an evidence package (dates in the tenant's time zone)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta

from django import forms
from django.utils.translation import gettext_lazy as _


class DateInput(forms.DateInput):
    input_type = "date"


class EvidenceExportForm(forms.Form):
    since = forms.DateField(label=_("From (inclusive)"), widget=DateInput(format="%Y-%m-%d"))
    until = forms.DateField(label=_("To (inclusive)"), widget=DateInput(format="%Y-%m-%d"))

    def time_range(self, zone_name: str) -> tuple[datetime, datetime]:
        """``[since 00:00, day after until 00:00)`` in the tenant's zone, as aware datetimes."""
        zone = zoneinfo.ZoneInfo(zone_name)
        since = datetime.combine(self.cleaned_data["since"], time.min, tzinfo=zone)
        until = datetime.combine(self.cleaned_data["until"] + timedelta(days=1), time.min, tzinfo=zone)
        return since, until
