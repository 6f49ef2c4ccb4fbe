"""Settings → SIEM webhooks: subscribe an endpoint, see deliveries, test, disable/enable, delete."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from mamori.console.forms import apply_validation_error
from mamori.console.views.common import FORM, WRITE, actor, console_view
from mamori.siem import actions, queries
from mamori.siem.forms import SubscriptionForm

PERM = queries.MANAGE_PERM


@console_view(perm=PERM)
def siem_list(request):
    return render(request, "console/siem/list.html", {"subscriptions": queries.subscriptions(request.user)})


@never_cache
@console_view(FORM, perm=PERM)
def siem_create(request):
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            subscription, secret = actions.create_subscription(actor=actor(request), **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            # Shown on this response only.
            return render(request, "console/siem/created.html", {"subscription": subscription, "secret": secret})
    return render(request, "console/siem/form.html", {"form": form})


@console_view(FORM, perm=PERM)
def siem_detail(request, pk: int):
    subscription = queries.access_subscription(request.user, pk)
    form = SubscriptionForm(request.POST or None, initial=SubscriptionForm.initial_for(subscription))
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_subscription(actor=actor(request), subscription_id=subscription.pk, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Webhook saved."))
            return redirect("console:siem_detail", pk=subscription.pk)
    return render(request, "console/siem/detail.html", {
        "subscription": subscription, "form": form, "deliveries": queries.deliveries(subscription),
    })


@console_view(WRITE, perm=PERM)
def siem_test(request, pk: int):
    actions.send_test_event(actor=actor(request), subscription_id=pk)
    messages.success(request, _("Test event queued. Its result appears in the delivery log in a few seconds."))
    return redirect("console:siem_detail", pk=pk)


@console_view(WRITE, perm=PERM)
def siem_disable(request, pk: int):
    actions.disable_subscription(actor=actor(request), subscription_id=pk)
    messages.success(request, _("Webhook disabled. Events are kept and sent when you enable it again."))
    return redirect("console:siem_detail", pk=pk)


@console_view(WRITE, perm=PERM)
def siem_enable(request, pk: int):
    subscription = actions.enable_subscription(actor=actor(request), subscription_id=pk)
    messages.success(request, _("Webhook enabled. Delivery resumes after sequence number %(seq)d.")
                     % {"seq": subscription.last_acknowledged_seq})
    return redirect("console:siem_detail", pk=pk)


@console_view(FORM, perm=PERM)
def siem_delete(request, pk: int):
    subscription = queries.access_subscription(request.user, pk)
    if request.method == "POST":
        actions.delete_subscription(actor=actor(request), subscription_id=subscription.pk)
        messages.success(request, _("Webhook deleted."))
        return redirect("console:siem")
    return render(request, "console/confirm_delete.html", {
        "object_kind": _("webhook"), "object_name": str(subscription), "errors": [],
        "cancel_url": reverse("console:siem_detail", kwargs={"pk": subscription.pk}),
    })
