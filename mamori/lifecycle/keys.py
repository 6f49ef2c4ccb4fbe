"""Envelope encryption: one data key (DEK) per tenant, wrapped by the provider's master key (KEK).

Contract used by other apps::

    from mamori.lifecycle.keys import encrypt_for_tenant, decrypt_for_tenant, DecryptionError

    token = encrypt_for_tenant(tenant.pk, b"secret", purpose="siem.webhook_secret")  # ASCII str
    decrypt_for_tenant(tenant.pk, token, purpose="siem.webhook_secret")  # -> b"secret"

Algorithms (all from ``cryptography``): AES-256-GCM with a random 96-bit nonce for data
and for wrapping the DEK. Data tokens look like ``mk1.<key version>.<base64url(nonce ||
ciphertext || tag)>``; their associated data binds the tenant id, the purpose and the key
version, so a token moved to another tenant, another column or relabelled with another
version fails to decrypt (``DecryptionError``). Callers that want a token bound to one
object put its identity into the purpose (``"x.y:<uuid>"``).

The master key comes from a ``KeyProvider``. The default, ``LocalKeyProvider``, reads
``MAMORI_MASTER_KEY_FILE`` or ``MAMORI_MASTER_KEY`` (base64 of 32 random bytes); in the
development profile, when neither is set, it generates ``MAMORI_DATA_DIR/keys/master.key``
(mode 0600) once. A KMS-backed provider implements ``wrap``/``unwrap`` and is named by the
``MAMORI_KEY_PROVIDER`` setting (dotted path of a zero-argument factory).

A master key that does not match the one the DEKs were wrapped with raises
``MasterKeyError`` before anything is decrypted or written.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from mamori.core.env import read_secret

TOKEN_PREFIX = "mk1"  # noqa: S105 (a format marker, not a secret)
WRAP_PREFIX = "kw1"
DEV_KEY_NAME = "master.key"
KEY_BYTES = 32
NONCE_BYTES = 12
_TOKEN_RE = re.compile(r"^mk1\.([1-9][0-9]{0,8})\.([A-Za-z0-9_-]+)$")
_PURPOSE_RE = re.compile(r"^[A-Za-z0-9_.:/-]{1,200}$")


class DecryptionError(ValueError):
    """The token is malformed, was tampered with, or belongs to another tenant, purpose or key."""


class MasterKeyError(ImproperlyConfigured):
    """The master key is missing, malformed, or not the one the data keys were wrapped with."""


# --- master key providers ----------------------------------------------------------------


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def kek_id_for(kek: bytes) -> str:
    """A short public identifier of a master key (not reversible to the key)."""
    return hashlib.sha256(b"mamori-master-key-id\x00" + kek).hexdigest()[:16]


def parse_master_key(text: str, source: str) -> bytes:
    """Decode a base64 (standard or URL-safe) 32-byte master key; raise ``MasterKeyError`` naming ``source``."""
    raw = (text or "").strip()
    try:
        key = base64.b64decode(raw.replace("-", "+").replace("_", "/") + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"{source} is not base64 (expected base64 of {KEY_BYTES} random bytes, "
                             "e.g. `openssl rand -base64 32`).") from None
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{source} decodes to {len(key)} bytes; the master key must be {KEY_BYTES} bytes "
                             "(`openssl rand -base64 32`).")
    return key


def generate_master_key() -> str:
    """A new master key, base64 text suitable for MAMORI_MASTER_KEY(_FILE)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


