"""The password policy form of the console: it parses; ``clean_policy`` (in the action) decides."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from mamori.accounts.policy import AT_LEAST, CLASSES, EACH, NONE, Policy


def class_choices():
    return [
        ("lower", _("lower-case letters")),
        ("upper", _("upper-case letters")),
        ("digit", _("digits")),
        ("symbol", _("symbols or other characters")),
    ]


class PasswordPolicyForm(forms.Form):
    # Ranges are checked by the action, with the same messages for the console and the API.
    min_length = forms.IntegerField(label=_("Minimum length"), help_text=_("At least 8; 12 or more recommended."))
    max_length = forms.IntegerField(label=_("Maximum length"), help_text=_("At most 128; 64 or more recommended."))
    allowed_symbols = forms.CharField(
        label=_("Allowed symbols"), required=False, max_length=64,
        help_text=_("Leave empty to allow any character (recommended). If you list symbols, passwords may "
                    "contain only ASCII letters, digits and these symbols."))
    class_rule = forms.ChoiceField(label=_("Character classes"), widget=forms.RadioSelect, choices=[
        (NONE, _("No composition rule (recommended)")),
        (AT_LEAST, _("At least N of the four character classes")),
        (EACH, _("Each of the chosen character classes")),
    ])
    min_classes = forms.IntegerField(label=_("Number of classes (for “at least N”)"), required=False)
    required_classes = forms.MultipleChoiceField(label=_("Required classes (for “each of”)"), required=False,
                                                 widget=forms.CheckboxSelectMultiple, choices=class_choices)
    expiry_days = forms.IntegerField(label=_("Expiry in days"), help_text=_("0 means passwords never expire "
                                                                            "(recommended)."))
    history_count = forms.IntegerField(label=_("Password history"),
                                       help_text=_("Refuse the last N passwords (0 = only the current one)."))
    refuse_common = forms.BooleanField(label=_("Refuse common passwords (recommended)"), required=False)
    refuse_similar = forms.BooleanField(label=_("Refuse passwords similar to the e-mail address or name "
                                                "(recommended)"), required=False)
    banned_words = forms.CharField(
        label=_("Banned words"), required=False, max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One word per line: your company, product and service names, and other words people "
                    "here would put in a password. Passwords containing one of them are refused, whatever "
                    "the case or width of the characters."))

    @staticmethod
    def initial_for(policy: Policy) -> dict:
        data = policy.as_dict()
        data["required_classes"] = [c for c in CLASSES if c in policy.required_classes]
        data["banned_words"] = "\n".join(policy.banned_words)
        return data

    def policy_fields(self) -> dict:
        data = dict(self.cleaned_data)
        if data.get("min_classes") is None:
            data["min_classes"] = 3
        data["allowed_symbols"] = data.get("allowed_symbols") or ""
        data["banned_words"] = [line.strip() for line in (data.get("banned_words") or "").splitlines() if line.strip()]
        return data
