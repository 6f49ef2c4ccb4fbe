"""The tenant's password policy (ISMS 9.2.4): loading, checking, presets and ASVS notes.

``TenantPasswordPolicyValidator`` is the only entry of ``AUTH_PASSWORD_VALIDATORS``,
so every path that calls Django's ``validate_password(password, user)`` — creating a
user with an initial password, setting or changing a password, allauth's reset from
a link, accepting an invitation — applies the active tenant's policy. Without a row
the defaults apply; they follow NIST SP 800-63B and OWASP ASVS 5.0 (V6.2).

The policy itself is checked by ``clean_policy`` (field-level messages), which the
action ``update_password_policy`` calls; ``asvs_notes`` says, for each setting that
departs from the recommendation, what ASVS 5.0 and NIST SP 800-63B say about it.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.contrib.auth import password_validation as django_validation
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.accounts.validators import MaximumLengthValidator
from mamori.tenancy.context import current_tenant, tenant_context

LOWER, UPPER, DIGIT, SYMBOL = "lower", "upper", "digit", "symbol"
CLASSES = (LOWER, UPPER, DIGIT, SYMBOL)
NONE, AT_LEAST, EACH = "none", "at_least", "each"
CLASS_RULES = (NONE, AT_LEAST, EACH)

# Bounds of the policy itself (server-side validation of the settings).
MIN_LENGTH_FLOOR = 8        # ASVS 5.0 6.2.1: at least 8
LENGTH_CEILING = 128        # long inputs only cost hashing time; 128 leaves room for passphrases
EXPIRY_MAX_DAYS = 3650
HISTORY_MAX = 24
BANNED_WORDS_MAX = 100      # words per tenant
BANNED_WORD_MIN, BANNED_WORD_MAX = 3, 64  # characters per word
PUNCTUATION = string.punctuation  # the 32 printable ASCII punctuation characters
ASCII_ALNUM = frozenset(string.ascii_letters + string.digits)

FIELDS = ("min_length", "max_length", "allowed_symbols", "class_rule", "min_classes", "required_classes",
          "expiry_days", "history_count", "refuse_common", "refuse_similar", "banned_words")


def class_labels() -> dict[str, str]:
    return {
        LOWER: _("lower-case letters"),
        UPPER: _("upper-case letters"),
        DIGIT: _("digits"),
        SYMBOL: _("symbols or other characters"),
    }


@dataclass(frozen=True)
class Policy:
    """A password policy as plain values (a ``PasswordPolicy`` row, a preset or the defaults)."""

    min_length: int = 12
    max_length: int = 128
    allowed_symbols: str = ""
    class_rule: str = NONE
    min_classes: int = 3
    required_classes: tuple[str, ...] = field(default_factory=tuple)
    expiry_days: int = 0
    history_count: int = 0
    refuse_common: bool = True
    refuse_similar: bool = True
    banned_words: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["required_classes"] = list(self.required_classes)
        data["banned_words"] = list(self.banned_words)
        return data

    @classmethod
    def from_row(cls, row) -> Policy:
        return cls(**{name: getattr(row, name) for name in FIELDS if name not in ("required_classes", "banned_words")},
                   required_classes=tuple(c for c in CLASSES if c in (row.required_classes or [])),
                   banned_words=tuple(row.banned_words or ()))

    def required(self) -> tuple[str, ...]:
        """Classes that must each appear (rule ``each``)."""
        return self.required_classes if self.class_rule == EACH else ()


DEFAULT = Policy()


# --- Presets ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Preset:
    slug: str
    title: Any  # lazy translation
    description: Any
    policy: Policy


# Symbols listed by one seed white paper (8–16 characters, 3 of 4 classes, three-month expiry).
# It lists "¥", which is how a Japanese keyboard shows the backslash: the ASCII character is "\".
LISTED_SYMBOLS = "@#$%^&*-_+=[]{}|\\:',?/`~\"();."

PRESETS: tuple[Preset, ...] = (
    Preset("recommended", gettext_lazy("Recommended (NIST SP 800-63B / OWASP ASVS 5.0)"),
           gettext_lazy("12–128 characters, any characters, no composition rule, no expiry, "
                        "common passwords and passwords similar to the e-mail address or name refused."),
           DEFAULT),
    Preset("four_classes", gettext_lazy("10–31 characters, all four classes"),
           gettext_lazy("10–31 characters; only ASCII letters, digits and the symbols !#$%&*+-=?@_; "
                        "at least one upper-case letter, lower-case letter, digit and symbol."),
           Policy(min_length=10, max_length=31, allowed_symbols="!#$%&*+-=?@_", class_rule=EACH,
                  required_classes=CLASSES)),
    Preset("three_classes_expiry", gettext_lazy("8–16 characters, 3 of 4 classes, 90-day expiry"),
           gettext_lazy("8–16 characters; at least three of upper-case letters, lower-case letters, digits "
                        "and symbols; only the listed symbols; passwords expire after 90 days."),
           Policy(min_length=8, max_length=16, allowed_symbols=LISTED_SYMBOLS, class_rule=AT_LEAST,
                  min_classes=3, expiry_days=90)),
)


def preset(slug: str) -> Preset | None:
    return next((p for p in PRESETS if p.slug == slug), None)


# --- Loading ------------------------------------------------------------------------------

def policy_for_tenant(tenant=None) -> Policy:
    """The policy of the active tenant (the defaults without a row or without a tenant)."""
    from mamori.accounts.models import PasswordPolicy

    active = current_tenant()
    if active is None or (tenant is not None and tenant.pk != active.pk):
        return DEFAULT
    row = PasswordPolicy.objects.filter(tenant_id=active.pk).first()
    return Policy.from_row(row) if row is not None else DEFAULT


def policy_for_user(user) -> Policy:
    """The policy of the user's tenant (which is the active one on every path that sets passwords)."""
    tenant_id = getattr(user, "tenant_id", None)
    active = current_tenant()
    if tenant_id is None or active is None or active.pk != tenant_id:
        return DEFAULT
    return policy_for_tenant(active)


