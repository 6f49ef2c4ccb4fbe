"""Mamori's allauth MFA adapter (``settings.MFA_ADAPTER``).

- Secrets at rest: allauth stores the TOTP secret and the recovery-code seed in
  ``mfa_authenticator.data``; its default ``encrypt``/``decrypt`` do nothing. Here they
  are AES-256-GCM tokens under the tenant's data key (``mamori.lifecycle.keys``,
  purpose ``mfa``), so a copy of the table, a backup or another tenant's key cannot
  reveal them.
- The issuer shown by authenticator apps and the WebAuthn relying-party name carry the
  tenant's name, so a user with accounts in two tenants can tell the entries apart.
- Under a policy that requires MFA, a user cannot remove their last second factor.
"""

from __future__ import annotations

from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.conf import settings

from mamori.lifecycle.keys import decrypt_for_tenant, encrypt_for_tenant
from mamori.multifactor.policy import FACTOR_TYPES, mfa_required_for, requirement_for_tenant
from mamori.tenancy.context import require_tenant

PURPOSE = "mfa"


def issuer_for(tenant) -> str:
    base = getattr(settings, "MFA_TOTP_ISSUER", "") or "Mamori"
    return f"{base} ({tenant.name})" if tenant is not None else base


class MamoriMFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        tenant = require_tenant()
        return encrypt_for_tenant(tenant.pk, text.encode("utf-8"), purpose=PURPOSE)

    def decrypt(self, encrypted_text: str) -> str:
        # DecryptionError (tampered value, another tenant's row) propagates: never fall
        # back to treating the stored value as a plaintext secret.
        tenant = require_tenant()
        return decrypt_for_tenant(tenant.pk, encrypted_text, purpose=PURPOSE).decode("utf-8")

    def get_totp_issuer(self) -> str:
        return issuer_for(require_tenant())

    def get_public_key_credential_rp_entity(self) -> dict[str, str]:
        entity = super().get_public_key_credential_rp_entity()
        entity["name"] = issuer_for(require_tenant())
        return entity

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        if authenticator.type not in FACTOR_TYPES:
            return True
        user = authenticator.user
        if not mfa_required_for(user, requirement_for_tenant(require_tenant())):
            return True
        others = Authenticator.objects.filter(user_id=user.pk, type__in=FACTOR_TYPES).exclude(pk=authenticator.pk)
        return others.exists()
