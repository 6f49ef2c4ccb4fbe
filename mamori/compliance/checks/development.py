"""Security requirements, secure development and operations manuals (14.1.1, 14.2.1, CLD.12.1.5)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.translation import gettext_lazy as _

from mamori.compliance.registry import CheckResult, control


def source_root() -> Path:
    """The repository checkout (the directory above the ``mamori`` package)."""
    return Path(settings.BASE_DIR).resolve().parent


@control("14.1.1", _("Whitepaper generated from the live configuration and the checks"),
         section="security_requirements", key="14.1.1")
def whitepaper_generator() -> CheckResult:
    from mamori.compliance import registry
    from mamori.compliance.sections import SECTIONS

    covered = {c.section for c in registry.controls()}
    uncovered = [s.key for s in SECTIONS if s.key not in covered]
    try:
        from mamori.compliance.whitepaper import render  # noqa: F401
        generator = True
    except ImportError:
        generator = False
    evidence = {"sections": len(SECTIONS), "sections_without_check": uncovered, "generator": generator,
                "controls": len(registry.controls())}
    if not generator or uncovered:
        return CheckResult.failed(
            _("Whitepaper: generator %(gen)s; sections without a check: %(s)s.")
            % {"gen": _("present") if generator else _("missing"), "s": ", ".join(uncovered) or "-"}, **evidence)
    return CheckResult.passed(_("Whitepaper generated (ja/en; html, md, pdf) from %(n)d controls covering all "
                                "%(s)d sections.") % {"n": len(registry.controls()), "s": len(SECTIONS)}, **evidence)


@control("14.2.1", _("CI runs tests, lint, dependency audit and fuzzing"), section="development", key="14.2.1")
def secure_development() -> CheckResult:
    root = source_root()
    ci = root / ".ci" / "run"
    tests = root / "tests"
    if not ci.is_file() and not tests.is_dir():
        return CheckResult.not_applicable(
            _("Not a source checkout (%(root)s): the CI and tests ship with the repository, not the installation.")
            % {"root": str(root)}, root=str(root))
    # The CI script and the Makefile targets it calls.
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in (ci, root / "Makefile") if p.is_file())
    steps = {"tests": "pytest" in text, "lint": "ruff check" in text,
             "dependency_audit": "security audit" in text or "pip-audit" in text,
             "fuzzing": (tests / "fuzz").is_dir() and any((tests / "fuzz").glob("test_*.py"))}
    test_files = sum(1 for _ in tests.rglob("test_*.py")) if tests.is_dir() else 0
    missing = [name for name, ok in steps.items() if not ok]
    evidence = {"ci_script": ".ci/run" if ci.is_file() else None, "steps": steps, "test_files": test_files}
    if not ci.is_file() or missing or not test_files:
        return CheckResult.failed(_("CI incomplete: script %(ci)s, missing steps %(m)s, %(n)d test files.")
                                  % {"ci": ".ci/run" if ci.is_file() else "-", "m": ", ".join(missing) or "-",
                                     "n": test_files}, **evidence)
    return CheckResult.passed(_("CI (.ci/run) runs tests, lint, dependency audit and fuzzing; %(n)d test files.")
                              % {"n": test_files}, **evidence)


@control("CLD.12.1.5", _("Help pages for administrator tasks"), section="operations_manuals", key="CLD.12.1.5")
def help_pages() -> CheckResult:
    from mamori.console.views.help import HELP_TOPICS

    missing = []
    for slug, _title, template in HELP_TOPICS:
        try:
            get_template(template)
        except TemplateDoesNotExist:
            missing.append(slug)
    slugs = [slug for slug, _t, _tpl in HELP_TOPICS]
    evidence = {"topics": slugs, "missing_templates": missing}
    if missing or not HELP_TOPICS:
        return CheckResult.failed(_("Help pages missing: %(m)s.") % {"m": ", ".join(missing) or _("no topics")},
                                  **evidence)
    return CheckResult.passed(_("%(n)d console help pages (Japanese and English): %(slugs)s.")
                              % {"n": len(slugs), "slugs": ", ".join(slugs)}, **evidence)