class KeyProvider:
    """Wraps and unwraps data keys with a master key. Subclass for a KMS."""

    #: Shown by ``mamori keys status``; never the key itself.
    source: str = ""

    @property
    def key_id(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def wrap(self, dek: bytes, *, aad: bytes) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def unwrap(self, wrapped: str, *, aad: bytes) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError


# Values other than tenant data keys that are wrapped by the master key directly (for example
# provider staff TOTP secrets, which belong to no tenant). Each app registers a function
# ``rewrap(old, new) -> int`` that re-wraps its values inside ``rotate_master_key``'s
# transaction, so a master key rotation leaves nothing behind on the old key.
_MASTER_REWRAP_HOOKS: dict[str, Callable[[KeyProvider, KeyProvider], int]] = {}


def register_master_rewrap(name: str, rewrap: Callable[[KeyProvider, KeyProvider], int]) -> None:
    """Register ``rewrap(old_provider, new_provider) -> count`` under ``name`` (idempotent)."""
    _MASTER_REWRAP_HOOKS[name] = rewrap


def master_rewrap_hooks() -> dict[str, Callable[[KeyProvider, KeyProvider], int]]:
    return dict(_MASTER_REWRAP_HOOKS)


class LocalKeyProvider(KeyProvider):
    """A 32-byte master key held in process memory; wraps with AES-256-GCM."""

    def __init__(self, kek: bytes, source: str = "memory"):
        if len(kek) != KEY_BYTES:
            raise MasterKeyError(f"The master key from {source} must be {KEY_BYTES} bytes.")
        self._aead = AESGCM(kek)
        self._key_id = kek_id_for(kek)
        self.source = source

    def __repr__(self) -> str:  # never show key material
        return f"<LocalKeyProvider {self._key_id} from {self.source}>"

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, dek: bytes, *, aad: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        return f"{WRAP_PREFIX}.{self._key_id}.{_b64e(nonce + self._aead.encrypt(nonce, dek, aad))}"

    def unwrap(self, wrapped: str, *, aad: bytes) -> bytes:
        try:
            prefix, key_id, body = wrapped.split(".")
            blob = _b64d(body)
        except (ValueError, binascii.Error):
            raise MasterKeyError("A stored data key is malformed.") from None
        if prefix != WRAP_PREFIX:
            raise MasterKeyError(f"A stored data key has an unknown format {prefix!r}.")
        if key_id != self._key_id:
            raise MasterKeyError(
                f"Wrong master key: the data keys were wrapped with master key {key_id}, but the configured "
                f"master key ({self.source}) is {self._key_id}. Configure the right MAMORI_MASTER_KEY_FILE "
                "(or finish `mamori keys rotate-master`). Nothing was decrypted.")
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise MasterKeyError("A stored data key does not open with the configured master key "
                                 f"{self._key_id} (modified or moved to another tenant).") from None

    @classmethod
    def from_environment(cls) -> LocalKeyProvider:
        try:
            text = read_secret("MAMORI_MASTER_KEY")
        except RuntimeError as exc:
            raise MasterKeyError(str(exc)) from None
        if text:
            source = "MAMORI_MASTER_KEY_FILE" if os.environ.get("MAMORI_MASTER_KEY_FILE") else "MAMORI_MASTER_KEY"
            return cls(parse_master_key(text, source), source)
        if getattr(settings, "PRODUCTION", False):
            raise MasterKeyError("No master key: set MAMORI_MASTER_KEY_FILE (or MAMORI_MASTER_KEY) to the base64 "
                                 "of 32 random bytes (`openssl rand -base64 32`).")
        path = dev_key_path()
        return cls(parse_master_key(_load_or_create_dev_key(path), str(path)), str(path))


def is_configured() -> bool:
    """Is a master key configured explicitly (not the development fallback)?"""
    return bool(os.environ.get("MAMORI_MASTER_KEY_FILE") or (os.environ.get("MAMORI_MASTER_KEY") or "").strip()
                or getattr(settings, "MAMORI_KEY_PROVIDER", ""))


def dev_key_path() -> Path:
    return Path(settings.DATA_DIR) / "keys" / DEV_KEY_NAME


def _load_or_create_dev_key(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: use theirs
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(generate_master_key() + "\n")
    try:
        return path.read_text(encoding="ascii")
    except OSError as exc:
        raise MasterKeyError(f"The development master key {path} is unreadable: {exc}") from None


_provider_lock = threading.Lock()
_provider: KeyProvider | None = None
_provider_fingerprint: tuple | None = None


def _config_fingerprint() -> tuple:
    return (os.environ.get("MAMORI_MASTER_KEY_FILE"), os.environ.get("MAMORI_MASTER_KEY"),
            getattr(settings, "MAMORI_KEY_PROVIDER", ""), str(getattr(settings, "DATA_DIR", "")),
            getattr(settings, "PRODUCTION", False))


_override: KeyProvider | None = None


@contextmanager
def use_key_provider(provider: KeyProvider) -> Iterator[KeyProvider]:
    """Use ``provider`` instead of the configured one inside the block (tests, tools)."""
    global _override
    previous, _override = _override, provider
    clear_cache()
    try:
        yield provider
    finally:
        _override = previous
        clear_cache()


def get_key_provider() -> KeyProvider:
    """The configured master key provider (re-read when the configuration changes)."""
    global _provider, _provider_fingerprint
    if _override is not None:
        return _override
    fingerprint = _config_fingerprint()
    if _provider is not None and _provider_fingerprint == fingerprint:
        return _provider
    with _provider_lock:
        dotted = getattr(settings, "MAMORI_KEY_PROVIDER", "")
        provider = import_string(dotted)() if dotted else LocalKeyProvider.from_environment()
        _provider, _provider_fingerprint = provider, fingerprint
        clear_cache()
        return provider


def validate_configured_key() -> None:
    """Raise ``MasterKeyError`` at start-up if a master key is configured but malformed."""
    if is_configured():
        get_key_provider()


# --- the per-process cache of unwrapped data keys ---------------------------------------

_CACHE_SIZE = 256
_CACHE_SECONDS = 60.0
_cache_lock = threading.Lock()
_cache: OrderedDict[tuple, tuple[bytes, float]] = OrderedDict()


def clear_cache() -> None:
    """Forget unwrapped data keys and master key checks (after rotation, destruction, tests)."""
    with _cache_lock:
        _cache.clear()
        _verified.clear()


def _cache_get(key: tuple) -> bytes | None:
    with _cache_lock:
        hit = _cache.get(key)
        if hit is None:
            return None
        if hit[1] < time.monotonic():
            del _cache[key]
            return None
        _cache.move_to_end(key)
        return hit[0]


def _cache_put(key: tuple, dek: bytes) -> None:
    with _cache_lock:
        _cache[key] = (dek, time.monotonic() + _CACHE_SECONDS)
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)


# --- data keys ---------------------------------------------------------------------------


def wrap_aad(tenant_id: int, version: int) -> bytes:
    return f"mamori/dek/v1|tenant={int(tenant_id)}|version={int(version)}".encode("ascii")


def data_aad(tenant_id: int, purpose: str, version: int) -> bytes:
    return f"mamori/mk1|tenant={int(tenant_id)}|purpose={purpose}|version={int(version)}".encode()


def fingerprint_for(dek: bytes) -> str:
    return hashlib.sha256(dek).hexdigest()


def _unwrap_row(row, provider: KeyProvider | None = None) -> bytes:
    provider = provider or get_key_provider()
    cache_key = (row.tenant_id, row.version, row.wrapped_key)
    dek = _cache_get(cache_key)
    if dek is None:
        dek = provider.unwrap(row.wrapped_key, aad=wrap_aad(row.tenant_id, row.version))
        if fingerprint_for(dek) != row.fingerprint:
            raise MasterKeyError(f"Data key v{row.version} of tenant {row.tenant_id} does not match its fingerprint.")
        _cache_put(cache_key, dek)
    return dek


MARKER_AAD = b"mamori/master-key-marker/v1"
_verified: set[str] = set()


def marker_for(provider: KeyProvider) -> tuple[str, str]:
    """``(kek_id, verifier)`` for the provider table row naming the master key in use."""
    return provider.key_id, provider.wrap(secrets.token_bytes(KEY_BYTES), aad=MARKER_AAD)


def verify_master_key(provider: KeyProvider | None = None) -> None:
    """Refuse (``MasterKeyError``) a master key other than the one the stored data keys use.

    The first check records the key in use (``MasterKeyMarker``); afterwards the result is
    remembered per process. Called before any data key is created or re-wrapped.
    """
    from mamori.lifecycle.models import MasterKeyMarker

    provider = provider or get_key_provider()
    if provider.key_id in _verified:
        return
    marker = MasterKeyMarker.objects.filter(name="master").first()
    if marker is None:
        kek_id, verifier = marker_for(provider)
        try:
            with transaction.atomic():
                marker = MasterKeyMarker.objects.create(name="master", kek_id=kek_id, verifier=verifier)
        except IntegrityError:
            marker = MasterKeyMarker.objects.get(name="master")
    if marker.kek_id != provider.key_id:
        raise MasterKeyError(
            f"Wrong master key: the data keys are wrapped with master key {marker.kek_id}, but the configured "
            f"master key ({provider.source}) is {provider.key_id}. Configure the right MAMORI_MASTER_KEY_FILE "
            "(or finish `mamori keys rotate-master`). Nothing was decrypted or written.")
    provider.unwrap(marker.verifier, aad=MARKER_AAD)
    _verified.add(provider.key_id)


def new_key_row(tenant_id: int, version: int, provider: KeyProvider | None = None):
    """An unsaved ``TenantDataKey`` with a fresh random DEK wrapped by the master key."""
    from mamori.lifecycle.models import TenantDataKey

    provider = provider or get_key_provider()
    verify_master_key(provider)
    dek = AESGCM.generate_key(bit_length=256)
    return TenantDataKey(tenant_id=tenant_id, version=version, state=TenantDataKey.State.ACTIVE,
                         wrapped_key=provider.wrap(dek, aad=wrap_aad(tenant_id, version)),
                         kek_id=provider.key_id, fingerprint=fingerprint_for(dek))


def _active_key(tenant_id: int):
    """The tenant's active key row, created (race-safe, audited) on first use."""
    from mamori.audit.events import Actor, record_event
    from mamori.lifecycle.models import TenantDataKey

    row = TenantDataKey.objects.filter(state=TenantDataKey.State.ACTIVE).first()
    if row is not None:
        return row
    provider = get_key_provider()
    if TenantDataKey.objects.exists():
        # Keys exist but none is active: destroyed by a purge, or a broken rotation.
        raise MasterKeyError(f"Tenant {tenant_id} has no active data key (destroyed?); refusing to encrypt.")
    row = new_key_row(tenant_id, 1, provider)
    try:
        with transaction.atomic():
            row.save()
            record_event("keys.tenant_key_created", actor=Actor.system("keys"),
                         target=("data_key", row.version, f"v{row.version}"),
                         after={"version": row.version, "fingerprint": row.fingerprint, "master_key_id": row.kek_id})
    except IntegrityError:
        # Another process created it first: use theirs.
        row = TenantDataKey.objects.get(state=TenantDataKey.State.ACTIVE)
    return row


def ensure_data_key(tenant_id: int) -> None:
    """Create the tenant's data key now if it has none (it is otherwise created on first use)."""
    with _TenantScope(tenant_id):
        _active_key(int(tenant_id))


class _TenantScope:
    """Run inside the tenant's context: reuse the active one, or enter it for ``tenant_id``."""

    def __init__(self, tenant_id: int):
        self.tenant_id = int(tenant_id)
        self._cm = None

    def __enter__(self):
        from mamori.tenancy.context import NoTenantError, current_tenant, tenant_context
        from mamori.tenancy.models import Tenant

        active = current_tenant()
        if active is not None:
            if active.pk != self.tenant_id:
                raise NoTenantError("Cannot use another tenant's data key inside this tenant's context.")
            return active
        tenant = Tenant.objects.get(pk=self.tenant_id)
        self._cm = tenant_context(tenant)
        return self._cm.__enter__()

    def __exit__(self, *exc):
        if self._cm is not None:
            return self._cm.__exit__(*exc)
        return False


def _check_purpose(purpose: str) -> None:
    if not isinstance(purpose, str) or not _PURPOSE_RE.match(purpose):
        raise ValueError("purpose must be 1–200 characters of letters, digits and . _ : / -")


def encrypt_with_row(row, plaintext: bytes, *, purpose: str) -> str:
    """Encrypt with a given key row (used by rotation); most code calls ``encrypt_for_tenant``."""
    _check_purpose(purpose)
    aead = AESGCM(_unwrap_row(row))
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = aead.encrypt(nonce, bytes(plaintext), data_aad(row.tenant_id, purpose, row.version))
    return f"{TOKEN_PREFIX}.{row.version}.{_b64e(nonce + ciphertext)}"


def encrypt_for_tenant(tenant_id: int, plaintext: bytes, *, purpose: str) -> str:
    """Encrypt ``plaintext`` with the tenant's active data key; return an ASCII token."""
    if isinstance(plaintext, str):
        raise TypeError("encrypt_for_tenant takes bytes; encode text first")
    _check_purpose(purpose)
    with _TenantScope(tenant_id):
        return encrypt_with_row(_active_key(int(tenant_id)), plaintext, purpose=purpose)


def token_version(token: str) -> int:
    """The data key version a token was encrypted with; ``DecryptionError`` if it is no token."""
    match = _TOKEN_RE.match(token or "") if isinstance(token, str) else None
    if match is None:
        raise DecryptionError("Not an encrypted value (expected mk1.<version>.<data>).")
    return int(match.group(1))


def is_token(value) -> bool:
    return isinstance(value, str) and _TOKEN_RE.match(value) is not None


def decrypt_for_tenant(tenant_id: int, token: str, *, purpose: str) -> bytes:
    """Decrypt a token made by ``encrypt_for_tenant`` for the same tenant and purpose.

    Raises ``DecryptionError`` when the token is malformed, modified, made for another
    tenant or purpose, or its key was destroyed; ``MasterKeyError`` when the configured
    master key is not the one the data key was wrapped with.
    """
    from mamori.lifecycle.models import TenantDataKey

    _check_purpose(purpose)
    version = token_version(token)
    try:
        blob = _b64d(_TOKEN_RE.match(token).group(2))
    except (binascii.Error, ValueError):
        raise DecryptionError("The encrypted value is malformed.") from None
    if len(blob) < NONCE_BYTES + 16:
        raise DecryptionError("The encrypted value is truncated.")
    with _TenantScope(tenant_id):
        row = TenantDataKey.objects.filter(version=version).first()
        if row is None:
            raise DecryptionError(f"No data key v{version} for this tenant (wrong tenant?).")
        if row.state == TenantDataKey.State.DESTROYED or not row.wrapped_key:
            raise DecryptionError(f"Data key v{version} was destroyed; the value is unrecoverable.")
        dek = _unwrap_row(row)
    try:
        return AESGCM(dek).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], data_aad(tenant_id, purpose, version))
    except InvalidTag:
        raise DecryptionError("The encrypted value was modified, or belongs to another tenant or purpose.") from None


