"""Dependency vulnerability audit (12.6.1): pip-audit against the installed environment.

``run_pip_audit()`` calls ``python -m pip_audit --format json`` in a subprocess with a
bounded timeout and parses its report; ``actions_security.record_vulnerability_audit``
stores it as a ``VulnerabilityAudit`` row with its provider-log event. pip-audit asks a
vulnerability service for every installed distribution: PyPI's JSON API
(``https://pypi.org/pypi/<name>/<version>/json``, the default) or OSV
(``https://api.osv.dev``). When it cannot reach the service it reports every package as
"skipped" instead of failing; an audit in which no package could be looked up is stored as
an error (never as "no vulnerabilities"). Air-gapped installations run pip-audit where the
service is reachable (``pip-audit -r requirements.lock -f json -o report.json``) and import
the report with ``mamori security audit --from-json report.json``.
"""

from __future__ import annotations

import json
import subprocess  # noqa: S404 (a fixed argument list, no shell)
import sys
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

SERVICES = ("pypi", "osv")


class AuditUnavailable(RuntimeError):
    """pip-audit could not run or produced no usable report."""


@dataclass
class AuditReport:
    packages_checked: int = 0
    findings: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    mode: str = "installed"
    service: str = "pypi"


def parse_report(text: str, *, mode: str = "installed", service: str = "pypi") -> AuditReport:
    """Parse pip-audit's JSON (``{"dependencies": [{"name", "version", "vulns": [...]}
    | {"name", "skip_reason"}], "fixes": [...]}``)."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise AuditUnavailable(f"pip-audit printed no JSON report ({exc})") from None
    if isinstance(data, list):  # very old pip-audit: a bare list of dependencies
        data = {"dependencies": data}
    if not isinstance(data, dict) or not isinstance(data.get("dependencies"), list):
        raise AuditUnavailable("pip-audit's report has no 'dependencies' list")
    report = AuditReport(mode=mode, service=service)
    for dep in data["dependencies"]:
        if not isinstance(dep, dict):
            continue
        name = str(dep.get("name", ""))[:200]
        if dep.get("skip_reason"):
            report.skipped.append({"package": name, "reason": str(dep["skip_reason"])[:300]})
            continue
        report.packages_checked += 1
        for vuln in dep.get("vulns") or []:
            report.findings.append({
                "package": name,
                "version": str(dep.get("version", ""))[:100],
                "id": str(vuln.get("id", ""))[:100],
                "fix_versions": [str(v)[:50] for v in (vuln.get("fix_versions") or [])][:20],
                "aliases": [str(a)[:100] for a in (vuln.get("aliases") or [])][:20],
                "description": str(vuln.get("description") or "")[:1000],
            })
    if report.packages_checked == 0 and report.skipped:
        reasons = sorted({s["reason"].split(":")[0] for s in report.skipped})
        raise AuditUnavailable(
            f"pip-audit could not look up any of {len(report.skipped)} packages at the {service} "
            f"vulnerability service (unreachable or refused): {'; '.join(reasons)[:300]}")
    return report


def pip_audit_command(*, requirements: str | None = None, local: bool = False,
                      service: str | None = None, socket_timeout: int = 15) -> list[str]:
    service = service or settings.MAMORI_VULNERABILITY_SERVICE
    if service not in SERVICES:
        raise ValueError(f"vulnerability service must be one of {', '.join(SERVICES)}, not {service!r}")
    command = [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off",
               "--vulnerability-service", service, "--timeout", str(socket_timeout)]
    if requirements:
        command += ["--requirement", str(requirements), "--no-deps", "--disable-pip"]
    elif local:
        command.append("--local")
    if not requirements:
        command.append("--skip-editable")  # Mamori itself (an editable checkout) is not on PyPI
    return command


def run_pip_audit(*, requirements: str | None = None, local: bool = False, service: str | None = None,
                  timeout: int | None = None) -> AuditReport:
    """Run pip-audit and return its parsed report; ``AuditUnavailable`` when it cannot."""
    service = service or settings.MAMORI_VULNERABILITY_SERVICE
    if requirements and not Path(requirements).is_file():
        raise AuditUnavailable(f"requirements file not found: {requirements}")
    command = pip_audit_command(requirements=requirements, local=local, service=service)
    timeout = timeout or settings.MAMORI_VULNERABILITY_AUDIT_TIMEOUT
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise AuditUnavailable(f"pip-audit did not finish within {timeout} s") from None
    except OSError as exc:
        raise AuditUnavailable(f"pip-audit could not start: {exc}") from None
    # pip-audit exits 1 when it found vulnerabilities; the JSON report is on stdout either way.
    if completed.returncode not in (0, 1) or not completed.stdout.strip():
        detail = (completed.stderr or completed.stdout or "").strip().splitlines()
        raise AuditUnavailable(f"pip-audit failed (exit {completed.returncode}): "
                               f"{detail[-1][:300] if detail else 'no output'}")
    return parse_report(completed.stdout, mode="requirements" if requirements else "installed", service=service)


def read_report_file(path: str) -> AuditReport:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AuditUnavailable(f"cannot read the report file: {exc.strerror or exc}") from None
    return parse_report(text, mode="imported", service="file")
