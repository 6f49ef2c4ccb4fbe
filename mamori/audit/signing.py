"""The provider's Ed25519 signing key for audit digests.

Where the key comes from, in order:

1. ``MAMORI_SIGNING_KEY_FILE`` (a file) or ``MAMORI_SIGNING_KEY`` (the PEM text):
   an unencrypted PKCS#8 PEM Ed25519 private key from the secret store.
2. Development profile only: ``MAMORI_DATA_DIR/keys/signing-ed25519.pem``,
   generated once (mode 0600). ``mamori check --deploy`` fails in production
   without a configured key (``mamori.E111``).

A configured key that cannot be read or is not Ed25519 stops start-up
(``AuditConfig.ready``) with a message naming the variable. The public key is
published in the provider console and by ``mamori audit public-key``; its
``key_id`` is the first 16 hex digits of SHA-256 over the raw 32-byte public key.

Key rotation: every signature is stored with the ``key_id`` of the key that made it
(digests, retention checkpoints, deletion certificates, manifests). After the
provider replaces the signing key, the old *public* keys go to
``MAMORI_SIGNING_RETIRED_PUBLIC_KEYS_FILE`` (or ``MAMORI_SIGNING_RETIRED_PUBLIC_KEYS``,
the PEM text): one or more SubjectPublicKeyInfo PEM blocks. ``verify`` picks the
public key by the stored ``key_id`` among the current key and the retired ones;
``check`` says why a signature fails ("signed by an unknown key <id>" vs "invalid
signature"). See docs/security/key-management.md and
docs/decisions/0011-audit-signing-key-rotation.md.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEV_KEY_NAME = "signing-ed25519.pem"
_lock = threading.Lock()
_cache: dict[tuple, _Key] = {}
_retired_cache: dict[tuple, dict[str, Ed25519PublicKey]] = {}
RETIRED_VARIABLE = "MAMORI_SIGNING_RETIRED_PUBLIC_KEYS"
_PEM_BEGIN = "-----BEGIN PUBLIC KEY-----"
_PEM_END = "-----END PUBLIC KEY-----"


class SigningKeyError(ImproperlyConfigured):
    """The configured signing key is missing, unreadable or not an Ed25519 private key."""


UNKNOWN_KEY = "unknown-key"
BAD_SIGNATURE = "bad-signature"


@dataclass(frozen=True)
class _Key:
    private: Ed25519PrivateKey
    public_pem: str
    key_id: str
    source: str


def key_id_for(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _configured_pem() -> tuple[str | None, str]:
    path = os.environ.get("MAMORI_SIGNING_KEY_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8"), "MAMORI_SIGNING_KEY_FILE"
        except OSError as exc:
            raise SigningKeyError(f"MAMORI_SIGNING_KEY_FILE points to an unreadable file: {exc}") from None
    value = os.environ.get("MAMORI_SIGNING_KEY")
    if value and value.strip():
        return value, "MAMORI_SIGNING_KEY"
    return None, ""


def is_configured() -> bool:
    return bool(os.environ.get("MAMORI_SIGNING_KEY_FILE") or (os.environ.get("MAMORI_SIGNING_KEY") or "").strip())


def _parse(pem: str, source: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.strip().encode("utf-8") + b"\n", password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{source} is not an unencrypted PKCS#8 PEM private key ({exc}).") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{source} holds a {type(key).__name__}, not an Ed25519 private key.")
    return key


def _dev_key_path() -> Path:
    return Path(settings.DATA_DIR) / "keys" / DEV_KEY_NAME


def _load_or_create_dev_key() -> tuple[Ed25519PrivateKey, str]:
    path = _dev_key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: use theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SigningKeyError(f"The development signing key {path} is unreadable: {exc}") from None
    return _parse(text, str(path)), str(path)


def _key() -> _Key:
    pem, source = _configured_pem()
    cache_key = (pem, source, None if pem else str(_dev_key_path()))
    cached = _cache.get(cache_key)
    if cached is not None:
        return cached
    with _lock:
        if pem is not None:
            private, where = _parse(pem, source), source
        elif getattr(settings, "PRODUCTION", False):
            raise SigningKeyError("No audit signing key: set MAMORI_SIGNING_KEY_FILE (or MAMORI_SIGNING_KEY) "
                                  "to an Ed25519 PKCS#8 PEM private key.")
        else:
            private, where = _load_or_create_dev_key()
        public = private.public_key()
        public_pem = public.public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
        loaded = _Key(private, public_pem, key_id_for(public), where)
        _cache.clear()
        _cache[cache_key] = loaded
        return loaded


def validate_configured_key() -> None:
    """Raise ``SigningKeyError`` now if a key (or a retired public key) is configured but unusable
    (called at start-up)."""
    if is_configured():
        _key()
    retired_public_keys()


def parse_public_keys(text: str, source: str) -> dict[str, Ed25519PublicKey]:
    """Every Ed25519 public key in ``text`` (one or more PEM blocks), by key id, in file order."""
    keys: dict[str, Ed25519PublicKey] = {}
    rest = text
    while _PEM_BEGIN in rest:
        start = rest.index(_PEM_BEGIN)
        end = rest.find(_PEM_END, start)
        if end < 0:
            raise SigningKeyError(f"{source}: a PEM block has no '{_PEM_END}' line.")
        block = rest[start:end + len(_PEM_END)]
        rest = rest[end + len(_PEM_END):]
        try:
            public = serialization.load_pem_public_key(block.encode("ascii") + b"\n")
        except (ValueError, TypeError, UnicodeEncodeError) as exc:
            raise SigningKeyError(f"{source}: PEM block {len(keys) + 1} is not a public key ({exc}).") from None
        if not isinstance(public, Ed25519PublicKey):
            raise SigningKeyError(f"{source}: PEM block {len(keys) + 1} holds a {type(public).__name__}, "
                                  "not an Ed25519 public key.")
        keys[key_id_for(public)] = public
    if not keys and text.strip():
        raise SigningKeyError(f"{source} holds no '{_PEM_BEGIN}' block.")
    return keys


def _retired_text() -> tuple[str, str]:
    path = os.environ.get(f"{RETIRED_VARIABLE}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8"), f"{RETIRED_VARIABLE}_FILE"
        except (OSError, UnicodeDecodeError) as exc:
            raise SigningKeyError(f"{RETIRED_VARIABLE}_FILE points to an unreadable file: {exc}") from None
    return os.environ.get(RETIRED_VARIABLE) or "", RETIRED_VARIABLE


def retired_public_keys() -> dict[str, Ed25519PublicKey]:
    """The provider's retired audit signing public keys, by key id (empty when none configured)."""
    text, source = _retired_text()
    cache_key = (text, source)
    cached = _retired_cache.get(cache_key)
    if cached is None:
        cached = parse_public_keys(text, source)
        _retired_cache.clear()
        _retired_cache[cache_key] = cached
    return dict(cached)


