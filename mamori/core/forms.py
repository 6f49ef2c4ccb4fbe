"""Putting an action's ValidationError on a form, the same way on every page.

Actions raise ``ValidationError({field: message})`` (or, rarely, a plain message). Views show
the messages next to the fields the user typed into, so nothing they entered is lost; an
error for a field the form does not have, or one without a field, becomes a form-level error.
A plain (non-dict) ValidationError must never turn into a 500, which ``exc.message_dict``
alone would do.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def error_messages(exc: ValidationError) -> dict[str, list[str]]:
    """``{field: [messages]}`` of any ValidationError; field-less messages under ``__all__``."""
    if hasattr(exc, "error_dict"):
        return exc.message_dict
    return {NON_FIELD_ERRORS: list(exc.messages)}


def apply_validation_error(form: forms.Form, exc: ValidationError, *, fields: dict[str, str] | None = None) -> None:
    """Add every message of ``exc`` to ``form``. ``fields`` maps an action's field name to the
    form's when they differ."""
    for field, messages in error_messages(exc).items():
        name = (fields or {}).get(field, field)
        target = name if name in form.fields else None
        for message in messages:
            form.add_error(target, message)
