"""The auditor export: one ZIP with the whitepaper, the latest control-check results (JSON and
CSV) and their history for a period, plus a manifest with the SHA-256 of every file.

CSV files are UTF-8 with BOM (Excel opens them as UTF-8) and every cell a spreadsheet would
run as a formula gets a leading quote (``mamori.accounts.csv_users.neutralise``). The export
holds no customer data: results quote counts, setting values and table names only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.accounts.csv_users import neutralise
from mamori.compliance.models import ControlResult
from mamori.compliance.queries import history, latest_results

CSV_COLUMNS = ["key", "clause", "section", "title", "status", "summary_ja", "summary_en", "checked_at",
               "duration_ms", "run_id", "trigger", "error", "evidence"]
WHITEPAPER_LANGS = ("ja", "en")
WHITEPAPER_FORMATS = ("html", "md", "pdf")
MAX_DAYS = 3660


@dataclass(frozen=True)
class ExportedReport:
    data: bytes
    filename: str
    files: dict[str, str]  # name -> SHA-256
    whitepaper: str  # "included" or why not


def parse_period(date_from: str | date, date_to: str | date) -> tuple[date, date]:
    """Both dates inclusive (UTC days); field errors for bad input."""
    errors = {}
    parsed = {}
    for field, value in (("date_from", date_from), ("date_to", date_to)):
        if isinstance(value, date):
            parsed[field] = value
            continue
        try:
            parsed[field] = date.fromisoformat(str(value or "").strip())
        except ValueError:
            errors[field] = _("Enter a date as YYYY-MM-DD.")
    if errors:
        raise ValidationError(errors)
    if parsed["date_to"] < parsed["date_from"]:
        raise ValidationError({"date_to": _("The end date cannot be before the start date.")})
    if (parsed["date_to"] - parsed["date_from"]).days > MAX_DAYS:
        raise ValidationError({"date_to": _("Choose a period of at most ten years.")})
    return parsed["date_from"], parsed["date_to"]


def result_dict(row: ControlResult) -> dict:
    return {"key": row.key, "clause": row.clause, "section": row.section, "title": row.title,
            "status": row.status, "summary_ja": row.summaries.get("ja") or row.summary_text,
            "summary_en": row.summaries.get("en") or row.summary_text, "checked_at": row.checked_at.isoformat(),
            "duration_ms": row.duration_ms, "run_id": row.run_id, "trigger": row.run.trigger,
            "error": row.error, "evidence": row.evidence}


def results_csv(rows: Iterable[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        cells = []
        for column in CSV_COLUMNS:
            value = row[column]
            if column == "evidence":
                value = json.dumps(value, ensure_ascii=False, sort_keys=True)
            cells.append(neutralise("" if value is None else str(value)))
        writer.writerow(cells)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _json(data) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _whitepapers() -> tuple[dict[str, bytes], str]:
    try:
        from mamori.compliance.whitepaper import render
    except ImportError as exc:
        return {}, f"not included: the whitepaper generator is not installed ({exc})"
    files, skipped = {}, []
    for lang in WHITEPAPER_LANGS:
        for fmt in WHITEPAPER_FORMATS:
            try:
                files[f"whitepaper/whitepaper-{lang}.{fmt}"] = render(lang, fmt)
            except Exception as exc:  # noqa: BLE001 — one format failing (e.g. PDF engine) must not stop the export
                skipped.append(f"{lang}.{fmt}: {type(exc).__name__}: {exc}"[:300])
    return files, ("included" if not skipped else "partly included; " + "; ".join(skipped))


def build_report(date_from: str | date, date_to: str | date, *, now: datetime | None = None) -> ExportedReport:
    """The ZIP (bytes) for the inclusive period ``date_from``–``date_to``."""
    start, end = parse_period(date_from, date_to)
    now = now or timezone.now()
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    latest = [result_dict(r) for r in latest_results().values()]
    past = [result_dict(r) for r in history(since=since, until=until).order_by("checked_at", "id")]
    files: dict[str, bytes] = {
        "results/latest.json": _json(latest),
        "results/latest.csv": results_csv(latest),
        "history/results.json": _json(past),
        "history/results.csv": results_csv(past),
    }
    papers, whitepaper_state = _whitepapers()
    files.update(papers)
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    manifest = {
        "type": "mamori.controls-report", "version": 1, "generated_at": now.isoformat(),
        "period": {"from": start.isoformat(), "to": end.isoformat(), "timezone": "UTC"},
        "latest_results": len(latest), "history_results": len(past), "whitepaper": whitepaper_state,
        "files": {name: {"sha256": digests[name], "size": len(files[name])} for name in sorted(files)},
    }
    buffer = io.BytesIO()
    stamp = now.astimezone(UTC).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), files[name], compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr(zipfile.ZipInfo("manifest.json", date_time=stamp), _json(manifest),
                         compress_type=zipfile.ZIP_DEFLATED)
    filename = f"mamori-controls-{start:%Y%m%d}-{end:%Y%m%d}.zip"
    return ExportedReport(buffer.getvalue(), filename, digests, whitepaper_state)


def export_report(*, actor, date_from: str | date, date_to: str | date) -> ExportedReport:
    """Build the report and record ``controls.exported`` in the provider log."""
    from mamori.compliance.actions import record_controls_export

    report = build_report(date_from, date_to)
    start, end = parse_period(date_from, date_to)
    record_controls_export(actor=actor, date_from=start.isoformat(), date_to=end.isoformat(), files=report.files)
    return report
