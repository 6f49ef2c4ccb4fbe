"""mamori.core.forms: an action's ValidationError, whatever its shape, lands on the form."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from mamori.core.forms import apply_validation_error, error_messages


class _Form(forms.Form):
    name = forms.CharField(required=False)
    password1 = forms.CharField(required=False)


def _bound() -> _Form:
    form = _Form({"name": "x"})
    assert form.is_valid()
    return form


def test_field_errors_land_on_their_fields_and_unknown_ones_on_the_form():
    form = _bound()
    apply_validation_error(form, ValidationError({"name": "Too short.", "elsewhere": "Nope."}))
    assert form.errors["name"] == ["Too short."]
    assert form.non_field_errors() == ["Nope."]


def test_a_plain_message_becomes_a_form_error_not_a_crash():
    form = _bound()
    apply_validation_error(form, ValidationError(["First.", "Second."]))
    assert form.non_field_errors() == ["First.", "Second."]
    assert error_messages(ValidationError("Only.")) == {"__all__": ["Only."]}


def test_field_map_renames_action_fields():
    form = _bound()
    apply_validation_error(form, ValidationError({"password": "Too common."}), fields={"password": "password1"})
    assert form.errors["password1"] == ["Too common."]
