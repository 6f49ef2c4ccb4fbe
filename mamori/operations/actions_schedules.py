"""The "run now" of periodic jobs (mamori.core.schedule): provider console and CLI."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from mamori.audit.events import Actor, record_provider_event
from mamori.core import schedule
from mamori.core.actions import action


@action
def run_job_now(*, actor: Actor, name: str):
    """Enqueue the periodic job ``name`` at once; its next scheduled run is unchanged.
    (Who may: the provider console lets operators only; see docs/operations/provider-console.md.)"""
    if name not in schedule.registered_jobs():
        raise ValidationError({"name": _("There is no periodic job with this name.")})
    row = schedule.run_now(name)
    record_provider_event("schedule.run_now", actor=actor, target=("operations.scheduledrun", row.pk, name),
                          after={"task_id": row.last_task_id})
    return row
