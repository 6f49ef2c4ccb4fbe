from django import forms
from django.utils.translation import gettext_lazy as _


class StaffSignInForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}))
    password = forms.CharField(label=_("Password"), strip=False, max_length=4096,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class TotpCodeForm(forms.Form):
    code = forms.CharField(label=_("Verification code"), max_length=12, strip=True,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                         "autofocus": True, "pattern": "[0-9 ]*"}))
