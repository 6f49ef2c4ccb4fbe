"""``mamori security audit``: check the installed Python packages for known vulnerabilities.

Runs pip-audit (``python -m pip_audit --format json``) with a bounded timeout, stores the
result as a ``VulnerabilityAudit`` (provider console → Vulnerabilities, control 12.6.1)
and exits non-zero when it found vulnerabilities (1) or could not run (3).

Options: ``--requirements FILE`` audits a pinned requirements/lock file instead of the
installed environment; ``--local`` limits pip-audit to packages installed in this
environment (not the system site-packages); ``--from-json FILE`` imports a report that
``pip-audit -f json`` produced on a machine that can reach the vulnerability service
(air-gapped installations); ``--service pypi|osv``; ``--timeout SECONDS``.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from mamori.core.management.base import cli_actor, dump_json
from mamori.operations.actions_security import audit_dependencies
from mamori.operations.vulnerabilities import SERVICES

EXIT_FINDINGS = 1
EXIT_UNAVAILABLE = 3


class Command(BaseCommand):
    help = "Security: `audit` checks installed dependencies against known vulnerabilities (pip-audit)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{audit}")
        audit = sub.add_parser("audit", help="Run pip-audit and store the result.")
        source = audit.add_mutually_exclusive_group()
        source.add_argument("--requirements", "-r", default=None, help="Audit this pinned requirements file.")
        source.add_argument("--local", action="store_true",
                            help="Only packages installed in this environment (pip-audit --local).")
        source.add_argument("--from-json", default=None,
                            help="Import a pip-audit JSON report made elsewhere (offline installations).")
        audit.add_argument("--service", choices=SERVICES, default=None,
                           help="Vulnerability service (default: MAMORI_VULNERABILITY_SERVICE).")
        audit.add_argument("--timeout", type=int, default=None,
                           help="Give up after this many seconds (default: MAMORI_VULNERABILITY_AUDIT_TIMEOUT).")
        audit.add_argument("--json", action="store_true", help="Print the stored result as JSON.")

    def handle(self, *args, **options):
        if options["timeout"] is not None and options["timeout"] < 1:
            raise CommandError("--timeout must be at least 1 second.", returncode=2)
        audit = audit_dependencies(actor=cli_actor(), requirements=options["requirements"], local=options["local"],
                                   service=options["service"], from_json=options["from_json"],
                                   timeout=options["timeout"])
        if options["json"]:
            self.stdout.write(dump_json({
                "id": audit.pk, "ran_at": audit.ran_at, "ok": audit.ok, "mode": audit.mode,
                "service": audit.service, "packages_checked": audit.packages_checked,
                "findings": audit.findings, "skipped": audit.skipped, "error": audit.error}))
        if not audit.ok:
            raise CommandError(f"The vulnerability audit could not run: {audit.error}", returncode=EXIT_UNAVAILABLE)
        if not options["json"]:
            for finding in audit.findings:
                fixes = ", ".join(finding["fix_versions"]) or "no fix yet"
                aliases = f" ({', '.join(finding['aliases'])})" if finding["aliases"] else ""
                self.stdout.write(f"{finding['package']} {finding['version']}: {finding['id']}{aliases} — fixed in {fixes}")
            if audit.skipped:
                self.stdout.write(f"{len(audit.skipped)} package(s) could not be checked (see the provider console).")
        if audit.findings:
            raise CommandError(
                f"{len(audit.findings)} known vulnerabilit{'y' if len(audit.findings) == 1 else 'ies'} in "
                f"{audit.vulnerable_packages} package(s) of {audit.packages_checked} checked.", returncode=EXIT_FINDINGS)
        self.stdout.write(self.style.SUCCESS(
            f"No known vulnerabilities in {audit.packages_checked} packages checked ({audit.service})."))
