"""Forms for passwords, invitations and user administration. They parse and shape
input; the actions validate and decide (their ValidationErrors land on the fields)."""

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from mamori.accounts.models import User


class NewPasswordForm(forms.Form):
    password1 = forms.CharField(label=_("New password"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                help_text=password_validation.password_validators_help_text_html)
    password2 = forms.CharField(label=_("New password (again)"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", _("The two passwords do not match."))
        return cleaned


class InvitationForm(NewPasswordForm):
    """The invitee picks a name (prefilled) and a password."""

    name = forms.CharField(label=_("Name"), max_length=150, required=False)
    field_order = ["name", "password1", "password2"]


class ChangePasswordForm(NewPasswordForm):
    current_password = forms.CharField(label=_("Current password"), strip=False,
                                       widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    field_order = ["current_password", "password1", "password2"]


LANGUAGE_CHOICES = User._meta.get_field("language").choices


class _UserFieldsForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"))
    unit_ids = forms.TypedMultipleChoiceField(label=_("Organizational units"), coerce=int, required=False,
                                              widget=forms.CheckboxSelectMultiple)
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES, required=False,
                                 help_text=_("The language of the user's e-mails and pages."))

    def __init__(self, *args, roles, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = roles
        self.fields["unit_ids"].choices = [(unit.pk, unit.name) for unit in units]
        if not self.fields["unit_ids"].choices:
            del self.fields["unit_ids"]


class InviteUserForm(_UserFieldsForm):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    field_order = ["email", "name", "role", "unit_ids", "language"]


class CreateUserForm(InviteUserForm):
    password = forms.CharField(
        label=_("Initial password"), strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Tell the user this password in person; they must change it at first sign-in."))


class EditUserForm(_UserFieldsForm):
    pass


class UserFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[
        ("", _("All")), ("invited", _("Invited")), ("active", _("Active")), ("suspended", _("Suspended"))])
    role = forms.ChoiceField(label=_("Role"), required=False)
    unit = forms.TypedChoiceField(label=_("Unit"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, roles, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [("", _("All")), *roles]
        self.fields["unit"].choices = [("", _("All")), *[(unit.pk, unit.name) for unit in units]]

