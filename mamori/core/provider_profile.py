"""The provider's own statements, read from a TOML file (``MAMORI_PROVIDER_PROFILE``).

Mamori knows what its software does; it cannot know the provider's company name, its
security contact, the law it submits to, its certifications or the sub-processors it
signed with. Those come from this profile and nowhere else, so the whitepaper, the
status page, ``security.txt``, the tenant console's "data location" page and the control
checks all say the same thing.

Missing fields are never invented: :func:`missing` lists them and the whitepaper names them.
In development, with no file configured, the shipped demo profile
(``mamori/core/data/demo_provider_profile.toml``) is used so that ``make run`` shows a
complete whitepaper; in production an unset profile stays empty.

Schema (every key optional; strings may be given as ``{ ja = "…", en = "…" }``)::

    [company]        name, address, url, representative
    [contacts]       security_email, support_email, support_url, security_report_url,
                     privacy_url, pgp_key_url, preferred_languages = ["ja", "en"]
    [policies]       security_policy_url, privacy_policy_url, terms_url
    [statements]     training, law, jurisdiction, intellectual_property, independent_review,
                     certifications = [...], secure_development, network_segregation,
                     physical_security, hardening
    [[regions]]      id, name, location   (storage regions; every tenant's data_region is one)
    [[storage_targets]] name, kind ("database" | "files" | "backups" | "offsite"), region
    [[subprocessors]] name, purpose, region, url
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import get_language

DEMO_PROFILE = Path(__file__).resolve().parent / "data" / "demo_provider_profile.toml"

# Fields the whitepaper needs from the provider (dotted paths into the profile).
REQUIRED_FIELDS = (
    "company.name",
    "company.url",
    "contacts.security_email",
    "contacts.support_email",
    "policies.security_policy_url",
    "statements.training",
    "statements.law",
    "statements.jurisdiction",
    "statements.intellectual_property",
    "statements.independent_review",
    "regions",
    "storage_targets",
    "subprocessors",
)


class ProfileError(ValueError):
    """The profile file cannot be read or is not valid TOML."""


def profile_path() -> Path | None:
    configured = getattr(settings, "MAMORI_PROVIDER_PROFILE", "")
    if configured:
        return Path(configured)
    if not getattr(settings, "PRODUCTION", False):
        return DEMO_PROFILE
    return None


@lru_cache(maxsize=4)
def _load(path: str | None, mtime: float) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ProfileError(f"Provider profile {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"Provider profile {path} is not valid TOML: {exc}") from exc
    return data


def provider_profile() -> dict[str, Any]:
    """The parsed profile (a dict; empty when none is configured). Re-read when the file changes."""
    path = profile_path()
    if path is None:
        return {}
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise ProfileError(f"Provider profile {path}: {exc.strerror or exc}") from exc
    return _load(str(path), mtime)


def value(dotted: str, default: Any = None, *, profile: dict[str, Any] | None = None) -> Any:
    """``value("contacts.security_email")``; ``default`` when absent or empty."""
    node: Any = provider_profile() if profile is None else profile
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    if node in ("", [], {}, None):
        return default
    return node


def text(dotted: str, language: str | None = None, default: str = "", *,
         profile: dict[str, Any] | None = None) -> str:
    """A string field in ``language`` (default: the active one); ``{ja, en}`` tables pick one."""
    node = value(dotted, None, profile=profile)
    if node is None:
        return default
    if isinstance(node, dict):
        lang = (language or get_language() or "ja")[:2]
        return str(node.get(lang) or node.get("en") or node.get("ja") or default)
    return str(node)


def missing(profile: dict[str, Any] | None = None) -> list[str]:
    """Required fields the profile leaves empty, in ``REQUIRED_FIELDS`` order."""
    data = provider_profile() if profile is None else profile
    return [field for field in REQUIRED_FIELDS if value(field, None, profile=data) is None]


def regions(profile: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return list(value("regions", [], profile=profile))


def storage_targets(profile: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return list(value("storage_targets", [], profile=profile))


def subprocessors(profile: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return list(value("subprocessors", [], profile=profile))
