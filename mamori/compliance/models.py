"""Models of mamori.compliance: stored control-check runs and their results (provider tables).

Nothing here holds customer data: a result keeps the summary and the evidence a check read
(counts, setting values, table names, ages), never rows of a tenant.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from mamori.compliance.registry import STATUSES


class ControlRun(models.Model):
    """Provider table: one run of the control checks (all of them, a clause or some keys)."""

    class Trigger(models.TextChoices):
        CLI = "cli", _("Command line")
        WORKER = "worker", _("Daily job")
        CONSOLE = "console", _("Provider console")

    started_at = models.DateTimeField(_("started"), db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    trigger = models.CharField(_("trigger"), max_length=10, choices=Trigger.choices, default=Trigger.CLI)
    triggered_by = models.CharField(_("triggered by"), max_length=254, blank=True, default="")
    # {"pass": 40, "fail": 1, "error": 0, "not_applicable": 2, "organisational": 5, "total": 48}
    counts = models.JSONField(_("counts"), default=dict, blank=True)

    class Meta:
        verbose_name = _("control check run")
        verbose_name_plural = _("control check runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"controls run {self.started_at:%Y-%m-%d %H:%M} ({self.trigger})"

    @property
    def ok(self) -> bool:
        """No check failed or errored in this run."""
        return not (self.counts.get("fail") or self.counts.get("error"))


class ControlResult(models.Model):
    """Provider table: what one control check found in one run."""

    run = models.ForeignKey(ControlRun, on_delete=models.CASCADE, related_name="results")
    key = models.CharField(_("control"), max_length=60, db_index=True)
    clause = models.CharField(_("clause"), max_length=30)
    section = models.CharField(_("section"), max_length=40)
    title = models.CharField(_("title"), max_length=300, blank=True, default="")
    status = models.CharField(_("status"), max_length=16, choices=[(s, s) for s in STATUSES])
    # The summary in the default language (LANGUAGE_CODE) and in every language of LANGUAGES:
    # ``summary`` reads the active language's, so the Japanese whitepaper quotes Japanese.
    summary_text = models.TextField(_("summary"), db_column="summary", blank=True, default="")
    summaries = models.JSONField(_("summaries"), default=dict, blank=True)
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True, default="")
    checked_at = models.DateTimeField(_("checked"), db_index=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("control check result")
        verbose_name_plural = _("control check results")
        ordering = ["-checked_at", "-id"]
        indexes = [models.Index(fields=["key", "-checked_at"], name="compliance_result_key_time")]

    def __str__(self) -> str:
        return f"{self.key}: {self.status}"

    @property
    def summary(self) -> str:
        """The summary in the active language (else in the default language)."""
        language = (get_language() or settings.LANGUAGE_CODE)[:2]
        return str(self.summaries.get(language) or self.summary_text)

    @summary.setter
    def summary(self, value: str) -> None:
        self.summary_text = str(value)

    @property
    def failing(self) -> bool:
        return self.status in ("fail", "error")
