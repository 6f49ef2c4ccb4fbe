"""``EncryptedTextField`` and the registry of encrypted columns that key rotation re-encrypts.

Use on a tenant model::

    secret = EncryptedTextField(purpose="siem.webhook_secret", editable=False)

The column holds only the token (``mk1.<version>.<…>``, see ``mamori.lifecycle.keys``).
Reading the attribute decrypts it with the instance's tenant (lazily, once per instance);
assigning plain text marks it for encryption on the next ``save()``. ``value_from_object``
(serialisers, ``model_to_dict``, exports) returns the token, never the plain text. Only the
``isnull`` and ``startswith`` lookups are supported (tokens are randomised, so equality
filters on plain text cannot work).

Columns that hold tokens made with the function API (``encrypt_for_tenant``) are declared
with ``register_encrypted_field(model, field, purpose)``; values stored elsewhere (e.g. in a
JSON column of a third-party table, or files such as record attachments) with
``register_reencrypt_hook``. ``mamori keys rotate-tenant`` walks all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import FieldError
from django.db import models
from django.db.models.query_utils import DeferredAttribute


class Sealed(str):
    """A token as stored in the database (as opposed to plain text a caller assigned)."""

    __slots__ = ()


@dataclass(frozen=True)
class EncryptedColumn:
    model_label: str  # "app_label.ModelName"
    field: str
    purpose: str

    @property
    def model(self):
        from django.apps import apps

        return apps.get_model(self.model_label)


_COLUMNS: dict[tuple[str, str], EncryptedColumn] = {}
#: hook(tenant_id, reencrypt) -> number of values re-encrypted; ``reencrypt(token, purpose)``
#: returns the token re-encrypted with the active key (unchanged if already current).
ReencryptHook = Callable[[int, Callable[[str, str], str]], int]
_HOOKS: dict[str, ReencryptHook] = {}


@dataclass(frozen=True)
class HookOptions:
    """How tenant rotation runs a hook and asks what it has left.

    ``remaining(tenant_id, active_version)`` (called inside the tenant's context) counts the
    values the hook still has on another key version: ``finish_tenant_key_rotation`` refuses
    while it is not zero. ``own_transactions``: the hook opens its own short transactions
    (e.g. to stream files between them) and is called outside any tenant context.
    """

    remaining: Callable[[int, int], int] | None = None
    own_transactions: bool = False


_HOOK_OPTIONS: dict[str, HookOptions] = {}


def register_encrypted_field(model, field: str, purpose: str) -> None:
    """Declare that ``model.field`` (a text column) holds ``encrypt_for_tenant`` tokens of ``purpose``."""
    label = model if isinstance(model, str) else model._meta.label
    _COLUMNS[(label, field)] = EncryptedColumn(label, field, purpose)


def register_reencrypt_hook(name: str, hook: ReencryptHook, *, remaining: Callable[[int, int], int] | None = None,
                            own_transactions: bool = False) -> None:
    """Declare a function that re-encrypts values kept outside a plain column (run by tenant rotation).

    Give ``remaining`` so that finishing a rotation waits for the hook's values too (see ``HookOptions``).
    """
    _HOOKS[name] = hook
    _HOOK_OPTIONS[name] = HookOptions(remaining=remaining, own_transactions=own_transactions)


def encrypted_columns() -> list[EncryptedColumn]:
    return list(_COLUMNS.values())


def reencrypt_hooks() -> dict[str, ReencryptHook]:
    return dict(_HOOKS)


def reencrypt_hook_options(name: str) -> HookOptions:
    return _HOOK_OPTIONS.get(name, HookOptions())


class _EncryptedAttribute(DeferredAttribute):
    """Data descriptor: keeps the token in ``__dict__`` and decrypts it on access."""

    def __get__(self, instance, cls=None):
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, Sealed):
            cache = instance.__dict__.setdefault("_mamori_plaintext", {})
            cached = cache.get(self.field.attname)
            if cached is None or cached[0] != value:
                from mamori.lifecycle.keys import decrypt_text

                cached = (value, decrypt_text(instance.tenant_id, value, purpose=self.field.purpose))
                cache[self.field.attname] = cached
            return cached[1]
        return value

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.TextField):
    description = "Text encrypted with the tenant's data key"
    descriptor_class = _EncryptedAttribute
    _ALLOWED_LOOKUPS = frozenset({"isnull", "startswith"})

    def __init__(self, *args, purpose: str, **kwargs):
        from mamori.lifecycle.keys import _check_purpose

        _check_purpose(purpose)
        self.purpose = purpose
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        return name, path, args, kwargs

    def contribute_to_class(self, cls, name, *args, **kwargs):
        super().contribute_to_class(cls, name, *args, **kwargs)
        # Historical models in migrations live in the "__fake__" module: not registered.
        if not cls._meta.abstract and cls.__module__ != "__fake__":
            register_encrypted_field(cls, self.attname, self.purpose)

    def get_lookup(self, lookup_name):
        if lookup_name not in self._ALLOWED_LOOKUPS:
            raise FieldError(f"Encrypted field {self.name} does not support the lookup {lookup_name!r}.")
        return super().get_lookup(lookup_name)

    def from_db_value(self, value, expression, connection):
        return Sealed(value) if value else value

    def pre_save(self, model_instance, add):
        value = model_instance.__dict__.get(self.attname)
        if value is None or value == "" or isinstance(value, Sealed):
            return value
        from mamori.lifecycle.keys import encrypt_text

        token = Sealed(encrypt_text(model_instance.tenant_id, str(value), purpose=self.purpose))
        model_instance.__dict__[self.attname] = token
        model_instance.__dict__.setdefault("_mamori_plaintext", {})[self.attname] = (token, str(value))
        return token

    def get_prep_value(self, value):
        if value is None or value == "" or isinstance(value, Sealed):
            return None if value is None else str(value)
        # Plain text reaching the database directly (``QuerySet.update(field="…")``):
        # encrypt it for the active tenant rather than ever storing it in the clear.
        from mamori.lifecycle.keys import encrypt_text
        from mamori.tenancy.context import require_tenant

        return encrypt_text(require_tenant().pk, str(value), purpose=self.purpose)

    def value_from_object(self, obj):
        value = obj.__dict__.get(self.attname)
        return str(value) if isinstance(value, Sealed) else None

    def formfield(self, **kwargs):
        return None  # never edited through a model form
