"""Controls that software cannot verify (5.1.1, 7.2.2, 18.1.1, 18.1.2, 18.2.1): their result is
``organisational`` and the evidence is the provider-profile text that fills them, or the names
of the profile fields that are still missing (the whitepaper then says so instead of inventing
a claim)."""

from __future__ import annotations

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from mamori.compliance.registry import CheckResult, control
from mamori.core import provider_profile as profile


def _statement(fields: tuple[str, ...]) -> CheckResult:
    texts = {}
    missing = []
    for field in fields:
        if profile.value(field) is None:
            missing.append(field)
            continue
        raw = profile.value(field)
        if isinstance(raw, list):
            texts[field] = {"ja": ", ".join(map(str, raw)), "en": ", ".join(map(str, raw))}
        else:
            texts[field] = {"ja": profile.text(field, "ja"), "en": profile.text(field, "en")}
    if missing:
        return CheckResult.organisational(
            _("Organisational, not software: provider profile fields missing: %(fields)s.")
            % {"fields": ", ".join(missing)}, missing=missing, texts=texts)
    language = "ja" if (get_language() or "").startswith("ja") else "en"
    first = next(iter(texts.values()))
    return CheckResult.organisational(
        _("Organisational, not software: stated in the provider profile (%(fields)s): %(text)s")
        % {"fields": ", ".join(fields), "text": first[language]}, missing=[], texts=texts)


@control("5.1.1", _("Information security policies"), section="policies", key="5.1.1", organisational=True)
def policies() -> CheckResult:
    return _statement(("policies.security_policy_url", "policies.privacy_policy_url", "policies.terms_url"))


@control("7.2.2", _("Awareness, education and training"), section="training", key="7.2.2", organisational=True)
def training() -> CheckResult:
    return _statement(("statements.training",))


@control("18.1.1", _("Applicable legislation and contractual requirements"), section="law", key="18.1.1",
         organisational=True)
def law() -> CheckResult:
    return _statement(("statements.law", "statements.jurisdiction"))


@control("18.1.2", _("Intellectual property rights"), section="intellectual_property", key="18.1.2",
         organisational=True)
def intellectual_property() -> CheckResult:
    return _statement(("statements.intellectual_property",))


@control("18.2.1", _("Independent review of information security"), section="independent_review",
         key="18.2.1", organisational=True)
def independent_review() -> CheckResult:
    return _statement(("statements.independent_review", "statements.certifications"))