def password_expired(user, policy: Policy | None = None, *, now=None) -> bool:
    """True if the policy has an expiry and the user's password is older than it."""
    policy = policy or policy_for_user(user)
    if policy.expiry_days <= 0 or not user.has_usable_password():
        return False
    changed = getattr(user, "password_changed_at", None) or getattr(user, "date_joined", None)
    if changed is None:
        return False
    return changed <= (now or timezone.now()) - timedelta(days=policy.expiry_days)


# --- Checking a password ------------------------------------------------------------------

def normalise_word(text: str) -> str:
    """How banned words and passwords are compared: NFKC (full-width and half-width forms alike)
    and case-folded, so "ＡＣＭＥ" and "Acme" are the same word."""
    return unicodedata.normalize("NFKC", text).casefold()


def character_class(char: str) -> str:
    if char.islower():
        return LOWER
    if char.isupper():
        return UPPER
    if char.isdigit():
        return DIGIT
    return SYMBOL


class _Named:
    def __init__(self, verbose_name):
        self.verbose_name = verbose_name


class _Meta:
    def __init__(self, names: dict[str, Any]):
        self._names = names

    def get_field(self, name: str) -> _Named:
        return _Named(self._names[name])


class _SimilaritySubject:
    """What Django's similarity validator compares against: e-mail, its local part and name."""

    def __init__(self, user):
        email = (getattr(user, "email", "") or "").strip()
        self.email = email
        self.email_local = email.split("@", 1)[0] if "@" in email else ""
        self.name = (getattr(user, "name", "") or "").strip()
        self._meta = _Meta({"email": gettext_lazy("e-mail address"),
                            "email_local": gettext_lazy("e-mail address"),
                            "name": gettext_lazy("name")})


def _common_validator() -> django_validation.CommonPasswordValidator:
    from django.conf import settings

    return _load_common_validator(settings.MAMORI_PASSWORD_LIST_FILE)


@lru_cache(maxsize=2)
def _load_common_validator(path: str) -> django_validation.CommonPasswordValidator:
    """Django's list, or the provider's ``MAMORI_PASSWORD_LIST_FILE``, read once per process."""
    if path:
        return django_validation.CommonPasswordValidator(password_list_path=path)
    return django_validation.CommonPasswordValidator()


def _similarity_validator() -> django_validation.UserAttributeSimilarityValidator:
    return django_validation.UserAttributeSimilarityValidator(user_attributes=("email", "email_local", "name"))


def _is_tenant_user(user) -> bool:
    from mamori.accounts.models import User

    return isinstance(user, User)


