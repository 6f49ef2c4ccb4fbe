"""State changes of single sign-on: the tenant's connection, users created at first
sign-in (just-in-time) and identity links. Each writes its audit event."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.translation import gettext as _

from mamori.access.roles import Perm, Role
from mamori.accounts.actions import create_user, require
from mamori.accounts.models import User
from mamori.audit.events import Actor, diff, record_event, snapshot
from mamori.core.actions import action
from mamori.sso.models import SECRET_PURPOSE, SsoConnection
from mamori.tenancy.context import require_tenant

AUDIT_FIELDS = ["protocol", "name", "enabled", "issuer", "client_id", "saml_idp_entity_id", "saml_metadata_url",
                "saml_email_attribute", "saml_name_attribute", "jit_enabled", "jit_role", "sso_required",
                "break_glass_user_ids"]
MAX_METADATA_LENGTH = 200_000
MAX_SECRET_LENGTH = 2000


def encrypt_secret(tenant_id: int, secret: str) -> str:
    from mamori.lifecycle.keys import encrypt_for_tenant

    return encrypt_for_tenant(tenant_id, secret.encode(), purpose=SECRET_PURPOSE)


def _clean(conn: SsoConnection, *, secret_given: bool) -> None:
    errors: dict[str, str] = {}
    conn.name = (conn.name or "").strip()
    if not conn.name or len(conn.name) > 80:
        errors["name"] = _("Enter a display name of at most 80 characters.")
    if conn.protocol == SsoConnection.Protocol.SAML:
        _clean_saml(conn, errors)
    else:
        _clean_oidc(conn, errors, secret_given)
    _clean_options(conn, errors)
    if errors:
        raise ValidationError(errors)


def _clean_oidc(conn: SsoConnection, errors: dict, secret_given: bool) -> None:
    conn.issuer = (conn.issuer or "").strip().rstrip("/")
    conn.client_id = (conn.client_id or "").strip()
    try:
        URLValidator(schemes=["https", "http"])(conn.issuer)
    except ValidationError:
        errors["issuer"] = _("Enter the issuer URL, for example https://login.example.com/realms/main.")
    else:
        if conn.issuer.startswith("http://") and not _loopback(conn.issuer):
            errors["issuer"] = _("The issuer must use https://.")
    if not conn.client_id or len(conn.client_id) > 255:
        errors["client_id"] = _("Enter the client ID the identity provider gave you.")
    if conn.enabled and not conn.has_secret and not secret_given:
        errors["client_secret"] = _("Enter the client secret before enabling the connection.")


def _clean_saml(conn: SsoConnection, errors: dict) -> None:
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

    conn.saml_idp_entity_id = (conn.saml_idp_entity_id or "").strip()
    conn.saml_metadata_url = (conn.saml_metadata_url or "").strip()
    conn.saml_metadata_xml = (conn.saml_metadata_xml or "").strip()
    conn.saml_email_attribute = (conn.saml_email_attribute or "").strip()[:200]
    conn.saml_name_attribute = (conn.saml_name_attribute or "").strip()[:200]
    if not conn.saml_idp_entity_id or len(conn.saml_idp_entity_id) > 500:
        errors["saml_idp_entity_id"] = _("Enter the identity provider's entity ID (issuer).")
    if bool(conn.saml_metadata_url) == bool(conn.saml_metadata_xml):
        errors["saml_metadata_url"] = _("Enter either the metadata URL or the metadata XML of the identity provider.")
    elif conn.saml_metadata_url:
        try:
            URLValidator(schemes=["https", "http"])(conn.saml_metadata_url)
        except ValidationError:
            errors["saml_metadata_url"] = _("Enter a valid metadata URL.")
        else:
            if conn.saml_metadata_url.startswith("http://") and not _loopback(conn.saml_metadata_url):
                errors["saml_metadata_url"] = _("The metadata URL must use https://.")
    elif len(conn.saml_metadata_xml) > MAX_METADATA_LENGTH:
        errors["saml_metadata_xml"] = _("The metadata XML is too long.")
    elif "saml_idp_entity_id" not in errors:
        try:
            idp = OneLogin_Saml2_IdPMetadataParser.parse(conn.saml_metadata_xml,
                                                         entity_id=conn.saml_idp_entity_id).get("idp") or {}
        except Exception:  # noqa: BLE001 — any parse failure is the same answer to the admin
            idp = {}
        if not (idp.get("x509cert") or idp.get("x509certMulti")) or not idp.get("singleSignOnService"):
            errors["saml_metadata_xml"] = _(
                "The metadata XML must describe this entity ID with a signing certificate and a sign-on URL.")


def _clean_options(conn: SsoConnection, errors: dict) -> None:
    if conn.jit_role not in Role.values:
        errors["jit_role"] = _("Unknown role.")
    elif conn.jit_role == Role.TENANT_ADMIN:
        errors["jit_role"] = _("Users created at sign-in cannot be tenant admins.")
    ids = []
    for value in conn.break_glass_user_ids or []:
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            errors["break_glass_user_ids"] = _("Unknown user.")
    ids = sorted(set(ids))
    admins = set(User.objects.filter(pk__in=ids, role=Role.TENANT_ADMIN, is_active=True)
                 .values_list("pk", flat=True))
    if set(ids) - admins:
        errors["break_glass_user_ids"] = _("Break-glass users must be active tenant admins.")
    conn.break_glass_user_ids = ids
    if conn.sso_required and not conn.enabled:
        errors["sso_required"] = _("SSO can only be required while the connection is enabled.")
    if conn.sso_required and not ids:
        errors["break_glass_user_ids"] = _(
            "Choose at least one break-glass admin who can still sign in with a password.")


def _loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    from django.conf import settings

    host = urlsplit(url).hostname or ""
    return bool(getattr(settings, "MAMORI_SSO_ALLOW_HTTP_LOOPBACK", False)) and host in ("127.0.0.1", "localhost", "::1")


@action
def save_connection(*, actor: Actor, name: str, issuer: str = "", client_id: str = "",
                    client_secret: str | None = None, enabled: bool = False, jit_enabled: bool = False,
                    jit_role: str = Role.VIEWER, sso_required: bool = False, break_glass_user_ids=(),
                    protocol: str = "oidc", saml_idp_entity_id: str = "", saml_metadata_url: str = "",
                    saml_metadata_xml: str = "", saml_email_attribute: str = "",
                    saml_name_attribute: str = "") -> SsoConnection:
    """Create or replace the tenant's SSO connection. ``client_secret`` None or "" keeps the stored one."""
    tenant = require_tenant()
    require(actor, Perm.MANAGE_SECURITY)
    if protocol not in SsoConnection.Protocol.values:
        raise ValidationError({"protocol": _("Unknown protocol.")})
    conn = SsoConnection.objects.select_for_update().first()
    before = snapshot(conn, AUDIT_FIELDS) if conn is not None else None
    conn = conn or SsoConnection(tenant=tenant)
    conn.protocol, conn.name, conn.issuer, conn.client_id = protocol, name, issuer, client_id
    conn.enabled, conn.jit_enabled, conn.jit_role = bool(enabled), bool(jit_enabled), jit_role
    conn.sso_required = bool(sso_required)
    conn.break_glass_user_ids = list(break_glass_user_ids or [])
    conn.saml_idp_entity_id, conn.saml_metadata_url = saml_idp_entity_id, saml_metadata_url
    conn.saml_metadata_xml = saml_metadata_xml
    conn.saml_email_attribute, conn.saml_name_attribute = saml_email_attribute, saml_name_attribute
    secret = (client_secret or "").strip()
    if len(secret) > MAX_SECRET_LENGTH:
        raise ValidationError({"client_secret": _("The client secret is too long.")})
    _clean(conn, secret_given=bool(secret))
    if secret:
        conn.client_secret_encrypted = encrypt_secret(tenant.pk, secret)
    conn.save()
    after = snapshot(conn, AUDIT_FIELDS)
    old, new = diff(before, after) if before is not None else (None, after)
    record_event("sso.connection_updated", actor=actor, target=conn,
                 before=old, after={**new, **({"client_secret": "changed"} if secret else {})})
    return conn


