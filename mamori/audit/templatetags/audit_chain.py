"""Template tags for the audit chain: the last verification result and the public key."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag
def audit_chain_status() -> dict:
    """The newest ``audit.verified`` provider event (None if never run), the key id and public key."""
    from mamori.audit.models import ProviderEvent
    from mamori.audit.signing import SigningKeyError, key_id, public_key_pem

    last = ProviderEvent.objects.filter(action="audit.verified").order_by("-seq").first()
    try:
        key = {"key_id": key_id(), "public_key": public_key_pem()}
    except SigningKeyError:
        key = {"key_id": "", "public_key": ""}
    return {
        "verified": last is not None,
        "ok": bool(last and (last.after or {}).get("ok")),
        "at": last.occurred_at if last else None,
        "failed": (last.after or {}).get("failed", []) if last else [],
        **key,
    }