def policy_errors(password: str, user=None, policy: Policy | None = None) -> list[ValidationError]:
    """Every rule the password breaks, as ValidationErrors (empty if it is acceptable)."""
    if policy is None:
        policy = policy_for_user(user) if _is_tenant_user(user) else policy_for_tenant()
    errors: list[ValidationError] = []

    def collect(check) -> None:
        try:
            check()
        except ValidationError as exc:
            errors.extend(exc.error_list)

    length = len(password)
    if length < policy.min_length:
        collect(lambda: django_validation.MinimumLengthValidator(policy.min_length).validate(password))
    if length > policy.max_length:
        collect(lambda: MaximumLengthValidator(policy.max_length).validate(password))
    if policy.allowed_symbols:
        allowed = ASCII_ALNUM | set(policy.allowed_symbols)
        refused = sorted({c for c in password if c not in allowed})
        if refused:
            errors.append(ValidationError(
                _("Use only ASCII letters, digits and these symbols: %(symbols)s"),
                code="password_character_not_allowed",
                params={"symbols": " ".join(policy.allowed_symbols)},
            ))
    present = {character_class(c) for c in password}
    labels = class_labels()
    if policy.class_rule == AT_LEAST and len(present) < policy.min_classes:
        errors.append(ValidationError(
            _("Use at least %(count)d of these four kinds of characters: %(classes)s."),
            code="password_too_few_classes",
            params={"count": policy.min_classes, "classes": ", ".join(labels[c] for c in CLASSES)},
        ))
    missing = [c for c in policy.required() if c not in present]
    if missing:
        errors.append(ValidationError(
            _("Include at least one of each of these: %(classes)s."),
            code="password_missing_class",
            params={"classes": ", ".join(labels[c] for c in missing)},
        ))
    if policy.refuse_common:
        collect(lambda: _common_validator().validate(password))
    if policy.refuse_similar and user is not None:
        collect(lambda: _similarity_validator().validate(password, _SimilaritySubject(user)))
    if policy.banned_words:
        folded = normalise_word(password)
        found = next((word for word in policy.banned_words if word in folded), None)
        if found is not None:
            errors.append(ValidationError(
                _("It cannot contain “%(word)s”: your organisation does not allow this word in passwords."),
                code="password_banned_word", params={"word": found},
            ))
    if _is_tenant_user(user):
        errors.extend(_reuse_errors(password, user, policy))
    return errors


def _reuse_errors(password: str, user, policy: Policy) -> list[ValidationError]:
    """The current password is never accepted again; with history, neither are the last N."""
    current = user.password if user.has_usable_password() else None
    if current and check_password(password, current):
        return [ValidationError(_("Choose a password different from your current one."),
                                code="password_reused")]
    if policy.history_count > 0 and user.pk is not None:
        from mamori.accounts.models import PasswordHistory

        hashes = (PasswordHistory.objects.filter(user_id=user.pk)
                  .order_by("-created_at", "-id").values_list("password", flat=True)[:policy.history_count])
        if any(check_password(password, encoded) for encoded in hashes):
            return [ValidationError(
                _("You have used this password recently. Choose one that is not among your last "
                  "%(count)d passwords."),
                code="password_in_history", params={"count": policy.history_count},
            )]
    return []


def help_texts(policy: Policy) -> list[str]:
    labels = class_labels()
    texts = [_("Your password must be %(min)d to %(max)d characters long.")
             % {"min": policy.min_length, "max": policy.max_length}]
    if policy.allowed_symbols:
        texts.append(_("Use only ASCII letters, digits and these symbols: %(symbols)s")
                     % {"symbols": " ".join(policy.allowed_symbols)})
    if policy.class_rule == AT_LEAST:
        texts.append(_("Use at least %(count)d of these four kinds of characters: %(classes)s.")
                     % {"count": policy.min_classes, "classes": ", ".join(labels[c] for c in CLASSES)})
    elif policy.class_rule == EACH and policy.required_classes:
        texts.append(_("Include at least one of each of these: %(classes)s.")
                     % {"classes": ", ".join(labels[c] for c in policy.required_classes)})
    if policy.refuse_common:
        texts.append(_("It cannot be a commonly used password."))
    if policy.refuse_similar:
        texts.append(_("It cannot be too similar to your e-mail address or name."))
    if policy.banned_words:
        texts.append(_("It cannot contain the words your organisation has banned (such as its company, "
                       "product or service names)."))
    if policy.history_count > 0:
        texts.append(_("It cannot be one of your last %(count)d passwords.") % {"count": policy.history_count})
    else:
        texts.append(_("It must differ from your current password."))
    if policy.expiry_days > 0:
        texts.append(_("Passwords expire after %(days)d days.") % {"days": policy.expiry_days})
    return texts


