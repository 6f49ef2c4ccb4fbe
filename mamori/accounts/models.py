"""Users (one tenant each), invitations, password policy and history, one-time
sign-in links and personal API tokens."""

from __future__ import annotations

import secrets

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.access.roles import Role
from mamori.tenancy.models import TenantManager, TenantModel


def _new_stamp() -> str:
    return secrets.token_hex(16)


class UserManager(BaseUserManager, TenantManager):
    use_in_migrations = False

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class User(AbstractBaseUser, TenantModel):
    """A customer's user. Belongs to exactly one tenant; the same e-mail in two
    tenants is two independent accounts."""

    email = models.EmailField(_("e-mail address"), max_length=254)
    name = models.CharField(_("name"), max_length=150, blank=True, default="")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.VIEWER)
    is_active = models.BooleanField(_("active"), default=True)
    language = models.CharField(_("language"), max_length=5, blank=True, default="",
                                choices=[("", _("Tenant default")), ("ja", _("Japanese")), ("en", _("English"))])
    must_change_password = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    # Part of the session auth hash: rotating it ends every session of the user
    # at once (suspension, deletion, role change, password reset, "sign out everywhere").
    session_stamp = models.CharField(max_length=32, default=_new_stamp, editable=False)

    objects = UserManager()
    objects_across_tenants = models.Manager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(models.functions.Lower("email"), "tenant", name="user_email_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @property
    def is_tenant_admin(self) -> bool:
        return self.role == Role.TENANT_ADMIN

    @property
    def is_invited(self) -> bool:
        """Invited but not yet registered: no usable password and never signed in."""
        return self.last_login is None and not self.has_usable_password()

    def get_session_auth_hash(self) -> str:
        """Django's hash (password-derived) plus ``session_stamp``, so rotating the
        stamp invalidates every existing session without touching the password."""
        from django.utils.crypto import salted_hmac

        return salted_hmac("mamori.accounts.User.get_session_auth_hash",
                           f"{self.password}|{self.session_stamp}", algorithm="sha256").hexdigest()

    def rotate_session_stamp(self) -> None:
        self.session_stamp = _new_stamp()

    def set_password(self, raw_password) -> None:
        super().set_password(raw_password)
        self.password_changed_at = timezone.now()

    def save(self, *args, **kwargs):
        # A password change always saves its timestamp too, whatever update_fields says.
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "password" in update_fields:
            kwargs["update_fields"] = {*update_fields, "password_changed_at"}
        super().save(*args, **kwargs)

    # Django admin compatibility is not needed: no superusers among customers.
    is_staff = False
    is_superuser = False

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def has_module_perms(self, app_label) -> bool:
        return False


class LoginLink(TenantModel):
    """A one-time sign-in link (printed by the CLI for a new tenant's first admin)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "token_hash"], name="login_link_hash_unique")]


class ApiToken(TenantModel):
    """A personal API token, bound to one user and therefore one tenant.

    Only a SHA-256 of the secret part is stored; the whole token is shown once.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("key id"), max_length=16)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "prefix"], name="api_token_prefix_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class Invitation(TenantModel):
    """An e-mailed, one-time registration link for a user created in the invited state.

    Only a SHA-256 of the ≥128-bit secret is stored. Re-sending revokes the previous
    link; cancelling revokes it (and removes the never-registered user).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "token_hash"], name="invitation_hash_unique")]

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class PasswordPolicy(TenantModel):
    """The tenant's password policy (one row per tenant; absent means the defaults).

    Defaults follow NIST SP 800-63B and OWASP ASVS 5.0: length ≥ 12, maximum ≥ 64,
    no composition rules, no expiry, common passwords refused.
    """

    class ClassRule(models.TextChoices):
        NONE = "none", _("No composition rule")
        AT_LEAST = "at_least", _("At least N of the four character classes")
        EACH = "each", _("Each of the chosen character classes")

    min_length = models.PositiveSmallIntegerField(_("minimum length"), default=12)
    max_length = models.PositiveSmallIntegerField(_("maximum length"), default=128)
    allowed_symbols = models.CharField(_("allowed symbols"), max_length=64, blank=True, default="",
                                       help_text=_("Empty: any character is allowed."))
    class_rule = models.CharField(_("character classes"), max_length=10, choices=ClassRule.choices,
                                  default=ClassRule.NONE)
    min_classes = models.PositiveSmallIntegerField(_("minimum number of classes"), default=3)
    required_classes = models.JSONField(_("required classes"), default=list, blank=True)
    expiry_days = models.PositiveIntegerField(_("expiry in days"), default=0,
                                              help_text=_("0 means passwords never expire."))
    history_count = models.PositiveSmallIntegerField(_("password history"), default=0,
                                                     help_text=_("Refuse the last N passwords (0 = off)."))
    refuse_common = models.BooleanField(_("refuse common passwords"), default=True)
    refuse_similar = models.BooleanField(_("refuse passwords similar to the e-mail or name"), default=True)
    # The organisation's own context-specific words (company, product, service names), normalised.
    banned_words = models.JSONField(_("banned words"), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("password policy")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="password_policy_per_tenant")]


class PasswordHistory(TenantModel):
    """Hashes of a user's previous passwords, for the policy's no-reuse rule."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="pwhist_user_recent")]


# Session policy and sign-in throttle (their own module; registered with this app here).
from mamori.accounts.models_sessions import SessionPolicy, ThrottleCounter  # noqa: E402, F401