def _public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def known_public_keys() -> dict[str, str]:
    """``{key_id: public PEM}``: the current key first, then the retired keys."""
    current = _key()
    keys = {current.key_id: current.public_pem}
    for kid, public in retired_public_keys().items():
        keys.setdefault(kid, _public_pem(public))
    return keys


def public_key_for(kid: str) -> Ed25519PublicKey | None:
    """The public key (current or retired) whose key id is ``kid``; None when unknown."""
    current = _key()
    if kid == current.key_id:
        return current.private.public_key()
    return retired_public_keys().get(kid)


def key_id() -> str:
    return _key().key_id


def key_source() -> str:
    return _key().source


def public_key_pem() -> str:
    return _key().public_pem


def sign(data: bytes) -> tuple[str, str]:
    """Sign ``data``; return ``(key_id, signature_b64)`` (standard base64)."""
    key = _key()
    return key.key_id, base64.b64encode(key.private.sign(data)).decode("ascii")


def check(data: bytes, key_id: str, signature_b64: str, public_key_pem: str | None = None) -> str | None:
    """None if ``signature_b64`` is a valid signature of ``data`` by the key ``key_id``; otherwise
    ``UNKNOWN_KEY`` (no such key is known) or ``BAD_SIGNATURE``.

    Without ``public_key_pem`` the key is picked by ``key_id`` among the provider's current
    and retired keys (``known_public_keys``). With it, only that key (or keys: several PEM
    blocks) is trusted.
    """
    try:
        if public_key_pem is None:
            public = public_key_for(key_id) if isinstance(key_id, str) else None
        else:
            public = parse_public_keys(public_key_pem, "the given public key").get(key_id)
    except SigningKeyError:
        return UNKNOWN_KEY
    if public is None:
        return UNKNOWN_KEY
    try:
        public.verify(base64.b64decode(signature_b64, validate=True), data)
        return None
    except (InvalidSignature, ValueError, TypeError):
        return BAD_SIGNATURE


def describe_failure(failure: str, key_id: str) -> str:
    """The reason ``check`` returned, in words that name the key id."""
    if failure == UNKNOWN_KEY:
        return (f"signed by an unknown key {key_id} (neither the current audit signing key nor one listed "
                f"in {RETIRED_VARIABLE}_FILE)")
    return f"invalid signature (key {key_id})"


def verify(data: bytes, key_id: str, signature_b64: str, public_key_pem: str | None = None) -> bool:
    """True if ``signature_b64`` is a valid signature of ``data`` by the key ``key_id``.

    Without ``public_key_pem`` the key is the provider's current or a retired key with
    that id. A key id that does not match the public key is a failure, not an exception.
    """
    return check(data, key_id, signature_b64, public_key_pem) is None
