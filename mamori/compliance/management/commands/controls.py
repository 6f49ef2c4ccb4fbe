"""``mamori controls check [--json] [--clause ID] [--key KEY]`` and ``mamori controls export``.

``check`` runs the control checks (all, one clause, or the given keys), stores the run and
prints one line per control (clause, status, summary in ``--lang``, default MAMORI_LANGUAGE) or,
with ``--json``, the run as JSON (``summaries`` holds every language).
Exit status 1 when any check fails or errors, 0 otherwise, 2 for bad input.

``export --from DATE --to DATE --out FILE.zip`` writes the auditor report: the whitepaper, the
latest results (JSON, CSV) and the history of the period, with a SHA-256 manifest.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from mamori.compliance.runner import run_checks
from mamori.core.management.base import cli_actor, dump_json, invalid, validation_failed


def run_json(run) -> dict:
    return {
        "run": {"id": run.pk, "started_at": run.started_at.isoformat(), "finished_at": run.finished_at.isoformat(),
                "trigger": run.trigger, "counts": run.counts, "ok": run.ok},
        "results": [
            {"key": r.key, "clause": r.clause, "section": r.section, "title": r.title, "status": r.status,
             "summary": r.summary, "summaries": r.summaries, "evidence": r.evidence, "error": r.error, "checked_at": r.checked_at.isoformat(),
             "duration_ms": r.duration_ms}
            for r in run.results.order_by("id")
        ],
    }


class Command(BaseCommand):
    help = "Run the control checks (exit 1 when any fails) or export the auditor report."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{check,export}")
        check = sub.add_parser("check", help="Run the control checks and store the results.")
        check.add_argument("--json", action="store_true", help="Print the run and its results as JSON.")
        check.add_argument("--clause", default="", help="Only the controls of this clause (e.g. 9.2.4, CLD.9.5.1).")
        check.add_argument("--key", action="append", default=[], help="Only this control key (repeatable).")
        check.add_argument("--lang", choices=[code for code, _name in settings.LANGUAGES], default="",
                           help="Language of the printed summaries (default: MAMORI_LANGUAGE).")
        export = sub.add_parser("export", help="Write the auditor report (ZIP).")
        export.add_argument("--from", dest="date_from", required=True, help="First day (YYYY-MM-DD, UTC).")
        export.add_argument("--to", dest="date_to", required=True, help="Last day (YYYY-MM-DD, UTC), inclusive.")
        export.add_argument("--out", required=True, help="The ZIP file to write.")

    def handle(self, *args, **options):
        return getattr(self, "_" + options["subcommand"])(options)

    def _check(self, options):
        try:
            run = run_checks(keys=options["key"] or None, clause=options["clause"].strip() or None, trigger="cli",
                             actor=cli_actor())
        except KeyError as exc:
            raise invalid(f"No control {exc.args[0]!s}: see `mamori controls check` for the list.") from None
        with translation.override(options["lang"] or settings.LANGUAGE_CODE):
            self._print(run, options)
        if not run.ok:
            raise CommandError(f"{run.counts.get('fail', 0)} failed, {run.counts.get('error', 0)} errors.",
                               returncode=1)

    def _print(self, run, options):
        if options["json"]:
            self.stdout.write(dump_json(run_json(run)))
        else:
            width = max((len(r.clause) for r in run.results.all()), default=8)
            for r in run.results.order_by("id"):
                line = f"{r.clause:<{width}}  {r.status:<14}  {r.summary}"
                style = {"pass": self.style.SUCCESS, "fail": self.style.ERROR, "error": self.style.ERROR}.get(
                    r.status, str)
                self.stdout.write(style(line))
            counts = ", ".join(f"{k} {v}" for k, v in run.counts.items() if v and k != "total")
            self.stdout.write(f"{run.counts.get('total', 0)} controls: {counts}")

    def _export(self, options):
        from mamori.compliance.export import export_report

        out = Path(options["out"])
        if out.suffix.lower() != ".zip":
            raise invalid("--out: give a file name ending in .zip.")
        if not out.parent.is_dir():
            raise invalid(f"--out: directory {out.parent} does not exist.")
        try:
            report = export_report(actor=cli_actor(), date_from=options["date_from"], date_to=options["date_to"])
        except ValidationError as exc:
            raise validation_failed(exc) from None
        out.write_bytes(report.data)
        self.stdout.write(f"{out}: {len(report.data)} bytes, {len(report.files) + 1} files; whitepaper "
                          f"{report.whitepaper}.")
