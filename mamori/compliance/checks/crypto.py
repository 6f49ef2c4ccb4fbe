"""Cryptographic controls (10.1.1) and the list of algorithms in use (18.1.5)."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mamori.compliance.live import for_each_tenant, memo
from mamori.compliance.registry import CheckResult, control

ENCRYPTED_PREFIX = "mk1."
WRAPPED_PREFIX = "kw1."
HASH_NAMES = frozenset({"password", "token_hash", "secret_hash", "key_hash"})
#: Secret columns that are neither hashed nor encrypted, and why that is acceptable.
ACCEPTED: dict[tuple[str, str], str] = {
    ("accounts.User", "session_stamp"): "random stamp mixed into the session hash; rotating it ends sessions",
    ("usersessions.UserSession", "session_key"): "reference to the server-side session (same as django_session)",
    ("usersessions.UserSession", "data"): "session metadata (IP, user agent), no credential",
    ("account.EmailConfirmation", "key"): "one-time e-mail confirmation key (e-mail verification is off)",
}
#: JSON columns whose listed keys hold ``encrypt_for_tenant`` tokens (allauth MFA: TOTP secret,
#: recovery-code seed, through MamoriMFAAdapter.encrypt).
ENCRYPTED_JSON: dict[tuple[str, str], tuple[str, ...]] = {("mfa.Authenticator", "data"): ("secret", "seed")}
#: Columns that must stay empty because the setting named keeps them from being stored.
NOT_STORED: dict[tuple[str, str], str] = {
    ("socialaccount.SocialToken", "token"): "SOCIALACCOUNT_STORE_TOKENS",
    ("socialaccount.SocialToken", "token_secret"): "SOCIALACCOUNT_STORE_TOKENS",
}

ALGORITHMS = [
    {"use": "password hashing", "algorithm": "Argon2id", "library": "argon2-cffi"},
    {"use": "data encryption (files, backups, secrets)", "algorithm": "AES-256-GCM", "library": "cryptography"},
    {"use": "key wrapping (master key → tenant data keys)", "algorithm": "AES-256-GCM", "library": "cryptography"},
    {"use": "audit chain, manifests, token hashes", "algorithm": "SHA-256", "library": "hashlib"},
    {"use": "audit digests, deletion certificates", "algorithm": "Ed25519", "library": "cryptography"},
    {"use": "webhook signatures", "algorithm": "HMAC-SHA256", "library": "hmac"},
    {"use": "TOTP (RFC 6238)", "algorithm": "HMAC-SHA1", "library": "django-allauth"},
    {"use": "WebAuthn / passkeys", "algorithm": "ECDSA P-256 / Ed25519 / RSA (authenticator's choice)",
     "library": "fido2"},
    {"use": "transport", "algorithm": "TLS 1.2+ (terminated by the front proxy)", "library": "-"},
]


def classify_secret_columns() -> dict[str, dict[str, str]]:
    """Every secret column of the tenant tables (``mamori.lifecycle.walk``) and how it is protected."""
    from mamori.lifecycle.fields import EncryptedTextField, encrypted_columns
    from mamori.lifecycle.walk import data_tables, is_secret_field

    registered = {(c.model_label, c.field) for c in encrypted_columns()}
    result: dict[str, dict[str, str]] = {}
    for table in data_tables():
        for field in table.model._meta.concrete_fields:
            if not is_secret_field(table.model, field):
                continue
            ident = (table.label, field.name)
            if field.name in HASH_NAMES or field.name.endswith("_hash"):
                how = "hashed"
            elif isinstance(field, EncryptedTextField) or ident in registered or field.name.endswith("_encrypted"):
                how = "encrypted"
            elif field.name == "wrapped_key":
                how = "wrapped"
            elif ident in ENCRYPTED_JSON:
                how = "encrypted_json"
            elif ident in NOT_STORED:
                how = "not_stored"
            elif ident in ACCEPTED:
                how = "accepted"
            else:
                how = "unprotected"
            result.setdefault(table.label, {})[field.name] = how
    return result


def _live_violations(columns: dict[str, dict[str, str]]) -> dict[str, int]:
    """Stored values that contradict their column's protection, counted per column across tenants."""
    from django.contrib.auth.hashers import identify_hasher

    from mamori.lifecycle.walk import data_tables

    tables = {t.label: t for t in data_tables()}

    def inspect(tenant):
        found: dict[str, int] = {}
        for label, fields in columns.items():
            table = tables[label]
            for name, how in fields.items():
                rows = table.rows(tenant.pk)
                bad = 0
                if how == "encrypted":
                    bad = _count_bad_prefix(rows, name, ENCRYPTED_PREFIX)
                elif how == "wrapped":
                    bad = _count_bad_prefix(rows, name, WRAPPED_PREFIX)
                elif how == "encrypted_json":
                    keys = ENCRYPTED_JSON[(label, name)]
                    for data in rows.values_list(name, flat=True).iterator():
                        if isinstance(data, dict):
                            bad += sum(1 for k in keys if isinstance(data.get(k), str) and data[k]
                                       and not data[k].startswith(ENCRYPTED_PREFIX))
                elif how == "not_stored":
                    bad = rows.exclude(**{name: ""}).count()
                elif how == "hashed" and name == "password":
                    for value in rows.exclude(**{name: ""}).values_list(name, flat=True).iterator():
                        if value.startswith("!"):
                            continue
                        try:
                            identify_hasher(value)
                        except ValueError:
                            bad += 1
                if bad:
                    found[f"{label}.{name}"] = found.get(f"{label}.{name}", 0) + bad
        return found

    totals: dict[str, int] = {}
    for _tenant, found in for_each_tenant(inspect):
        for key, n in found.items():
            totals[key] = totals.get(key, 0) + n
    return totals


