"""Console forms: they parse and shape input; the actions validate and decide."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from mamori.core.forms import apply_validation_error  # noqa: F401 - re-exported for the console views
from mamori.records.models import Classification

MAX_PROPERTY_LINES = 200


def parse_properties(text: str) -> dict[str, str]:
    """``key: value`` lines to a dict; blank lines are skipped; the first colon splits."""
    result: dict[str, str] = {}
    lines = (text or "").splitlines()
    if len(lines) > MAX_PROPERTY_LINES:
        raise ValidationError(_("At most %(n)d lines."), params={"n": MAX_PROPERTY_LINES})
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not key:
            raise ValidationError(
                _("Line %(line)d is not of the form “key: value”."), params={"line": number},
                code="property_line",
            )
        if key in result:
            raise ValidationError(
                _("Line %(line)d repeats the key “%(key)s”."), params={"line": number, "key": key},
                code="property_duplicate",
            )
        result[key] = value.strip()
    return result


def format_properties(properties: dict | None) -> str:
    return "\n".join(f"{key}: {value}" for key, value in (properties or {}).items())


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in (text or "").replace("\r\n", "\n").split("\n")).strip()


class WorkspaceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(label=_("Description"), max_length=5000, required=False,
                                  widget=forms.Textarea(attrs={"rows": 4}))


class RecordForm(forms.Form):
    workspace = forms.TypedChoiceField(label=_("Workspace"), coerce=int)
    title = forms.CharField(label=_("Title"), max_length=300)
    body = forms.CharField(label=_("Body"), max_length=100_000, required=False,
                           widget=forms.Textarea(attrs={"rows": 10}))
    classification = forms.ChoiceField(label=_("Classification"), choices=Classification.choices,
                                       initial=Classification.INTERNAL)
    labels = forms.TypedMultipleChoiceField(label=_("Labels"), coerce=int, required=False,
                                            widget=forms.CheckboxSelectMultiple)
    properties = forms.CharField(
        label=_("Properties"), required=False, strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text=_("One property per line, written as “key: value”, for example “owner: Sales”."),
    )

    def __init__(self, *args, workspaces=None, labels=(), allow_restricted: bool = True,
                 with_workspace: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if with_workspace:
            self.fields["workspace"].choices = [(w.pk, w.name) for w in workspaces or []]
        else:
            del self.fields["workspace"]
        self.fields["labels"].choices = [(label.pk, label.name) for label in labels]
        if not allow_restricted:
            self.fields["classification"].choices = [
                choice for choice in Classification.choices if choice[0] != Classification.RESTRICTED
            ]

    def clean_properties(self):
        text = self.cleaned_data.get("properties", "")
        initial = self.initial.get("properties", "")
        if _normalise(text) == _normalise(initial):
            # Unchanged: keep the stored properties as they are, even values the
            # "key: value" text cannot represent (line breaks set through the API).
            return None
        return parse_properties(text)


class LabelForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=60)
    colour = forms.CharField(label=_("Colour"), max_length=7, initial="#6b7280",
                             widget=forms.TextInput(attrs={"type": "color"}),
                             help_text=_("A colour like #1f6feb."))


class MemberAddForm(forms.Form):
    user = forms.TypedChoiceField(label=_("User"), coerce=int)

    def __init__(self, *args, users=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [(u.pk, f"{u.display_name} <{u.email}>") for u in users]


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100,
                           help_text=_("What the token is for, for example “nightly export”."))
    expires_in_days = forms.IntegerField(label=_("Expires after (days)"), min_value=1, max_value=366,
                                         initial=90, widget=forms.NumberInput(attrs={"inputmode": "numeric"}))


class RecordFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200,
                        widget=forms.TextInput(attrs={"type": "search"}))
    workspace = forms.TypedChoiceField(label=_("Workspace"), coerce=int, required=False, empty_value=None)
    label = forms.TypedMultipleChoiceField(label=_("Labels"), coerce=int, required=False,
                                           widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, workspaces=(), labels=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workspace"].choices = [("", _("All workspaces"))] + [(w.pk, w.name) for w in workspaces]
        self.fields["label"].choices = [(label.pk, label.name) for label in labels]


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False)
    actor = forms.CharField(label=_("Actor"), required=False, max_length=254)
    before = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)

    def __init__(self, *args, event_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("All actions"))] + [
            (event.name, f"{event.label} ({event.name})") for event in event_types
        ]