class TenantPasswordPolicyValidator:
    """Django password validator that applies the active tenant's ``PasswordPolicy``."""

    def validate(self, password: str, user=None) -> None:
        errors = policy_errors(password, user)
        if errors:
            raise ValidationError(errors)

    def get_help_text(self) -> str:
        return " ".join(help_texts(policy_for_tenant()))

    def password_changed(self, password: str, user=None) -> None:
        """Django calls this from ``User.save()`` after ``set_password``: keep the history."""
        if not _is_tenant_user(user) or user.pk is None or not user.has_usable_password():
            return
        active = current_tenant()
        if active is None:
            with tenant_context(user.tenant):
                record_password_history(user)
        elif active.pk == user.tenant_id:
            record_password_history(user)


def record_password_history(user) -> None:
    """Store the new hash and keep only the newest ``history_count`` rows of the user."""
    from mamori.accounts.models import PasswordHistory

    keep = policy_for_user(user).history_count
    if keep > 0:
        PasswordHistory.objects.create(tenant_id=user.tenant_id, user=user, password=user.password)
    stale = list(PasswordHistory.objects.filter(user_id=user.pk)
                 .order_by("-created_at", "-id").values_list("id", flat=True)[keep:])
    if stale:
        PasswordHistory.objects.filter(id__in=stale).delete()


# --- Checking the policy itself -----------------------------------------------------------

def _as_int(value, errors: dict, name: str) -> int | None:
    if isinstance(value, bool):
        value = None
    try:
        return int(value)
    except (TypeError, ValueError):
        errors[name] = _("Enter a whole number.")
        return None


def clean_policy(data: dict[str, Any]) -> Policy:
    """Check a complete set of policy values; raise ValidationError({field: message})."""
    errors: dict[str, str] = {}
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValidationError({"__all__": _("Unknown settings: %(names)s.") % {"names": ", ".join(unknown)}})
    min_length = _as_int(data.get("min_length"), errors, "min_length")
    max_length = _as_int(data.get("max_length"), errors, "max_length")
    if min_length is not None and not MIN_LENGTH_FLOOR <= min_length <= LENGTH_CEILING:
        errors["min_length"] = _("The minimum length must be between %(low)d and %(high)d.") % {
            "low": MIN_LENGTH_FLOOR, "high": LENGTH_CEILING}
    if max_length is not None:
        if max_length > LENGTH_CEILING:
            errors["max_length"] = _("The maximum length can be at most %(high)d.") % {"high": LENGTH_CEILING}
        elif min_length is not None and "min_length" not in errors and max_length < min_length:
            errors["max_length"] = _("The maximum length cannot be less than the minimum length.")
        elif max_length < MIN_LENGTH_FLOOR:
            errors["max_length"] = _("The maximum length must be at least %(low)d.") % {"low": MIN_LENGTH_FLOOR}

    symbols = data.get("allowed_symbols") or ""
    if not isinstance(symbols, str):
        errors["allowed_symbols"] = _("Enter the symbols as text.")
        symbols = ""
    symbols = "".join(dict.fromkeys(symbols.replace(" ", "")))  # spaces ignored, duplicates dropped
    bad = [c for c in symbols if c not in PUNCTUATION]
    if bad:
        errors["allowed_symbols"] = _(
            "Only ASCII punctuation characters can be listed (%(allowed)s); not allowed: %(bad)s") % {
            "allowed": PUNCTUATION, "bad": " ".join(bad[:10])}

    class_rule = data.get("class_rule") or NONE
    if class_rule not in CLASS_RULES:
        errors["class_rule"] = _("Choose one of the listed rules.")
    min_classes = _as_int(data.get("min_classes", 3), errors, "min_classes")
    if min_classes is not None and not 1 <= min_classes <= 4:
        errors["min_classes"] = _("The number of classes must be between 1 and 4.")
    required = data.get("required_classes") or []
    if isinstance(required, str) or not isinstance(required, list | tuple):
        errors["required_classes"] = _("Choose character classes from the list.")
        required = []
    elif any(c not in CLASSES for c in required):
        errors["required_classes"] = _("Choose character classes from: %(classes)s.") % {
            "classes": ", ".join(CLASSES)}
    elif class_rule == EACH and not required:
        errors["required_classes"] = _("Choose at least one character class for this rule.")
    required_tuple = tuple(c for c in CLASSES if c in required)

    expiry_days = _as_int(data.get("expiry_days", 0), errors, "expiry_days")
    if expiry_days is not None and not 0 <= expiry_days <= EXPIRY_MAX_DAYS:
        errors["expiry_days"] = _("The expiry must be between 0 (never) and %(high)d days.") % {
            "high": EXPIRY_MAX_DAYS}
    history_count = _as_int(data.get("history_count", 0), errors, "history_count")
    if history_count is not None and not 0 <= history_count <= HISTORY_MAX:
        errors["history_count"] = _("The history must be between 0 (off) and %(high)d passwords.") % {
            "high": HISTORY_MAX}
    flags = {}
    for name in ("refuse_common", "refuse_similar"):
        value = data.get(name, True)
        if not isinstance(value, bool):
            errors[name] = _("Enter true or false.")
        flags[name] = bool(value)
    banned_words = _clean_banned_words(data.get("banned_words") or [], errors)
    if errors:
        raise ValidationError(errors)
    return Policy(min_length=min_length, max_length=max_length, allowed_symbols=symbols,  # type: ignore[arg-type]
                  class_rule=class_rule, min_classes=min_classes,  # type: ignore[arg-type]
                  required_classes=required_tuple if class_rule == EACH else (),
                  expiry_days=expiry_days, history_count=history_count,  # type: ignore[arg-type]
                  banned_words=banned_words, **flags)