def _count_bad_prefix(rows, name: str, prefix: str) -> int:
    """Non-empty values of ``name`` that are not tokens (``prefix``). Raw column values: the
    encrypted field's descriptor would decrypt them."""
    return sum(1 for value in rows.values_list(name, flat=True).iterator()
               if value and not str(value).startswith(prefix))


@control("10.1.1", _("Secrets hashed or encrypted; master key configured; Argon2id"), section="cryptography",
         key="10.1.1")
def cryptography_policy() -> CheckResult:
    from mamori.lifecycle import keys

    columns = classify_secret_columns()
    unprotected = sorted(f"{label}.{name}" for label, fields in columns.items()
                         for name, how in fields.items() if how == "unprotected")
    problems = []
    if unprotected:
        problems.append(gettext("secret columns neither hashed nor encrypted: %(unprotected)s")
                        % {"unprotected": ', '.join(unprotected)})
    try:
        key_id = keys.get_key_provider().key_id
    except Exception as exc:  # noqa: BLE001 — a missing or broken master key is a failure, reported with its message
        key_id = None
        problems.append(gettext("master key unavailable: %(exc)s") % {"exc": exc})
    configured = keys.is_configured()
    if getattr(settings, "PRODUCTION", False) and not configured:
        problems.append(gettext("production without MAMORI_MASTER_KEY_FILE / MAMORI_MASTER_KEY (development key in use)"))
    violations = memo("secret_values", lambda: _live_violations(columns))
    for column, n in sorted(violations.items()):
        problems.append(gettext("%(n)s stored values of %(column)s are not protected as declared")
                        % {"n": n, "column": column})
    hasher = settings.PASSWORD_HASHERS[0].rsplit(".", 1)[-1]
    flat = {f"{label}.{name}": how for label, fields in columns.items() for name, how in fields.items()}
    counts: dict[str, int] = {}
    for how in flat.values():
        counts[how] = counts.get(how, 0) + 1
    evidence = {"secret_columns": flat, "counts": counts, "master_key_id": key_id,
                "master_key_configured": configured, "live_violations": violations, "password_hasher": hasher,
                "data_encryption": "AES-256-GCM", "problems": problems}
    if problems:
        return CheckResult.failed(_("Cryptography: %(p)s.") % {"p": "; ".join(problems)}, **evidence)
    return CheckResult.passed(
        _("%(n)d secret columns protected (%(counts)s); stored values checked; master key %(kid)s; data encrypted "
          "with AES-256-GCM under per-tenant keys; passwords with %(hasher)s.")
        % {"n": len(flat), "counts": ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), "kid": key_id,
           "hasher": hasher}, **evidence)


@control("18.1.5", _("Only standard algorithms from maintained libraries"), section="crypto_regulation",
         key="18.1.5")
def algorithms() -> CheckResult:
    import cryptography

    from mamori.lifecycle.certificate import ALGORITHM as SIGNING

    names = sorted({a["algorithm"] for a in ALGORITHMS})
    evidence = {"algorithms": ALGORITHMS, "cryptography_version": cryptography.__version__, "signing": SIGNING}
    if SIGNING != "Ed25519":
        return CheckResult.failed(_("Unexpected signing algorithm %(a)s.") % {"a": SIGNING}, **evidence)
    return CheckResult.passed(_("Standard algorithms only (cryptography %(v)s): %(names)s.")
                              % {"v": cryptography.__version__, "names": ", ".join(names)}, **evidence)