@action
def provision_user(*, connection: SsoConnection, email: str, name: str, uid: str) -> User:
    """Just-in-time creation of a user at the first SSO sign-in (no password; the connection's role)."""
    if not connection.jit_enabled:
        raise ValidationError({"email": _("This tenant does not create users at sign-in.")})
    user = create_user(actor=Actor.system("sso"), email=email, name=name[:150], role=connection.jit_role,
                       bypass_permission=True)
    record_event("sso.user_provisioned", actor=Actor.system("sso"), target=user,
                 after={"connection": connection.provider_id, "uid": uid, "role": user.role})
    return user


@action
def link_identity(*, connection: SsoConnection, user: User, uid: str, extra_data: dict):
    """Bind the IdP identity (issuer + subject) to ``user``; later sign-ins find it by that alone."""
    from allauth.socialaccount.models import SocialAccount

    account = SocialAccount(user=user, provider=connection.provider_id, uid=uid, extra_data=extra_data)
    account.save()
    record_event("sso.identity_linked", actor=Actor.system("sso"), target=user,
                 after={"connection": connection.provider_id, "uid": uid})
    return account


def record_refusal(*, connection: SsoConnection | None, reason: str, detail: str = "", user=None,
                   label: str = "") -> None:
    """An SSO sign-in refused (bad token, unknown user, …) is a sign-in event of the tenant."""
    from mamori.tenancy.context import current_tenant

    if current_tenant() is None:
        return
    target = ("accounts.user", str(user.pk), user.email) if user is not None else ("accounts.user", "", label)
    with transaction.atomic():
        record_event("sso.login_failed", actor=Actor.anonymous(label), target=target,
                     after={"method": f"sso_{connection.protocol}" if connection else "sso", "reason": reason, "detail": detail[:300],
                            "connection": connection.provider_id if connection else ""})