def _clean_banned_words(words, errors: dict) -> tuple[str, ...]:
    """The tenant's banned words, normalised (``normalise_word``), without blanks or duplicates."""
    if isinstance(words, str) or not isinstance(words, list | tuple) or not all(isinstance(w, str) for w in words):
        errors["banned_words"] = _("Enter the banned words as a list of words.")
        return ()
    cleaned = tuple(dict.fromkeys(normalise_word(w).strip() for w in words if w.strip()))
    too_short = [w for w in cleaned if len(w) < BANNED_WORD_MIN]
    too_long = [w for w in cleaned if len(w) > BANNED_WORD_MAX]
    if len(cleaned) > BANNED_WORDS_MAX:
        errors["banned_words"] = _("List at most %(max)d words.") % {"max": BANNED_WORDS_MAX}
    elif too_short:
        errors["banned_words"] = _("Each word needs at least %(min)d characters; too short: %(words)s") % {
            "min": BANNED_WORD_MIN, "words": ", ".join(too_short[:10])}
    elif too_long:
        errors["banned_words"] = _("Each word can have at most %(max)d characters.") % {"max": BANNED_WORD_MAX}
    return cleaned


# --- What ASVS 5.0 says about departures from the recommendation ---------------------------

def asvs_notes(policy: Policy) -> dict[str, str]:
    """For each setting that departs from ASVS 5.0 / NIST SP 800-63B, a short explanation."""
    notes: dict[str, str] = {}
    if policy.min_length < DEFAULT.min_length:
        notes["min_length"] = _(
            "ASVS 5.0 (6.2.1) requires at least 8 characters and strongly recommends at least 15; "
            "NIST SP 800-63B-4 requires 15 for passwords used alone (8 when they are part of multi-factor "
            "authentication). Mamori recommends at least 12.")
    if policy.max_length < 64:
        notes["max_length"] = _(
            "ASVS 5.0 (6.2.9) requires that passwords of at least 64 characters are permitted; NIST SP 800-63B "
            "also asks for a maximum of at least 64. A lower maximum rules out passphrases.")
    if policy.allowed_symbols:
        notes["allowed_symbols"] = _(
            "ASVS 5.0 (6.2.5) says passwords of any composition can be used, without rules limiting the type "
            "of characters permitted; NIST SP 800-63B asks to accept all printing ASCII characters, the space "
            "and Unicode. A restricted set mostly stops passphrases and password managers.")
    if policy.class_rule != NONE:
        notes["class_rule"] = _(
            "ASVS 5.0 (6.2.5): there must be no requirement for a minimum number of upper or lower case "
            "characters, numbers or special characters. NIST SP 800-63B advises against composition rules: "
            "they make passwords harder to remember without making them much harder to guess.")
    if policy.expiry_days > 0:
        notes["expiry_days"] = _(
            "ASVS 5.0 (6.2.10): a password stays valid until it is discovered to be compromised or the user "
            "rotates it; the application must not require periodic rotation. NIST SP 800-63B: force a change "
            "on evidence of compromise, not on a schedule.")
    if not policy.refuse_common:
        notes["refuse_common"] = _(
            "ASVS 5.0 (6.2.4) requires checking new passwords against at least the 3,000 most common "
            "passwords that fit the policy; NIST SP 800-63B requires a blocklist check.")
    if not policy.refuse_similar:
        notes["refuse_similar"] = _(
            "ASVS 5.0 (6.2.11) requires refusing context-specific words such as the user's name or e-mail "
            "address; NIST SP 800-63B lists them among the values to refuse.")
    return notes

