from __future__ import annotations

import re

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _

from mamori.access.roles import Perm, can
from mamori.console import queries
from mamori.console.forms import LabelForm, apply_validation_error
from mamori.console.views.common import FORM, actor, console_view
from mamori.records import actions
from mamori.records.queries import access_label

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
LABELS_CSS_MAX_AGE = 300


@console_view()
def label_list(request):
    return render(request, "console/labels/list.html", {
        "labels": queries.labels(request.user),
        "can_manage": can(request.user, Perm.MANAGE_LABELS),
    })


@console_view(FORM, perm=Perm.MANAGE_LABELS)
def label_create(request):
    form = LabelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.create_label(actor=actor(request), **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Label created."))
            return redirect("console:labels")
    return render(request, "console/labels/form.html", {"form": form, "label": None})


@console_view(FORM, perm=Perm.MANAGE_LABELS)
def label_edit(request, pk: int):
    label = access_label(request.user, pk, for_write=True)
    form = LabelForm(request.POST or None, initial={"name": label.name, "colour": label.colour})
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_label(actor=actor(request), label_id=label.pk, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Label saved."))
            return redirect("console:labels")
    return render(request, "console/labels/form.html", {"form": form, "label": label})


@console_view(FORM, perm=Perm.MANAGE_LABELS)
def label_delete(request, pk: int):
    label = access_label(request.user, pk, for_write=True)
    if request.method == "POST":
        actions.delete_label(actor=actor(request), label_id=label.pk)
        messages.success(request, _("Label deleted."))
        return redirect("console:labels")
    return render(request, "console/confirm_delete.html", {
        "object_kind": _("label"), "object_name": label.name, "errors": [],
        "cancel_url": reverse("console:labels"),
    })


def _text_colour(hex_colour: str) -> str:
    """Dark or white text, whichever reads better on the label colour (WCAG luminance)."""
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return "#1f2328" if luminance > 0.179 else "#ffffff"


def labels_stylesheet(palette: list[tuple[int, str]]) -> str:
    rules = [
        f".label-{int(pk)}{{background:{colour.lower()};color:{_text_colour(colour)}}}"
        for pk, colour in palette if _HEX.match(colour or "")
    ]
    return "\n".join(rules) + "\n"


@console_view()
def labels_css(request):
    """Label colours as a stylesheet (the CSP forbids style="" attributes)."""
    response = HttpResponse(labels_stylesheet(queries.label_palette()), content_type="text/css; charset=utf-8")
    patch_cache_control(response, private=True, max_age=LABELS_CSS_MAX_AGE)
    return response