def derive_tenant_key(tenant_id: int, *, purpose: str, salt: bytes,
                      version: int | None = None) -> tuple[int, bytes]:
    """``(version, key)``: a 32-byte key for one object, derived from the tenant's data key.

    For formats ``encrypt_for_tenant`` does not fit (files streamed in segments). HKDF-SHA256
    over the DEK with ``salt`` (random, stored with the object) and an info string binding the
    tenant, the purpose and the key version. ``version=None`` uses the active key (created on
    first use); a given version may be active, retiring or retired. Raises ``DecryptionError``
    when that version is unknown or destroyed. The data key itself never leaves this module.
    """
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from mamori.lifecycle.models import TenantDataKey

    _check_purpose(purpose)
    if not isinstance(salt, bytes) or len(salt) < 16:
        raise ValueError("salt must be at least 16 random bytes")
    with _TenantScope(tenant_id):
        if version is None:
            row = _active_key(int(tenant_id))
        else:
            row = TenantDataKey.objects.filter(version=int(version)).first()
            if row is None:
                raise DecryptionError(f"No data key v{int(version)} for this tenant (wrong tenant?).")
            if row.state == TenantDataKey.State.DESTROYED or not row.wrapped_key:
                raise DecryptionError(f"Data key v{row.version} was destroyed; the data is unrecoverable.")
        dek = _unwrap_row(row)
    info = f"mamori/subkey/v1|tenant={int(tenant_id)}|purpose={purpose}|version={row.version}".encode()
    return row.version, HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(dek)


def encrypt_text(tenant_id: int, text: str, *, purpose: str) -> str:
    return encrypt_for_tenant(tenant_id, text.encode("utf-8"), purpose=purpose)


def decrypt_text(tenant_id: int, token: str, *, purpose: str) -> str:
    return decrypt_for_tenant(tenant_id, token, purpose=purpose).decode("utf-8")
