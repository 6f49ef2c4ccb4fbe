"""Writes of the compliance app; each records its provider-log event in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from mamori.audit.events import Actor, record_provider_event
from mamori.compliance.models import ControlResult, ControlRun
from mamori.core.actions import action

if TYPE_CHECKING:
    from mamori.compliance.runner import Outcome


@action
def record_control_run(*, actor: Actor, trigger: str, started_at: datetime, outcomes: list[Outcome]) -> ControlRun:
    """Store one run of the control checks and its results."""
    from mamori.compliance.runner import count

    run = ControlRun.objects.create(started_at=started_at, finished_at=timezone.now(), trigger=trigger,
                                    triggered_by=actor.label[:254], counts=count(o.status for o in outcomes))
    ControlResult.objects.bulk_create([
        ControlResult(run=run, key=o.control.key, clause=o.control.clause, section=o.control.section,
                      title=str(o.control.title)[:300], status=o.status, summary_text=o.summary,
                      summaries=o.summaries,
                      evidence=o.evidence, error=o.error, checked_at=o.checked_at or run.finished_at,
                      duration_ms=o.duration_ms)
        for o in outcomes
    ])
    failing = sorted(o.control.key for o in outcomes if o.status in ("fail", "error"))
    record_provider_event("controls.checked", actor=actor, target=("control_run", run.pk, trigger),
                          # Keys matching "pass…" are redacted as secrets: the passes are counted as "ok".
                          after={"trigger": trigger, "total": run.counts["total"], "ok": run.counts["pass"],
                                 "failed": run.counts["fail"], "errors": run.counts["error"],
                                 "not_applicable": run.counts["not_applicable"],
                                 "organisational": run.counts["organisational"], "failing": failing[:100]})
    return run


@action
def record_controls_export(*, actor: Actor, date_from: str, date_to: str, files: dict[str, str]) -> None:
    """An auditor export (ZIP) was produced; ``files`` maps each file to its SHA-256."""
    record_provider_event("controls.exported", actor=actor, target=("controls_export", "", f"{date_from}..{date_to}"),
                          after={"from": date_from, "to": date_to, "files": files})
