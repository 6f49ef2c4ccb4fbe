"""Security settings: the tenant's password policy (ISMS 9.2.4). Tenant admins only.

``GET`` returns the policy in force (the defaults when none was saved) with, for each
setting that departs from OWASP ASVS 5.0 / NIST SP 800-63B, what ASVS says about it,
and the presets a tenant can start from. ``PUT`` replaces the whole policy; the
settings are checked by the same action as the console's form (field-level errors
in the 422 problem's ``errors``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from ninja import Router, Schema
from pydantic import Field

from mamori.access.roles import Perm
from mamori.accounts.actions_policy import update_password_policy
from mamori.accounts.policy import PRESETS, Policy, asvs_notes, policy_for_tenant
from mamori.api.auth import actor, require_permission
from mamori.api.common import CHANGE, RESTRICTED_READ, Storable

router = Router(tags=["security"])

ClassRule = Literal["none", "at_least", "each"]
CharacterClass = Literal["lower", "upper", "digit", "symbol"]
# Ranges are checked by the action (translated, field-level messages); these bounds only
# keep absurd numbers away from it.
Count = Annotated[int, Field(ge=0, le=1_000_000)]


class PasswordPolicyFields(Schema):
    min_length: Count = Field(description="8–128; 12 or more recommended.")
    max_length: Count = Field(description="Up to 128, not below min_length; 64 or more recommended.")
    allowed_symbols: Annotated[str, Field(max_length=200), Storable] = Field(
        description="Empty: any character is allowed (recommended). Otherwise only ASCII letters, "
                    "digits and these ASCII punctuation characters.")
    class_rule: ClassRule = Field(description="none (recommended), at_least (min_classes of the four), "
                                              "or each (every class in required_classes).")
    min_classes: Count = Field(description="1–4, used by class_rule=at_least.")
    required_classes: list[CharacterClass] = Field(max_length=4, description="Used by class_rule=each.")
    expiry_days: Count = Field(description="0 (never, recommended) to 3650.")
    history_count: Count = Field(description="Refuse the last N passwords, 0–24 (0: only the current one).")
    refuse_common: bool = Field(description="Refuse common passwords (recommended).")
    refuse_similar: bool = Field(description="Refuse passwords similar to the e-mail address or name "
                                             "(recommended).")
    banned_words: list[Annotated[str, Field(max_length=200), Storable]] | None = Field(
        None, max_length=200,
        description="The organisation's context-specific words (company, product, service names), 3–64 "
                    "characters each, at most 100. Passwords containing one are refused, ignoring case and "
                    "character width. Stored normalised (NFKC, case-folded). Left out or null in a PUT: "
                    "the current list is kept.")


class AsvsNote(Schema):
    field: str
    note: str


class PresetOut(Schema):
    slug: str
    title: str
    description: str
    policy: PasswordPolicyFields


class PasswordPolicyOut(PasswordPolicyFields):
    asvs_notes: list[AsvsNote] = Field(description="Settings that depart from OWASP ASVS 5.0, and what it says.")
    presets: list[PresetOut]


def _out(policy: Policy) -> dict:
    return {
        **policy.as_dict(),
        "asvs_notes": [{"field": f, "note": n} for f, n in asvs_notes(policy).items()],
        "presets": [{"slug": p.slug, "title": str(p.title), "description": str(p.description),
                     "policy": p.policy.as_dict()} for p in PRESETS],
    }


def _require_admin(request) -> None:
    require_permission(request, Perm.MANAGE_SECURITY, view="api:get_password_policy")


@router.get("/password-policy", response={200: PasswordPolicyOut, **RESTRICTED_READ})
def get_password_policy(request):
    """The tenant's password policy (the recommended defaults when none was saved)."""
    _require_admin(request)
    return _out(policy_for_tenant(request.tenant))


@router.put("/password-policy", response={200: PasswordPolicyOut, **CHANGE})
def put_password_policy(request, payload: PasswordPolicyFields):
    """Replace the password policy. Every field is required; 422 lists each invalid setting."""
    fields = payload.model_dump()
    if fields["banned_words"] is None:
        del fields["banned_words"]  # a client that does not know the list keeps it
    policy = update_password_policy(actor=actor(request), **fields)
    return _out(policy)
