"""``mamori controls check`` (table, JSON, exit codes) and ``mamori controls export`` (the auditor ZIP)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from mamori.audit.models import ProviderEvent
from mamori.compliance.models import ControlResult, ControlRun
from mamori.compliance.registry import STATUSES, CheckResult
from tests.compliance.helpers import temporary_control

pytestmark = pytest.mark.django_db


def _call(*args, split: bool = False):
    """Exit code and output (stdout, then the error message) of ``mamori controls …``."""
    out = io.StringIO()
    error = ""
    code = 0
    try:
        call_command("controls", *args, stdout=out)
    except CommandError as exc:
        code, error = exc.returncode, str(exc)
    return (code, out.getvalue(), error) if split else (code, out.getvalue() + error)


def test_check_prints_a_table_and_exits_0_when_all_pass():
    code, out = _call("check", "--key", "6.1.1", "--key", "8.2.2", "--lang", "en")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["6.1.1", "pass"] and "grace period 30 days" in lines[0]
    assert lines[1].split()[:2] == ["8.2.2", "pass"]
    assert lines[-1] == "2 controls: pass 2"
    assert ControlRun.objects.get().trigger == "cli" and ControlResult.objects.count() == 2


def test_check_json_schema():
    code, out, error = _call("check", "--json", "--clause", "9.2.4", "--lang", "en", split=True)
    data = json.loads(out)
    assert set(data) == {"run", "results"}
    assert set(data["run"]) == {"id", "started_at", "finished_at", "trigger", "counts", "ok"}
    assert set(data["run"]["counts"]) == {*STATUSES, "total"}
    assert [r["key"] for r in data["results"]] == ["9.2.4", "9.2.4-policy"]
    for result in data["results"]:
        assert set(result) == {"key", "clause", "section", "title", "status", "summary", "summaries", "evidence",
                               "error", "checked_at", "duration_ms"}
        assert set(result["summaries"]) == {"ja", "en"} and result["summary"] == result["summaries"]["en"]
        assert result["status"] in STATUSES and isinstance(result["evidence"], dict)
    # The tests run with the MD5 hasher: the hasher control fails, so the command exits 1.
    assert code == 1 and data["results"][0]["status"] == "fail" and data["run"]["ok"] is False
    assert error == "1 failed, 0 errors."


def test_check_exits_1_on_error():
    def broken():
        raise ValueError("bad value")

    with temporary_control("T.9", broken, key="T.9-broken"):
        code, out = _call("check", "--key", "T.9-broken")
    assert code == 1
    assert "error" in out and "ValueError: bad value" in out and "0 failed, 1 errors." in out


def test_unknown_control_is_bad_input():
    code, out = _call("check", "--key", "42.0")
    assert code == 2 and "No control 42.0" in out
    assert ControlRun.objects.count() == 0


def _formula():
    return CheckResult.failed("=HYPERLINK(\"http://evil\")", note="+1")


def test_export_zip_has_whitepaper_results_history_and_manifest(tmp_path):
    with temporary_control("T.10", _formula, key="T.10-formula"):
        _call("check", "--key", "6.1.1", "--key", "T.10-formula")
        _call("check", "--key", "6.1.1")
    # one result outside the period: moved back 40 days
    first_run = ControlRun.objects.order_by("id").first()
    first_run.results.update(checked_at=timezone.now() - timedelta(days=40))
    today = timezone.now().date()
    out = tmp_path / "report.zip"
    code, text = _call("export", "--from", str(today - timedelta(days=7)), "--to", str(today), "--out", str(out))
    assert code == 0, text
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        files = {name: archive.read(name) for name in names}
    assert {"manifest.json", "results/latest.json", "results/latest.csv", "history/results.json",
            "history/results.csv"} <= names
    for lang in ("ja", "en"):
        for fmt in ("html", "md"):
            assert f"whitepaper/whitepaper-{lang}.{fmt}" in names
    assert manifest["whitepaper"].startswith(("included", "partly included"))
    assert set(manifest["files"]) == names - {"manifest.json"}
    for name, info in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == info["sha256"] and len(files[name]) == info["size"]
    latest = json.loads(files["results/latest.json"])
    assert {r["key"] for r in latest} == {"6.1.1", "T.10-formula"}
    history = json.loads(files["history/results.json"])
    assert [r["key"] for r in history] == ["6.1.1"]  # the 40-day-old run is outside the period
    raw = files["results/latest.csv"]
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    formula = next(r for r in rows if r["key"] == "T.10-formula")
    assert formula["summary_en"].startswith("'=HYPERLINK") and formula["status"] == "fail"
    split = next(r for r in rows if r["key"] == "6.1.1")
    assert "grace period 30 days" in split["summary_en"] and "猶予期間は 30 日" in split["summary_ja"]
    assert json.loads(formula["evidence"]) == {"note": "+1"}
    event = ProviderEvent.objects.get(action="controls.exported")
    assert event.after["files"]["results/latest.csv"] == manifest["files"]["results/latest.csv"]["sha256"]


@pytest.mark.parametrize("args, field, message", [
    (["--from", "2026-13-01", "--to", "2026-01-01"], "date_from", "Enter a date as YYYY-MM-DD."),
    (["--from", "2026-02-01", "--to", "2026-01-01"], "date_to", "The end date cannot be before the start date."),
])
def test_export_bad_dates_are_refused(tmp_path, settings, args, field, message):
    from django.utils import translation

    code, out = _call("export", *args, "--out", str(tmp_path / "r.zip"))
    with translation.override(settings.LANGUAGE_CODE):  # commands answer in the default language
        expected = f"{field}: {translation.gettext(message)}"
    assert code == 2 and expected in out and not (tmp_path / "r.zip").exists()
    assert not ProviderEvent.objects.filter(action="controls.exported").exists()


def test_export_needs_a_zip_name(tmp_path):
    code, out = _call("export", "--from", "2026-01-01", "--to", "2026-01-02", "--out", str(tmp_path / "r.txt"))
    assert code == 2 and ".zip" in out
