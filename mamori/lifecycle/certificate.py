"""Deletion certificates: the signed proof of a tenant purge (CLD.8.1.5, 11.2.7).

A certificate is one JSON document::

    {"certificate": {...facts...},
     "signature": {"algorithm": "Ed25519", "key_id": "<16 hex>", "value": "<base64>"}}

The signature covers the canonical bytes of ``certificate`` (JSON, sorted keys, no
insignificant white space, UTF-8: ``mamori.audit.canonical.canonical_bytes``) and is made
with the provider's Ed25519 signing key (``mamori.audit.signing``), the key that signs the
audit digests. The facts hold no customer data: the tenant's id, slug and name, times, the
number of rows deleted per table, the files and backups removed and the fingerprints
(SHA-256) of the destroyed data keys.

``verify_document`` checks a certificate file: the structure, the key id and the signature.
The key is picked by the certificate's ``key_id`` among the provider's current and retired
keys (``MAMORI_SIGNING_RETIRED_PUBLIC_KEYS_FILE``), so certificates issued before a key
rotation stay verifiable; an unknown key id fails naming it.
Any change to any fact (or to the signature) makes it fail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from mamori.audit import signing
from mamori.audit.canonical import canonical_bytes

CERTIFICATE_TYPE = "mamori.deletion-certificate"
VERSION = 1
ALGORITHM = "Ed25519"
REQUIRED_FACTS = ("type", "version", "certificate_id", "tenant", "termination", "purge", "tables",
                  "rows_deleted", "files_removed", "backups_removed", "data_keys_destroyed", "issued_at",
                  "provider")


def sign_facts(facts: dict[str, Any]) -> dict[str, Any]:
    """The signed certificate document for ``facts``."""
    key_id, value = signing.sign(canonical_bytes(facts))
    return {"certificate": facts, "signature": {"algorithm": ALGORITHM, "key_id": key_id, "value": value}}


def dumps(document: dict[str, Any]) -> str:
    """The file form: indented JSON (the signature covers the canonical form, not this text)."""
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def document_sha256(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(document)).hexdigest()


@dataclass(frozen=True)
class Verification:
    ok: bool
    message: str
    certificate_id: str = ""
    tenant_slug: str = ""
    key_id: str = ""


def verify_document(text: str | bytes, *, public_key_pem: str | None = None) -> Verification:
    """Check a certificate: well-formed, and signed by the provider key (or ``public_key_pem``)."""
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return Verification(False, f"not a JSON document ({exc.__class__.__name__}: {exc})")
    if not isinstance(document, dict) or set(document) != {"certificate", "signature"}:
        return Verification(False, "not a deletion certificate: expected exactly the keys 'certificate' "
                                   "and 'signature'")
    facts, sig = document["certificate"], document["signature"]
    if not isinstance(facts, dict) or facts.get("type") != CERTIFICATE_TYPE:
        return Verification(False, f"not a deletion certificate: 'certificate.type' is not {CERTIFICATE_TYPE!r}")
    missing = [name for name in REQUIRED_FACTS if name not in facts]
    if missing:
        return Verification(False, f"certificate is incomplete: missing {', '.join(missing)}")
    if not isinstance(sig, dict) or sig.get("algorithm") != ALGORITHM or not isinstance(sig.get("key_id"), str) \
            or not isinstance(sig.get("value"), str):
        return Verification(False, "signature block is malformed (expected algorithm Ed25519, key_id, value)")
    try:
        base64.b64decode(sig["value"], validate=True)
    except (binascii.Error, ValueError):
        return Verification(False, "signature value is not base64")
    tenant = facts.get("tenant") if isinstance(facts.get("tenant"), dict) else {}
    ident = {"certificate_id": str(facts.get("certificate_id", "")), "tenant_slug": str(tenant.get("slug", "")),
             "key_id": sig["key_id"]}
    try:
        data = canonical_bytes(facts)
    except (TypeError, ValueError) as exc:
        return Verification(False, f"certificate cannot be put in canonical form: {exc}", **ident)
    failure = signing.check(data, sig["key_id"], sig["value"], public_key_pem=public_key_pem)
    if failure == signing.UNKNOWN_KEY:
        where = ("the given public key" if public_key_pem is not None else
                 f"this provider's current key {signing.key_id()} nor its retired keys")
        return Verification(False, f"signed by an unknown key {sig['key_id']}: not {where} (pass the signer's "
                                   "public key with --public-key)", **ident)
    if failure is not None:
        return Verification(False, "signature does not match: the certificate was modified or not signed "
                                   "by this key", **ident)
    if public_key_pem is None and sig["key_id"] != signing.key_id():
        return Verification(True, f"valid: signed by the provider's retired key {sig['key_id']}", **ident)
    return Verification(True, "valid: signed by the provider key", **ident)
