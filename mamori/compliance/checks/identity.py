"""Registration, access provisioning, privileged access, secret authentication information,
access restriction and token binding (9.2.1–9.2.4, 9.4.1, 13.1.3)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import identify_hasher
from django.utils.module_loading import import_string
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mamori.compliance.live import for_each_tenant, memo
from mamori.compliance.registry import CheckResult, control

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
#: Longest invitation lifetime the check accepts (one week).
INVITATION_MAX_HOURS = 7 * 24


@control("9.2.1", _("Invitation tokens hashed and expiring; last tenant admin protected"),
         section="registration", key="9.2.1")
def registration() -> CheckResult:
    from mamori.accounts import actions as account_actions
    from mamori.accounts.models import Invitation

    fields = {f.name: f for f in Invitation._meta.concrete_fields}
    max_age = int(getattr(settings, "INVITATION_MAX_AGE_HOURS", 0) or 0)
    problems = []
    if "token_hash" not in fields:
        problems.append(gettext("Invitation has no token_hash column"))
    plain = [name for name in fields if name in ("token", "secret", "key", "code")]
    if plain:
        problems.append(gettext("Invitation stores %(plain)s in plain text") % {"plain": ', '.join(plain)})
    if "expires_at" not in fields or fields["expires_at"].null:
        problems.append(gettext("Invitation has no mandatory expiry"))
    if not 0 < max_age <= INVITATION_MAX_HOURS:
        problems.append(gettext("INVITATION_MAX_AGE_HOURS=%(max_age)s (allowed 1–%(max)s)")
                        % {"max_age": max_age, "max": INVITATION_MAX_HOURS})
    guard = callable(getattr(account_actions, "_guard_last_admin", None))
    if not guard:
        problems.append(gettext("the last-admin guard (mamori.accounts.actions._guard_last_admin) is missing"))

    def inspect(tenant):
        rows = list(Invitation.objects.values_list("token_hash", "created_at", "expires_at"))
        not_hashed = sum(1 for h, _c, _e in rows if not _SHA256_HEX.match(h or ""))
        too_long = sum(1 for _h, c, e in rows if e - c > timedelta(hours=INVITATION_MAX_HOURS, minutes=5))
        return len(rows), not_hashed, too_long

    total = not_hashed = too_long = 0
    for _tenant, (n, bad, long_) in for_each_tenant(inspect):
        total, not_hashed, too_long = total + n, not_hashed + bad, too_long + long_
    if not_hashed:
        problems.append(gettext("%(not_hashed)s stored invitation tokens are not SHA-256 hashes")
                        % {"not_hashed": not_hashed})
    if too_long:
        problems.append(gettext("%(too_long)s invitations valid longer than %(max)s h")
                        % {"too_long": too_long, "max": INVITATION_MAX_HOURS})
    evidence = {"token_column": "token_hash (SHA-256)", "max_age_hours": max_age, "invitations": total,
                "not_hashed": not_hashed, "too_long": too_long, "last_admin_guard": guard, "problems": problems}
    if problems:
        return CheckResult.failed(_("Registration: %(p)s.") % {"p": "; ".join(problems)}, **evidence)
    return CheckResult.passed(
        _("Invitation tokens stored as SHA-256 (%(n)d invitations checked), valid %(h)d h, single use; the last "
          "tenant admin cannot be removed or demoted.") % {"n": total, "h": max_age}, **evidence)


@control("9.2.2", _("One permission matrix for every role"), section="access_provisioning", key="9.2.2")
def permission_matrix() -> CheckResult:
    from mamori.access.roles import MATRIX, UNIT_ADMIN_GRANTABLE_ROLES, Perm, Role

    problems = []
    missing_roles = [str(r.value) for r in Role if r not in MATRIX]
    if missing_roles:
        problems.append(gettext("roles without a matrix row: %(roles)s") % {"roles": ', '.join(missing_roles)})
    unknown = sorted({str(p) for perms in MATRIX.values() for p in perms if p not in set(Perm)})
    if unknown:
        problems.append(gettext("unknown permissions: %(unknown)s") % {"unknown": ', '.join(unknown)})
    admins_elsewhere = [str(r) for r, perms in MATRIX.items() if r != Role.TENANT_ADMIN and Perm.GRANT_ADMIN in perms]
    if admins_elsewhere:
        problems.append(gettext("roles other than tenant admin may grant admin: %(roles)s")
                        % {"roles": ', '.join(admins_elsewhere)})
    if set(MATRIX.get(Role.TENANT_ADMIN, ())) != set(Perm):
        problems.append(gettext("the tenant admin lacks permissions"))
    if Role.TENANT_ADMIN in UNIT_ADMIN_GRANTABLE_ROLES or Role.UNIT_ADMIN in UNIT_ADMIN_GRANTABLE_ROLES:
        problems.append(gettext("unit admins may grant admin roles"))
    cells = len(Role) * len(Perm)
    granted = sum(len(MATRIX.get(r, ())) for r in Role)
    users = Counter()
    from mamori.accounts.models import User

    for _tenant, rows in for_each_tenant(lambda t: list(User.objects.values_list("role", flat=True))):
        users.update(rows)
    evidence = {"roles": len(Role), "permissions": len(Perm), "cells": cells, "granted": granted,
                "users_per_role": dict(users), "problems": problems}
    if problems:
        return CheckResult.failed(_("Permission matrix: %(p)s.") % {"p": "; ".join(problems)}, **evidence)
    return CheckResult.passed(
        _("Permission matrix %(roles)d roles × %(perms)d permissions (%(granted)d of %(cells)d cells granted); "
          "only tenant admins grant admin roles.") % {"roles": len(Role), "perms": len(Perm), "granted": granted,
                                                       "cells": cells}, **evidence)


@control("9.2.3", _("MFA, SSO and IP allowlist enforced"), section="privileged_access", key="9.2.3")
def privileged_access() -> CheckResult:
    from mamori.access.allowlist_models import IpAllowlistSettings
    from mamori.multifactor.models import MfaPolicy
    from mamori.sso.models import SsoConnection

    middleware = list(settings.MIDDLEWARE)
    required = {"mfa_enrolment": "mamori.multifactor.middleware.MfaEnrolmentRequiredMiddleware",
                "ip_allowlist": "mamori.access.allowlist.IpAllowlistMiddleware"}
    absent = [name for name, path in required.items() if path not in middleware]
    allowlist_fields = {f.name for f in IpAllowlistSettings._meta.concrete_fields}

    def inspect(tenant):
        policy = MfaPolicy.objects.values_list("requirement", flat=True).first() or "optional"
        settings_row = IpAllowlistSettings.objects.first()
        allowlist_on = bool(settings_row and getattr(settings_row, "enabled", False)) \
            if "enabled" in allowlist_fields else settings_row is not None
        sso = SsoConnection.objects.filter(enabled=True)
        return policy, allowlist_on, sso.exists(), sso.filter(sso_required=True).exists()

    mfa, allowlist, sso, sso_required, tenants = Counter(), 0, 0, 0, 0
    for _tenant, (policy, allow_on, sso_on, sso_req) in for_each_tenant(inspect):
        tenants += 1
        mfa[policy] += 1
        allowlist += allow_on
        sso += sso_on
        sso_required += sso_req
    evidence = {"tenants": tenants, "mfa_policy": dict(mfa), "ip_allowlist_enabled": allowlist,
                "sso_enabled": sso, "sso_required": sso_required, "middleware_missing": absent,
                "mfa_methods": ["totp", "webauthn", "recovery_codes"]}
    if absent:
        return CheckResult.failed(_("Enforcement middleware missing from MIDDLEWARE: %(m)s.")
                                  % {"m": ", ".join(required[a] for a in absent)}, **evidence)
    return CheckResult.passed(
        _("MFA and IP allowlist enforced by middleware; %(t)d tenants: MFA policy %(mfa)s; IP allowlist on in "
          "%(allow)d; SSO on in %(sso)d (required in %(req)d).")
        % {"t": tenants, "mfa": ", ".join(f"{k} {v}" for k, v in sorted(mfa.items())) or "-", "allow": allowlist,
           "sso": sso, "req": sso_required}, **evidence)


def _hasher_params() -> dict:
    hasher = import_string(settings.PASSWORD_HASHERS[0])()
    info = {"hasher": settings.PASSWORD_HASHERS[0], "algorithm": getattr(hasher, "algorithm", "?")}
    for name in ("memory_cost", "time_cost", "parallelism"):
        if hasattr(hasher, name):
            info[name] = int(getattr(hasher, name))
    return info


@control("9.2.4", _("Passwords hashed with Argon2id (OWASP parameters); no user enumeration"),
         section="secret_authentication", key="9.2.4")
def password_hashing() -> CheckResult:
    from mamori.accounts.hashers import OWASP_MINIMUM

    info = _hasher_params()
    problems = []
    argon2 = info["algorithm"] == "argon2"
    if not argon2:
        problems.append(gettext("the default hasher is %(algorithm)s, not Argon2id")
                        % {"algorithm": info['algorithm']})
    else:
        if info.get("memory_cost", 0) < OWASP_MINIMUM["memory_cost"]:
            problems.append(gettext("memory %(memory_cost)s KiB below %(minimum)s KiB")
                            % {"memory_cost": info.get('memory_cost'), "minimum": OWASP_MINIMUM['memory_cost']})
        if info.get("time_cost", 0) < OWASP_MINIMUM["time_cost"]:
            problems.append(gettext("time cost %(time_cost)s below %(minimum)s")
                            % {"time_cost": info.get('time_cost'), "minimum": OWASP_MINIMUM['time_cost']})
        if info.get("parallelism", 0) < OWASP_MINIMUM["parallelism"]:
            problems.append(gettext("parallelism %(parallelism)s below %(minimum)s")
                            % {"parallelism": info.get('parallelism'), "minimum": OWASP_MINIMUM['parallelism']})
    enumeration = bool(getattr(settings, "ACCOUNT_PREVENT_ENUMERATION", False))
    if not enumeration:
        problems.append(gettext("ACCOUNT_PREVENT_ENUMERATION is off"))
    if getattr(settings, "ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS", True):
        problems.append(gettext("ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS is on"))
    evidence = {**info, "owasp_minimum": OWASP_MINIMUM, "prevent_enumeration": enumeration, "problems": problems}
    if problems:
        return CheckResult.failed(_("Password storage: %(p)s.") % {"p": "; ".join(problems)}, **evidence)
    return CheckResult.passed(
        _("Password hasher: Argon2id m=%(m)d KiB t=%(t)d p=%(p)d (OWASP minimum m=%(om)d t=%(ot)d); password reset "
          "and sign-in do not reveal whether an account exists.")
        % {"m": info["memory_cost"], "t": info["time_cost"], "p": info["parallelism"],
           "om": OWASP_MINIMUM["memory_cost"], "ot": OWASP_MINIMUM["time_cost"]}, **evidence)


@control("9.2.4", _("Password policy defaults and stored hashes"), section="secret_authentication",
         key="9.2.4-policy")
def password_policy() -> CheckResult:
    from mamori.accounts.models import PasswordPolicy, User
    from mamori.accounts.policy import DEFAULT

    problems = []
    if DEFAULT.min_length < 8:
        problems.append(gettext("default minimum length %(length)s < 8 (NIST SP 800-63B)")
                        % {"length": DEFAULT.min_length})
    if DEFAULT.max_length < 64:
        problems.append(gettext("default maximum length %(length)s < 64") % {"length": DEFAULT.max_length})
    if not DEFAULT.refuse_common:
        problems.append(gettext("common passwords are not refused by default"))
    validators = [v["NAME"] for v in settings.AUTH_PASSWORD_VALIDATORS]
    if "mamori.accounts.policy.TenantPasswordPolicyValidator" not in validators:
        problems.append(gettext("the tenant password policy validator is not configured"))

    def inspect(tenant):
        custom = PasswordPolicy.objects.values_list("min_length", flat=True).first()
        unidentified = 0
        for value in User.objects.exclude(password="").values_list("password", flat=True).iterator():
            if value.startswith("!"):  # unusable password (SSO-only, invited)
                continue
            try:
                identify_hasher(value)
            except ValueError:
                unidentified += 1
        return custom, unidentified

    customised, weak_tenants, plaintext = 0, 0, 0
    for custom, bad in memo("password_hashes", lambda: [found for _t, found in for_each_tenant(inspect)]):
        if custom is not None:
            customised += 1
            weak_tenants += custom < 8
        plaintext += bad
    if plaintext:
        problems.append(gettext("%(plaintext)s stored passwords are not hashes of a configured hasher")
                        % {"plaintext": plaintext})
    evidence = {"default": DEFAULT.as_dict(), "tenants_with_own_policy": customised,
                "tenants_min_length_below_8": weak_tenants, "unhashed_passwords": plaintext, "problems": problems}
    if problems:
        return CheckResult.failed(_("Password policy: %(p)s.") % {"p": "; ".join(problems)}, **evidence)
    return CheckResult.passed(
        _("Default policy: %(min)d–%(max)d characters, no composition rules, no expiry, common passwords refused; "
          "%(own)d tenants use their own policy; every stored password is a hash.")
        % {"min": DEFAULT.min_length, "max": DEFAULT.max_length, "own": customised}, **evidence)


def _api_operations():
    from ninja.constants import NOT_SET

    from mamori.api.main import api

    for prefix, router in api._routers:
        for path, view in router.path_operations.items():
            for op in view.operations:
                auth = op.auth_param
                if auth is NOT_SET:
                    auth = router.auth
                if auth is NOT_SET:
                    auth = api.auth
                yield f"{','.join(op.methods)} {prefix}{path}", auth


@control("9.4.1", _("Every API endpoint authenticated; permission matrix denies by default"),
         section="access_restriction", key="9.4.1")
def access_restriction() -> CheckResult:
    from types import SimpleNamespace

    from mamori.access.roles import Perm, can

    operations = list(_api_operations())
    public = [name for name, auth in operations if not auth]
    probes = {
        "anonymous": SimpleNamespace(is_authenticated=False, is_active=True, role="tenant_admin"),
        "inactive": SimpleNamespace(is_authenticated=True, is_active=False, role="tenant_admin"),
        "unknown role": SimpleNamespace(is_authenticated=True, is_active=True, role="superuser"),
    }
    leaking = [name for name, user in probes.items() if any(can(user, p) for p in Perm)]
    evidence = {"api_operations": len(operations), "unauthenticated": public, "default_deny_failures": leaking}
    if public or leaking:
        return CheckResult.failed(
            _("Access restriction: %(n)d API endpoints without authentication; default-deny fails for %(who)s.")
            % {"n": len(public), "who": ", ".join(leaking) or "-"}, **evidence)
    return CheckResult.passed(
        _("All %(n)d API operations require a token; anonymous, inactive and unknown-role users get no permission.")
        % {"n": len(operations)}, **evidence)


@control("13.1.3", _("Tokens, webhooks and sessions bound to one tenant"), section="network_segregation",
         key="13.1.3")
def token_binding() -> CheckResult:
    from mamori.tenancy.models import TenantModel

    labels = ["accounts.ApiToken", "scim.ScimToken", "siem.WebhookSubscription", "accounts.LoginLink",
              "accounts.Invitation"]
    problems, bound = [], []
    for label in labels:
        try:
            model = apps.get_model(label)
        except LookupError:
            problems.append(gettext("%(label)s is not installed") % {"label": label})
            continue
        tenant_field = next((f for f in model._meta.concrete_fields if f.name == "tenant"), None)
        if not issubclass(model, TenantModel) or tenant_field is None or tenant_field.null:
            problems.append(gettext("%(label)s is not bound to a tenant") % {"label": label})
        else:
            bound.append(label)
    user_tenant = next((f for f in apps.get_model("accounts.User")._meta.concrete_fields if f.name == "tenant"), None)
    if user_tenant is None or user_tenant.null:
        problems.append(gettext("users (and so their sessions) are not bound to a tenant"))
    evidence = {"bound": bound, "problems": problems}
    if problems:
        return CheckResult.failed(_("Token binding: %(p)s.") % {"p": "; ".join(problems)}, **evidence)
    return CheckResult.passed(_("Bound to one tenant (non-null tenant id, tenant-scoped lookups): %(l)s; sessions "
                                "through their tenant user.") % {"l": ", ".join(bound)}, **evidence)
